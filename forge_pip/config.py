"""pip's configuration files and ``PIP_*`` environment variables, read exactly as pip 23 reads them.

People alias ``pip`` to ``python -m forge_pip``, so the defaults of its options must come from the
same places with the same precedence. This is a reimplementation of pip's ``configuration.py`` and
``ConfigOptionParser._update_defaults`` (pip itself is never imported):

* Files, lowest precedence first: *global* (``$XDG_CONFIG_DIRS/pip/pip.conf`` for each directory,
  default ``/etc/xdg``, then ``/etc/pip.conf``), *user* (legacy ``~/.pip/pip.conf`` then
  ``$XDG_CONFIG_HOME/pip/pip.conf``), *site* (``<prefix>/pip.conf`` of the environment installed
  into), then the file named by ``PIP_CONFIG_FILE``. ``PIP_CONFIG_FILE=/dev/null`` loads no file at
  all; an existing ``PIP_CONFIG_FILE`` (or ``isolated``) skips the user files. Missing files are
  silently skipped.
* Keys are ``section.name``; a later file replaces an earlier file's value for the *same* key, even
  with an empty value. Empty values are then ignored.
* Sections are applied ``[global]`` < ``[<command>]`` < environment, whatever file they came from:
  ``[install]`` in ``/etc/pip.conf`` beats ``[global]`` in the user's file. Other sections are ignored.
* Names are lower-cased, ``_`` becomes ``-``, a leading ``--`` is dropped. Short names (``i``) are
  *not* options. ``PIP_<NAME>`` sets ``name`` (``PIP_VERSION``/``PIP_HELP`` are ignored); with
  ``isolated`` no environment variable is read (``PIP_CONFIG_FILE`` still is, as in pip).
* Option aliases share a value (``default-timeout`` is ``timeout``, ``no-dependencies`` is
  ``no-deps``). The command line overrides everything: the CLI applies its own arguments on top of the
  values read here.

pip's quirk for negative flags is kept on purpose: for ``store_false`` options pip stores the
parsed boolean straight into the positive destination, so ``PIP_NO_BUILD_ISOLATION=1`` *keeps*
isolation and ``=0`` disables it; any valid value of ``PIP_NO_CACHE_DIR`` disables the cache.
"""

from __future__ import annotations

import configparser
import enum
import locale
import os
from collections.abc import Mapping
from pathlib import Path

from forge_store.errors import UsageError
from forge_store.records import record

__all__ = [
    "ConfigKind",
    "ConfigValue",
    "PipConfig",
    "PipConfigError",
    "apply_format_control",
    "config_files",
    "load_pip_config",
    "strtobool",
]

CONFIG_BASENAME = "pip.conf"
_ENV_NAMES_IGNORED = ("version", "help")
_ENV_SECTION = ":env:"


class PipConfigError(UsageError):
    """A pip configuration file cannot be parsed, or a configured value is invalid."""

    reference = "pip-config-error"


class ConfigKind(enum.Enum):
    """Where a configuration value came from; declared in pip's override order (lowest first)."""

    GLOBAL = "global"
    USER = "user"
    SITE = "site"
    ENV = "env"  # the file named by PIP_CONFIG_FILE
    ENV_VAR = "env-var"


@record(frozen=True, slots=True)
class ConfigValue:
    """One raw configured value and where it came from, e.g. ``"/etc/pip.conf [global]"``."""

    value: str
    origin: str


class _Action(enum.Enum):
    """How pip's ``_update_defaults`` turns a configured string into an option's value."""

    STORE = "store"
    STORE_TRUE = "store_true"
    STORE_FALSE = "store_false"
    COUNT = "count"
    APPEND = "append"
    NO_CACHE = "no_cache"  # --no-cache-dir callback: any valid boolean disables the cache
    NO_USE_PEP517 = "no_use_pep517"  # callback that rejects any configured value
    FORMAT_CONTROL = "format_control"  # --no-binary / --only-binary callbacks


@record(frozen=True, slots=True)
class _OptionSpec:
    names: tuple[str, ...]  # long names, the first one canonical
    dest: str
    action: _Action
    type: str = "string"  # "string", "path", "int", "float"


def _o(names: str, dest: str, action: _Action, type: str = "string") -> _OptionSpec:
    return _OptionSpec(tuple(names.split()), dest, action, type)


_S, _T, _F, _A = _Action.STORE, _Action.STORE_TRUE, _Action.STORE_FALSE, _Action.APPEND
# pip 23.2's options of the general group and of install/download/wheel (dumped from its parser).
_OPTIONS: tuple[_OptionSpec, ...] = (
    _o("cache-dir", "cache_dir", _S, "path"),
    _o("no-cache-dir", "cache_dir", _Action.NO_CACHE),
    _o("cert", "cert", _S, "path"),
    _o("client-cert", "client_cert", _S, "path"),
    _o("log log-file local-log", "log", _S, "path"),
    _o("src source source-dir source-directory", "src_dir", _S, "path"),
    _o("timeout default-timeout", "timeout", _S, "float"),
    _o("retries", "retries", _S, "int"),
    _o("verbose", "verbose", _Action.COUNT),
    _o("quiet", "quiet", _Action.COUNT),
    _o("index-url pypi-url", "index_url", _S),
    _o("extra-index-url", "extra_index_urls", _A),
    _o("find-links", "find_links", _A),
    _o("constraint", "constraints", _A),
    _o("requirement", "requirements", _A),
    _o("editable", "editables", _A),
    _o("trusted-host", "trusted_hosts", _A),
    _o("global-option", "global_options", _A),
    _o("build-option", "build_options", _A),
    _o("exists-action", "exists_action", _A),
    _o("use-feature", "features_enabled", _A),
    _o("use-deprecated", "deprecated_features_enabled", _A),
    _o("platform", "platforms", _A),
    _o("abi", "abis", _A),
    _o("no-binary", "format_control", _Action.FORMAT_CONTROL),
    _o("only-binary", "format_control", _Action.FORMAT_CONTROL),
    _o("no-build-isolation", "build_isolation", _F),
    _o("no-compile", "compile", _F),
    _o("compile", "compile", _T),
    _o("no-user", "use_user_site", _F),
    _o("user", "use_user_site", _T),
    _o("no-warn-conflicts", "warn_about_conflicts", _F),
    _o("no-warn-script-location", "warn_script_location", _F),
    _o("use-pep517", "use_pep517", _T),
    _o("no-use-pep517", "use_pep517", _Action.NO_USE_PEP517),
    _o("no-deps no-dependencies", "ignore_dependencies", _T),
    _o("require-virtualenv require-venv", "require_venv", _T),
    _o("dest destination-dir destination-directory", "download_dir", _S),
)
_FLAGS = (
    *("break-system-packages", "check-build-dependencies", "debug", "disable-pip-version-check"),
    *("dry-run", "force-reinstall", "ignore-installed", "ignore-requires-python", "isolated"),
    *("no-clean", "no-color", "no-index", "no-input", "no-proxy-env", "no-python-version-warning"),
    *("no-verify", "pre", "prefer-binary", "require-hashes", "upgrade"),
)
_STORES = (
    *("implementation", "keyring-provider", "prefix", "progress-bar", "proxy", "python"),
    *("python-version", "report", "root", "root-user-action", "target", "upgrade-strategy", "wheel-dir"),
)

_SPECS: dict[str, _OptionSpec] = {}
for _spec in (
    *_OPTIONS,
    *(_o(n, n.replace("-", "_"), _T) for n in _FLAGS),
    *(_o(n, n.replace("-", "_"), _S) for n in _STORES),
):
    for _name in _spec.names:
        _SPECS[_name] = _spec


def _spec_for(option: str) -> _OptionSpec:
    name = normalize_name(option)
    # An option pip does not have is treated as a plain string option of its own.
    return _SPECS.get(name) or _OptionSpec((name,), name.replace("-", "_"), _Action.STORE)


def normalize_name(name: str) -> str:
    """pip's ``_normalize_name``: lower case, ``_`` to ``-``, drop one leading ``--``."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def strtobool(value: str) -> bool:
    """pip's ``strtobool`` (y/yes/t/true/on/1 and n/no/f/false/off/0, any case); ValueError otherwise."""
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value!r}")


def _expanduser(path: str, environ: Mapping[str, str]) -> str:
    """``os.path.expanduser`` against ``environ['HOME']`` instead of the process environment."""
    if not path.startswith("~"):
        return path
    end = path.find("/", 1)
    end = len(path) if end == -1 else end
    home = environ.get("HOME")
    if end != 1 or home is None:  # ~otheruser, or no HOME: the password database decides
        return str(Path(path).expanduser())
    return (home.rstrip("/") + path[end:]) or "/"


def _global_files(environ: Mapping[str, str]) -> list[Path]:
    dirs = environ.get("XDG_CONFIG_DIRS", "")
    if not dirs.strip():
        dirs = "/etc/xdg"
    paths = [Path(_expanduser(d, environ), "pip") for d in dirs.split(os.pathsep)]
    return [p / CONFIG_BASENAME for p in [*paths, Path("/etc")]]


def _user_files(environ: Mapping[str, str]) -> list[Path]:
    home = _expanduser("~", environ)
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if not xdg.strip():
        xdg = _expanduser("~/.config", environ)
    return [Path(home, ".pip", CONFIG_BASENAME), Path(xdg, "pip", CONFIG_BASENAME)]


def config_files(
    environ: Mapping[str, str], *, site_prefix: str | None, isolated: bool = False
) -> list[tuple[ConfigKind, Path]]:
    """The files pip would try, lowest precedence first (missing ones are skipped when loading).

    ``site_prefix`` is the prefix of the environment installed into (pip's ``sys.prefix``); ``None``
    leaves the site file out. ``PIP_CONFIG_FILE=os.devnull`` gives no files at all.
    """
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files = [(ConfigKind.GLOBAL, p) for p in _global_files(environ)]
    if not isolated and not (env_file and Path(env_file).exists()):
        files += [(ConfigKind.USER, p) for p in _user_files(environ)]
    if site_prefix is not None:
        files.append((ConfigKind.SITE, Path(site_prefix, CONFIG_BASENAME)))
    if env_file:  # pip also "loads" an empty PIP_CONFIG_FILE, which never exists
        files.append((ConfigKind.ENV, Path(env_file)))
    return files


def _read_file(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    if not path.exists():
        return parser
    encoding = locale.getpreferredencoding(False)
    try:
        parser.read(path, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise PipConfigError(
            f"Configuration file {path} contains invalid {encoding} characters", hint=str(exc)
        ) from exc
    except configparser.Error as exc:
        raise PipConfigError(
            f"Configuration file {path} could not be loaded: {exc}",
            hint="pip configuration files are INI files with [global] or [<command>] sections.",
        ) from exc
    except OSError as exc:
        raise PipConfigError(f"Configuration file {path} could not be read: {exc}") from exc
    return parser


def load_pip_config(
    command: str,
    environ: Mapping[str, str],
    *,
    isolated: bool = False,
    site_prefix: str | None = None,
) -> PipConfig:
    """Read pip's configuration for ``command`` (``"install"``, ``"download"``...) as pip would."""
    per_kind: dict[ConfigKind, dict[str, ConfigValue]] = {kind: {} for kind in ConfigKind}
    for kind, path in config_files(environ, site_prefix=site_prefix, isolated=isolated):
        parser = _read_file(path)
        for section in parser.sections():
            for name, value in parser.items(section):
                key = f"{section}.{normalize_name(name)}"
                per_kind[kind][key] = ConfigValue(value, f"{path} [{section}]")
    if not isolated:
        for var, value in environ.items():
            if var.startswith("PIP_") and var[4:].lower() not in _ENV_NAMES_IGNORED:
                key = f"{_ENV_SECTION}.{normalize_name(var[4:])}"
                per_kind[ConfigKind.ENV_VAR][key] = ConfigValue(value, f"env {var}")
    merged: dict[str, ConfigValue] = {}
    for kind in ConfigKind:
        merged.update(per_kind[kind])
    return PipConfig(command, merged, home=environ.get("HOME"))


class PipConfig:
    """The merged configuration for one command; option names are long names without dashes."""

    def __init__(self, command: str, merged: Mapping[str, ConfigValue], *, home: str | None = None) -> None:
        self.command = command
        self._environ = {"HOME": home} if home is not None else {}
        self._merged = dict(merged)
        order = ("global", command, _ENV_SECTION)
        ordered: list[tuple[str, ConfigValue]] = []
        for wanted in order:
            for key, value in self._merged.items():
                section, name = key.split(".", 1)
                if section == wanted and value.value:
                    ordered.append((name, value))
        self._ordered = ordered  # exactly the order pip applies values in, last one wins

    def items(self) -> list[tuple[str, ConfigValue]]:
        """Every ``section.name`` key loaded, unknown ones included, like ``pip config list``."""
        return list(self._merged.items())

    def _entries(self, option: str) -> list[tuple[str, ConfigValue]]:
        spec = _spec_for(option)
        return [(name, value) for name, value in self._ordered if _spec_for(name).dest == spec.dest]

    def get(self, option: str) -> ConfigValue | None:
        """The value that applies to ``option`` (or one of its aliases), or None."""
        names = _spec_for(option).names
        found = [value for name, value in self._ordered if name in names]
        return found[-1] if found else None

    def _error(self, option: str, value: ConfigValue, expected: str) -> PipConfigError:
        return PipConfigError(
            f"{value.value!r} is not a valid value for {option} option (from {value.origin})",
            hint=f"Use {expected} instead.",
        )

    def get_str(self, option: str) -> str | None:
        """A plain value; ``path`` options get ``~`` expanded like pip's ``path`` type."""
        value = self.get(option)
        if value is None:
            return None
        if _spec_for(option).type == "path":
            return _expanduser(value.value, self._environ)
        return value.value

    def get_list(self, option: str) -> list[str]:
        """An ``append`` option: the value that applies, split on any whitespace as pip does."""
        value = self.get(option)
        return value.value.split() if value else []

    def get_bool(self, option: str) -> bool | None:
        """True if pip would act as if ``--<option>`` was given, False if configured off, else None.

        Options sharing a destination (``compile``/``no-compile``) are resolved together, last one
        wins. ``store_false`` flags keep pip's inversion (``PIP_NO_BUILD_ISOLATION=0`` means the flag
        is in effect); ``no-cache-dir`` is in effect for any valid boolean, unless a later
        ``cache-dir = PATH`` (same destination in pip) names a cache again.
        """
        spec = _spec_for(option)
        dest_value: bool | None = None
        for name, value in self._entries(option):
            action = _spec_for(name).action
            if action is _Action.STORE and spec.action is _Action.NO_CACHE:
                dest_value = True  # ``cache-dir = PATH`` after ``no-cache-dir``: the cache is back on
                continue
            try:
                parsed = strtobool(value.value)
            except ValueError:
                raise self._error(name, value, "a boolean value like yes/no, true/false or 1/0") from None
            if action is _Action.NO_CACHE:
                dest_value = False
            elif action is _Action.NO_USE_PEP517:
                raise PipConfigError(
                    f"A value was passed for --no-use-pep517 ({value.origin})",
                    hint='Use PIP_USE_PEP517 or the "use-pep517" option instead.',
                )
            else:
                dest_value = parsed
        if dest_value is None:
            return None
        if spec.action in (_Action.STORE_FALSE, _Action.NO_CACHE):
            return not dest_value
        return dest_value

    def cache_dir(self) -> str | bool | None:
        """pip's ``cache_dir`` destination: a path (``cache-dir``, ``~`` expanded), False when
        ``no-cache-dir`` is in effect, None when neither is configured (last one wins, as in pip)."""
        if self.get_bool("no-cache-dir"):
            return False
        return self.get_str("cache-dir")

    def get_count(self, option: str) -> int | None:
        """A counted option (``verbose``, ``quiet``): a non-negative int or a boolean (1/0)."""
        value = self.get(option)
        if value is None:
            return None
        try:
            count = int(strtobool(value.value))
        except ValueError:
            try:
                count = int(value.value)
            except ValueError:
                count = -1
        if count < 0:
            raise self._error(option, value, "a non-negative integer or a boolean value like yes/no")
        return count

    def get_int(self, option: str) -> int | None:
        """An integer option such as ``retries``."""
        value = self.get(option)
        if value is None:
            return None
        try:
            return int(value.value)
        except ValueError:
            raise self._error(option, value, "an integer") from None

    def get_float(self, option: str) -> float | None:
        """A float option such as ``timeout`` (also spelled ``default-timeout``)."""
        value = self.get(option)
        if value is None:
            return None
        try:
            return float(value.value)
        except ValueError:
            raise self._error(option, value, "a number") from None

    def format_control(self) -> tuple[frozenset[str], frozenset[str]]:
        """``(no_binary, only_binary)`` after applying ``no-binary``/``only-binary`` values in pip's order."""
        no_binary: set[str] = set()
        only_binary: set[str] = set()
        for name, value in self._entries("no-binary"):
            if name == "no-binary":
                apply_format_control(value.value, no_binary, only_binary)
            else:
                apply_format_control(value.value, only_binary, no_binary)
        return frozenset(no_binary), frozenset(only_binary)


def apply_format_control(value: str, target: set[str], other: set[str]) -> None:
    """pip's ``FormatControl.handle_mutual_excludes``: comma-separated names, ``:all:``, ``:none:``."""
    from packaging.utils import canonicalize_name

    if value.startswith("-"):
        raise UsageError("--no-binary / --only-binary option requires 1 argument.")
    new = value.split(",")
    while ":all:" in new:
        other.clear()
        target.clear()
        target.add(":all:")
        del new[: new.index(":all:") + 1]
        if ":none:" not in new:
            return
    for name in new:
        if name == ":none:":
            target.clear()
            continue
        canonical = canonicalize_name(name)
        other.discard(canonical)
        target.add(canonical)

"""pip's options for each command, parsed with argparse; pip's configuration applied on top.

``parse`` returns the argparse namespace, or an exit code when parsing failed (usage errors and
unsupported options print one line). ``merged`` combines the command line with pip's config files
and ``PIP_*`` variables the way pip does: the command line wins for single values, list options
(``--extra-index-url``, ``-f``, ``-c``, ``-r``) add to the configured ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from forge_pip.cli.pip import PROG
from forge_pip.cli.policy_args import add_policy_args
from forge_store.records import record

if TYPE_CHECKING:
    from forge_pip.cli.pip_sources import StandardOptions
    from forge_pip.config import PipConfig
    from forge_pip.install import IndexOptions
    from forge_pip.reqfile import FileOptions, ReqLine


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _general(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("General Options")
    g.add_argument("--python", help="the venv interpreter (or venv prefix) to act on")
    g.add_argument("--env", help="Forge: the Forge env to act on (instead of --python or the active venv)")
    g.add_argument("-v", "--verbose", action="count", default=0)
    g.add_argument("-q", "--quiet", action="count", default=0)
    g.add_argument("--isolated", action="store_true", help="ignore environment variables and user config")
    g.add_argument("--no-cache-dir", action="store_true")
    g.add_argument(
        "--cache-dir", help="the HTTP, download and built-wheel caches (default: $FORGE_HOME/cache)"
    )
    g.add_argument("--timeout", "--default-timeout", type=float, dest="timeout")
    g.add_argument("--retries", type=int)
    g.add_argument("--cert")
    g.add_argument("--client-cert")
    g.add_argument("--trusted-host", action="append", default=[])
    g.add_argument("--no-proxy-env", action="store_true")
    g.add_argument("--disable-pip-version-check", action="store_true")
    g.add_argument("--no-color", action="store_true")
    g.add_argument("--no-input", action="store_true")
    g.add_argument("--progress-bar", help="ignored")
    g.add_argument("--require-virtualenv", "--require-venv", action="store_true")
    g.add_argument("--break-system-packages", action="store_true")
    g.add_argument(
        "--offline",
        action="store_true",
        help="Forge: no network at all; use store entries (any, even ones installed from a local file)"
        " and cached index pages, store entries first",
    )
    g.add_argument(
        "--prefer-offline",
        action="store_true",
        help="Forge: use store entries (any, even ones installed from a local file) before index files,"
        " within the requested versions; ask the indexes only for what the store lacks",
    )


def _index(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Package Index Options")
    g.add_argument("-i", "--index-url")
    g.add_argument("--extra-index-url", action="append", default=[])
    g.add_argument("--no-index", action="store_true")
    g.add_argument("-f", "--find-links", action="append", default=[])
    g.add_argument("--refresh-package", action="append", default=[], dest="refresh_packages", metavar="NAMES")


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("requirements", nargs="*", metavar="REQUIREMENT")
    p.add_argument("-r", "--requirement", action="append", default=[], dest="requirement_files")
    p.add_argument("-c", "--constraint", action="append", default=[], dest="constraint_files")
    p.add_argument("-e", "--editable", action="append", default=[], dest="editables")
    p.add_argument("--no-deps", "--no-dependencies", action="store_true", dest="no_deps")
    p.add_argument("--pre", action="store_true")
    p.add_argument("--only-binary", action=_FormatOp, dest="format_ops", default=[])
    p.add_argument("--no-binary", action=_FormatOp, dest="format_ops", default=[])
    p.add_argument("--prefer-binary", action="store_true")
    p.add_argument("--require-hashes", action="store_true")
    p.add_argument("--no-build-isolation", action="store_true")
    p.add_argument("--use-pep517", action="store_true", help="always on")
    p.add_argument("--config-settings", "-C", action=_ConfigSetting, dest="config_settings", default={})
    _standards(p)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--report")
    p.add_argument("--progress-bar-ignored", help=argparse.SUPPRESS)
    _index(p)


def _standards(p: argparse.ArgumentParser) -> None:
    """pip 25.1-26.2's selection and build options (see ``forge_pip.cli.pip_sources``)."""
    p.add_argument("--build-constraint", action="append", default=[], dest="build_constraints")
    p.add_argument("--check-build-dependencies", action="store_true", dest="check_build_deps")
    p.add_argument("--group", action="append", default=[], dest="groups", metavar="[path:]group")
    p.add_argument("--requirements-from-script", action="append", default=[], dest="scripts", metavar="file")
    p.add_argument("--only-deps", "--only-dependencies", action="store_true", dest="only_deps")
    p.add_argument("--uploaded-prior-to", dest="uploaded_prior_to", metavar="datetime_or_duration")
    p.add_argument("--all-releases", action=_ReleaseOp, dest="release_ops", default=[])
    p.add_argument("--only-final", action=_ReleaseOp, dest="release_ops", default=[])
    p.add_argument("--no-require-hashes", action="store_true")
    p.add_argument("--ignore-requires-python", action="store_true")


class _ConfigSetting(argparse.Action):
    """pip's ``-C KEY=VALUE``: a key given twice collects its values into a list."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        key, sep, value = str(values).partition("=")
        if sep != "=":
            parser.error(f"Arguments to {option_string} must be of the form KEY=VAL")
        settings: dict[str, str | list[str]] = dict(getattr(namespace, self.dest, None) or {})
        known = settings.get(key)
        if known is None:
            settings[key] = value
        elif isinstance(known, list):
            settings[key] = [*known, value]
        else:
            settings[key] = [known, value]
        setattr(namespace, self.dest, settings)


class _ReleaseOp(argparse.Action):
    """``--all-releases`` / ``--only-final``: kept in order, applied as pip's ReleaseControl does."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        if str(values).startswith("-"):
            parser.error("--all-releases / --only-final option requires 1 argument.")
        ops = list(getattr(namespace, self.dest, None) or [])
        ops.append(("all-releases" if option_string == "--all-releases" else "only-final", str(values)))
        setattr(namespace, self.dest, ops)


class _FormatOp(argparse.Action):
    """``--only-binary`` / ``--no-binary``: kept in order, applied as pip applies them."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        ops = list(getattr(namespace, self.dest, None) or [])
        ops.append(("only-binary" if option_string == "--only-binary" else "no-binary", str(values)))
        setattr(namespace, self.dest, ops)


def build_parser(command: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} {command}", add_help=True)
    _general(p)
    if command == "install":
        _selection(p)
        p.add_argument("-U", "--upgrade", action="store_true")
        p.add_argument("--upgrade-strategy", choices=["only-if-needed", "eager"])
        p.add_argument("--force-reinstall", action="store_true")
        p.add_argument("-I", "--ignore-installed", action="store_true")
        p.add_argument("--no-compile", action="store_true", help="ignored: pycs are part of the store")
        p.add_argument("--compile", action="store_true", help="always on")
        p.add_argument("--no-warn-script-location", action="store_true")
        p.add_argument("--no-warn-conflicts", action="store_true")
        p.add_argument("--local", action="store_true", help="Forge: link locally even what a parent provides")
        add_policy_args(p.add_argument_group("Forge layer policy"), forge_prefix=True)
        p.add_argument("--user", action="store_true", help="refused in a venv, as pip refuses it")
        p.add_argument("-t", "--target", help="install into this directory (files copied, not linked)")
        p.add_argument("--prefix", help="install under this prefix (files copied, not linked)")
        p.add_argument("--root", help="install relative to this root (files copied, not linked)")
    elif command == "download":
        _selection(p)
        p.add_argument(
            "-d", "--dest", "--destination-dir", "--destination-directory", dest="dest", default="."
        )
        _target_platform(p)
    elif command == "lock":
        _selection(p)
        p.add_argument("-o", "--output", dest="output_file", default="pylock.toml", metavar="path")
    elif command == "wheel":
        _selection(p)
        p.add_argument("-w", "--wheel-dir", dest="wheel_dir", default=".")
    elif command == "uninstall":
        p.add_argument("names", nargs="*", metavar="PACKAGE")
        p.add_argument("-r", "--requirement", action="append", default=[], dest="requirement_files")
        p.add_argument("-y", "--yes", action="store_true")
        add_policy_args(p.add_argument_group("Forge layer policy"), forge_prefix=True)
    elif command == "list":
        p.add_argument("--format", choices=["columns", "freeze", "json"], default="columns")
        p.add_argument("-l", "--local", action="store_true", help="only the env's own layer")
        p.add_argument("--exclude", action="append", default=[])
        p.add_argument("--not-required", action="store_true")
        p.add_argument("-o", "--outdated", action="store_true")
        p.add_argument("-u", "--uptodate", action="store_true")
        p.add_argument("-e", "--editable", action="store_true", dest="editable_only")
        p.add_argument("--include-editable", action="store_true", default=True)
        p.add_argument("--exclude-editable", action="store_false", dest="include_editable")
        p.add_argument("--pre", action="store_true")
        p.add_argument("--layers", action="store_true", help="Forge: add the layer that provides each")
        _index(p)
    elif command == "hash":
        p.add_argument("files", nargs="+", metavar="FILE")
        p.add_argument("-a", "--algorithm", choices=["sha256", "sha384", "sha512"], default="sha256")
    elif command == "index":
        p.add_argument("words", nargs="*", metavar="ARG")
        p.add_argument("--pre", action="store_true")
        p.add_argument("--json", action="store_true")
        _index(p)
        _target_platform(p)
    elif command == "config":
        p.add_argument("words", nargs="*", metavar="ARG")
        p.add_argument("--editor")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--global", action="store_const", const="global", dest="variant")
        g.add_argument("--user", action="store_const", const="user", dest="variant")
        g.add_argument("--site", action="store_const", const="site", dest="variant")
    elif command == "inspect":
        p.add_argument("--local", action="store_true")
        p.add_argument("--user", action="store_true")
        p.add_argument("--path", action="append", default=[])
    elif command == "debug":
        _target_platform(p)
    elif command == "freeze":
        p.add_argument("--all", action="store_true")
        p.add_argument("-l", "--local", action="store_true", help="only the env's own layer")
        p.add_argument("--exclude", action="append", default=[])
        p.add_argument("-r", "--requirement", action="append", default=[], dest="requirement_files")
    elif command == "show":
        p.add_argument("names", nargs="*", metavar="PACKAGE")
        p.add_argument("-f", "--files", action="store_true")
    elif command == "cache":
        p.add_argument("words", nargs="*", metavar="ARG")
        p.add_argument("--format", choices=["human", "abspath"], default="human")
    from forge_pip.cli import pip_help

    pip_help.apply(command, p)
    return p


def _target_platform(p: argparse.ArgumentParser) -> None:
    """pip's ``--platform`` / ``--python-version`` / ``--implementation`` / ``--abi``."""
    p.add_argument("--platform", action="append", default=[], dest="platforms")
    p.add_argument("--python-version", dest="target_python_version")
    p.add_argument("--implementation", dest="implementation")
    p.add_argument("--abi", action="append", default=[], dest="abis")


#: pip options that Forge does not support for these commands but whose names are prefixes of a
#: Forge option there: argparse would take them as an abbreviation (``--abi`` for ``--abi-policy``).
_PIP_ONLY_PREFIXES: dict[str, tuple[str, ...]] = {"install": ("--abi",), "uninstall": ("--abi",)}


def _pip_options_forge_abbreviates(command: str, args: Sequence[str]) -> str | None:
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name in _PIP_ONLY_PREFIXES.get(command, ()):
            return name
    return None


def parse(command: str, args: Sequence[str]) -> argparse.Namespace | int:
    """Parse ``args`` for ``command``; an int is the exit code of a failed parse or of ``--help``."""
    shadowed = _pip_options_forge_abbreviates(command, args)
    if shadowed:
        print(f"{PROG}: {shadowed} is not supported", file=sys.stderr)
        return 2
    parser = build_parser(command)
    try:
        ns, unknown = parser.parse_known_args(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    if hasattr(ns, "words"):  # positionals after an option (``index versions --pre x``)
        ns.words = [*ns.words, *(a for a in unknown if not a.startswith("-"))]
        unknown = [a for a in unknown if a.startswith("-")]
    bad = [a for a in unknown if a.startswith("-")]
    if bad:
        print(f"{PROG}: {bad[0].split('=', 1)[0]} is not supported", file=sys.stderr)
        return 2
    if unknown:
        print(f"{PROG}: error: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
        return 2
    ns.command = command
    words = list(getattr(ns, "words", None) or [])
    if command in ("index", "config", "cache"):
        # positionals between options (``index versions --pre x``): argparse would drop them
        ns.action = words[0] if words else None
        ns.name = words[1] if len(words) > 1 else None
        ns.value = words[2] if len(words) > 2 else None
        ns.pattern = ns.name
    return ns


# -- merging with pip's configuration ---------------------------------------------------------


@record(frozen=True, slots=True)
class Merged:
    """The command line, pip's configuration and the requirements files' options, combined."""

    requirements: tuple[ReqLine, ...]
    constraints: tuple[ReqLine, ...]
    index: IndexOptions
    pre: bool
    prefer_binary: bool
    only_binary: frozenset[str]
    no_binary: frozenset[str]
    require_hashes: bool
    no_deps: bool
    build_isolation: bool
    standards: StandardOptions | None = None
    """pip 25.1-26.2's options (build constraints, groups, scripts, locks, release control...)."""


def load_config(ns: argparse.Namespace, site_prefix: Path | None) -> PipConfig:
    from forge_pip.config import load_pip_config

    isolated = bool(ns.isolated)
    return load_pip_config(
        ns.command,
        os.environ,
        isolated=isolated,
        site_prefix=str(site_prefix) if site_prefix is not None else None,
    )


def _bool(ns: argparse.Namespace, config: PipConfig, name: str) -> bool:
    if getattr(ns, name.replace("-", "_"), False):
        return True
    return bool(config.get_bool(name))


def proxy_env(ns: argparse.Namespace, config: PipConfig) -> bool:
    """False for pip 26.3's ``--no-proxy-env`` (command line or configuration)."""
    return not _bool(ns, config, "no-proxy-env")


def refresh_packages(ns: argparse.Namespace, config: PipConfig) -> frozenset[str]:
    """pip 26.3's ``--refresh-package`` (configuration, then command line; comma-separated):
    canonical names, ``:all:`` for every project."""
    from packaging.utils import canonicalize_name

    names: set[str] = set()
    for value in [*config.get_list("refresh-package"), *getattr(ns, "refresh_packages", [])]:
        for item in value.split(","):
            item = item.strip()
            if item:
                names.add(item if item == ":all:" else canonicalize_name(item))
    return frozenset(names)


def configured_cache_dir(ns: argparse.Namespace, config: PipConfig | None = None) -> Path | None:
    """pip's cache directory: ``--cache-dir``, else ``cache-dir`` / ``PIP_CACHE_DIR``; None: Forge's own
    (``$FORGE_HOME/cache``). ``--no-cache-dir`` is ``IndexOptions.use_cache``."""
    if ns.cache_dir:
        return Path(os.path.expanduser(ns.cache_dir)).absolute()
    if config is None:
        config = load_config(ns, None)
    value = config.cache_dir()
    return Path(value).absolute() if isinstance(value, str) else None


def index_options(
    ns: argparse.Namespace,
    config: PipConfig,
    *,
    index_urls: Sequence[str],
    find_links: Sequence[str],
    trusted_hosts: Sequence[str],
) -> IndexOptions:
    """How a command reads the given sources, from pip's general options (command line over
    configuration): offline, TLS, timeout, retries, the cache and its directory, proxies,
    refreshed projects. One builder for every command that reads the indexes (``install`` and
    its kin, ``index``, ``list -o``), so that none of them forgets an option."""
    from forge_pip.install import IndexOptions

    timeout = ns.timeout if ns.timeout is not None else config.get_float("timeout")
    retries = ns.retries if ns.retries is not None else config.get_int("retries")
    return IndexOptions(
        index_urls=tuple(dict.fromkeys(index_urls)),
        find_links=tuple(dict.fromkeys(find_links)),
        offline=bool(ns.offline),
        prefer_offline=bool(ns.prefer_offline),
        trusted_hosts=tuple(trusted_hosts),
        cert=ns.cert or config.get_str("cert"),
        client_cert=ns.client_cert or config.get_str("client-cert"),
        timeout=timeout if timeout is not None else 15.0,
        retries=retries if retries is not None else 3,
        use_cache=not (ns.no_cache_dir or config.get_bool("no-cache-dir")),
        cache_dir=configured_cache_dir(ns, config),
        proxy_env=proxy_env(ns, config),
        refresh=refresh_packages(ns, config),
    )


def merge(ns: argparse.Namespace, config: PipConfig) -> Merged:
    """Apply pip's precedence: config files < ``PIP_*`` < command line < requirements files' options."""
    from forge_pip.install import DEFAULT_INDEX
    from forge_pip.reqfile import parse_requirement_line, parse_requirements

    environ: Mapping[str, str] = os.environ
    reqs: list[ReqLine] = []
    constraints: list[ReqLine] = []
    file_opts: list[FileOptions] = []
    from forge_pip.cli.pip_sources import cli_settings, is_lock_file, standard_options

    lock_files: list[str] = []
    for path in [*config.get_list("requirement"), *ns.requirement_files]:
        if is_lock_file(path):
            lock_files.append(path)
            continue
        lines, fo = parse_requirements(path, environ=environ)
        reqs.extend(lines)
        file_opts.append(fo)
    for path in [*config.get_list("constraint"), *ns.constraint_files]:
        lines, fo = parse_requirements(path, constraint=True, environ=environ)
        constraints.extend(lines)
        file_opts.append(fo)
    settings = getattr(ns, "config_settings", None)
    for text in ns.requirements:
        reqs.append(cli_settings(parse_requirement_line(text, text, with_options=False), settings))
    for text in [*config.get_list("editable"), *ns.editables]:
        reqs.append(cli_settings(parse_requirement_line(f"-e {text}", f"-e {text}"), settings))

    no_index = _bool(ns, config, "no-index")
    index_url = ns.index_url or config.get_str("index-url") or DEFAULT_INDEX
    urls = [index_url, *config.get_list("extra-index-url"), *ns.extra_index_url]
    find_links = [*config.get_list("find-links"), *ns.find_links]
    pre = _bool(ns, config, "pre")
    prefer_binary = _bool(ns, config, "prefer-binary")
    require_hashes = _bool(ns, config, "require-hashes")
    trusted = [*config.get_list("trusted-host"), *ns.trusted_host]
    no_binary, only_binary = (set(s) for s in config.format_control())
    from forge_pip.config import apply_format_control

    for option, value in ns.format_ops:
        if option == "no-binary":
            apply_format_control(value, no_binary, only_binary)
        else:
            apply_format_control(value, only_binary, no_binary)
    for fo in file_opts:
        urls = fo.index_urls(urls, no_index=no_index)
        no_index = no_index or fo.no_index
        find_links.extend(fo.find_links)
        pre = pre or fo.pre
        prefer_binary = prefer_binary or fo.prefer_binary
        require_hashes = require_hashes or fo.require_hashes
        trusted.extend(fo.trusted_hosts)
        fo.apply_format_control(no_binary, only_binary)
    if no_index:
        urls = []
    build_isolation = not (ns.no_build_isolation or config.get_bool("no-build-isolation"))
    index = index_options(ns, config, index_urls=urls, find_links=find_links, trusted_hosts=trusted)
    standards = standard_options(ns, config, lock_files, environ=environ)
    if standards.uploaded_prior_to is not None:
        index = dataclasses.replace(index, uploaded_prior_to=standards.uploaded_prior_to)
    return Merged(
        requirements=tuple(reqs),
        constraints=tuple(constraints),
        index=index,
        pre=pre,
        prefer_binary=prefer_binary,
        only_binary=frozenset(only_binary),
        no_binary=frozenset(no_binary),
        require_hashes=require_hashes,
        no_deps=_bool(ns, config, "no-deps"),
        build_isolation=build_isolation,
        standards=standards,
    )

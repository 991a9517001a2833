"""pip configuration files and PIP_* variables, compared with pip's rules (and pip itself where present)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forge_pip.config import ConfigKind, PipConfigError, config_files, load_pip_config


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment whose every pip location points inside tmp_path."""
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-home"),
        "XDG_CONFIG_DIRS": f"{tmp_path / 'sys1'}{os.pathsep}{tmp_path / 'sys2'}",
    }
    env.update(extra)
    return env


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_files_order(tmp_path: Path) -> None:
    env = _env(tmp_path)
    files = config_files(env, site_prefix=str(tmp_path / "venv"))
    assert files == [
        (ConfigKind.GLOBAL, tmp_path / "sys1/pip/pip.conf"),
        (ConfigKind.GLOBAL, tmp_path / "sys2/pip/pip.conf"),
        (ConfigKind.GLOBAL, Path("/etc/pip.conf")),
        (ConfigKind.USER, tmp_path / "home/.pip/pip.conf"),
        (ConfigKind.USER, tmp_path / "xdg-home/pip/pip.conf"),
        (ConfigKind.SITE, tmp_path / "venv/pip.conf"),
    ]


def test_config_files_defaults_without_xdg(tmp_path: Path) -> None:
    files = config_files({"HOME": str(tmp_path), "XDG_CONFIG_HOME": "  "}, site_prefix=None)
    assert [p for _, p in files] == [
        Path("/etc/xdg/pip/pip.conf"),
        Path("/etc/pip.conf"),
        tmp_path / ".pip/pip.conf",
        tmp_path / ".config/pip/pip.conf",
    ]


def test_pip_config_file_existing_skips_user_files_and_comes_last(tmp_path: Path) -> None:
    conf = _write(tmp_path / "custom.conf", "[global]\nindex-url = http://custom\n")
    files = config_files(_env(tmp_path, PIP_CONFIG_FILE=str(conf)), site_prefix=str(tmp_path / "v"))
    assert [k for k, _ in files] == [ConfigKind.GLOBAL] * 3 + [ConfigKind.SITE, ConfigKind.ENV]
    missing = config_files(_env(tmp_path, PIP_CONFIG_FILE=str(tmp_path / "nope")), site_prefix=None)
    assert ConfigKind.USER in [k for k, _ in missing]


def test_devnull_loads_no_file(tmp_path: Path) -> None:
    env = _env(tmp_path, PIP_CONFIG_FILE=os.devnull, PIP_PRE="yes")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nindex-url = http://user\n")
    assert config_files(env, site_prefix=None) == []
    config = load_pip_config("install", env)
    assert config.get("index-url") is None
    assert config.get_bool("pre") is True  # environment variables still apply


def test_precedence_between_kinds(tmp_path: Path) -> None:
    _write(tmp_path / "sys1/pip/pip.conf", "[global]\nindex-url = http://sys1\nretries = 1\n")
    _write(tmp_path / "sys2/pip/pip.conf", "[global]\nindex-url = http://sys2\n")
    _write(tmp_path / "home/.pip/pip.conf", "[global]\nretries = 2\ntimeout = 5\n")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nretries = 3\n")
    _write(tmp_path / "venv/pip.conf", "[global]\ntimeout = 7\n")
    config = load_pip_config("install", _env(tmp_path), site_prefix=str(tmp_path / "venv"))
    index = config.get("index-url")
    assert index is not None and index.value == "http://sys2"
    assert index.origin == f"{tmp_path / 'sys2/pip/pip.conf'} [global]"
    assert config.get_int("retries") == 3
    assert config.get_float("timeout") == 7.0


def test_pip_config_file_beats_site(tmp_path: Path) -> None:
    conf = _write(tmp_path / "custom.conf", "[global]\ntimeout = 9\n")
    _write(tmp_path / "venv/pip.conf", "[global]\ntimeout = 7\n")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nretries = 3\n")
    env = _env(tmp_path, PIP_CONFIG_FILE=str(conf))
    config = load_pip_config("install", env, site_prefix=str(tmp_path / "venv"))
    assert config.get_float("timeout") == 9.0
    assert config.get("retries") is None  # user file skipped when PIP_CONFIG_FILE exists


def test_command_section_beats_global_of_any_file(tmp_path: Path) -> None:
    _write(tmp_path / "sys1/pip/pip.conf", "[install]\nindex-url = http://install\n")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nindex-url = http://user-global\n[freeze]\npre=1\n")
    install = load_pip_config("install", _env(tmp_path))
    download = load_pip_config("download", _env(tmp_path))
    assert install.get_str("index-url") == "http://install"
    assert download.get_str("index-url") == "http://user-global"
    assert install.get_bool("pre") is None  # other commands' sections are ignored


def test_env_vars_override_files_and_names_normalise(tmp_path: Path) -> None:
    _write(tmp_path / "xdg-home/pip/pip.conf", "[install]\nFind_Links = /from/file\n--pre = no\n")
    env = _env(tmp_path, PIP_FIND_LINKS="/a  /b\n/c", PIP_DEFAULT_TIMEOUT="12.5", PIP_VERSION="1")
    config = load_pip_config("install", env)
    assert config.get_list("find-links") == ["/a", "/b", "/c"]
    assert config.get_float("timeout") == 12.5  # default-timeout is an alias of timeout
    assert config.get_bool("pre") is False
    assert ":env:.version" not in dict(config.items())
    found = config.get("find_links")
    assert found is not None and found.origin == "env PIP_FIND_LINKS"


def test_empty_value_in_later_file_unsets(tmp_path: Path) -> None:
    _write(tmp_path / "sys1/pip/pip.conf", "[global]\nindex-url = http://sys\n")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nindex-url =\n")
    assert load_pip_config("install", _env(tmp_path)).get("index-url") is None
    assert load_pip_config("install", _env(tmp_path, PIP_INDEX_URL="")).get("index-url") is None


def test_short_names_are_not_options(tmp_path: Path) -> None:
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\ni = http://short\nunknown-key = 1\n")
    config = load_pip_config("install", _env(tmp_path))
    assert config.get("index-url") is None
    assert ("global.unknown-key", config.get("unknown-key")) in config.items()


def test_isolated_ignores_env_and_user(tmp_path: Path) -> None:
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nretries = 3\n")
    _write(tmp_path / "sys1/pip/pip.conf", "[global]\ntimeout = 4\n")
    config = load_pip_config("install", _env(tmp_path, PIP_PRE="1"), isolated=True)
    assert config.get("retries") is None and config.get("pre") is None
    assert config.get_float("timeout") == 4.0


def test_multi_value_lists(tmp_path: Path) -> None:
    _write(
        tmp_path / "xdg-home/pip/pip.conf",
        "[global]\nextra-index-url =\n    http://one\n    http://two http://three\nfind-links = /w\n",
    )
    config = load_pip_config("install", _env(tmp_path))
    assert config.get_list("extra-index-url") == ["http://one", "http://two", "http://three"]
    assert config.get_list("find-links") == ["/w"]
    assert config.get_list("trusted-host") == []


@pytest.mark.parametrize(
    ("var", "value", "option", "expected"),
    [
        ("PIP_NO_INDEX", "yes", "no-index", True),
        ("PIP_NO_INDEX", "off", "no-index", False),
        ("PIP_NO_CACHE_DIR", "1", "no-cache-dir", True),
        ("PIP_NO_CACHE_DIR", "false", "no-cache-dir", True),  # pip: any valid boolean disables the cache
        ("PIP_NO_BUILD_ISOLATION", "0", "no-build-isolation", True),  # pip's inversion, kept
        ("PIP_NO_BUILD_ISOLATION", "1", "no-build-isolation", False),
        ("PIP_NO_COMPILE", "yes", "compile", True),
        ("PIP_COMPILE", "no", "no-compile", True),
        ("PIP_NO_DEPENDENCIES", "true", "no-deps", True),
    ],
)
def test_boolean_semantics(tmp_path: Path, var: str, value: str, option: str, expected: bool) -> None:
    assert load_pip_config("install", _env(tmp_path, **{var: value})).get_bool(option) is expected


def test_counts_and_bad_values(tmp_path: Path) -> None:
    good = load_pip_config("install", _env(tmp_path, PIP_VERBOSE="yes", PIP_QUIET="2"))
    assert (good.get_count("verbose"), good.get_count("quiet")) == (1, 2)
    bad = load_pip_config("install", _env(tmp_path, PIP_VERBOSE="-1", PIP_PRE="maybe", PIP_RETRIES="x"))
    with pytest.raises(PipConfigError, match="PIP_VERBOSE"):
        bad.get_count("verbose")
    with pytest.raises(PipConfigError, match="'maybe' is not a valid value for pre"):
        bad.get_bool("pre")
    with pytest.raises(PipConfigError):
        bad.get_int("retries")
    with pytest.raises(PipConfigError, match="no-use-pep517"):
        load_pip_config("install", _env(tmp_path, PIP_NO_USE_PEP517="1")).get_bool("use-pep517")


def test_format_control_from_config(tmp_path: Path) -> None:
    _write(
        tmp_path / "xdg-home/pip/pip.conf", "[global]\nonly-binary = :all:\n[install]\nno-binary = Foo_Bar\n"
    )
    no_binary, only_binary = load_pip_config("install", _env(tmp_path)).format_control()
    assert (no_binary, only_binary) == (frozenset({"foo-bar"}), frozenset({":all:"}))


def test_unparsable_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "xdg-home/pip/pip.conf", "index-url = http://no-section\n")
    with pytest.raises(PipConfigError, match=str(bad)) as info:
        load_pip_config("install", _env(tmp_path))
    assert info.value.exit_code == 2


def _pip_python() -> str | None:
    for candidate in (shutil.which("python3"), sys.executable):
        if (
            candidate
            and subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True).returncode == 0
        ):
            return candidate
    return None


def _pip_config_list(python: str, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, env=env, check=True
    ).stdout
    result = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        result[key] = value.strip("'")
    return result


def test_matches_real_pip_config_list_on_this_machine() -> None:
    python = _pip_python()
    if python is None:
        pytest.skip("pip is not available")
    prefix = subprocess.run(
        [python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = _pip_config_list(python, dict(os.environ))
    ours = {
        key: value.value for key, value in load_pip_config("install", os.environ, site_prefix=prefix).items()
    }
    compared = 0
    for name in ("find-links", "extra-index-url", "constraint", "cert"):
        keys = {k for k in expected if k.endswith("." + name)}
        assert {k: ours.get(k) for k in keys} == {k: expected[k] for k in keys}
        compared += len(keys)
    assert compared or not expected  # on a configured machine something was compared


def test_effective_values_match_pip_parser(tmp_path: Path) -> None:
    """Differential: pip's own option parser (in a subprocess) and ours agree on a tricky setup."""
    python = _pip_python()
    if python is None:
        pytest.skip("pip is not available")
    _write(tmp_path / "sys1/pip/pip.conf", "[install]\nindex-url = http://install\nno-compile = yes\n")
    _write(tmp_path / "xdg-home/pip/pip.conf", "[global]\nindex-url = http://g\nextra-index-url = a\n  b\n")
    env = _env(tmp_path, PATH=os.environ.get("PATH", ""), PIP_NO_BUILD_ISOLATION="0", PIP_DEFAULT_TIMEOUT="3")
    script = (
        "from pip._internal.commands import create_command\n"
        "o, _ = create_command('install').parse_args([])\n"
        "values = (o.index_url, o.extra_index_urls, bool(o.compile), bool(o.build_isolation), o.timeout)\n"
        "print(repr(values))\n"
    )
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env, check=True).stdout
    config = load_pip_config("install", env)
    ours = (
        config.get_str("index-url"),
        config.get_list("extra-index-url"),
        bool(config.get_bool("compile")),
        not config.get_bool("no-build-isolation"),
        config.get_float("timeout"),
    )
    assert repr(ours) == out.strip()

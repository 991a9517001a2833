"""``forge env set|get|unset``: round trips, bad input, and modes that later installs obey."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import forge_cli, run_py
from tests.support.wheels import make_wheel


def _ok(*args: str) -> str:
    proc = forge_cli(*args)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def _settings(env: str) -> dict[str, dict[str, object]]:
    doc = json.loads(_ok("env", "get", env, "--json"))
    assert doc["version"] == "1" and doc["kind"] == "env-settings" and doc["env"] == env
    settings = doc["settings"]
    assert isinstance(settings, dict)
    return settings


def test_defaults_then_set_get_unset_round_trip(forge_home: Path) -> None:
    _ok("create", "app", "-q")
    s = _settings("app")
    assert {k: (v["value"], v["source"]) for k, v in s.items()} == {
        "abi_policy": ("warn_abi", "default"),
        "conflict_mode": ("warn", "default"),
        "link_mode": ("symlink", "default"),
        "layering": ("stacked", "default"),
    }
    assert s["conflict_mode"]["choices"] == ["loose", "warn", "strict"]
    for key, value in (("abi_policy", "strict_abi"), ("conflict_mode", "strict")):
        assert "(set)" in _ok("env", "set", "app", key, value)
        assert _ok("env", "get", "app", key, "-q").strip() == value
        assert _settings("app")[key] == {
            "value": value,
            "default": s[key]["default"],
            "source": "set",
            "choices": s[key]["choices"],
        }
    config = json.loads((forge_home / "config.json").read_text())
    assert config["version"] == 1
    assert config["envs"]["app"]["abi_policy"] == "strict_abi"
    one = json.loads(_ok("env", "get", "app", "abi_policy", "--json"))
    assert list(one["settings"]) == ["abi_policy"]
    _ok("env", "unset", "app", "abi_policy")
    assert _settings("app")["abi_policy"]["source"] == "default"
    assert _settings("app")["conflict_mode"]["value"] == "strict"
    _ok("env", "unset", "app", "conflict_mode")
    assert "app" not in json.loads((forge_home / "config.json").read_text())["envs"]


def test_settings_do_not_outlive_their_env(forge_home: Path) -> None:
    _ok("create", "app", "-q")
    _ok("env", "set", "app", "conflict_mode", "strict")
    _ok("remove", "app", "-q")
    _ok("create", "app", "-q")
    assert _settings("app")["conflict_mode"]["source"] == "default"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("set", "app", "colour", "red"), "valid keys: abi_policy, conflict_mode, link_mode, layering"),
        (("set", "app", "abi_policy", "lax"), "valid: strict_abi|warn_abi|allow_abi"),
        (("set", "app", "conflict_mode", "WARN"), "valid: loose|warn|strict"),
        (("set", "app", "link_mode", "reflink"), "valid: symlink|hardlink|copy"),
        (("set", "app", "layering", "deep"), "valid: stacked|flat"),
        (("get", "app", "colour"), "valid keys:"),
        (("unset", "app", "colour"), "valid keys:"),
        (("set", "app", "conflict_mode"), "VALUE"),
    ],
)
def test_bad_key_or_value_is_one_line_exit_2_nothing_written(
    forge_home: Path, args: tuple[str, ...], needle: str
) -> None:
    _ok("create", "app", "-q")
    before = _settings("app")
    proc = forge_cli("env", *args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("usage:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (forge_home / "config.json").exists()
    assert _settings("app") == before


def test_unknown_env_is_one_line(forge_home: Path) -> None:
    proc = forge_cli("env", "set", "nope", "conflict_mode", "strict")
    assert proc.returncode != 0 and "no env named 'nope'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _inode_shared(env_site: Path, rel: str) -> bool:
    path = env_site / rel
    assert path.is_file() and not path.is_symlink(), path
    return os.stat(path).st_nlink > 1


@pytest.mark.parametrize("mode", ["hardlink", "copy"])
def test_link_mode_relinks_the_env_and_later_installs_use_it(
    forge_home: Path, wheel_dir: Path, mode: str
) -> None:
    first = make_wheel(wheel_dir, "alpha", "1.0", files={"alpha/__init__.py": "V = 'a'\n"})
    later = make_wheel(wheel_dir, "beta", "1.0", files={"beta/__init__.py": "V = 'b'\n"})
    _ok("create", "app", "-q")
    _ok("install", str(first), "--env", "app", "-q")
    site = next((forge_home / "envs" / "app" / "lib").glob("python*/site-packages"))
    assert (site / "alpha").is_symlink()
    _ok("env", "set", "app", "link_mode", mode)
    s = _settings("app")["link_mode"]
    assert (s["value"], s["source"]) == (mode, "set")
    envs = json.loads(_ok("envs", "--json"))
    assert next(e for e in envs["envs"] if e["name"] == "app")["link_mode"] == mode
    # the existing dist was relinked in the new mode ...
    assert not (site / "alpha").is_symlink()
    assert _inode_shared(site, "alpha/__init__.py") is (mode == "hardlink")
    # ... and a later install (no mode on the command line) links in it too
    _ok("install", str(later), "--env", "app", "-q")
    assert not (site / "beta").is_symlink()
    assert _inode_shared(site, "beta/__init__.py") is (mode == "hardlink")
    python = forge_home / "envs" / "app" / "bin" / "python"
    assert run_py(python, "import alpha, beta; print(alpha.V + beta.V)").stdout.strip() == "ab"
    _ok("env", "unset", "app", "link_mode")
    assert (site / "alpha").is_symlink() and (site / "beta").is_symlink()
    assert _settings("app")["link_mode"]["source"] == "default"
    assert run_py(python, "import alpha, beta; print(alpha.V + beta.V)").stdout.strip() == "ab"


def test_layering_flat_links_the_parents_dists_and_back(forge_home: Path, wheel_dir: Path) -> None:
    whl = make_wheel(wheel_dir, "alpha", "1.0", files={"alpha/__init__.py": "V = 'a'\n"})
    _ok("create", "base", "-q")
    _ok("install", str(whl), "--env", "base", "-q")
    _ok("create", "app", "--parent", "base", "-q")
    site = next((forge_home / "envs" / "app" / "lib").glob("python*/site-packages"))
    python = forge_home / "envs" / "app" / "bin" / "python"
    assert not (site / "alpha").exists()
    _ok("env", "set", "app", "layering", "flat")
    assert (site / "alpha").exists()
    assert "base" not in (site / "_forge_layers.py").read_text()
    assert run_py(python, "import alpha; print(alpha.V)").stdout.strip() == "a"
    _ok("env", "set", "app", "layering", "stacked")
    assert not (site / "alpha").exists()
    assert "base" in (site / "_forge_layers.py").read_text()
    assert run_py(python, "import alpha; print(alpha.V)").stdout.strip() == "a"


def test_enforcement_reads_the_policies_through_the_library(forge_home: Path) -> None:
    from forge_store import settings
    from forge_store.store import Store

    _ok("create", "app", "-q")
    with Store(forge_home) as store:
        env = store.env("app")
        assert settings.conflict_mode(store, env) is settings.ConflictMode.WARN
        assert settings.abi_policy(store, env) is settings.AbiPolicy.WARN_ABI
        settings.set_value(store, "app", "conflict_mode", "loose")
        settings.set_value(store, "app", "abi_policy", "allow_abi")
        assert settings.conflict_mode(store, env) is settings.ConflictMode.LOOSE
        assert settings.abi_policy(store, env) is settings.AbiPolicy.ALLOW_ABI
    assert _settings("app")["abi_policy"]["value"] == "allow_abi"
    assert not list(forge_home.glob(".config.json.*")), "no temp file left behind"

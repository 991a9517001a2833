"""The ``forge`` command as a user runs it: output, --json, exit codes, one-line errors, no changes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from forge_store.errors import ExitCode
from tests.conftest import forge_cli, run_py
from tests.support.wheels import make_wheel


def _fail(proc: subprocess.CompletedProcess[str], code: ExitCode, words: str) -> None:
    assert proc.returncode == int(code), (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"one line expected, got: {proc.stderr!r}"
    assert "Traceback" not in proc.stderr
    assert words in lines[0], lines[0]


def _tree(home: Path) -> list[str]:
    """Every path under FORGE_HOME but locks and caches (a failed command may still have cached
    the index pages it read, as pip's HTTP cache does: that loses nothing)."""
    return sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if "locks" not in p.parts and p.relative_to(home).parts[0] != "cache"
    )


def test_create_list_activate_remove(forge_home: Path) -> None:
    proc = forge_cli("create", "base")
    assert proc.returncode == 0, proc.stderr
    assert "created env base" in proc.stdout
    proc = forge_cli("create", "kid", "--parent", "base", "--json")
    doc = json.loads(proc.stdout)
    assert doc["version"] == "1" and doc["env"]["parent"] == "base"
    assert doc["env"]["layers"][0].endswith("envs/base/lib/python3.11/site-packages") or doc["env"]["layers"]
    envs = json.loads(forge_cli("envs", "--json").stdout)["envs"]
    assert [e["name"] for e in envs] == ["base", "kid"]
    text = forge_cli("envs").stdout
    assert "base" in text and "kid" in text
    first = forge_cli("activate", "kid", "--shell", "bash").stdout
    assert first == forge_cli("activate", "kid", "--shell", "bash").stdout, "deterministic"
    assert f"VIRTUAL_ENV={forge_home}/envs/kid\nexport VIRTUAL_ENV" in first
    assert "PYTHONPATH" not in first.replace("never PYTHONPATH", ""), "activation leaks no PYTHONPATH"
    layered = forge_cli("activate", "kid", "--pythonpath").stdout.strip()
    assert layered.index("envs/kid/lib") < layered.index("envs/base/lib"), "LOCAL before PARENT"
    fish = forge_cli("activate", "kid", "--shell", "fish").stdout
    assert "set -gx VIRTUAL_ENV" in fish and "PYTHONPATH" not in fish.replace("never PYTHONPATH", "")
    # the activation works in a real shell
    script = first + 'python -c "import sys; print(sys.prefix)"\n'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == str(forge_home / "envs/kid"), out.stderr
    _fail(forge_cli("remove", "base"), ExitCode.CONFLICT, "has children")
    proc = forge_cli("remove", "base", "--recursive")
    assert proc.returncode == 0 and "removed env kid" in proc.stdout
    assert not (forge_home / "envs/base").exists()


def test_install_uninstall_export(forge_home: Path, wheel_dir: Path) -> None:
    forge_cli("create", "e")
    dep = make_wheel(wheel_dir, "dep", "1.0")
    top = make_wheel(wheel_dir, "top", "2.0", requires=["dep"], console_scripts={"top": "top:main"})
    proc = forge_cli("install", str(top), str(dep), "--env", "e")
    assert proc.returncode == 0, proc.stderr
    assert "linked: top 2.0 (store: new)" in proc.stdout
    proc = forge_cli("install", str(top), "--env", "e", "--json")
    doc = json.loads(proc.stdout)
    assert doc["actions"][0]["action"] == "unchanged" and doc["link_mode"] == "symlink"
    assert forge_cli("export", "--env", "e").stdout.splitlines()[1:] == ["dep==1.0", "top==2.0"]
    listing = json.loads(forge_cli("list", "--env", "e", "--json").stdout)["packages"]
    assert {p["name"]: p["layer"] for p in listing} == {"dep": "local", "top": "local"}
    proc = forge_cli("uninstall", "top", "--env", "e")
    assert proc.returncode == 0 and "unlinked: top 2.0" in proc.stdout
    assert not (forge_home / "envs/e/bin/top").exists()
    assert forge_cli("export", "--env", "e").stdout.splitlines()[1:] == ["dep==1.0"]


def test_env_from_forge_env_variable(forge_home: Path, wheel_dir: Path) -> None:
    forge_cli("create", "e")
    env = dict(os.environ, FORGE_ENV="e")
    proc = forge_cli("install", str(make_wheel(wheel_dir, "demo", "1.0")), env=env)
    assert proc.returncode == 0, proc.stderr
    assert run_py(forge_home / "envs/e/bin/python", "import demo").returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["install", "{whl}", "--env", "nope"], ExitCode.NOT_FOUND, "no env named 'nope'"),
        (["uninstall", "demo", "--env", "nope"], ExitCode.NOT_FOUND, "no env named 'nope'"),
        (["install", "{notwheel}", "--env", "e"], ExitCode.INTEGRITY, "not a valid wheel"),
        (["install", "{missing}", "--env", "e"], ExitCode.INTEGRITY, "no such file"),
        (["install", "requests", "--env", "e", "--no-index"], ExitCode.NO_MATCHES, "requests"),
        (["install", "--env", "e", "--frobnicate", "x"], ExitCode.USAGE, "--frobnicate is not supported"),
        (["install", "{winwheel}", "--env", "e"], ExitCode.INCOMPATIBLE, "not compatible with env 'e'"),
        (["install", "{py2wheel}", "--env", "e"], ExitCode.INCOMPATIBLE, "requires Python <3"),
        (["create", "e"], ExitCode.CONFLICT, "already exists"),
        (["create", "bad/name"], ExitCode.USAGE, "invalid env name"),
        (["create", "x", "--parent", "nope"], ExitCode.NOT_FOUND, "no env named 'nope'"),
        (["create", "x", "--python", "2.1"], ExitCode.NOT_FOUND, "no Python 2.1 found"),
        (["activate", "nope"], ExitCode.NOT_FOUND, "no env named"),
        (["install", "{whl}"], ExitCode.USAGE, "no env given"),
    ],
)
def test_bad_input_one_line_nonzero_nothing_changes(
    forge_home: Path, wheel_dir: Path, args: list[str], code: ExitCode, words: str
) -> None:
    assert forge_cli("create", "e").returncode == 0
    assert forge_cli("install", str(make_wheel(wheel_dir, "base", "1.0")), "--env", "e").returncode == 0
    notwheel = wheel_dir / "broken-1.0-py3-none-any.whl"
    notwheel.write_text("this is not a zip")
    values = {
        "whl": str(make_wheel(wheel_dir, "demo", "1.0")),
        "notwheel": str(notwheel),
        "missing": str(wheel_dir / "gone-1.0-py3-none-any.whl"),
        "winwheel": str(make_wheel(wheel_dir, "win", "1.0", tag="cp311-cp311-win_amd64")),
        "py2wheel": str(make_wheel(wheel_dir, "old", "1.0", requires_python="<3")),
    }
    before = _tree(forge_home)
    _fail(forge_cli(*[a.format(**values) for a in args]), code, words)
    assert _tree(forge_home) == before


def test_name_clash_between_wheels_is_refused_cleanly(forge_home: Path, wheel_dir: Path) -> None:
    forge_cli("create", "e")
    forge_cli(
        "install", str(make_wheel(wheel_dir / "a", "one", "1.0", files={"clash.py": "A=1\n"})), "--env", "e"
    )
    before = _tree(forge_home)
    clash = make_wheel(wheel_dir / "b", "two", "1.0", files={"clash.py": "A=2\n"})
    _fail(forge_cli("install", str(clash), "--env", "e"), ExitCode.CONFLICT, "both provide clash.py")
    assert _tree(forge_home) == before


def test_usage_errors_exit_2(forge_home: Path) -> None:
    proc = forge_cli("create")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = forge_cli("frobnicate")
    assert proc.returncode == 2


def test_create_options(forge_home: Path, tmp_path: Path, wheel_dir: Path) -> None:
    where = tmp_path / "elsewhere" / "proj"
    proc = forge_cli("create", "proj", "--path", str(where), "--link-mode", "copy", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["env"]["path"] == str(where)
    assert (where / "pyvenv.cfg").is_file() and (where / "bin" / "python").exists()
    forge_cli("install", str(make_wheel(wheel_dir, "demo", "1.0")), "--env", "proj")
    assert not (where / "lib/python3.11/site-packages/demo").is_symlink(), "copy mode"
    assert forge_cli("create", "flat", "--parent", "proj", "--layering", "flat").returncode == 0
    assert (forge_home / "envs/flat/lib/python3.11/site-packages/demo/__init__.py").exists()


def test_create_with_another_python(forge_home: Path) -> None:
    from forge_store import interpreters
    from forge_store.errors import InterpreterNotFound

    try:
        other = interpreters.find("3.12")
    except InterpreterNotFound:
        pytest.skip("no Python 3.12 here")
    proc = forge_cli("create", "e312", "--python", "3.12", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["env"]["python"] == other.full_version
    out = run_py(forge_home / "envs/e312/bin/python", "import sys; print(sys.version_info[:2], sys.prefix)")
    assert out.stdout.split(")")[0] + ")" == "(3, 12)"


def test_global_layer_from_the_cli(forge_home: Path, wheel_dir: Path) -> None:
    forge_cli("create", "e")
    proc = forge_cli("install", str(make_wheel(wheel_dir, "basetool", "1.0")), "--global")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(forge_cli("list", "--env", "e", "--json").stdout)["packages"]
    assert [(p["name"], p["layer"]) for p in listing] == [("basetool", "global")]
    assert run_py(forge_home / "envs/e/bin/python", "import basetool").returncode == 0


def test_library_import_is_cheap_and_complete() -> None:
    import subprocess
    import sys

    code = "import sys, forge_store; assert 'sqlite3' not in sys.modules; print(forge_store.Store.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "Store", proc.stderr


def test_uninstall_of_a_name_not_installed_is_skipped_like_pip(forge_home: Path, wheel_dir: Path) -> None:
    """pip: "WARNING: Skipping ghost as it is not installed." and exit 0; the rest is uninstalled."""
    assert forge_cli("create", "e").returncode == 0
    assert forge_cli("install", str(make_wheel(wheel_dir, "base", "1.0")), "--env", "e").returncode == 0
    proc = forge_cli("uninstall", "ghost", "base", "--env", "e")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "warning: skipping ghost: it is not installed in 'e'\n"
    assert "base" not in forge_cli("list", "--env", "e").stdout
    again = forge_cli("uninstall", "base", "--env", "e")  # a re-run (say, after a kill) succeeds
    assert again.returncode == 0 and "not installed" in again.stderr

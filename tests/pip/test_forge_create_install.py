"""``forge create NAME [REQUIREMENT...] [-r FILE]``: create and install in one process, all or nothing.

Real subprocesses of the ``forge`` command against a ``file://`` demo index (hermetic pip config).
"""

from __future__ import annotations

import json
from pathlib import Path

from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import forge_cli, run_py
from tests.support.index_server import LocalIndex


def local_names(home: Path, env: str) -> dict[str, str]:
    with Store(home) as store:
        return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def env_names(home: Path) -> list[str]:
    with Store(home) as store:
        return [e.name for e in store.envs()]


def test_create_with_requirements_installs_them(forge_home: Path, demo_index: LocalIndex) -> None:
    proc = forge_cli("create", "e", "-i", demo_index.file_url, "alpha")
    assert proc.returncode == 0, proc.stderr
    assert "created env e" in proc.stdout
    assert "Successfully installed alpha-1.0 beta-2.0" in proc.stdout
    assert local_names(forge_home, "e") == {"alpha": "1.0", "beta": "2.0"}
    with Store(forge_home) as store:
        python = store.env("e").python
    assert run_py(python, "import alpha, beta").returncode == 0


def test_create_with_a_requirements_file_and_create_options(
    forge_home: Path, demo_index: LocalIndex, tmp_path: Path
) -> None:
    assert forge_cli("create", "base", "-i", demo_index.file_url, "beta==2.0").returncode == 0
    req = tmp_path / "req.txt"
    req.write_text("alpha==1.0\n")
    # create's options anywhere, pip's install options after them (-q counts for both)
    proc = forge_cli("create", "--parent", "base", "kid", "-r", str(req), "-i", demo_index.file_url, "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert local_names(forge_home, "kid") == {"alpha": "1.0"}  # beta comes from the parent
    with Store(forge_home) as store:
        kid = store.env("kid")
        assert kid.parent == "base"
        assert {d.name: d.layer for d in store.visible("kid")}["beta"] is Layer.PARENT


def test_a_failed_install_leaves_no_env(forge_home: Path, demo_index: LocalIndex, tmp_path: Path) -> None:
    for args in (
        ("-i", demo_index.file_url, "no-such-project"),
        ("-i", demo_index.file_url, "app", "beta<2"),  # a conflict
        ("-r", str(tmp_path / "missing.txt")),
        ("-i", demo_index.file_url, "--json", "no-such-project"),
    ):
        proc = forge_cli("create", "e", *args)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr
        if "--json" not in args:
            assert "the new env e was removed again" in proc.stderr, proc.stderr
        assert env_names(forge_home) == []
        assert not (forge_home / "envs" / "e").exists()
    # and the name is free again
    assert forge_cli("create", "e", "-i", demo_index.file_url, "beta").returncode == 0
    assert local_names(forge_home, "e") == {"beta": "2.0"}


def test_a_bad_install_option_creates_nothing(forge_home: Path, demo_index: LocalIndex) -> None:
    proc = forge_cli("create", "e", "--no-such-option", "beta")
    assert proc.returncode == 2
    assert "--no-such-option" in proc.stderr and "Traceback" not in proc.stderr
    assert env_names(forge_home) == []
    proc = forge_cli("create", "e", "--link-mode", "bogus", "beta")
    assert proc.returncode == 2 and env_names(forge_home) == []


def test_create_json_is_one_document(forge_home: Path, demo_index: LocalIndex) -> None:
    proc = forge_cli("create", "e", "--json", "-i", demo_index.file_url, "alpha")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "create"
    assert doc["env"]["name"] == "e"
    actions = {a["name"]: a["action"] for a in doc["install"]["actions"]}
    assert actions == {"alpha": "linked", "beta": "linked"}


def test_plain_create_is_unchanged(forge_home: Path, hermetic_pip: None) -> None:
    proc = forge_cli("create", "e", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "env"
    assert env_names(forge_home) == ["e"]
    assert "REQUIREMENT" in forge_cli("create", "--help").stdout

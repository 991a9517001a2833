"""``forge_pip install`` against a local index: resolution, layers, errors and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forge_store.models import Layer
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

Pip = Any


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


def test_install_with_deps_links_and_imports(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    env = store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "alpha")
    assert r.code == 0, r.err
    # pip's lines: a file of a file:// index is "Processing PATH", listed in resolution order
    assert r.out.splitlines()[0] == f"Looking in indexes: {demo_index.file_url}"
    assert "Processing " in r.out and "alpha-1.0-py3-none-any.whl" in r.out
    assert "Installing collected packages: beta, alpha" in r.out
    assert "Successfully installed alpha-1.0 beta-2.0" in r.out
    assert local_names(store, "e") == {"alpha": "1.0", "beta": "2.0"}
    proc = run_py(env.python, "import alpha, beta; print(alpha.__version__, beta.__version__)")
    assert proc.stdout.split() == ["1.0", "2.0"], proc.stderr
    # a second env reuses the store: nothing new is ingested
    store.create_env("f")
    before = len(store.entries())
    r = pip("install", "--env", "f", "-i", demo_index.file_url, "alpha")
    assert r.code == 0 and "from the Forge store" in r.out
    assert "2 reused from the store, 0 new" in r.out
    assert len(store.entries()) == before


def test_backtracking_extras_markers(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "app", "fancy[color]")
    assert r.code == 0, r.err
    assert local_names(store, "e") == {
        "app": "1.0",
        "tool": "1.0",  # 2.0 needs beta<2: backtracked
        "beta": "2.0",
        "fancy": "1.0",
        "gamma": "1.0",  # from the extra; "never" is excluded by its marker
    }


def test_constraints_pre_yanked_requires_python(
    store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path
) -> None:
    store.create_env("e")
    cons = tmp_path / "c.txt"
    cons.write_text("beta<2\n")
    r = pip(
        "install",
        "--env",
        "e",
        "-i",
        demo_index.file_url,
        "-c",
        str(cons),
        "alpha",
        "yank",
        "prerel",
        "future",
    )
    assert r.code == 0, r.err
    assert local_names(store, "e") == {
        "alpha": "1.0",
        "beta": "1.0",
        "yank": "1.0",
        "prerel": "1.0",
        "future": "1.0",
    }
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--pre", "-U", "prerel", "yank==2.0")
    assert r.code == 0, r.err
    assert "yanked" in r.err
    assert local_names(store, "e")["prerel"] == "2.0b1"
    assert local_names(store, "e")["yank"] == "2.0"


def test_unknown_package_and_version(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "nosuchthing")
    assert r.code == 1 and "Traceback" not in r.err
    assert "ERROR: No matching distribution found for nosuchthing" in r.err.splitlines()
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "future>=2")
    assert r.code == 1 and "future" in r.err
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "bad req ===")
    assert r.code == 1 and r.err.startswith("ERROR: bad req ===: invalid requirement")
    assert local_names(store, "e") == {}


def test_hash_mismatch_refused_env_unchanged(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("e")
    (demo_index.root / "files" / "beta-2.0-py3-none-any.whl").write_bytes(
        make_wheel(
            demo_index.root / "evil", "beta", "2.0", files={"beta/__init__.py": "EVIL = 1\n"}
        ).read_bytes()
    )
    entries = len(store.entries())
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "alpha")
    assert r.code == 1, r.err
    assert "beta-2.0" in r.err and "Traceback" not in r.err
    assert local_names(store, "e") == {}
    assert len(store.entries()) == entries  # alpha's new entry was discarded again


def test_require_hashes(store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path) -> None:
    import hashlib

    store.create_env("e")
    digest = hashlib.sha256(
        (demo_index.root / "files" / "gamma-1.0-py3-none-any.whl").read_bytes()
    ).hexdigest()
    req = tmp_path / "r.txt"
    req.write_text(f"gamma==1.0 --hash=sha256:{'0' * 64}\n")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "-r", str(req))
    assert r.code != 0 and "hash" in r.err.lower()
    req.write_text("gamma\n")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--require-hashes", "-r", str(req))
    assert r.code != 0 and "pinned" in r.err
    req.write_text(f"gamma==1.0 --hash=sha256:{digest}\n")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "-r", str(req))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"gamma": "1.0"}


def test_parent_layer_preferred_and_local_override(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("base")
    assert pip("install", "--env", "base", "-i", demo_index.file_url, "beta==2.0").code == 0
    store.create_env("kid", parent="base")
    r = pip("install", "--env", "kid", "-i", demo_index.file_url, "alpha")
    assert r.code == 0, r.err
    assert "parent layer 'base'" in r.out
    assert local_names(store, "kid") == {"alpha": "1.0"}
    r = pip("install", "--env", "kid", "-i", demo_index.file_url, "--local", "beta")
    assert r.code == 0, r.err
    assert local_names(store, "kid") == {"alpha": "1.0", "beta": "2.0"}
    r = pip("list", "--env", "kid", "--format", "json", "--layers")
    import json

    assert {d["name"]: d["layer"] for d in json.loads(r.out)} == {
        "alpha": "local",
        "beta": "local",
        "pip": "forge",
    }


def test_dry_run_prints_plan_and_changes_nothing(
    store: Store, demo_index: LocalIndex, pip: Pip, tmp_path: Path
) -> None:
    store.create_env("e")
    report = tmp_path / "report.json"
    r = pip(
        "install",
        "--env",
        "e",
        "-i",
        demo_index.file_url,
        "--dry-run",
        "-v",
        "--report",
        str(report),
        "alpha",
    )
    assert r.code == 0, r.err
    assert "alpha==1.0: ingest local file alpha-1.0-py3-none-any.whl" in r.out
    assert "Would install alpha-1.0 beta-2.0" in r.out
    assert local_names(store, "e") == {}
    assert store.entries() == []
    import json

    data = json.loads(report.read_text())
    assert data["version"] == "1"
    assert {(i["metadata"]["name"], i["metadata"]["version"]) for i in data["install"]} == {
        ("alpha", "1.0"),
        ("beta", "2.0"),
    }
    assert [i["requested"] for i in data["install"]] == [True, False]


def test_upgrade_replaces_and_reinstall(store: Store, demo_index: LocalIndex, pip: Pip) -> None:
    store.create_env("e")
    assert pip("install", "--env", "e", "-i", demo_index.file_url, "beta==1.0").code == 0
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "beta")
    assert "Requirement already satisfied: beta" in r.out
    assert local_names(store, "e") == {"beta": "1.0"}
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "-U", "beta")
    assert r.code == 0 and "Successfully installed beta-2.0" in r.out
    assert local_names(store, "e") == {"beta": "2.0"}
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--force-reinstall", "beta==2.0")
    assert r.code == 0 and "Successfully installed beta-2.0" in r.out


def test_http_index_and_local_wheel(store: Store, http_index: str, pip: Pip, tmp_path: Path) -> None:
    env = store.create_env("e")
    wheel = make_wheel(tmp_path / "own", "mine", "0.1", requires=["beta<2"])
    r = pip("install", "--env", "e", "-i", http_index, str(wheel))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"mine": "0.1", "beta": "1.0"}
    assert run_py(env.python, "import mine, beta").returncode == 0


def test_unreachable_index(store: Store, hermetic_pip: None, pip: Pip) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", "http://127.0.0.1:9/simple", "--retries", "0", "beta")
    assert r.code != 0 and "127.0.0.1:9" in r.err and "Traceback" not in r.err


def test_unsupported_option(pip: Pip, hermetic_pip: None) -> None:
    r = pip("install", "--src", "/tmp/x", "beta")
    assert r.code == 2
    assert r.err.strip() == "forge_pip: --src is not supported"
    # pip's --abi (with --target) is not Forge's --abi-policy, though argparse would abbreviate it
    for args in (["--abi", "cp311"], ["--abi=cp311"]):
        r = pip("install", *args, "beta")
        assert r.code == 2
        assert r.err.strip() == "forge_pip: --abi is not supported"

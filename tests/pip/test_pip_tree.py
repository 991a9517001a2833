"""``install --target/--prefix/--root``: a plain tree gets copies (never links into the store)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.pip.conftest import Result
from tests.support.index_server import LocalIndex

Pip = Callable[..., Result]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.is_dir() or p.is_symlink()]


def test_target_gets_copies_and_keeps_what_exists(demo_index: LocalIndex, pip: Pip, tmp_path: Path) -> None:
    target = tmp_path / "tgt"
    r = pip("install", "--target", str(target), "-i", demo_index.file_url, "alpha")
    assert r.code == 0, r.err
    assert "Successfully installed alpha-1.0 beta-2.0" in r.out and "link mode copy" in r.out
    assert {p.name for p in target.iterdir()} == {
        "alpha",
        "alpha-1.0.dist-info",
        "beta",
        "beta-2.0.dist-info",
    }
    for path in _files(target):  # nothing points into the shared store, nothing is shared by inode
        assert not path.is_symlink() and os.stat(path).st_nlink == 1, path
    assert (target / "alpha-1.0.dist-info" / "INSTALLER").read_text() == "forge\n"
    (target / "beta" / "__init__.py").write_text("CHANGED = 1\n")
    r = pip("install", "--target", str(target), "-i", demo_index.file_url, "beta==1.0")
    assert r.code == 0 and f"Target directory {target / 'beta'} already exists" in r.err, r.err
    assert (target / "beta" / "__init__.py").read_text() == "CHANGED = 1\n"  # kept without --upgrade
    r = pip("install", "--target", str(target), "-U", "-i", demo_index.file_url, "beta==1.0")
    assert r.code == 0 and "beta-1.0.dist-info" in {p.name for p in target.iterdir()}, r.err
    assert (target / "beta" / "__init__.py").read_text() != "CHANGED = 1\n"


def test_prefix_and_root_schemes(demo_index: LocalIndex, pip: Pip, tmp_path: Path) -> None:
    prefix = tmp_path / "pfx"
    r = pip("install", "--prefix", str(prefix), "-i", demo_index.file_url, "gamma")
    assert r.code == 0, r.err
    assert list(prefix.glob("lib/python3.*/site-packages/gamma/__init__.py"))
    root = tmp_path / "root"
    r = pip("install", "--root", str(root), "-i", demo_index.file_url, "gamma")
    assert r.code == 0, r.err
    assert list(root.rglob("site-packages/gamma/__init__.py"))


def test_user_is_refused_as_pip_refuses_it_in_a_venv(pip: Pip, hermetic_pip: None) -> None:
    r = pip("install", "--user", "beta")
    assert r.code == 1
    assert r.err.startswith("ERROR: Can not perform a '--user' install. User site-packages are not visible")

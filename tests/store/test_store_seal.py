"""Sealing and publishing store entries, for root and for ordinary users.

Moving a directory to another parent needs write permission on it, which only root does without:
the staging dir's top must stay writable until it is renamed into the store. Every assertion here
holds for both: as root the immutable flag is checked too, as an ordinary user the modes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from forge_store import seal
from forge_store.seal import is_immutable, is_sealed, remove_tree, unseal
from forge_store.store import Store
from tests.support.wheels import make_wheel

IS_ROOT = os.geteuid() == 0


def _all_sealed(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o555, dirpath
        for name in files:
            assert not os.stat(os.path.join(dirpath, name)).st_mode & 0o222, name
    if IS_ROOT and seal._immutable_works(root):
        assert is_immutable(root) and is_immutable(root / "site")


def test_staging_top_is_writable_at_rename_and_sealed_after(
    store: Store, wheel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int]] = []
    real_rename = os.rename

    def spy(src: str | Path, dst: str | Path) -> None:
        if Path(src).parent == store.home.tmp:
            inner = Path(src) / "site" / "demo"
            seen.append((os.stat(src).st_mode, os.stat(inner).st_mode))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", spy)
    entry = store.add_wheel(make_wheel(wheel_dir, "demo", "1.0"))
    assert len(seen) == 1
    top, inner = seen[0]
    assert top & 0o200, "a read-only staging dir cannot be renamed into the store by its owner"
    assert not inner & 0o222, "everything below the top is sealed before it is published"
    _all_sealed(entry.path)
    assert is_sealed(entry.path)
    with pytest.raises(PermissionError):
        (entry.site / "demo" / "planted.py").write_text("x")
    with pytest.raises(PermissionError):
        (entry.path / "planted").mkdir()


@pytest.mark.parametrize("how", ["unsealed", "top-only", "contents-only"])
def test_half_sealed_entry_is_detected_and_sealed_again(store: Store, wheel_dir: Path, how: str) -> None:
    """A crash between unseal and seal (adding pycs) or inside a seal leaves a state that is_sealed
    rejects; the next use of the entry completes the seal."""
    wheel = make_wheel(wheel_dir, "demo", "1.0")
    entry = store.add_wheel(wheel)
    store.release()
    if how == "unsealed":
        unseal(entry.path)
    elif how == "top-only":
        seal._set_immutable(str(entry.path), False)
        os.chmod(entry.path, 0o755)
    else:  # sealing stopped after the contents: the top is still writable
        unseal(entry.path)
        seal.seal_contents(entry.path)
    assert not is_sealed(entry.path)
    again = store.add_wheel(wheel)
    assert again.reused and again.id == entry.id
    assert is_sealed(entry.path)
    _all_sealed(entry.path)


def test_unrecorded_directory_left_by_a_crashed_publish_is_replaced(store: Store, wheel_dir: Path) -> None:
    wheel = make_wheel(wheel_dir, "demo", "1.0", files={"demo/__init__.py": "V = 1\n"})
    first = store.add_wheel(wheel)
    store.release()
    rel = first.path.name
    with store.catalog.transaction():  # forget it, as if the process died before recording it
        store.catalog.delete_entry(first.id)
    unseal(first.path)
    init = first.path / "site" / "demo" / "__init__.py"
    init.unlink()
    init.write_text("half-written")
    entry = store.add_wheel(wheel)
    assert not entry.reused and entry.path.name == rel
    assert (entry.site / "demo" / "__init__.py").read_text() == "V = 1\n"
    _all_sealed(entry.path)


def test_deleted_entry_is_unpacked_again_from_its_wheel(store: Store, wheel_dir: Path) -> None:
    wheel = make_wheel(wheel_dir, "demo", "1.0")
    entry = store.add_wheel(wheel)
    store.release()
    remove_tree(entry.path)
    assert store.entries("demo") == [], "a deleted entry is not offered to the resolver"
    again = store.add_wheel(wheel)
    assert again.id == entry.id and not again.reused
    assert again.path == entry.path and is_sealed(again.path)
    assert [e.id for e in store.entries("demo")] == [entry.id]


def test_remove_tree_removes_sealed_and_unreadable_trees_for_their_owner(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "locked").mkdir()
    (root / "locked" / "g").write_text("y")
    seal.seal(root)
    seal._set_immutable(str(root / "locked"), False)
    os.chmod(root / "locked", 0)  # unreadable: only its owner can still change that
    remove_tree(root)
    assert not root.exists()


def test_entry_that_cannot_be_recorded_is_not_left_published(
    store: Store, wheel_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forge_store.errors import DiskFull

    def full(*_a: object) -> None:
        raise DiskFull("no space left on device to write the catalog")

    monkeypatch.setattr(store.catalog, "insert_entry", full)
    with pytest.raises(DiskFull):
        store.add_wheel(make_wheel(wheel_dir, "demo", "1.0"))
    assert [p.name for p in store.home.store.iterdir() if not p.name.startswith(".")] == []
    assert list(store.home.tmp.iterdir()) == []
    assert store.catalog.all_entries() == []

"""The catalog: migrations, refcounts kept by triggers, refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from forge_store import catalog as catalog_mod
from forge_store.catalog import Catalog
from forge_store.errors import CatalogError
from forge_store.store import Store
from tests.support.wheels import make_wheel


def test_v1_catalog_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path)
    for statement in catalog_mod._MIGRATIONS[1]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO envs(name, path, interpreter, abi, layering, link_mode, kind, created)"
        " VALUES ('old', '/x', '{}', 'abi', 'stacked', 'symlink', 'env', 0)"
    )
    db.commit()
    db.close()
    with Catalog(path) as cat:
        assert cat.schema_version == catalog_mod.SCHEMA_VERSION
        assert cat.env("old") is not None, "data survives the migration"
        cat.remember_sha256("/w.whl", 1, 2, 3, "ab")
        assert cat.cached_sha256("/w.whl", 1, 2, 3) == "ab"
        assert cat.cached_sha256("/w.whl", 1, 2, 4) is None, "another inode is another file"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {catalog_mod.SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer than this Forge"):
        Catalog(path)


def test_refcounts_follow_links(store: Store, wheel_dir: Path) -> None:
    whl = make_wheel(wheel_dir, "demo", "1.0")
    for name in ("a", "b"):
        store.create_env(name)
        store.install_wheels(name, [whl])
    entry = store.entries("demo")[0]
    row = store.catalog.entry(entry.id)
    assert row is not None and row.refcount == 2
    assert store.catalog.users_of(entry.id) == ["a", "b"]
    store.uninstall("a", ["demo"])
    store.remove_env("b")
    row = store.catalog.entry(entry.id)
    assert row is not None and row.refcount == 0
    assert store.catalog.lease_holders(entry.id) == [], "leases end with the operation"


def test_entry_rows_are_reread_after_any_change(store: Store, wheel_dir: Path) -> None:
    """The catalog keeps the entry rows it read until the database changes: a write by this
    connection, a commit by another (another process's install), and a rolled-back write are
    each seen by the next read."""
    whl = make_wheel(wheel_dir, "demo", "1.0")
    store.create_env("a")
    store.install_wheels("a", [whl])
    entry_id = store.entries("demo")[0].id
    cat = store.catalog
    first = cat.entry(entry_id)
    assert first is not None and cat.entry(entry_id) is first  # kept while nothing changed
    assert cat.entries_named("demo") == [first]

    with Catalog(cat.path) as other:  # another connection, as another process would hold
        other.set_meta(entry_id, {**first.meta, "note": "other"})
    after_other = cat.entry(entry_id)
    assert after_other is not None and after_other.meta.get("note") == "other"

    cat.set_meta(entry_id, {**first.meta, "note": "own"})
    assert (cat.entry(entry_id) or first).meta.get("note") == "own"

    with pytest.raises(RuntimeError), cat.transaction():
        cat.set_meta(entry_id, {**first.meta, "note": "rolled back"})
        assert (cat.entry(entry_id) or first).meta.get("note") == "rolled back"
        raise RuntimeError("abort")
    assert (cat.entry(entry_id) or first).meta.get("note") == "own"
    assert [r.meta.get("note") for r in cat.entries_named("demo")] == ["own"]

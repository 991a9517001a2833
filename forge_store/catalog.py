"""The SQLite catalog: store entries, envs, links, manifests and leases. The only SQL in Forge.

WAL mode and a busy timeout let several Forge processes share it. Refcounts are maintained by
triggers on ``links`` so they can never drift from the rows they count. Schema changes are
numbered migrations; a catalog newer than this code is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import CatalogError

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE entries(
            id TEXT PRIMARY KEY,
            dir TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            dist_info TEXT NOT NULL,
            tags TEXT NOT NULL,
            requires_python TEXT,
            wheel_sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            files INTEGER NOT NULL,
            pyc_tags TEXT NOT NULL DEFAULT '',
            meta TEXT NOT NULL,
            refcount INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL
        )""",
        "CREATE INDEX entries_name ON entries(name, version)",
        """CREATE TABLE aliases(
            sha256 TEXT PRIMARY KEY,
            entry_id TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            filename TEXT NOT NULL
        )""",
        """CREATE TABLE envs(
            name TEXT PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            interpreter TEXT NOT NULL,
            abi TEXT NOT NULL,
            parent TEXT REFERENCES envs(name),
            layering TEXT NOT NULL,
            link_mode TEXT NOT NULL,
            kind TEXT NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL
        )""",
        """CREATE TABLE links(
            env TEXT NOT NULL REFERENCES envs(name),
            entry_id TEXT NOT NULL REFERENCES entries(id),
            layer TEXT NOT NULL,
            requested INTEGER NOT NULL DEFAULT 0,
            direct_url TEXT,
            PRIMARY KEY(env, entry_id)
        )""",
        "CREATE INDEX links_entry ON links(entry_id)",
        """CREATE TABLE manifest(
            env TEXT NOT NULL REFERENCES envs(name),
            name TEXT NOT NULL,
            requirement TEXT NOT NULL,
            PRIMARY KEY(env, name)
        )""",
        """CREATE TABLE leases(
            entry_id TEXT NOT NULL,
            holder TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY(entry_id, holder)
        )""",
        "CREATE TRIGGER links_ref_up AFTER INSERT ON links BEGIN"
        " UPDATE entries SET refcount = refcount + 1 WHERE id = NEW.entry_id; END",
        "CREATE TRIGGER links_ref_down AFTER DELETE ON links BEGIN"
        " UPDATE entries SET refcount = refcount - 1 WHERE id = OLD.entry_id; END",
    ),
    # v2: remember wheel files' sha256 by (path, size, mtime, inode) so a warm install hashes nothing
    2: (
        """CREATE TABLE file_hashes(
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        )""",
    ),
}


@dataclasses.dataclass(frozen=True, slots=True)
class EntryRow:
    id: str
    dir: str
    name: str
    version: str
    dist_info: str
    tags: tuple[str, ...]
    requires_python: str | None
    wheel_sha256: str
    size: int
    files: int
    pyc_tags: tuple[str, ...]
    meta: dict[str, object]
    refcount: int
    created: float


@dataclasses.dataclass(frozen=True, slots=True)
class EnvRow:
    name: str
    path: str
    interpreter: dict[str, object]
    abi: str
    parent: str | None
    layering: str
    link_mode: str
    kind: str
    settings: dict[str, object]
    created: float


@dataclasses.dataclass(frozen=True, slots=True)
class LinkRow:
    env: str
    entry_id: str
    layer: str
    requested: bool
    direct_url: str | None


def _split(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


class Catalog:
    """A connection to ``catalog.sqlite3``; cheap to open, one per process and operation."""

    def __init__(self, path: Path, *, timeout: float = 60.0, read_only: bool = False) -> None:
        """``read_only``: open an existing catalog for reading only (it may sit on a read-only
        filesystem); it is never created or migrated then."""
        self.path = path
        self.read_only = read_only
        if read_only:
            self._db = self._open_read_only(path, timeout)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not read_only:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._depth = 0
        self._migrate()

    @staticmethod
    def _open_read_only(path: Path, timeout: float) -> sqlite3.Connection:
        if not path.is_file():
            raise CatalogError(f"no catalog at {path}")
        from urllib.parse import quote

        last: sqlite3.Error | None = None
        # mode=ro reads a WAL catalog when its -shm can be created; on a read-only filesystem
        # without one, immutable=1 (nothing else can be writing there anyway)
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                db = sqlite3.connect(
                    f"file:{quote(str(path))}?{query}",
                    uri=True,
                    timeout=timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.Error as exc:
                last = exc
        raise CatalogError(f"cannot read the catalog at {path}: {last}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog at {self.path} has schema {version}, newer than this Forge ({SCHEMA_VERSION})",
                hint="upgrade forge-runtime",
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise CatalogError(
                f"the catalog at {self.path} has schema {version}, older than this Forge ({SCHEMA_VERSION})",
                hint="run any forge command with write access once to migrate it",
            )
        with self.transaction():
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {step}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Catalog]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._db.execute("ROLLBACK")
            raise
        self._depth = 0
        self._db.execute("COMMIT")

    # -- entries --------------------------------------------------------------------------------

    @staticmethod
    def _entry(row: sqlite3.Row | None) -> EntryRow | None:
        if row is None:
            return None
        return EntryRow(
            id=row["id"],
            dir=row["dir"],
            name=row["name"],
            version=row["version"],
            dist_info=row["dist_info"],
            tags=_split(row["tags"]),
            requires_python=row["requires_python"],
            wheel_sha256=row["wheel_sha256"],
            size=row["size"],
            files=row["files"],
            pyc_tags=_split(row["pyc_tags"]),
            meta=json.loads(row["meta"]),
            refcount=row["refcount"],
            created=row["created"],
        )

    def entry(self, entry_id: str) -> EntryRow | None:
        return self._entry(self._db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone())

    def entries(self, ids: Sequence[str]) -> dict[str, EntryRow]:
        out: dict[str, EntryRow] = {}
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT * FROM entries WHERE id IN ({marks})", chunk):
                entry = self._entry(row)
                assert entry is not None
                out[entry.id] = entry
        return out

    def entry_by_alias(self, sha256: str) -> EntryRow | None:
        row = self._db.execute(
            "SELECT e.* FROM aliases a JOIN entries e ON e.id = a.entry_id WHERE a.sha256 = ?", (sha256,)
        ).fetchone()
        return self._entry(row)

    def entry_by_dir(self, rel_dir: str) -> EntryRow | None:
        return self._entry(self._db.execute("SELECT * FROM entries WHERE dir = ?", (rel_dir,)).fetchone())

    def entries_named(self, name: str) -> list[EntryRow]:
        rows = self._db.execute("SELECT * FROM entries WHERE name = ? ORDER BY created", (name,))
        return [e for e in map(self._entry, rows) if e is not None]

    def all_entries(self) -> list[EntryRow]:
        rows = self._db.execute("SELECT * FROM entries ORDER BY name, version")
        return [e for e in map(self._entry, rows) if e is not None]

    def insert_entry(self, entry: EntryRow) -> None:
        self._db.execute(
            "INSERT INTO entries(id, dir, name, version, dist_info, tags, requires_python, wheel_sha256,"
            " size, files, pyc_tags, meta, refcount, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,?)",
            (
                entry.id,
                entry.dir,
                entry.name,
                entry.version,
                entry.dist_info,
                ",".join(entry.tags),
                entry.requires_python,
                entry.wheel_sha256,
                entry.size,
                entry.files,
                ",".join(entry.pyc_tags),
                json.dumps(entry.meta, sort_keys=True),
                entry.created,
            ),
        )

    def set_pyc_tags(self, entry_id: str, pyc_tags: Sequence[str], meta: dict[str, object]) -> None:
        self._db.execute(
            "UPDATE entries SET pyc_tags = ?, meta = ? WHERE id = ?",
            (",".join(pyc_tags), json.dumps(meta, sort_keys=True), entry_id),
        )

    def set_meta(self, entry_id: str, meta: dict[str, object]) -> None:
        self._db.execute(
            "UPDATE entries SET meta = ? WHERE id = ?", (json.dumps(meta, sort_keys=True), entry_id)
        )

    def add_alias(self, sha256: str, entry_id: str, filename: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO aliases(sha256, entry_id, filename) VALUES (?,?,?)",
            (sha256, entry_id, filename),
        )

    def aliases(self, entry_id: str) -> list[tuple[str, str]]:
        """(wheel sha256, file name) of every wheel file known to hold this entry's content."""
        rows = self._db.execute(
            "SELECT sha256, filename FROM aliases WHERE entry_id = ? ORDER BY filename", (entry_id,)
        )
        return [(r[0], r[1]) for r in rows]

    def delete_entry(self, entry_id: str) -> None:
        self._db.execute("DELETE FROM aliases WHERE entry_id = ?", (entry_id,))
        self._db.execute("DELETE FROM leases WHERE entry_id = ?", (entry_id,))
        self._db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))

    # -- envs -----------------------------------------------------------------------------------

    @staticmethod
    def _env(row: sqlite3.Row | None) -> EnvRow | None:
        if row is None:
            return None
        return EnvRow(
            name=row["name"],
            path=row["path"],
            interpreter=json.loads(row["interpreter"]),
            abi=row["abi"],
            parent=row["parent"],
            layering=row["layering"],
            link_mode=row["link_mode"],
            kind=row["kind"],
            settings=json.loads(row["settings"]),
            created=row["created"],
        )

    def env(self, name: str) -> EnvRow | None:
        return self._env(self._db.execute("SELECT * FROM envs WHERE name = ?", (name,)).fetchone())

    def env_by_path(self, path: str) -> EnvRow | None:
        return self._env(self._db.execute("SELECT * FROM envs WHERE path = ?", (path,)).fetchone())

    def envs(self) -> list[EnvRow]:
        rows = self._db.execute("SELECT * FROM envs ORDER BY name")
        return [e for e in map(self._env, rows) if e is not None]

    def children(self, name: str) -> list[EnvRow]:
        rows = self._db.execute("SELECT * FROM envs WHERE parent = ? ORDER BY name", (name,))
        return [e for e in map(self._env, rows) if e is not None]

    def insert_env(self, env: EnvRow) -> None:
        self._db.execute(
            "INSERT INTO envs(name, path, interpreter, abi, parent, layering, link_mode, kind, settings,"
            " created) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                env.name,
                env.path,
                json.dumps(env.interpreter, sort_keys=True),
                env.abi,
                env.parent,
                env.layering,
                env.link_mode,
                env.kind,
                json.dumps(env.settings, sort_keys=True),
                env.created,
            ),
        )

    def set_env_path(self, name: str, path: str) -> None:
        self._db.execute("UPDATE envs SET path = ? WHERE name = ?", (path, name))

    def delete_env(self, name: str) -> None:
        self._db.execute("DELETE FROM links WHERE env = ?", (name,))
        self._db.execute("DELETE FROM manifest WHERE env = ?", (name,))
        self._db.execute("DELETE FROM envs WHERE name = ?", (name,))

    # -- links and manifest ---------------------------------------------------------------------

    def links(self, env: str) -> list[LinkRow]:
        rows = self._db.execute("SELECT * FROM links WHERE env = ? ORDER BY entry_id", (env,))
        return [
            LinkRow(r["env"], r["entry_id"], r["layer"], bool(r["requested"]), r["direct_url"]) for r in rows
        ]

    def set_links(self, env: str, rows: Sequence[LinkRow]) -> None:
        """Make ``env``'s link rows exactly ``rows`` (refcounts follow through the triggers)."""
        current = {r.entry_id: r for r in self.links(env)}
        wanted = {r.entry_id: r for r in rows}
        for entry_id in current.keys() - wanted.keys():
            self._db.execute("DELETE FROM links WHERE env = ? AND entry_id = ?", (env, entry_id))
        for entry_id, row in wanted.items():
            old = current.get(entry_id)
            if old == row:
                continue
            if old is None:
                self._db.execute(
                    "INSERT INTO links(env, entry_id, layer, requested, direct_url) VALUES (?,?,?,?,?)",
                    (env, entry_id, row.layer, int(row.requested), row.direct_url),
                )
            else:
                self._db.execute(
                    "UPDATE links SET layer = ?, requested = ?, direct_url = ?"
                    " WHERE env = ? AND entry_id = ?",
                    (row.layer, int(row.requested), row.direct_url, env, entry_id),
                )

    def all_links(self) -> list[LinkRow]:
        rows = self._db.execute("SELECT * FROM links ORDER BY env, entry_id")
        return [
            LinkRow(r["env"], r["entry_id"], r["layer"], bool(r["requested"]), r["direct_url"]) for r in rows
        ]

    def users_of(self, entry_id: str) -> list[str]:
        rows = self._db.execute("SELECT env FROM links WHERE entry_id = ? ORDER BY env", (entry_id,))
        return [r[0] for r in rows]

    def manifest(self, env: str) -> dict[str, str]:
        rows = self._db.execute("SELECT name, requirement FROM manifest WHERE env = ? ORDER BY name", (env,))
        return {r[0]: r[1] for r in rows}

    def set_manifest(self, env: str, name: str, requirement: str | None) -> None:
        if requirement is None:
            self._db.execute("DELETE FROM manifest WHERE env = ? AND name = ?", (env, name))
        else:
            self._db.execute(
                "INSERT INTO manifest(env, name, requirement) VALUES (?,?,?)"
                " ON CONFLICT(env, name) DO UPDATE SET requirement = excluded.requirement",
                (env, name, requirement),
            )

    # -- file hashes ------------------------------------------------------------------------------

    def cached_sha256(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        row = self._db.execute(
            "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, size, mtime_ns, inode),
        ).fetchone()
        return None if row is None else str(row[0])

    def paths_with_sha256(self, sha256: str) -> list[str]:
        """Local files once hashed to ``sha256`` (they may have changed since: hash them again)."""
        rows = self._db.execute("SELECT path FROM file_hashes WHERE sha256 = ? ORDER BY path", (sha256,))
        return [r[0] for r in rows]

    def remember_sha256(self, path: str, size: int, mtime_ns: int, inode: int, sha256: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, inode, sha256) VALUES (?,?,?,?,?)",
            (path, size, mtime_ns, inode, sha256),
        )

    # -- leases: entries an operation in flight relies on (gc and rollback must not remove them) --

    def add_lease(self, entry_id: str, holder: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO leases(entry_id, holder, created) VALUES (?,?,?)",
            (entry_id, holder, time.time()),
        )

    def drop_leases(self, holder: str) -> None:
        self._db.execute("DELETE FROM leases WHERE holder = ?", (holder,))

    def lease_entry(
        self, entry_id: str, holder: str, alias: tuple[str, str] | None = None
    ) -> EntryRow | None:
        """Lease an entry only if it still exists, in one transaction (gc deletes in one too), and
        return its row; ``None`` when gc removed it meanwhile. ``alias``: (wheel sha256, filename)."""
        with self.transaction():
            row = self.entry(entry_id)
            if row is None:
                return None
            if alias is not None:
                self.add_alias(alias[0], entry_id, alias[1])
            self.add_lease(entry_id, holder)
            return row

    def leases(self) -> list[tuple[str, str]]:
        """Every (entry id, holder) lease."""
        rows = self._db.execute("SELECT entry_id, holder FROM leases ORDER BY entry_id, holder")
        return [(r[0], r[1]) for r in rows]

    def drop_lease(self, entry_id: str, holder: str) -> None:
        self._db.execute("DELETE FROM leases WHERE entry_id = ? AND holder = ?", (entry_id, holder))

    def unreferenced_entries(self) -> list[EntryRow]:
        """Entries no env links: refcount zero *and* no row in ``links`` (both must agree)."""
        rows = self._db.execute(
            "SELECT * FROM entries e WHERE e.refcount = 0"
            " AND NOT EXISTS (SELECT 1 FROM links l WHERE l.entry_id = e.id) ORDER BY name, version"
        )
        return [e for e in map(self._entry, rows) if e is not None]

    def lease_holders(self, entry_id: str) -> list[str]:
        rows = self._db.execute("SELECT holder FROM leases WHERE entry_id = ?", (entry_id,))
        return [r[0] for r in rows]

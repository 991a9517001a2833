"""The SQLite catalog: store entries, envs, links, manifests and leases. The only SQL in Forge.

WAL mode and a busy timeout let several Forge processes share it. Refcounts are maintained by
triggers on ``links`` so they can never drift from the rows they count. Schema changes are
numbered migrations; a catalog newer than this code is refused rather than misread.

Faults of the machine become typed errors here, naming the catalog's path: a catalog another
process keeps locked past the busy timeout (``LockTimeout`` with the holder's pid and command),
a read-only ``FORGE_HOME`` (the catalog is then opened read-only, so reading commands still
work, and the first write says why it cannot happen), a full disk, a damaged file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from forge_store.records import record

from .errors import (
    CatalogCorrupt,
    CatalogError,
    DiskFull,
    ForgeError,
    LockTimeout,
    PermissionDenied,
    ReadOnlyStorage,
    StorageError,
)

SCHEMA_VERSION = 3

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
    # v3: intents of mutations in flight (forge_store.recovery): recorded before the filesystem is
    # touched, removed when the change is complete; one left by a dead process is rolled forward
    # or back by the next holder of its lock
    3: (
        """CREATE TABLE intents(
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            lock TEXT NOT NULL,
            holder TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'started',
            data TEXT NOT NULL,
            created REAL NOT NULL
        )""",
        "CREATE INDEX intents_lock ON intents(lock)",
    ),
}


@record(frozen=True, slots=True)
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


@record(frozen=True, slots=True)
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


@record(frozen=True, slots=True)
class LinkRow:
    env: str
    entry_id: str
    layer: str
    requested: bool
    direct_url: str | None


@record(frozen=True, slots=True)
class IntentRow:
    """A mutation in flight: ``kind`` (change, create, remove, ingest, pyc), the lock its holder
    holds while it runs, ``state`` (started, committed) and what recovery needs (``data``)."""

    id: str
    kind: str
    lock: str
    holder: str
    state: str
    data: dict[str, Any]
    created: float


def _intent(row: sqlite3.Row) -> IntentRow:
    return IntentRow(
        row["id"],
        row["kind"],
        row["lock"],
        row["holder"],
        row["state"],
        json.loads(row["data"]),
        row["created"],
    )


def _split(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split(",") if t)


# primary SQLite result codes (``sqlite_errorcode & 0xff``) of environment faults
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
_MESSAGES = {  # Python < 3.11 has no sqlite_errorcode: the message text says the same
    "database is locked": _SQLITE_BUSY,
    "database table is locked": _SQLITE_LOCKED,
    "attempt to write a readonly database": _SQLITE_READONLY,
    "disk i/o error": _SQLITE_IOERR,
    "database disk image is malformed": _SQLITE_CORRUPT,
    "database or disk is full": _SQLITE_FULL,
    "unable to open database file": _SQLITE_CANTOPEN,
    "file is not a database": _SQLITE_NOTADB,
    "access permission denied": _SQLITE_PERM,
}


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((c for m, c in _MESSAGES.items() if text.startswith(m)), None)


def _writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def sqlite_fault(exc: sqlite3.Error, path: Path, timeout: float) -> ForgeError | None:
    """The typed error for a SQLite fault of the machine (None: a bug, keep the traceback)."""
    code = _code(exc)
    where = f"the catalog at {path}"
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        from .locks import holders

        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        who = holders(files)
        by = f" by {', '.join(who)}" if who else " by another process"
        return LockTimeout(
            f"{where} is locked{by}; gave up after {timeout:g}s",
            hint="wait for it to finish, or set FORGE_LOCK_TIMEOUT=SECONDS to wait longer",
            holders=who,
            timeout=timeout,
        )
    if code == _SQLITE_READONLY or (code == _SQLITE_CANTOPEN and not _writable(path)):
        return ReadOnlyStorage(
            f"{where} is read-only ({exc})",
            hint="make FORGE_HOME writable, or set FORGE_HOME to a writable directory",
            path=str(path),
        )
    if code in (_SQLITE_CANTOPEN, _SQLITE_PERM):
        return PermissionDenied(
            f"cannot open {where} ({exc})",
            hint="check the permissions of FORGE_HOME, or set FORGE_HOME to another directory",
            path=str(path),
        )
    if code == _SQLITE_FULL:
        return DiskFull(
            f"no space left on device to write {where}",
            hint="free some space and run the command again",
            path=str(path),
        )
    if code == _SQLITE_IOERR:
        return StorageError(
            f"disk I/O error on {where} ({exc})",
            hint="check the disk (dmesg) and free space, then run the command again",
            path=str(path),
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return CatalogCorrupt(
            f"{where} is corrupt ({exc})",
            hint=f"restore it from a backup, or move it aside (mv {path} {path}.bad) and"
            " recreate your envs: Forge then starts an empty catalog",
        )
    return None


class Catalog:
    """A connection to ``catalog.sqlite3``; cheap to open, one per process and operation.

    ``timeout``: seconds to wait for another process's write transaction (default
    ``$FORGE_LOCK_TIMEOUT`` or 10). ``read_only``: never write; also chosen by itself when the
    catalog exists but its directory or file cannot be written (a read-only ``FORGE_HOME``).
    """

    def __init__(self, path: Path, *, timeout: float | None = None, read_only: bool = False) -> None:
        from .locks import default_timeout

        self.path = path
        self.timeout = default_timeout() if timeout is None else timeout
        self.read_only = read_only
        self._depth = 0
        self._db: sqlite3.Connection | None = None
        self._rows: dict[str, EntryRow] = {}
        """Entry rows read since the database last changed (see :meth:`_known_rows`)."""
        self._rows_as_of: tuple[int, int] | None = None
        if not read_only:
            try:
                self._open_read_write()
                return
            except ForgeError:
                self.close()
                if not (path.is_file() and not _writable(path)):
                    raise
            except OSError:  # the directory cannot be created
                if not path.is_file():
                    raise
            self.read_only = True
        self._open_read_only()

    def _open_read_write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect(str(self.path), uri=False)
        self._exec(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        self._exec("PRAGMA journal_mode = WAL")
        self._exec("PRAGMA synchronous = NORMAL")
        self._exec("PRAGMA foreign_keys = ON")
        self._migrate()

    def _open_read_only(self) -> None:
        """``mode=ro``; where even the WAL index cannot be created (a read-only directory),
        ``immutable=1``, which reads the database file as it is on disk."""
        if not self.path.is_file():
            raise CatalogError(f"there is no catalog at {self.path}")
        uri = "file:" + quote(str(self.path))
        for suffix in ("?mode=ro", "?mode=ro&immutable=1"):
            self.close()
            self._db = self._connect(uri + suffix, uri=True)
            try:
                self._exec(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                self._check_schema()
                return
            except StorageError:
                continue
        raise ReadOnlyStorage(
            f"cannot read the catalog at {self.path}: it is read-only and its WAL index cannot be created",
            hint="make FORGE_HOME writable, or set FORGE_HOME to a writable directory",
            path=str(self.path),
        )

    def _connect(self, target: str, *, uri: bool) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                target, timeout=self.timeout, isolation_level=None, check_same_thread=False, uri=uri
            )
        except sqlite3.Error as exc:
            raise self._translate(exc) or exc from None
        db.row_factory = sqlite3.Row
        return db

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Every statement goes through here, so that SQLite's faults become typed errors."""
        assert self._db is not None
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            typed = self._translate(exc)
            if typed is None:
                raise
            raise typed from None

    def _translate(self, exc: sqlite3.Error) -> ForgeError | None:
        return sqlite_fault(exc, self.path, self.timeout)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------------

    def _check_schema(self) -> int:
        version = int(self._exec("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog at {self.path} has schema {version}, newer than this Forge ({SCHEMA_VERSION})",
                hint="upgrade forge-runtime",
            )
        if self.read_only and version == 0:
            raise CatalogError(f"the catalog at {self.path} is empty and read-only")
        return version

    def _migrate(self) -> None:
        current = self._check_schema()
        if current == SCHEMA_VERSION:
            return
        if self.read_only:
            raise CatalogError(
                f"the catalog at {self.path} has schema {current}, older than this Forge ({SCHEMA_VERSION})",
                hint="run `forge envs` once with write access to FORGE_HOME to migrate it",
            )
        with self.transaction():
            version = int(self._exec("PRAGMA user_version").fetchone()[0])
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    self._exec(statement)
                self._exec(f"PRAGMA user_version = {step}")

    @property
    def schema_version(self) -> int:
        return int(self._exec("PRAGMA user_version").fetchone()[0])

    def check_writable(self) -> None:
        """``ReadOnlyStorage`` if this catalog was opened read-only (a read-only FORGE_HOME)."""
        if self.read_only:
            raise ReadOnlyStorage(
                f"the catalog at {self.path} is read-only: this command must write to FORGE_HOME",
                hint="make FORGE_HOME writable, or set FORGE_HOME to a writable directory",
                path=str(self.path),
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Catalog]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``; nested calls join the outer transaction."""
        self.check_writable()
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._exec("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            assert self._db is not None
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._forget_rows()
            raise
        self._depth = 0
        try:
            self._exec("COMMIT")
        except BaseException:
            assert self._db is not None
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._forget_rows()
            raise

    # -- entries --------------------------------------------------------------------------------

    def _known_rows(self) -> dict[str, EntryRow]:
        """The entry rows read since the database last changed, by this connection
        (``total_changes``) or by any other (``PRAGMA data_version``); emptied when it changed.

        One install reads the rows of every entry its env sees about ten times (the env's dists,
        the policy checks before and after, the native and ABI checks, pip's conflict lines);
        each read decoded every row's JSON again. A rollback empties it too (:meth:`transaction`).
        """
        assert self._db is not None
        version = (int(self._exec("PRAGMA data_version").fetchone()[0]), self._db.total_changes)
        if version != self._rows_as_of:
            self._rows = {}
            self._rows_as_of = version
        return self._rows

    def _forget_rows(self) -> None:
        self._rows = {}
        self._rows_as_of = None

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
        return self.entries([entry_id]).get(entry_id)

    def entries(self, ids: Sequence[str]) -> dict[str, EntryRow]:
        known = self._known_rows()
        out: dict[str, EntryRow] = {}
        missing: list[str] = []
        for entry_id in ids:
            row = known.get(entry_id)
            if row is None:
                missing.append(entry_id)
            else:
                out[entry_id] = row
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for raw in self._exec(f"SELECT * FROM entries WHERE id IN ({marks})", chunk):
                entry = self._entry(raw)
                assert entry is not None
                out[entry.id] = known[entry.id] = entry
        return out

    def entry_by_alias(self, sha256: str) -> EntryRow | None:
        row = self._exec(
            "SELECT e.* FROM aliases a JOIN entries e ON e.id = a.entry_id WHERE a.sha256 = ?", (sha256,)
        ).fetchone()
        return self._entry(row)

    def entry_by_dir(self, rel_dir: str) -> EntryRow | None:
        return self._entry(self._exec("SELECT * FROM entries WHERE dir = ?", (rel_dir,)).fetchone())

    def entries_named(self, name: str) -> list[EntryRow]:
        found = self._exec("SELECT id FROM entries WHERE name = ? ORDER BY created", (name,))
        ids = [row[0] for row in found]
        rows = self.entries(ids)
        return [rows[i] for i in ids if i in rows]

    def all_entries(self) -> list[EntryRow]:
        rows = self._exec("SELECT * FROM entries ORDER BY name, version")
        return [e for e in map(self._entry, rows) if e is not None]

    def insert_entry(self, entry: EntryRow) -> None:
        self._exec(
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
        self._exec(
            "UPDATE entries SET pyc_tags = ?, meta = ? WHERE id = ?",
            (",".join(pyc_tags), json.dumps(meta, sort_keys=True), entry_id),
        )

    def relocate_entry(
        self, entry_id: str, rel_dir: str, pyc_tags: Sequence[str], meta: dict[str, object]
    ) -> None:
        """Point an entry's row at another directory: an upstream's copy of its content
        (``dir`` ``@upstream-<id>``, origin in ``meta``), or back into the local store."""
        self._exec(
            "UPDATE entries SET dir = ?, pyc_tags = ?, meta = ? WHERE id = ?",
            (rel_dir, ",".join(pyc_tags), json.dumps(meta, sort_keys=True), entry_id),
        )

    def set_meta(self, entry_id: str, meta: dict[str, object]) -> None:
        self._exec("UPDATE entries SET meta = ? WHERE id = ?", (json.dumps(meta, sort_keys=True), entry_id))

    def merge_meta(self, entry_id: str, updates: dict[str, object]) -> None:
        """Set some keys of an entry's metadata, reading the rest inside the same transaction (a
        concurrent writer of other keys loses nothing)."""
        with self.transaction():
            row = self._exec("SELECT meta FROM entries WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return
            meta = {**json.loads(row[0] or "{}"), **updates}
            self.set_meta(entry_id, meta)

    def add_alias(self, sha256: str, entry_id: str, filename: str) -> None:
        self._exec(
            "INSERT OR IGNORE INTO aliases(sha256, entry_id, filename) VALUES (?,?,?)",
            (sha256, entry_id, filename),
        )

    def aliases(self, entry_id: str) -> list[tuple[str, str]]:
        """(wheel sha256, file name) of every wheel file known to hold this entry's content."""
        rows = self._exec(
            "SELECT sha256, filename FROM aliases WHERE entry_id = ? ORDER BY filename", (entry_id,)
        )
        return [(r[0], r[1]) for r in rows]

    def delete_entry(self, entry_id: str) -> None:
        self._exec("DELETE FROM aliases WHERE entry_id = ?", (entry_id,))
        self._exec("DELETE FROM leases WHERE entry_id = ?", (entry_id,))
        self._exec("DELETE FROM entries WHERE id = ?", (entry_id,))

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
        return self._env(self._exec("SELECT * FROM envs WHERE name = ?", (name,)).fetchone())

    def env_by_path(self, path: str) -> EnvRow | None:
        return self._env(self._exec("SELECT * FROM envs WHERE path = ?", (path,)).fetchone())

    def envs(self) -> list[EnvRow]:
        rows = self._exec("SELECT * FROM envs ORDER BY name")
        return [e for e in map(self._env, rows) if e is not None]

    def children(self, name: str) -> list[EnvRow]:
        rows = self._exec("SELECT * FROM envs WHERE parent = ? ORDER BY name", (name,))
        return [e for e in map(self._env, rows) if e is not None]

    def insert_env(self, env: EnvRow) -> None:
        self._exec(
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

    def set_env_modes(self, name: str, layering: str, link_mode: str) -> None:
        self._exec("UPDATE envs SET layering = ?, link_mode = ? WHERE name = ?", (layering, link_mode, name))

    def set_env_path(self, name: str, path: str) -> None:
        self._exec("UPDATE envs SET path = ? WHERE name = ?", (path, name))

    def delete_env(self, name: str) -> None:
        self._exec("DELETE FROM links WHERE env = ?", (name,))
        self._exec("DELETE FROM manifest WHERE env = ?", (name,))
        self._exec("DELETE FROM envs WHERE name = ?", (name,))

    # -- links and manifest ---------------------------------------------------------------------

    def links(self, env: str) -> list[LinkRow]:
        rows = self._exec("SELECT * FROM links WHERE env = ? ORDER BY entry_id", (env,))
        return [
            LinkRow(r["env"], r["entry_id"], r["layer"], bool(r["requested"]), r["direct_url"]) for r in rows
        ]

    def set_links(self, env: str, rows: Sequence[LinkRow]) -> None:
        """Make ``env``'s link rows exactly ``rows`` (refcounts follow through the triggers)."""
        current = {r.entry_id: r for r in self.links(env)}
        wanted = {r.entry_id: r for r in rows}
        for entry_id in current.keys() - wanted.keys():
            self._exec("DELETE FROM links WHERE env = ? AND entry_id = ?", (env, entry_id))
        for entry_id, row in wanted.items():
            old = current.get(entry_id)
            if old == row:
                continue
            if old is None:
                self._exec(
                    "INSERT INTO links(env, entry_id, layer, requested, direct_url) VALUES (?,?,?,?,?)",
                    (env, entry_id, row.layer, int(row.requested), row.direct_url),
                )
            else:
                self._exec(
                    "UPDATE links SET layer = ?, requested = ?, direct_url = ?"
                    " WHERE env = ? AND entry_id = ?",
                    (row.layer, int(row.requested), row.direct_url, env, entry_id),
                )

    def all_links(self) -> list[LinkRow]:
        rows = self._exec("SELECT * FROM links ORDER BY env, entry_id")
        return [
            LinkRow(r["env"], r["entry_id"], r["layer"], bool(r["requested"]), r["direct_url"]) for r in rows
        ]

    def users_of(self, entry_id: str) -> list[str]:
        rows = self._exec("SELECT env FROM links WHERE entry_id = ? ORDER BY env", (entry_id,))
        return [r[0] for r in rows]

    def manifest(self, env: str) -> dict[str, str]:
        rows = self._exec("SELECT name, requirement FROM manifest WHERE env = ? ORDER BY name", (env,))
        return {r[0]: r[1] for r in rows}

    def set_manifest(self, env: str, name: str, requirement: str | None) -> None:
        if requirement is None:
            self._exec("DELETE FROM manifest WHERE env = ? AND name = ?", (env, name))
        else:
            self._exec(
                "INSERT INTO manifest(env, name, requirement) VALUES (?,?,?)"
                " ON CONFLICT(env, name) DO UPDATE SET requirement = excluded.requirement",
                (env, name, requirement),
            )

    # -- file hashes ------------------------------------------------------------------------------

    def cached_sha256(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        row = self._exec(
            "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, size, mtime_ns, inode),
        ).fetchone()
        return None if row is None else str(row[0])

    def paths_with_sha256(self, sha256: str) -> list[str]:
        """Local files once hashed to ``sha256`` (they may have changed since: hash them again)."""
        rows = self._exec("SELECT path FROM file_hashes WHERE sha256 = ? ORDER BY path", (sha256,))
        return [r[0] for r in rows]

    def remember_sha256(self, path: str, size: int, mtime_ns: int, inode: int, sha256: str) -> None:
        self._exec(
            "INSERT OR REPLACE INTO file_hashes(path, size, mtime_ns, inode, sha256) VALUES (?,?,?,?,?)",
            (path, size, mtime_ns, inode, sha256),
        )

    # -- leases: entries an operation in flight relies on (gc and rollback must not remove them) --

    def add_lease(self, entry_id: str, holder: str) -> None:
        self._exec(
            "INSERT OR REPLACE INTO leases(entry_id, holder, created) VALUES (?,?,?)",
            (entry_id, holder, time.time()),
        )

    def drop_leases(self, holder: str) -> None:
        self._exec("DELETE FROM leases WHERE holder = ?", (holder,))

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
        rows = self._exec("SELECT entry_id, holder FROM leases ORDER BY entry_id, holder")
        return [(r[0], r[1]) for r in rows]

    def drop_lease(self, entry_id: str, holder: str) -> None:
        self._exec("DELETE FROM leases WHERE entry_id = ? AND holder = ?", (entry_id, holder))

    def unreferenced_entries(self) -> list[EntryRow]:
        """Entries no env links: refcount zero *and* no row in ``links`` (both must agree)."""
        rows = self._exec(
            "SELECT * FROM entries e WHERE e.refcount = 0"
            " AND NOT EXISTS (SELECT 1 FROM links l WHERE l.entry_id = e.id) ORDER BY name, version"
        )
        return [e for e in map(self._entry, rows) if e is not None]

    def lease_holders_all(self) -> list[str]:
        """Every distinct lease holder (cheap: the recovery sweep looks for dead ones)."""
        return [r[0] for r in self._exec("SELECT DISTINCT holder FROM leases")]

    def drop_leases_of(self, holders: Sequence[str]) -> None:
        for holder in holders:
            self.drop_leases(holder)

    def lease_holders(self, entry_id: str) -> list[str]:
        rows = self._exec("SELECT holder FROM leases WHERE entry_id = ?", (entry_id,))
        return [r[0] for r in rows]

    # -- intents: mutations in flight (forge_store.recovery) ------------------------------------

    def add_intent(self, intent: IntentRow) -> None:
        self._exec(
            "INSERT INTO intents(id, kind, lock, holder, state, data, created) VALUES (?,?,?,?,?,?,?)",
            (
                intent.id,
                intent.kind,
                intent.lock,
                intent.holder,
                intent.state,
                json.dumps(intent.data, sort_keys=True),
                intent.created,
            ),
        )

    def intents(self, lock: str | None = None) -> list[IntentRow]:
        if lock is None:
            rows = self._exec("SELECT * FROM intents ORDER BY created")
        else:
            rows = self._exec("SELECT * FROM intents WHERE lock = ? ORDER BY created", (lock,))
        return [_intent(r) for r in rows]

    def has_intents(self) -> bool:
        return self._exec("SELECT 1 FROM intents LIMIT 1").fetchone() is not None

    def set_intent_state(self, intent_id: str, state: str) -> None:
        self._exec("UPDATE intents SET state = ? WHERE id = ?", (state, intent_id))

    def delete_intent(self, intent_id: str) -> None:
        self._exec("DELETE FROM intents WHERE id = ?", (intent_id,))

"""Place store entries into an env: compute the layout, diff it against the old one, apply it.

An env's layout is a pure function of the distributions linked into it (plus their per-env flags
and the link mode), so changing an env is: build the old and the new layout, diff them, and apply
the difference through a journal that can undo every step. Any failure leaves the env as it was.

The layout (DESIGN.md section 3): one symlink per top-level entry of ``site/``; real directories,
merged across wheels, for namespace/shared dirs, for ``__pycache__`` and for every linked directory
that an ELF's ``$ORIGIN`` climb would leave with ``..`` (decided on the merged layout, see
``LayoutBuilder.finish``); per-env launchers, ``.data/scripts`` with the env's shebang, ``.data/data``
and headers linked into the prefix; dist-info markers per env.

Symlinks into the store go through one hop, ``site-packages/.forge`` -> the store, so that most
links are short enough to be "fast" symlinks (stored in the inode: no data block per link).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import filecmp
import json
import os
import posixpath
import shutil
import stat as stat_mod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from forge_store.records import record

from . import faults, wheelcheck
from .elf import origin_path
from .errors import LinkConflict
from .models import Interpreter, LinkMode, OriginClimb, StoredWheel
from .tokens import token

RECORD_VARIANTS = "records"  # see ingest.RECORD_VARIANTS (the linker does not import ingest)
HOP = ".forge"
LOG_NAME = "log"  # a durable journal's step log, in its scratch dir
TXN_PREFIX = ".forge-txn-"
EMPTY_MARKER = ".empty"  # a sealed empty file in the store root: every env's REQUESTED links to it


@record(frozen=True, slots=True)
class DistSpec:
    """One distribution to place, with its per-env flags."""

    entry: StoredWheel
    requested: bool = False
    direct_url: str | None = None


@record(slots=True)
class Link:
    """A path that points at a store file or directory.

    In ``symlink`` mode directories become symlinks and files hardlinks where the filesystem
    allows (no new inode, and ``realpath`` stays in the env), else symlinks; ``realpath`` files
    (modules of wheels that locate ``.data`` through their real path) are copied instead.
    """

    src: str  # absolute path inside the store
    is_dir: bool
    owner: str  # dist name, for messages
    realpath: bool = False


@record(slots=True)
class Gen:
    data: bytes
    mode: int
    owner: str


@record(slots=True)
class Dir:
    children: dict[str, Node] = dataclasses.field(default_factory=dict)
    owned: bool = True  # every descendant is ours: may be removed as one unit


Node = Link | Gen | Dir


@record(frozen=True, slots=True)
class EnvPaths:
    prefix: Path
    site: Path
    interpreter: Interpreter

    @property
    def bin(self) -> Path:
        return self.prefix / "bin"

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"


@record(slots=True)
class Layout:
    site: Dir
    prefix: Dir


@record(frozen=True, slots=True)
class _Hop:
    """A directory link of the layout, where it hangs (to replace it by a real dir of links)."""

    parent: Dir
    name: str
    rel: str  # relative to site/
    link: Link


# Where a path resolves: ("env", path relative to site/), ("fs", absolute store path) or missing.
_Where = tuple[str, ...]
_MISSING: _Where = ("missing",)


def _forced_dirs(entry: StoredWheel) -> set[str]:
    """Directories an entry always wants real: namespace/shared dirs and ``__pycache__``. (Real dirs
    for ``$ORIGIN`` climbs depend on what other wheels merge, so ``_ClimbFixer`` decides them.)"""
    forced = set(entry.namespace_dirs)
    forced.add("__pycache__")
    return forced


class LayoutBuilder:
    """Builds the desired layout of an env from its distributions."""

    def __init__(self, env: EnvPaths, mode: LinkMode, store_root: Path) -> None:
        self.env = env
        self.mode = mode
        self.store_root = store_root
        self.layout = Layout(site=Dir(), prefix=Dir(owned=False))
        self._owners: dict[str, tuple[StoredWheel, set[str]]] = {}
        from .pip_frontend import has_forge_launchers, reserved_bin_names

        self._reserved = (
            reserved_bin_names(env.interpreter.short_version)
            if has_forge_launchers(env.prefix)
            else frozenset()
        )
        """``bin/pip*`` of a Forge env are Forge's launchers: no wheel's script replaces them (the
        real pip wheel's own ``pip`` scripts included, with ``--seed pip``)."""

    def add(self, spec: DistSpec) -> None:
        entry = spec.entry
        wheelcheck.check_stored(entry)  # names below become env paths: never trust the catalog blindly
        site = entry.site
        forced = _forced_dirs(entry)
        self._owners[entry.name] = (entry, forced)
        materialize = spec.requested or spec.direct_url is not None or entry.has_headers
        for child in _children(site):
            if child.name == entry.dist_info and materialize:
                self.layout.site.children[child.name] = self._dist_info(spec, forced)
                continue
            real = entry.has_data and child.is_file(follow_symlinks=False) and child.name.endswith(".py")
            self._insert(self.layout.site, child.name, child.path, child.name, entry, forced, real)
        if entry.has_data:
            self._place_tree(entry.path / "data", self.layout.prefix, entry)
        if entry.has_headers:
            headers = self.layout.prefix
            for part in ("include", "site", f"python{self.env.interpreter.short_version}", entry.name):
                node = headers.children.setdefault(part, Dir(owned=False))
                assert isinstance(node, Dir)
                headers = node
            self._place_tree(entry.path / "headers", headers, entry)
        bin_dir = self.layout.prefix.children.setdefault("bin", Dir(owned=False))
        assert isinstance(bin_dir, Dir)
        for ep in entry.entry_points:
            if ep.name in self._reserved:
                continue
            self._put(
                bin_dir,
                ep.name,
                Gen(self._launcher(ep.module, ep.attr), 0o755, entry.name),
            )
        if entry.has_scripts:
            for script in _children(entry.path / "scripts"):
                if script.is_file() and script.name not in self._reserved:
                    self._put(
                        bin_dir, script.name, Gen(self._fix_shebang(Path(script.path)), 0o755, entry.name)
                    )

    # -- site tree --------------------------------------------------------------------------------

    def _insert(
        self,
        parent: Dir,
        name: str,
        src: str,
        rel: str,
        entry: StoredWheel,
        forced: set[str],
        realpath: bool = False,
    ) -> None:
        is_dir = os.path.isdir(src) and not os.path.islink(src)
        existing = parent.children.get(name)
        expand_all = self.mode is not LinkMode.SYMLINK
        if existing is None:
            if is_dir and (rel in forced or expand_all):
                parent.children[name] = self._expand(src, rel, entry, forced)
            else:
                parent.children[name] = Link(src, is_dir, entry.name, realpath=realpath)
            return
        if is_dir:
            if isinstance(existing, Link) and existing.is_dir:
                existing = self._expand_link(existing, rel)
                parent.children[name] = existing
            if isinstance(existing, Dir):
                for child in _children(src):
                    self._insert(existing, child.name, child.path, f"{rel}/{child.name}", entry, forced)
                return
        elif isinstance(existing, Link) and not existing.is_dir and _same_file(existing.src, src):
            return
        other = existing.owner if isinstance(existing, Link | Gen) else "another distribution"
        raise LinkConflict(
            f"{entry.name} and {other} both provide {rel} with different content",
            hint="uninstall one of them, or install them into different envs",
        )

    def _expand(self, src: str, rel: str, entry: StoredWheel, forced: set[str]) -> Dir:
        node = Dir()
        for child in _children(src):
            self._insert(node, child.name, child.path, f"{rel}/{child.name}", entry, forced)
        return node

    def _expand_link(self, link: Link, rel: str) -> Dir:
        """A directory link that another wheel now shares becomes a real dir of its first owner's links."""
        entry, forced = self._owners[link.owner]
        return self._expand(link.src, rel, entry, forced)

    # -- $ORIGIN climbs ---------------------------------------------------------------------------

    def finish(self) -> Layout:
        """Make real every linked directory that a recorded ``$ORIGIN`` climb would leave.

        glibc builds ``$ORIGIN/../../lib`` from the path the ELF was loaded by, but the kernel
        resolves each ``..`` physically: out of a directory *link*, it continues in the store entry,
        which lacks what other wheels merged beside it (cmeel's ``pinocchio/`` leaf climbing to
        ``cmeel.prefix/lib``, where ``libeigenpy.so`` of another wheel sits). For each climb the
        layout is walked twice, the kernel's way and the way the env shows it; while they differ,
        the link the climb left becomes a real dir of links (files: hardlinks). A climb whose
        target is the very store directory the env links there (numpy's ``numpy.libs``) stays
        linked, as does one whose target is absent in both views. Expanding a link keeps what the
        env shows, so the loop ends when every climb of every entry agrees (and the layout stays a
        function of the set of dists, not of their order).
        """
        # where a climb starts and what it says is all that matters (torch: 108 test binaries, one
        # directory and RUNPATH)
        climbs = {
            (posixpath.dirname(c.file), c.rpath): c
            for entry, _forced in self._owners.values()
            for c in entry.climbs
        }.values()
        changed = True
        while changed:
            changed = False
            for climb in climbs:
                while (hop := self._escape(climb)) is not None:
                    hop.parent.children[hop.name] = self._expand_link(hop.link, hop.rel)
                    changed = True
        return self.layout

    def _escape(self, climb: OriginClimb) -> _Hop | None:
        """The link a climb leaves through ``..`` when that lands elsewhere than the env shows."""
        rel = origin_path(climb.rpath)
        if rel is None:
            return None
        here = posixpath.dirname(climb.file)
        physical, hop = self._resolve([*here.split("/"), *rel.split("/")])
        if hop is None:  # no '..' inside a link: the kernel walks the env's own directories
            return None
        shown, _ = self._resolve(posixpath.normpath(posixpath.join(here, rel)).split("/"))
        # Linked while the kernel lands on the very store dir the env shows there, or on nothing
        # where the env shows nothing either (torch CPU's ``bin/`` -> ``$ORIGIN/../lib64``): the
        # loader finds the same. Every change recomputes the layout, so a target added later is
        # decided then.
        return None if physical == shown else hop

    def _resolve(self, parts: Sequence[str]) -> tuple[_Where, _Hop | None]:
        """Resolve a path relative to site/ as the kernel would through this layout.

        Returns where it lands and the last directory link that a ``..`` climbed back out of.
        Real dirs of the layout are the env's; a link continues in the store (plain directories:
        ``..`` is the store parent). Above site/ are the env prefix's real directories.
        """
        site_parts = self.env.site.parts
        stack: list[Dir] = [self.layout.site]  # the real dirs walked below site/
        names: list[str] = []
        up = 0  # levels above site/ ...
        outside: list[str] = []  # ... and the names walked down from there
        fs: str | None = None
        entered: _Hop | None = None
        hop: _Hop | None = None
        for part in parts:
            if part in ("", "."):
                continue
            if fs is not None:
                if part == "..":
                    if not os.path.isdir(fs):
                        return _MISSING, hop
                    fs = os.path.dirname(fs)
                    hop = entered
                else:
                    fs = f"{fs}/{part}"
            elif part == "..":
                if up == 0 and names:
                    names.pop()
                    stack.pop()
                elif outside:
                    outside.pop()
                else:
                    up += 1
            elif up:
                outside.append(part)
                if len(outside) == up and tuple(outside) == site_parts[-up:]:
                    up, outside = 0, []  # back down into site/ itself
            else:
                child = stack[-1].children.get(part)
                if isinstance(child, Dir):
                    stack.append(child)
                    names.append(part)
                elif isinstance(child, Link):
                    entered = _Hop(stack[-1], part, "/".join([*names, part]), child)
                    fs = child.src
                else:
                    return _MISSING, hop
        if fs is not None:
            return (("fs", os.path.normpath(fs)) if os.path.exists(fs) else _MISSING), hop
        return ("env", "/".join([".."] * up + outside if up else names)), hop

    def _dist_info(self, spec: DistSpec, forced: set[str]) -> Dir:
        """A real dist-info dir for per-env markers: the entry's files linked, plus REQUESTED
        (a link to the store's shared empty marker), direct_url.json, and this env's own RECORD
        (the entry's, which lists exactly the entry's files and pycs, plus the markers this env
        has; with headers, their path names the env's Python version)."""
        entry = spec.entry
        src = entry.site / entry.dist_info
        node = Dir()
        for child in _children(src):
            self._insert(node, child.name, child.path, f"{entry.dist_info}/{child.name}", entry, forced)
        markers = []
        if spec.requested:
            node.children["REQUESTED"] = Link(str(self.store_root / EMPTY_MARKER), False, entry.name)
            markers.append("REQUESTED")
        if spec.direct_url is not None:
            node.children["direct_url.json"] = Gen(spec.direct_url.encode(), 0o644, entry.name)
            markers.append("direct_url.json")
        variant = entry.path / RECORD_VARIANTS / "+".join(markers)
        if markers and not entry.has_headers and variant.is_file():
            node.children["RECORD"] = Link(str(variant), False, entry.name)  # shared, no new inode
            return node
        record = (src / "RECORD").read_text(encoding="utf-8")
        if entry.has_headers:
            record = record.replace(
                "include/site/python3/", f"include/site/python{self.env.interpreter.short_version}/"
            )
        listed = {line.split(",", 1)[0] for line in record.splitlines()}
        if not record.endswith("\n") and record:
            record += "\n"
        record += "".join(
            f"{entry.dist_info}/{m},,\n" for m in markers if f"{entry.dist_info}/{m}" not in listed
        )
        node.children["RECORD"] = Gen(record.encode(), 0o644, entry.name)
        return node

    # -- prefix tree ------------------------------------------------------------------------------

    def _place_tree(self, src_root: Path, dest: Dir, entry: StoredWheel) -> None:
        for dirpath, dirs, files in os.walk(src_root):
            rel = os.path.relpath(dirpath, src_root)
            node = dest
            if rel != ".":
                for part in rel.split(os.sep):
                    wheelcheck.check_name(
                        part, "directory name", entry.name, hint="the store entry was modified"
                    )
                    nxt = node.children.setdefault(part, Dir(owned=False))
                    if not isinstance(nxt, Dir):
                        raise LinkConflict(f"{entry.name} wants a directory where a file is: {rel}")
                    node = nxt
            for name in files:
                self._put(node, name, Link(os.path.join(dirpath, name), False, entry.name))
            dirs.sort()

    def _put(self, parent: Dir, name: str, node: Link | Gen) -> None:
        wheelcheck.check_name(name, "file name", f"{node.owner}", hint="the store entry was modified")
        existing = parent.children.get(name)
        if existing is not None:
            if isinstance(existing, Gen) and isinstance(node, Gen) and existing.data == node.data:
                return
            if isinstance(existing, Link) and isinstance(node, Link) and _same_file(existing.src, node.src):
                return
            owner = existing.owner if isinstance(existing, Link | Gen) else "a directory"
            raise LinkConflict(f"{node.owner} and {owner} both provide {name} with different content")
        parent.children[name] = node

    def _launcher(self, module: str, attr: str) -> bytes:
        from .launchers import launcher

        return launcher(str(self.env.python), module, attr)

    def _fix_shebang(self, path: Path) -> bytes:
        from .launchers import fix_shebang

        return fix_shebang(path.read_bytes(), str(self.env.python))


def _children(path: str | Path) -> list[os.DirEntry[str]]:
    """Directory entries in a stable order, ``__pycache__`` last (so a conflict names the source)."""
    return sorted(os.scandir(path), key=lambda e: (e.name == "__pycache__", e.name))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def build_layout(env: EnvPaths, specs: Iterable[DistSpec], mode: LinkMode, store_root: Path) -> Layout:
    builder = LayoutBuilder(env, mode, store_root)
    for spec in sorted(specs, key=lambda s: s.entry.name):
        builder.add(spec)
    return builder.finish()


# -- applying a diff ------------------------------------------------------------------------------


class Journal:
    """Filesystem changes that can be undone: removals are moves into a scratch dir of the env."""

    def __init__(self, prefix: Path, scratch: Path | None = None) -> None:
        self.scratch = scratch or prefix / f".forge-txn-{token(12)}"
        self._undo: list[Callable[[], None]] = []
        self._n = 0
        self.created = 0
        self.removed = 0
        self._log_fd: int | None = None
        if scratch is not None:  # durable: every step is logged before it is taken (see replay)
            scratch.mkdir()
            self._log_fd = os.open(scratch / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _log(self, op: str, path: Path, n: int = 0) -> None:
        """Append one step to the scratch dir's log before taking it: a process killed at any
        point leaves a log from which :func:`replay_rollback` undoes exactly what was done (a
        kill needs no fsync: the page cache outlives the process)."""
        faults.point("link-op")
        if self._log_fd is not None:
            os.write(self._log_fd, (json.dumps([op, n, str(path)]) + "\n").encode())

    def _close_log(self) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def _stash(self) -> Path:
        if not self.scratch.exists():
            self.scratch.mkdir()
        self._n += 1
        return self.scratch / str(self._n)

    def remove(self, path: Path) -> None:
        if not os.path.lexists(path):
            return
        dest = self._stash()
        self._log("r", path, self._n)
        os.rename(path, dest)
        self._undo.append(lambda: os.rename(dest, path))
        self.removed += 1

    def rmdir_if_empty(self, path: Path) -> None:
        self._log("x", path)
        try:
            os.rmdir(path)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                return
            raise
        self._undo.append(lambda: os.mkdir(path))

    def mkdir(self, path: Path) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            return
        if os.path.lexists(path):
            raise LinkConflict(f"{path} exists and is not a directory Forge manages")
        self._log("m", path)
        os.mkdir(path)
        self._undo.append(lambda: os.rmdir(path))

    def _check_free(self, path: Path) -> None:
        if os.path.lexists(path):
            raise LinkConflict(
                f"{path} already exists and was not placed by Forge",
                hint="another tool wrote into this env; move that file away and run the command again",
            )

    def symlink(self, target: str, path: Path) -> None:
        self._check_free(path)
        self._log("c", path)
        os.symlink(target, path)
        self._undo.append(lambda: os.unlink(path))
        self.created += 1

    def hardlink(self, src: str, path: Path) -> None:
        self._check_free(path)
        self._log("c", path)
        os.link(src, path)
        self._undo.append(lambda: os.unlink(path))
        self.created += 1

    def copy(self, src: str, path: Path) -> None:
        self._check_free(path)
        self._log("c", path)
        shutil.copy2(src, path)
        os.chmod(path, os.stat(path).st_mode | 0o200)
        self._undo.append(lambda: os.unlink(path))
        self.created += 1

    def write(self, path: Path, data: bytes, mode: int) -> None:
        self._check_free(path)
        self._log("c", path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(path, mode)
        self._undo.append(lambda: os.unlink(path))
        self.created += 1

    def commit(self) -> None:
        from .seal import remove_tree

        self._undo.clear()
        self._close_log()
        if self.scratch.exists():
            remove_tree(self.scratch)

    def rollback(self) -> None:
        from .seal import remove_tree

        errors = []
        for undo in reversed(self._undo):
            try:
                undo()
            except OSError as exc:  # keep undoing: leave as little behind as possible
                errors.append(exc)
        self._undo.clear()
        self._close_log()
        if self.scratch.exists():
            remove_tree(self.scratch)


def replay_rollback(scratch: Path) -> None:
    """Undo, from its log, a journal whose process died before the catalog recorded the change:
    the steps are undone newest first, each tolerant of not having happened (a step is logged
    just before it is taken). Then the scratch dir goes."""
    from .seal import remove_tree

    try:
        lines = (scratch / LOG_NAME).read_text().splitlines()
    except FileNotFoundError:
        lines = []
    steps: list[tuple[str, int, Path]] = []
    for line in lines:
        try:
            op, n, raw = json.loads(line)
        except ValueError:  # a line cut short by the kill: its step was not taken
            continue
        steps.append((str(op), int(n), Path(raw)))
    for op, n, path in reversed(steps):
        if op == "c":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        elif op == "m":
            with contextlib.suppress(OSError):
                os.rmdir(path)
        elif op == "x":
            with contextlib.suppress(FileExistsError):
                os.mkdir(path)
        elif op == "r":
            stashed = scratch / str(n)
            if os.path.lexists(stashed):
                if os.path.lexists(path):  # should not be: later steps at this path are undone
                    remove_tree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
                os.rename(stashed, path)
    remove_tree(scratch)


class Applier:
    """Turns a layout diff into journal operations, falling back loudly when a link mode fails."""

    def __init__(
        self, env: EnvPaths, journal: Journal, mode: LinkMode, store_root: Path, *, repair: bool = False
    ) -> None:
        self.env = env
        self.journal = journal
        self.mode = mode
        self.store_root = store_root
        self.fallback: str | None = None
        self.repair = repair  # also compare unchanged nodes with the disk and replace what differs
        self.repaired = 0

    def _place_link(self, link: Link, path: Path, in_site: bool) -> None:
        if link.is_dir:  # only symlink mode keeps directory links (other modes expand them)
            self.journal.symlink(self._target(link.src, path, in_site), path)
            return
        mode = self.mode
        if not link.src.startswith(str(self.store_root) + os.sep) and mode is not LinkMode.COPY:
            # an upstream's file (a shared, read-only mount): a hardlink would write its inode
            # (link count, ctime) and across mounts fails anyway; symlink, or copy what must be real
            failure = "upstream entries are not hardlinked"
        else:
            try:
                if mode is LinkMode.COPY:
                    self.journal.copy(link.src, path)
                else:
                    self.journal.hardlink(link.src, path)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                failure = f"hardlinks failed ({os.strerror(exc.errno or 0)})"
        if mode is LinkMode.SYMLINK and not link.realpath:
            self.journal.symlink(self._target(link.src, path, in_site), path)
            return
        if self.fallback is None:
            self.fallback = f"{failure}: copying files instead"
        self.journal.copy(link.src, path)

    def _target(self, src: str, path: Path, in_site: bool) -> str:
        return link_target(self.env, self.store_root, src, path, in_site)

    def create(self, node: Node, path: Path, in_site: bool) -> None:
        if isinstance(node, Link):
            self._place_link(node, path, in_site)
        elif isinstance(node, Gen):
            self.journal.write(path, node.data, node.mode)
        else:
            self.journal.mkdir(path)
            for name, child in node.children.items():
                self.create(child, path / name, in_site)

    def remove(self, node: Node, path: Path) -> None:
        if isinstance(node, Dir):
            if node.owned:
                self.journal.remove(path)
                return
            for name, child in node.children.items():
                self.remove(child, path / name)
            self.journal.rmdir_if_empty(path)
        else:
            self.journal.remove(path)

    def diff(self, old: Node | None, new: Node | None, path: Path, in_site: bool) -> None:
        if old is None and new is None:
            return
        if new is None:
            assert old is not None
            self.remove(old, path)
            return
        if old is None:
            self.create(new, path, in_site)
            return
        if self.repair and path not in (self.env.site, self.env.prefix):
            problem = check_node(new, path, self.env, self.store_root, in_site)
            if problem is not None:
                self.repaired += 1
                self.journal.remove(path)
                self.create(new, path, in_site)
                return
            if not isinstance(new, Dir):
                return  # the disk already holds what the layout wants here
        if isinstance(old, Dir) and isinstance(new, Dir):
            if in_site and path != self.env.site and os.path.islink(path):
                # a directory link where the layout has a real dir: left by older code (say, a
                # leaf that a climb leaves). The disk, not the recomputed old layout, decides.
                self.journal.remove(path)
                self.create(new, path, in_site)
                return
            for name in sorted(old.children.keys() - new.children.keys()):
                self.remove(old.children[name], path / name)
            for name, child in new.children.items():
                self.diff(old.children.get(name), child, path / name, in_site)
            return
        if _same_node(old, new):
            return
        self.remove(old, path)
        self.create(new, path, in_site)


def _same_node(a: Node, b: Node) -> bool:
    if isinstance(a, Link) and isinstance(b, Link):
        return a.src == b.src and a.is_dir == b.is_dir and a.realpath == b.realpath
    if isinstance(a, Gen) and isinstance(b, Gen):
        return a.data == b.data and a.mode == b.mode
    return False


def apply(
    env: EnvPaths,
    old: Layout,
    new: Layout,
    *,
    mode: LinkMode,
    store_root: Path,
    evict: Sequence[Path] = (),
    repair: bool = False,
    scratch: Path | None = None,
) -> tuple[Journal, str | None]:
    """Apply ``old -> new``; on error everything done is undone and the error re-raised.

    Returns the journal (call ``commit()`` once the catalog has recorded the change, or
    ``rollback()`` if recording it failed) and the fallback reason, if the mode had to change.
    ``repair``: also check every node the diff keeps against the disk (:func:`check_node`) and
    put back what is missing or different (a link deleted by hand, a stale launcher).
    ``scratch``: make the journal durable there (its log survives a kill; see :func:`replay_rollback`).
    """
    journal = Journal(env.prefix, scratch)
    applier = Applier(env, journal, mode, store_root, repair=repair)
    try:
        for path in evict:
            journal.remove(path)
        for path in sorted({p.parent for p in evict}, key=lambda p: len(p.parts), reverse=True):
            if path != env.site and env.site in path.parents:
                journal.rmdir_if_empty(path)
        if mode is LinkMode.SYMLINK:
            hop = env.site / HOP
            if not os.path.islink(hop):
                journal.symlink(str(store_root), hop)
            elif os.readlink(hop) != str(store_root):
                journal.remove(hop)
                journal.symlink(str(store_root), hop)
        applier.diff(old.site, new.site, env.site, True)
        applier.diff(old.prefix, new.prefix, env.prefix, False)
    except BaseException:
        journal.rollback()
        raise
    return journal, applier.fallback


def dist_links_present(site: Path, entry: StoredWheel) -> bool:
    """Whether every top-level path of an entry's ``site/`` resolves in the env's site-packages: the
    cheap check (one stat per top-level name) behind "already linked"."""
    try:
        names = os.listdir(entry.site)
    except OSError:
        return False
    return all(os.path.exists(site / name) for name in names)


def link_target(env: EnvPaths, store_root: Path, src: str, path: Path, in_site: bool) -> str:
    """What a symlink at ``path`` to the store file ``src`` says (through the ``.forge`` hop in site)."""
    store = str(store_root)
    if in_site and src.startswith(store + os.sep):
        depth = len(path.relative_to(env.site).parts) - 1
        return "../" * depth + HOP + src[len(store) :]
    return src


def check_node(node: Node, path: Path, env: EnvPaths, store_root: Path, in_site: bool) -> str | None:
    """How the disk at ``path`` differs from a layout node, or None when it is what the linker places.

    Problems: ``missing``, ``dangling`` (a symlink to nothing), ``wrong-target`` (a link to
    something else), ``wrong-type`` (a file where a directory belongs, a directory link where a real
    directory belongs), ``content-differs`` (a copy or a generated file with other bytes). Costs one
    lstat per node, plus a content compare for copies and generated files only.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "missing"
    is_link = stat_mod.S_ISLNK(st.st_mode)
    if isinstance(node, Dir):
        return None if stat_mod.S_ISDIR(st.st_mode) else "wrong-type"
    if isinstance(node, Gen):
        if not stat_mod.S_ISREG(st.st_mode):
            return "wrong-type"
        try:
            with open(path, "rb") as f:
                data = f.read(len(node.data) + 1)
        except OSError:
            return "content-differs"
        return None if data == node.data else "content-differs"
    if is_link:
        try:
            target = os.readlink(path)
        except OSError:
            return "dangling"
        if target == link_target(env, store_root, node.src, path, in_site):
            return None if os.path.exists(path) else "dangling"
        if not os.path.exists(path):
            return "dangling"
        return None if os.path.realpath(path) == os.path.realpath(node.src) else "wrong-target"
    if node.is_dir:
        return "wrong-type"  # a real directory (or file) where the layout has a directory link
    if not stat_mod.S_ISREG(st.st_mode):
        return "wrong-type"
    try:
        src = os.stat(node.src)
    except OSError:
        return "dangling"
    if (src.st_dev, src.st_ino) == (st.st_dev, st.st_ino):
        return None  # the hardlink
    if src.st_size != st.st_size or not filecmp.cmp(path, node.src, shallow=False):
        return "content-differs"  # a copy (copy mode, or a fallback) must hold the same bytes
    return None


def direct_url_json(url: str, *, editable: bool = False, archive_hash: str | None = None) -> str:
    """PEP 610 ``direct_url.json`` content for a local file or URL install."""
    data: dict[str, object] = {"url": url}
    if editable:
        data["dir_info"] = {"editable": True}
    elif archive_hash:
        data["archive_info"] = {"hashes": {"sha256": archive_hash}, "hash": f"sha256={archive_hash}"}
    else:
        data["archive_info"] = {}
    return json.dumps(data, sort_keys=True)

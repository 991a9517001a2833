"""Replay a dry run whose every input is unchanged, before anything heavy is imported.

``pip install --dry-run`` with ``--offline`` (or with nothing it asks of the network: every
requirement already satisfied from local sources) is a pure function of what the process reads:
its command line, working directory, environment variables, pip's configuration files,
requirement and constraint files, the target interpreter and its site-packages, the catalog, the
cached index pages and local indexes, and Forge's own code. A repeat of such a run should cost what
uv's costs (milliseconds), not the ~0.1 s that importing the resolver stack takes.

So the front end's process entry point (``python -m forge_pip``, which every env's ``bin/pip``
runs) runs a dry run under a *recorder*: an audit hook (:func:`sys.addaudithook`) that notes
every file the run opens, every directory it lists and every SQLite database it connects to,
captures what it prints, and marks the run as not replayable when it does anything whose outcome a
stat cannot vouch for: a network connection, a child process, a write outside ``FORGE_HOME``, a
decision that depends on the clock (``forge.volatile`` audit events, raised by such code), raw
bytes written past the text streams. A replayable run that exits 0 leaves a record
(``FORGE_HOME/cache/replay/``): the exact key (format, interpreter, argv, cwd, environment, which
streams are terminals), the ``stat`` of every input (device, inode, size, mtime, ctime, mode; or
"missing") and of every module the process imported, and the output. The next identical command
stats those inputs and, when every one is the same, prints the recorded output and exits, without
importing the front end; any difference, and the run is an ordinary one (which records anew).

Stamps are only trusted when they are old enough to be unambiguous (git's "racy" rule): an input
modified within a timestamp granule of the run's start (20 ms; 2 s on filesystems with whole-second
stamps) could change again without its stamp changing, so such a run is not recorded. Files the
run wrote itself (its caches: the resolution memo, probes) are its own output, not inputs.

``FORGE_REPLAY=0`` turns replay off. ``FORGE_REPLAY_LOG=FILE`` appends one line per run saying what
replay did (``hit``, ``miss: WHY``, ``recorded``, ``not recorded: WHY``): for tests and curious users.
Library code never reaches this module: only that entry point does (``forge pip``, through the
``forge`` command's parser, does not replay).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

FORMAT = 1
"""Bump when a record's meaning changes (older records are then ignored)."""

OFF_VAR = "FORGE_REPLAY"
LOG_VAR = "FORGE_REPLAY_LOG"
VOLATILE_EVENT = "forge.volatile"
"""Audit event that code raises (``sys.audit(VOLATILE_EVENT, why)``) when what it decides
depends on something a stat does not show (the clock, a fresh-by-age cache entry)."""

_IGNORED_ENV = frozenset(("_", "OLDPWD", "PWD", "SHLVL", LOG_VAR))
"""Variables a shell changes between two identical commands, which no Forge code reads."""

_UNSTABLE_ROOTS = ("/proc/", "/dev/", "/sys/")
"""Paths whose stat says nothing about their content (or changes on every read)."""

_FINE_GRANULE_NS = 20_000_000
_COARSE_GRANULE_NS = 2_000_000_000
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_MUTATING_EVENTS = frozenset(
    (
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.symlink",
        "os.link",
        "os.truncate",
        "os.chmod",
        "os.chown",
        "os.utime",
        "shutil.rmtree",
        "shutil.move",
        "shutil.copyfile",
        "shutil.copytree",
    )
)
_OUTSIDE_EVENTS = frozenset(
    (
        "socket.connect",
        "socket.sendto",
        "socket.bind",
        "subprocess.Popen",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.system",
        "os.startfile",
        "ctypes.dlopen",
    )
)

Signature = list[int] | None


def eligible(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (pip's arguments) is a dry run of ``install`` that replay may answer."""
    from forge_pip.cli.pip import split_command

    command, rest = split_command(argv)
    return command == "install" and "--dry-run" in rest and "--" not in rest


def run(argv: Sequence[str], main: Callable[[list[str]], int]) -> int:
    """Answer ``argv`` from a record when every input is unchanged, else run ``main`` (recording
    the run when it is replayable)."""
    args = list(argv)
    if os.environ.get(OFF_VAR) == "0" or not eligible(args):
        return main(args)  # nothing more is imported for the commands replay does not answer
    import time

    start_ns = time.time_ns()
    try:
        home = _home()
        key = _key(args)
        path = _record_path(home, key)
        code = _replay(path, key)
    except Exception as exc:  # replay is a shortcut: whatever goes wrong, the run goes on
        _log(f"miss: {type(exc).__name__}")
        return main(args)
    if code is not None:
        return code
    recorder = _Recorder(home)
    recorder.install()
    try:
        result = main(args)  # an exception (SystemExit too) leaves no record
    finally:
        recorder.restore()
    try:
        recorder.finish(path, key, result, start_ns)
    except Exception as exc:
        _log(f"not recorded: {type(exc).__name__}")
    return result


def _log(line: str) -> None:
    target = os.environ.get(LOG_VAR)
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    except OSError:
        pass


def _home() -> str:
    explicit = os.environ.get("FORGE_HOME")
    if explicit:
        return os.path.abspath(explicit)
    from forge_store.home import default_home

    return str(default_home())


def _key(argv: list[str]) -> str:
    import json

    environ = sorted((k, v) for k, v in os.environ.items() if k not in _IGNORED_ENV)
    ttys = [_isatty(fd) for fd in (0, 1, 2)]
    flags = [sys.orig_argv, sys._xoptions, list(sys.flags)]  # -X importtime, -I, -O, ...
    doc = [FORMAT, sys.executable, sys.version, list(sys.path), flags, os.getcwd(), argv, environ, ttys]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _record_path(home: str, key: str) -> str:
    import zlib

    data = key.encode("utf-8", "surrogateescape")
    name = f"{zlib.crc32(data):08x}{len(data):x}.json"
    return os.path.join(home, "cache", "replay", name)


def signature(path: str, kind: str = "") -> Signature:
    """What a record keeps of a path: device, inode, size, mtime, ctime, mode; None when absent.

    ``kind`` ``"db"``, a database's files: no ctime (SQLite, run as root, ``fchown``s its WAL on
    every open: a new ctime, the same content; its writes always move the mtime). ``"dir"``, a
    directory the run only stat'ed (``is_dir``, ``exists``, each component of a ``realpath``)
    and never listed: what it is, not what it holds (device, inode, mode), as a listing changes
    its mtime. (Forge decides nothing by a directory's mtime: it lists find-links and
    ``file://`` index directories every time, and keeps stamps of files only.)"""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _signature_of(st, kind)


def _signature_of(st: os.stat_result, kind: str) -> list[int]:
    if kind == "dir":
        return [st.st_dev, st.st_ino, 0, 0, 0, st.st_mode]
    ctime = 0 if kind == "db" else st.st_ctime_ns
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, ctime, st.st_mode]


def _replay(path: str, key: str) -> int | None:
    """Print the record's output and return its exit code when every input is unchanged."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        _log("miss: no record")
        return None
    except (OSError, ValueError):
        _discard(path, "unreadable record")
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("key") != key:
        _discard(path, "another key or format")
        return None
    inputs, out, code = doc.get("inputs"), doc.get("out"), doc.get("code")
    if not (isinstance(inputs, list) and isinstance(out, list) and isinstance(code, int)):
        _discard(path, "malformed record")
        return None
    for item in inputs:
        if not (isinstance(item, list) and len(item) in (2, 3) and isinstance(item[0], str)):
            _discard(path, "malformed record")
            return None
        kind = item[2] if len(item) == 3 else ""
        if kind not in ("", "db", "dir"):
            _discard(path, "malformed record")
            return None
        if signature(item[0], kind) != item[1]:
            _log(f"miss: changed {item[0]}")
            return None
    chunks: list[tuple[TextIO, str]] = []
    for chunk in out:
        if not (isinstance(chunk, list) and len(chunk) == 2 and chunk[0] in (1, 2)):
            _discard(path, "malformed record")
            return None
        if not isinstance(chunk[1], str):
            _discard(path, "malformed record")
            return None
        chunks.append((sys.stdout if chunk[0] == 1 else sys.stderr, chunk[1]))
    try:
        for stream, text in chunks:
            stream.write(text)
            stream.flush()
    except BrokenPipeError:  # ``| head``: the reader went away, as it may for a full run
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written; exit flushes it
    _log("hit")
    return code


def _discard(path: str, why: str) -> None:
    _log(f"miss: {why}")
    try:
        os.unlink(path)
    except OSError:
        pass


class _Tee:
    """A text stream that writes through and keeps what was written (in order, across streams)."""

    def __init__(self, inner: TextIO, fd: int, chunks: list[list[Any]], recorder: _Recorder) -> None:
        self._inner = inner
        self._fd = fd
        self._chunks = chunks
        self._recorder = recorder

    def write(self, text: str) -> int:
        if text:
            self._chunks.append([self._fd, text])
        return self._inner.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    @property
    def buffer(self) -> Any:  # raw bytes would bypass the record
        self._recorder.volatile = "bytes written to a stream"
        return self._inner.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Recorder:
    """What one run read, wrote and printed (see the module docstring)."""

    def __init__(self, home: str) -> None:
        self.home = home.rstrip(os.sep) + os.sep
        self.read: set[str] = set()
        self.stated: set[str] = set()
        self.databases: set[str] = set()
        self.written: set[str] = set()
        self.volatile: str | None = None
        self.chunks: list[list[Any]] = []
        self._active = False
        self._saved: tuple[TextIO, TextIO] | None = None
        self._real: dict[str, Callable[..., Any]] = {}

    def install(self) -> None:
        self._active = True
        sys.addaudithook(self._hook)  # cannot be removed: restore() makes it inert
        # a stat is a read the audit hook does not see (is_file, exists, signatures by stat)
        for name in ("stat", "lstat", "access", "readlink"):
            self._real[name] = getattr(os, name)
            setattr(os, name, self._watching(self._real[name]))
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, 1, self.chunks, self)
        sys.stderr = _Tee(sys.stderr, 2, self.chunks, self)

    def _watching(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def watched(path: Any, *args: Any, **kwargs: Any) -> Any:
            if self._active and kwargs.get("dir_fd") is None and not isinstance(path, int):
                try:
                    self.stated.add(os.path.abspath(os.fsdecode(os.fspath(path))))
                except (TypeError, ValueError):
                    pass
            return real(path, *args, **kwargs)

        return watched

    def restore(self) -> None:
        self._active = False
        for name, real in self._real.items():
            setattr(os, name, real)
        self._real = {}
        if self._saved is not None:
            for stream in self._saved:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            sys.stdout, sys.stderr = self._saved
            self._saved = None

    def _inside_home(self, path: str) -> bool:
        name = os.path.abspath(path) + os.sep
        return name.startswith(self.home)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self._active:
            return
        try:
            self._note(event, args)
        except Exception as exc:  # a hook must never break the run
            self.volatile = f"recorder: {type(exc).__name__}"

    def _note(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if not isinstance(path, (str, bytes)):
                return
            name = os.path.abspath(os.fsdecode(path))
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writes:
                if not self._inside_home(name):
                    self.volatile = f"wrote {name}"
                self.written.add(name)
            else:
                self.read.add(name)
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
            if path is None:
                path = "."
            if isinstance(path, (str, bytes)):
                self.read.add(os.path.abspath(os.fsdecode(path)))
        elif event == "sqlite3.connect":
            database = os.fsdecode(args[0]) if isinstance(args[0], (str, bytes)) else ""
            if database.startswith("file:"):  # a URI (the read-only catalog): its path, unquoted
                from urllib.parse import unquote

                database = unquote(database[5:].split("?", 1)[0])
            if database and database != ":memory:":
                name = os.path.abspath(database)
                self.databases.update((name, name + "-wal"))
        elif event in _MUTATING_EVENTS:
            for value in args[:2]:
                if isinstance(value, (str, bytes)):
                    name = os.path.abspath(os.fsdecode(value))
                    if not self._inside_home(name):
                        self.volatile = f"{event} {name}"
                    self.written.add(name)
        elif event in _OUTSIDE_EVENTS or event == VOLATILE_EVENT:
            self.volatile = self.volatile or (f"{event} {args[0]}" if event == VOLATILE_EVENT else event)

    def finish(self, path: str, key: str, code: int, start_ns: int) -> None:
        """Write the record, when the run was replayable and its inputs' stamps are settled."""
        if self.volatile is not None:
            _log(f"not recorded: {self.volatile}")
            return
        if code != 0:
            _log(f"not recorded: exit {code}")
            return
        record_dir = os.path.dirname(path) + os.sep
        kinds = dict.fromkeys(self.stated - self.read, "stated")  # a directory, or a file
        kinds.update(dict.fromkeys(self.read | _module_files(), ""))
        kinds.update(dict.fromkeys(self.databases, "db"))
        signed: list[list[Any]] = []
        for name in sorted(kinds):
            if name in self.written or name.startswith((record_dir, *_UNSTABLE_ROOTS)) or name == os.devnull:
                continue
            try:
                st = os.stat(name)
            except OSError:
                signed.append([name, None])  # missing: its appearing is a change
                continue
            kind = kinds[name]
            if kind == "stated":
                kind = "dir" if stat.S_ISDIR(st.st_mode) else ""
            sig = _signature_of(st, kind)
            granule = _COARSE_GRANULE_NS if sig[3] % 1_000_000_000 == 0 else _FINE_GRANULE_NS
            age_ns = start_ns - max(sig[3], sig[4])
            if age_ns <= granule:
                _log(f"not recorded: racy {name} (changed {age_ns / 1e6:.1f} ms before the start)")
                return
            signed.append([name, sig, kind] if kind else [name, sig])
        doc = {"format": FORMAT, "key": key, "inputs": signed, "out": self.chunks, "code": code}
        import json
        from pathlib import Path

        from forge_pip.index.atomicfile import write_cache_file

        data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogateescape")
        write_cache_file(Path(path), data, what="replay record")
        _log(f"recorded {len(signed)} inputs")


def _module_files() -> set[str]:
    """The source of every imported module: the code that produced the answer."""
    out: set[str] = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if isinstance(name, str):
            out.add(os.path.abspath(name))
    return out

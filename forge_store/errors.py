"""One exception root for Forge, with the exit codes the CLIs map it to.

Library code raises these; only the CLI turns them into one line on stderr and an exit code.
Every error carries a kebab-case ``reference`` (stable, for docs and ``--json``), a human
``message`` and an optional ``hint``. Validation errors also inherit ``ValueError`` so callers
that do not know Forge can still catch them.
"""

from __future__ import annotations

import enum
import errno


class ExitCode(enum.IntEnum):
    """Process exit codes, in one place so they never collide (pip's where pip has them)."""

    OK = 0  # success (forge doctor: no finding remains)
    ERROR = 1  # pip: generic error
    USAGE = 2  # argparse and bad options
    NOT_FOUND = 3  # unknown env, package or file
    CONFLICT = 4  # two things want the same path / an impossible resolution
    INCOMPATIBLE = 5  # wrong platform, interpreter or ABI
    INTEGRITY = 6  # hash mismatch, bad RECORD, tampered store entry
    NETWORK = 7  # an index could not be reached
    BUILD = 8  # a PEP 517 build failed
    LOCKED = 9  # could not take a lock in time
    STORAGE = 10  # the filesystem refused: permission denied, read-only, disk full
    UNHEALTHY = 11  # forge doctor: findings remain (none, or all fixed: 0)
    NO_MATCHES = 23  # pip: no matching distribution


class ForgeError(Exception):
    """Root of every error Forge raises on purpose."""

    reference = "forge-error"
    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        """The error as the ``error`` member of a ``--json`` document."""
        return {
            "reference": self.reference,
            "message": self.message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


class UsageError(ForgeError, ValueError):
    """The request itself is malformed (bad option, bad name, bad requirement line)."""

    reference = "usage-error"
    exit_code = ExitCode.USAGE


class OptionValueError(UsageError):
    """A command-line option's value that pip's option parser itself rejects (pip exits 2 there;
    other usage errors are found by pip's commands, which exit 1)."""

    reference = "option-value-error"


class AnswerUnavailable(UsageError):
    """A question needed an answer and none could be read (end of input, or ``--no-input``)."""

    reference = "answer-unavailable"


class InvalidSetting(UsageError):
    """An unknown env setting key, or a value that key does not take (``forge env set``)."""

    reference = "invalid-setting"


class NoTargetEnv(UsageError):
    """``forge pip`` was given no environment to act on and found none (or only Forge's own)."""

    reference = "no-target-env"


class UnsupportedUrl(UsageError):
    """A URL requirement Forge cannot use (an unknown scheme, hg/svn/bzr, no dist at the URL).

    Never replaced by an index project of the same name: a URL requirement is that artifact or nothing.
    """

    reference = "unsupported-url"


class InvalidRequirementsSource(UsageError):
    """A requirements source other than a requirements file is unusable: a ``pylock.toml`` (PEP 751),
    a ``[dependency-groups]`` table (PEP 735), a script's inline metadata (PEP 723)."""

    reference = "invalid-requirements-source"


class InvalidLockFile(InvalidRequirementsSource):
    """A ``pylock.toml`` that does not parse, fails PEP 751 validation, or selects nothing usable."""

    reference = "invalid-lock-file"


class UnsupportedPython(ForgeError, ValueError):
    """The target interpreter is outside a ``requires-python`` (a script's, a lock file's)."""

    reference = "unsupported-python"
    exit_code = ExitCode.INCOMPATIBLE


class VcsError(ForgeError):
    """A version control command failed (clone, fetch, an unknown revision) or ``git`` is missing."""

    reference = "vcs-error"


class NotFoundError(ForgeError, LookupError):
    """An env, package, file or interpreter that was named does not exist."""

    reference = "not-found"
    exit_code = ExitCode.NOT_FOUND


class EnvNotFound(NotFoundError):
    reference = "env-not-found"


class EnvDirMissing(NotFoundError):
    """The catalog knows an env whose directory is gone (deleted by hand)."""

    reference = "env-dir-missing"


class InterpreterNotFound(NotFoundError):
    reference = "interpreter-not-found"


class ChangelogMissing(NotFoundError):
    """The CHANGELOG that ships with Forge is not there (a broken installation)."""

    reference = "changelog-missing"


class ReleaseNotFound(NotFoundError):
    """``forge changelog --version X`` named a release the CHANGELOG does not have."""

    reference = "release-not-found"


class EnvExists(ForgeError, ValueError):
    reference = "env-exists"
    exit_code = ExitCode.CONFLICT


class InvalidWheel(ForgeError, ValueError):
    """A file is not a wheel, or its contents contradict its RECORD."""

    reference = "invalid-wheel"
    exit_code = ExitCode.INTEGRITY


class UnsafeWheel(InvalidWheel):
    """A name or path from a wheel would land outside its target directory (or is not a plain name)."""

    reference = "unsafe-wheel"


class InvalidWheelMetadata(InvalidWheel):
    """A wheel's METADATA, WHEEL or entry_points.txt is unreadable or contradicts its file name."""

    reference = "invalid-wheel-metadata"


class WheelTooLarge(InvalidWheel):
    """A wheel unpacks beyond a configured limit (size, file count, compression ratio)."""

    reference = "wheel-too-large"


class IncompatibleWheel(ForgeError, ValueError):
    """A wheel's tags or Requires-Python do not fit the target interpreter."""

    reference = "incompatible-wheel"
    exit_code = ExitCode.INCOMPATIBLE


class AbiMismatch(ForgeError, ValueError):
    """A child env would use another interpreter ABI than its parent."""

    reference = "abi-mismatch"
    exit_code = ExitCode.INCOMPATIBLE


class LinkConflict(ForgeError):
    """Two distributions want the same path with different content."""

    reference = "link-conflict"
    exit_code = ExitCode.CONFLICT


class EnvBusy(ForgeError):
    """An env still has children, or a lock could not be taken."""

    reference = "env-busy"
    exit_code = ExitCode.CONFLICT


class LockTimeout(ForgeError):
    """Another process held a lock (a lock file or the catalog) for longer than the timeout."""

    reference = "lock-timeout"
    exit_code = ExitCode.LOCKED

    def __init__(
        self, message: str, *, hint: str | None = None, holders: tuple[str, ...] = (), timeout: float = 0.0
    ) -> None:
        super().__init__(message, hint=hint)
        self.holders = holders  # "pid 123 (forge pip install ...)", as far as they could be found
        self.timeout = timeout


class StorageError(ForgeError):
    """The filesystem refused a read or write Forge needs (an environment fault, not a bug)."""

    reference = "storage-error"
    exit_code = ExitCode.STORAGE

    def __init__(self, message: str, *, hint: str | None = None, path: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class PermissionDenied(StorageError):
    reference = "permission-denied"


class ReadOnlyStorage(StorageError):
    """A write was needed where the file system (or FORGE_HOME) is read-only."""

    reference = "read-only"


class DiskFull(StorageError):
    reference = "disk-full"


class BytecodeFailed(StorageError):
    """The bytecode compiler died, or did not write the pyc files it was asked for."""

    reference = "bytecode-failed"


# errno -> (class, what happened, hint); the faults of the machine that no code change would fix
_STORAGE_ERRNOS: dict[int, tuple[type[StorageError], str, str]] = {
    errno.EACCES: (
        PermissionDenied,
        "permission denied",
        "run as the user who owns it, or set FORGE_HOME to a directory you can write",
    ),
    errno.EPERM: (
        PermissionDenied,
        "operation not permitted",
        "run as the user who owns it, or set FORGE_HOME to a directory you can write",
    ),
    errno.EROFS: (
        ReadOnlyStorage,
        "read-only file system",
        "remount it read-write, or set FORGE_HOME to a writable directory",
    ),
    errno.ENOSPC: (DiskFull, "no space left on device", "free some space and run the command again"),
    errno.EDQUOT: (DiskFull, "disk quota exceeded", "free some space and run the command again"),
    errno.EIO: (StorageError, "input/output error", "check the disk (dmesg) and run the command again"),
}


def storage_error(exc: BaseException) -> StorageError | None:
    """The typed error for an ``OSError`` the machine caused (permissions, read-only, disk full,
    I/O), found on ``exc`` or on its chain of causes; None for anything else. An implicit
    ``__context__`` counts only below a ``ForgeError`` (a deliberate translation such as
    ``raise InvalidWheel(...) from None``): a bug raised while handling an OSError stays a bug."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, StorageError):
            return cur
        if isinstance(cur, OSError) and cur.errno in _STORAGE_ERRNOS:
            cls, what, hint = _STORAGE_ERRNOS[cur.errno]
            path = cur.filename
            where = f": {path}" if path is not None else ""
            if cur.filename2 is not None:
                where += f" -> {cur.filename2}"
            return cls(f"{what}{where}", hint=hint, path=None if path is None else str(path))
        cur = cur.__cause__ or (cur.__context__ if isinstance(cur, ForgeError) else None)
    return None


class GcFailed(ForgeError):
    """gc could not move or delete store content (permissions, a broken trash dir); nothing was lost."""

    reference = "gc-failed"


class IntegrityError(ForgeError):
    """A hash did not match, or the store and catalog disagree."""

    reference = "integrity-error"
    exit_code = ExitCode.INTEGRITY


class EntryMissing(IntegrityError):
    """The catalog knows a store entry whose directory is gone (deleted by hand)."""

    reference = "entry-missing"


class UpstreamError(ForgeError):
    """An upstream store (a read-only directory another node publishes) cannot be used as asked."""

    reference = "upstream-error"


class UpstreamInvalid(UpstreamError, ValueError):
    """An upstream path or URL that is no upstream (no readable manifest, a format this Forge
    does not know, a URL that cannot be reached or that Forge will not use, e.g. plain http to a
    host that is neither loopback nor trusted)."""

    reference = "upstream-invalid"
    exit_code = ExitCode.USAGE


class UpstreamEntryCorrupt(IntegrityError):
    """An upstream entry's files do not match its RECORD (checked before an env links it)."""

    reference = "upstream-entry-corrupt"


class StackNotFound(NotFoundError):
    """``--parent UPSTREAM:STACK`` names an upstream or a published stack that does not exist."""

    reference = "stack-not-found"


class MirrorReadOnly(UsageError):
    """An env that mirrors a published stack (``team:torch``) is changed only by its upstream."""

    reference = "mirror-read-only"


class PublishConflict(IntegrityError):
    """A published entry differs from what would be published under its id: published entries
    are never changed in place."""

    reference = "publish-conflict"


class MetadataInconsistent(IntegrityError):
    """A built distribution's metadata names another project than the requirement (pip's error)."""

    reference = "metadata-inconsistent"


class CatalogError(ForgeError):
    """The catalog is newer than this Forge, or unreadable."""

    reference = "catalog-error"


class CatalogCorrupt(CatalogError):
    """``catalog.sqlite3`` is not a SQLite database, or its pages are damaged."""

    reference = "catalog-corrupt"
    exit_code = ExitCode.INTEGRITY


class HomeNotWritable(ForgeError):
    """A repair was asked for on a ``FORGE_HOME`` this process cannot write (diagnosis still works)."""

    reference = "home-not-writable"
    exit_code = ExitCode.STORAGE

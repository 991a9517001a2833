"""One exception root for Forge, with the exit codes the CLIs map it to.

Library code raises these; only the CLI turns them into one line on stderr and an exit code.
Every error carries a kebab-case ``reference`` (stable, for docs and ``--json``), a human
``message`` and an optional ``hint``. Validation errors also inherit ``ValueError`` so callers
that do not know Forge can still catch them.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, in one place so they never collide (pip's where pip has them)."""

    OK = 0
    ERROR = 1  # pip: generic error
    USAGE = 2  # argparse and bad options
    NOT_FOUND = 3  # unknown env, package or file
    CONFLICT = 4  # two things want the same path / an impossible resolution
    INCOMPATIBLE = 5  # wrong platform, interpreter or ABI
    INTEGRITY = 6  # hash mismatch, bad RECORD, tampered store entry
    NETWORK = 7  # an index could not be reached
    BUILD = 8  # a PEP 517 build failed
    LOCKED = 9  # could not take a lock in time
    UNHEALTHY = 10  # forge doctor: findings remain (none, or all fixed: 0)
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


class NoTargetEnv(UsageError):
    """``forge pip`` was given no environment to act on and found none (or only Forge's own)."""

    reference = "no-target-env"


class UnsupportedUrl(UsageError):
    """A URL requirement Forge cannot use (an unknown scheme, hg/svn/bzr, no dist at the URL).

    Never replaced by an index project of the same name: a URL requirement is that artifact or nothing.
    """

    reference = "unsupported-url"


class VcsError(ForgeError):
    """A version control command failed (clone, fetch, an unknown revision) or ``git`` is missing."""

    reference = "vcs-error"


class NotFoundError(ForgeError, LookupError):
    """An env, package, file or interpreter that was named does not exist."""

    reference = "not-found"
    exit_code = ExitCode.NOT_FOUND


class EnvNotFound(NotFoundError):
    reference = "env-not-found"


class InterpreterNotFound(NotFoundError):
    reference = "interpreter-not-found"


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
    reference = "lock-timeout"
    exit_code = ExitCode.LOCKED


class GcFailed(ForgeError):
    """gc could not move or delete store content (permissions, a broken trash dir); nothing was lost."""

    reference = "gc-failed"


class IntegrityError(ForgeError):
    """A hash did not match, or the store and catalog disagree."""

    reference = "integrity-error"
    exit_code = ExitCode.INTEGRITY


class MetadataInconsistent(IntegrityError):
    """A built distribution's metadata names another project than the requirement (pip's error)."""

    reference = "metadata-inconsistent"


class CatalogError(ForgeError):
    """The catalog is newer than this Forge, or unreadable."""

    reference = "catalog-error"


class HomeNotWritable(ForgeError):
    """A repair was asked for on a ``FORGE_HOME`` this process cannot write (diagnosis still works)."""

    reference = "home-not-writable"

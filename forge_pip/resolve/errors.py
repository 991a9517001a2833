"""Errors the resolver raises: an impossible resolution, no matching distribution, a bad constraint.

Each carries the data it was built from (for ``--json``) and pip-like prose in ``message``.
"""

from __future__ import annotations

from collections.abc import Sequence

from forge_store.errors import ExitCode, ForgeError, UsageError


class ResolutionError(ForgeError):
    """The requirements cannot all be satisfied at once (pip's ``ResolutionImpossible``)."""

    reference = "resolution-impossible"
    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, *, hint: str | None = None, causes: Sequence[str] = ()) -> None:
        super().__init__(message, hint=hint)
        self.causes = tuple(causes)
        """One line per conflicting requirement: ``"a 1.0 depends on c<2"``."""

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "causes": list(self.causes)}


class FrontEndPipMismatch(ResolutionError):
    """A requirement on ``pip`` that the env's pip (Forge's front end, a fixed version) does not meet."""

    reference = "front-end-pip-mismatch"


class NoMatchingDistribution(ForgeError, LookupError):
    """A requirement matches no version that can be used for the target (pip's ``DistributionNotFound``)."""

    reference = "no-matching-distribution"
    exit_code = ExitCode.NO_MATCHES

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        requirement: str = "",
        versions: Sequence[str] = (),
        skipped: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.requirement = requirement
        self.versions = tuple(versions)
        """The versions that were available (after tag / Requires-Python filtering), oldest first."""
        self.skipped = tuple(skipped)
        """Why other files were not usable: ``"2.0: requires Python >=3.12"``."""

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "requirement": self.requirement,
            "versions": list(self.versions),
            "skipped": list(self.skipped),
        }


class UploadTimeMissing(ForgeError):
    """``--uploaded-prior-to`` and an index file without a PEP 700 ``upload-time``: pip fails at
    once ("Index ... does not provide upload-time metadata.") rather than guess."""

    reference = "upload-time-missing"


class InvalidConstraint(UsageError):
    """A constraint that pip also refuses: one with extras or a URL."""

    reference = "invalid-constraint"

"""Errors of the build stage: one ``BuildError`` root, exit code ``BUILD``.

A ``BuildError`` names the project (``foo-1.0``) and, when a backend hook failed, the hook; it
carries the last lines the backend printed (``output_tail``), repeated in ``hint`` so the CLI shows
them without knowing about builds.
"""

from __future__ import annotations

from collections.abc import Sequence

from forge_store.errors import ExitCode, ForgeError


class BuildError(ForgeError):
    """A PEP 517 / PEP 660 build could not produce a wheel (or its metadata)."""

    reference = "build-failed"
    exit_code = ExitCode.BUILD

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        project: str | None = None,
        hook: str | None = None,
        output_tail: Sequence[str] = (),
    ) -> None:
        self.project = project
        """``name-version`` (or the best label we had) of what was being built."""
        self.hook = hook
        """The PEP 517 hook that failed (``build_wheel`` ...), if a hook failed."""
        self.output_tail: tuple[str, ...] = tuple(output_tail)
        """The last lines of backend output (stdout and stderr, interleaved)."""
        if self.output_tail:
            tail = "Last lines of the build output:\n" + "\n".join(f"  {line}" for line in self.output_tail)
            hint = f"{hint}\n{tail}" if hint else tail
        super().__init__(message, hint=hint)


class BuildBackendUnavailable(BuildError):
    """The backend named in ``build-system.build-backend`` could not be imported."""

    reference = "build-backend-unavailable"


class EditableUnsupported(BuildError):
    """The backend has no PEP 660 ``build_editable`` hook."""

    reference = "editable-unsupported"


class BuildDependenciesMissing(BuildError):
    """``--check-build-dependencies`` without isolation: the target env lacks (or conflicts with)
    a ``build-system.requires`` entry (pip's "Some build dependencies for X are missing")."""

    reference = "build-dependencies-missing"


class InvalidBuildSource(BuildError, ValueError):
    """The source is not buildable as given: bad archive, bad ``pyproject.toml``, escaping backend-path."""

    reference = "invalid-build-source"


class UnsafeSdist(InvalidBuildSource):
    """An sdist member would land outside the unpack directory (traversal, escaping link, device)."""

    reference = "unsafe-sdist"

"""The builder's seams and its result: the build environment, its factory, the reporter, ``BuiltWheel``.

Forge wires a Forge env behind :class:`BuildEnvFactory` (its build requirements come from the
store, so a second build installs nothing); tests use a recording fake that runs the host
interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from forge_store.records import record

if TYPE_CHECKING:
    from types import TracebackType


@record(frozen=True, slots=True)
class BuildEnv:
    """An interpreter environment that has a build's requirements installed.

    Use it as a context manager (``with factory.create(...) as env:``); ``close`` lets the factory
    clean it up or keep it for the next build.
    """

    python: Path
    """The interpreter the backend hooks run with."""
    install: Callable[[Sequence[str]], None]
    """Adds requirements (those ``get_requires_for_build_*`` asks for) to this environment."""
    close: Callable[[], None] = lambda: None
    """Releases the environment; called once, when the build is over (success or not)."""

    def __enter__(self) -> BuildEnv:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class BuildEnvFactory(Protocol):
    """Makes an isolated interpreter environment that has the given requirements installed.

    Example: ``factory.create(["setuptools>=61"], purpose="build-system.requires of foo-1.0")``.
    """

    def create(self, requirements: Sequence[str], *, purpose: str) -> BuildEnv: ...


class BuildReporter(Protocol):
    """Progress of builds. Subclass it explicitly to inherit the no-op defaults."""

    def on_build_start(self, source: Path, backend: str) -> None:
        """A backend is about to run for ``source`` (not called on a cache hit)."""
        return None

    def on_build_output(self, line: str) -> None:
        """One line the backend printed (stdout and stderr merged, without the newline)."""
        return None

    def on_build_done(self, wheel: Path) -> None:
        """A wheel was built and is now at ``wheel`` (in the cache for sdists)."""
        return None


class NullBuildReporter(BuildReporter):
    """Ignores everything."""


@record(frozen=True, slots=True)
class BuiltWheel:
    """A wheel the builder produced or found in its cache."""

    path: Path
    """The wheel file; for sdists it lives in the cache and must not be modified."""
    source_hash: str
    """Hex sha256 of the sdist's bytes; empty for a project directory (directories are not hashed)."""
    cached: bool
    """True when no backend ran: the wheel came from the built-wheel cache."""

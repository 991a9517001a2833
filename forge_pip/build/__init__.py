"""PEP 517 / PEP 660 builds: sdists and project directories to (editable) wheels, with a cache.

Importing this package is cheap: ``pyproject_hooks`` and ``packaging`` load when a build runs.
"""

from __future__ import annotations

from forge_pip.build.builder import Builder
from forge_pip.build.errors import (
    BuildBackendUnavailable,
    BuildError,
    EditableUnsupported,
    InvalidBuildSource,
    UnsafeSdist,
)
from forge_pip.build.project import BuildSystem, read_build_system
from forge_pip.build.seams import (
    BuildEnv,
    BuildEnvFactory,
    BuildReporter,
    BuiltWheel,
    NullBuildReporter,
)

__all__ = [
    "BuildBackendUnavailable",
    "BuildEnv",
    "BuildEnvFactory",
    "BuildError",
    "BuildReporter",
    "BuildSystem",
    "Builder",
    "BuiltWheel",
    "EditableUnsupported",
    "InvalidBuildSource",
    "NullBuildReporter",
    "UnsafeSdist",
    "read_build_system",
]

"""One build's hook session: environment, hook caller, output capture, and the checks on what came out.

:class:`HookSession` creates the build environment (or uses the host interpreter without
isolation), runs ``pyproject_hooks`` with a :class:`CapturingRunner` and turns every way a hook can
fail into one :class:`BuildError` naming the project, the hook and the backend's last lines.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge_pip.build.errors import BuildBackendUnavailable, BuildError, EditableUnsupported
from forge_pip.build.runner import CapturingRunner, HookProcessFailed
from forge_store.records import record

if TYPE_CHECKING:
    from types import TracebackType

    from forge_pip.build.project import BuildSystem
    from forge_pip.build.seams import BuildEnv, BuildEnvFactory, BuildReporter

_log = logging.getLogger(__name__)

TAIL_LINES = 20
"""How many lines of backend output a :class:`BuildError` carries."""


@record(frozen=True, slots=True)
class SourceProject:
    """A source tree ready to build: where it is, what it declares, what the wheel must be called."""

    source: Path
    tree: Path
    label: str
    system: BuildSystem
    expected_name: str | None
    expected_version: str | None


class HookSession:
    """One build's environment and hook caller; maps hook failures to :class:`BuildError`.

    ``factory=None`` runs the hooks in ``python`` without creating an environment (no isolation).
    """

    def __init__(
        self,
        project: SourceProject,
        *,
        factory: BuildEnvFactory | None,
        python: Path,
        reporter: BuildReporter,
    ) -> None:
        self._project = project
        self._factory = factory
        self._python = python
        self._reporter = reporter
        self._env: BuildEnv | None = None
        self._runner = CapturingRunner(reporter.on_build_output, tail_size=TAIL_LINES)

    @property
    def tail(self) -> tuple[str, ...]:
        """The last lines the backend printed during this session."""
        return tuple(self._runner.tail)

    def __enter__(self) -> HookSession:
        from pyproject_hooks import BuildBackendHookCaller

        project = self._project
        self._reporter.on_build_start(project.source, project.system.backend)
        python = self._python
        if self._factory is not None:
            purpose = f"build-system.requires of {project.label}"
            self._env = self._factory.create(list(project.system.requires), purpose=purpose)
            python = self._env.python
        try:
            self._hooks = BuildBackendHookCaller(
                str(project.tree),
                project.system.backend,
                backend_path=list(project.system.backend_path) or None,
                runner=self._runner,
                python_executable=str(python),
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._env is not None:
            self._env.close()

    def install_extra_requires(self, *, editable: bool, settings: dict[str, Any]) -> None:
        hook = "get_requires_for_build_editable" if editable else "get_requires_for_build_wheel"
        extra = self.call(hook, settings or None)
        if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
            raise self._error(f"its {hook} hook returned {extra!r}, not a list of requirements", hook)
        if not extra:
            return
        if self._env is None:
            _log.info("not installing %s for %s (no build isolation)", ", ".join(extra), self._project.label)
        else:
            self._env.install(extra)

    def prepare_metadata(self, meta_dir: Path, settings: dict[str, Any] | None = None) -> bytes | None:
        """``METADATA`` from ``prepare_metadata_for_build_wheel``, or ``None`` if the backend lacks it."""
        hook = "prepare_metadata_for_build_wheel"
        meta_dir.mkdir(parents=True, exist_ok=True)
        dist_info = self.call(
            hook, str(meta_dir), settings or None, _allow_fallback=False, allow_missing=True
        )
        if dist_info is None:
            return None
        path = meta_dir / str(dist_info) / "METADATA"
        if not path.is_file():
            raise self._error(f"its {hook} hook did not write {dist_info}/METADATA", hook)
        metadata = path.read_bytes()
        check_metadata(metadata, self._project, hook)
        return metadata

    def call(self, hook: str, *args: Any, allow_missing: bool = False, **kwargs: Any) -> Any:
        """Run one hook; ``allow_missing`` turns a hook the backend lacks into ``None``."""
        import pyproject_hooks

        try:
            return getattr(self._hooks, hook)(*args, **kwargs)
        except HookProcessFailed as exc:
            backend = self._project.system.backend
            raise self._error(f"the {hook} hook of its backend {backend!r} {exc.reason}", hook)
        except pyproject_hooks.BackendUnavailable as exc:
            backend, requires = self._project.system.backend, ", ".join(self._project.system.requires)
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise BuildBackendUnavailable(
                f"cannot build {self._project.label}: its build backend {backend!r} could not be imported",
                hint=f"Is the module provided by build-system.requires ({requires or 'empty'})?",
                project=self._project.label,
                hook=hook,
                output_tail=lines[-TAIL_LINES:] or self.tail,
            )
        except pyproject_hooks.HookMissing as exc:
            if allow_missing:
                return None
            backend = self._project.system.backend
            if exc.hook_name == "build_editable":
                raise EditableUnsupported(
                    f"cannot install {self._project.label} in editable mode: its build backend {backend!r} "
                    "has no build_editable hook (PEP 660)",
                    hint="Upgrade the backend in build-system.requires, or install without -e.",
                    project=self._project.label,
                    hook=exc.hook_name,
                )
            raise self._error(f"its build backend {backend!r} has no {exc.hook_name} hook", exc.hook_name)

    def _error(self, what: str, hook: str) -> BuildError:
        return BuildError(
            f"building {self._project.label} failed: {what}",
            project=self._project.label,
            hook=hook,
            output_tail=self.tail,
        )


def check_wheel(out: Path, basename: object, project: SourceProject, hook: str) -> Path:
    """The file the backend says it built must exist, be a wheel, and be the project's wheel."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

    def fail(problem: str) -> BuildError:
        return BuildError(f"building {project.label} failed: {problem}", project=project.label, hook=hook)

    if not isinstance(basename, str) or not (out / basename).is_file():
        raise fail(f"the {hook} hook returned {basename!r}, which is not a file it wrote")
    wheel = out / basename
    try:
        name, version, _, _ = parse_wheel_filename(basename)
    except InvalidWheelFilename:
        raise fail(f"the backend produced {basename!r}, which is not a wheel file name")
    if project.expected_name and name != canonicalize_name(project.expected_name):
        raise fail(f"the backend built {basename}, a wheel of another project")
    if project.expected_version and str(version) != project.expected_version:
        raise fail(f"the backend built {basename}, whose version is not {project.expected_version}")
    if not zipfile.is_zipfile(wheel):
        raise fail(f"the backend produced {basename}, which is not a zip archive")
    with zipfile.ZipFile(wheel) as zf:
        entries = zf.namelist()
    if not any(entry.count("/") == 1 and entry.endswith(".dist-info/METADATA") for entry in entries):
        raise fail(f"the backend produced {basename}, which has no .dist-info/METADATA")
    return wheel


def check_metadata(metadata: bytes, project: SourceProject, hook: str) -> None:
    """The metadata a hook wrote must be the project's (when we know its name)."""
    import email.parser

    from packaging.utils import canonicalize_name

    name = email.parser.BytesHeaderParser().parsebytes(metadata).get("Name")
    if project.expected_name and (
        not name or canonicalize_name(str(name)) != canonicalize_name(project.expected_name)
    ):
        raise BuildError(
            f"building {project.label} failed: the {hook} hook wrote metadata for {name!r}",
            project=project.label,
            hook=hook,
        )


def wheel_metadata(wheel: Path, label: str) -> bytes:
    """The ``*.dist-info/METADATA`` of a wheel we built (or cached) ourselves."""
    with zipfile.ZipFile(wheel) as zf:
        for entry in zf.namelist():
            if entry.count("/") == 1 and entry.endswith(".dist-info/METADATA"):
                return zf.read(entry)
    raise BuildError(f"the wheel built for {label} has no METADATA", project=label)

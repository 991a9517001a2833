"""Build wheels (PEP 517) and editable wheels (PEP 660) from sdists and project directories.

The :class:`Builder` knows the flow; everything around it is a seam. A :class:`BuildEnvFactory`
makes the isolated interpreter environment holding ``build-system.requires`` (Forge wires a
Forge env there, so a second build installs nothing), a :class:`BuildReporter` receives the
backend's output, and the built-wheel cache (``cache.py``) makes a second build of the same
sdist a lookup::

    builder = Builder(cache_dir=cache, env_factory=factory)
    built = builder.build_wheel(Path("foo-1.0.tar.gz"))      # BuiltWheel(path=..., cached=False)
    builder.build_wheel(Path("foo-1.0.tar.gz")).cached       # True: no backend ran
    builder.build_wheel(Path("src/bar"), editable=True)      # PEP 660, never cached
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forge_pip.build.cache import BuiltWheelCache, cache_key, file_sha256
from forge_pip.build.project import read_build_system
from forge_pip.build.sdist import sdist_label, sdist_name_version, unpack_sdist
from forge_pip.build.seams import BuildEnvFactory, BuildReporter, BuiltWheel, NullBuildReporter
from forge_pip.build.session import HookSession, SourceProject, check_wheel, wheel_metadata
from forge_store.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from forge_pip.models import TargetPython

_log = logging.getLogger(__name__)

ConfigSettings = Mapping[str, "str | list[str]"]


class Builder:
    """Turns sdists and project directories into wheels, through ``pyproject_hooks``.

    With ``isolation=False`` the hooks run in ``host_python`` (default: this interpreter; Forge
    passes the target env's interpreter, so its layered site-packages are the build's) and no
    environment is created (pip's ``--no-build-isolation``); ``check_requires`` then vets the
    ``build-system.requires`` against that env (``--check-build-dependencies``). ``target`` lets a
    cached wheel of an sdist with native code be reused when its tags fit; without it only pure
    wheels are reused.
    """

    def __init__(
        self,
        *,
        cache_dir: Path,
        env_factory: BuildEnvFactory | None,
        reporter: BuildReporter | None = None,
        isolation: bool = True,
        host_python: Path | None = None,
        target: TargetPython | None = None,
        check_requires: Callable[[str, Sequence[str]], None] | None = None,
    ) -> None:
        if isolation and env_factory is None:
            raise ValueError("an isolated Builder needs an env_factory")
        self._cache = BuiltWheelCache(cache_dir / "built")
        self._factory = env_factory
        self._reporter: BuildReporter = reporter or NullBuildReporter()
        self._isolation = isolation
        self._host_python = host_python or Path(sys.executable)
        self._tags = target.tags if target is not None else None
        self._check_requires = check_requires
        """Without isolation: called with (project label, ``build-system.requires``) before the
        hooks run; raises when the host env does not meet them (``--check-build-dependencies``)."""

    # -- public API ---------------------------------------------------------------------------

    def build_wheel(
        self,
        source: Path,
        *,
        editable: bool = False,
        config_settings: ConfigSettings | None = None,
        cache_as: str | None = None,
    ) -> BuiltWheel:
        """Build (or find in the cache) the wheel of an sdist or a project directory.

        ``editable=True`` builds a PEP 660 editable wheel and needs a directory. Sdists are cached
        by their bytes and ``config_settings``; directories are always rebuilt, unless the caller
        vouches for their content with ``cache_as`` (a VCS checkout of one commit): then the wheel
        is cached under that key (see :meth:`cached`).
        """
        settings = _copy_settings(config_settings)
        source = Path(source)
        if source.is_dir():
            if cache_as is not None and not editable:
                hit = self.cached(cache_as, settings)
                if hit is not None:
                    return BuiltWheel(hit, "", cached=True)
            project = self._project(source.resolve(), source.resolve())
            key = cache_key(_path_hash(project.tree), settings, "editable" if editable else "wheel")
            work = self._cache.work_dir()
            try:
                wheel = self._build(project, editable=editable, settings=settings, out=work)
                if cache_as is not None and not editable:
                    final = self._cache.publish(_vouched_key(cache_as, settings), wheel)
                else:
                    final = self._cache.publish_local(key, wheel)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            self._reporter.on_build_done(final)
            return BuiltWheel(final, "", cached=False)
        if not source.is_file():
            raise NotFoundError(f"{source} does not exist", hint="Give an sdist file or a project directory.")
        if editable:
            raise UsageError(
                f"{source.name} is an sdist; editable installs need a project directory",
                hint="Unpack it and install the directory with -e.",
            )
        source_hash = file_sha256(source)
        key = cache_key(source_hash, settings)
        hit = self._cache.lookup(key, self._tags)
        if hit is not None:
            _log.debug("built-wheel cache hit for %s: %s", source.name, hit)
            return BuiltWheel(hit, source_hash, cached=True)
        work = self._cache.work_dir()
        try:
            project = self._project(source, unpack_sdist(source, work / "src"))
            wheel = self._build(project, editable=False, settings=settings, out=work / "out")
            final = self._cache.publish(key, wheel)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._reporter.on_build_done(final)
        return BuiltWheel(final, source_hash, cached=False)

    def cached_wheel(self, sdist_sha256: str, config_settings: ConfigSettings | None = None) -> Path | None:
        """The cached wheel built (with these config settings) from the sdist with these bytes, if any.

        The cache is keyed by the sdist's sha256 (and the settings), so the index's digest of an
        sdist finds the wheel built from that very file without downloading it.
        """
        digest = sdist_sha256.lower()
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            return None  # not a sha256: never a path under the cache
        return self._cache.lookup(cache_key(digest, _copy_settings(config_settings)), self._tags)

    def cached(self, key: str, config_settings: ConfigSettings | None = None) -> Path | None:
        """The wheel built earlier with ``cache_as=key`` (and these settings) for the target, if any."""
        return self._cache.lookup(_vouched_key(key, _copy_settings(config_settings)), self._tags)

    def prepare_metadata(self, source: Path, config_settings: ConfigSettings | None = None) -> bytes:
        """The core metadata (``METADATA`` bytes) of an sdist or project directory, for the resolver.

        Uses ``prepare_metadata_for_build_wheel`` (given ``config_settings``, as pip does); a
        backend without it gets its wheel built (and, for an sdist, cached under the sdist's bytes
        and the settings, so the later install is a cache hit). A cached wheel answers at once.
        """
        settings = _copy_settings(config_settings)
        source = Path(source)
        if not source.exists():
            raise NotFoundError(f"{source} does not exist", hint="Give an sdist file or a project directory.")
        key = None
        if source.is_file():
            key = cache_key(file_sha256(source), settings)
            hit = self._cache.lookup(key, self._tags)
            if hit is not None:
                return wheel_metadata(hit, sdist_label(source))
        work = self._cache.work_dir()
        try:
            if key is None:
                project = self._project(source.resolve(), source.resolve())
            else:
                project = self._project(source, unpack_sdist(source, work / "src"))
            metadata = self._metadata(project, key, work, settings)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return metadata

    # -- the flow -------------------------------------------------------------------------------

    def _project(self, source: Path, tree: Path) -> SourceProject:
        parsed = sdist_name_version(source) if source.is_file() else None
        label = sdist_label(source) if source.is_file() else tree.name
        system = read_build_system(tree, label=label)
        if not source.is_file() and system.label:
            label = system.label
        name = parsed[0] if parsed else system.project_name
        return SourceProject(source, tree, label, system, name, parsed[1] if parsed else None)

    def _build(self, project: SourceProject, *, editable: bool, settings: dict[str, Any], out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        with self._session(project) as session:
            session.install_extra_requires(editable=editable, settings=settings)
            hook = "build_editable" if editable else "build_wheel"
            basename = session.call(hook, str(out), settings or None)
        return check_wheel(out, basename, project, hook)

    def _session(self, project: SourceProject) -> HookSession:
        if self._isolation:
            return HookSession(
                project, factory=self._factory, python=self._host_python, reporter=self._reporter
            )
        if self._check_requires is not None:
            self._check_requires(project.label, project.system.requires)
        return HookSession(project, factory=None, python=self._host_python, reporter=self._reporter)

    def _metadata(
        self, project: SourceProject, key: str | None, work: Path, settings: dict[str, Any]
    ) -> bytes:
        with self._session(project) as session:
            session.install_extra_requires(editable=False, settings=settings)
            metadata = session.prepare_metadata(work / "metadata", settings)
            if metadata is not None:
                return metadata
            # No such hook: build the wheel, keep it for the install, read its METADATA.
            out = _mkdir(work / "out")
            basename = session.call("build_wheel", str(out), settings or None)
            wheel = check_wheel(out, basename, project, "build_wheel")
        if key is not None:
            wheel = self._cache.publish(key, wheel)
        else:
            local_key = cache_key(_path_hash(project.tree), settings, "wheel")
            wheel = self._cache.publish_local(local_key, wheel)
        self._reporter.on_build_done(wheel)
        return wheel_metadata(wheel, project.label)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _vouched_key(key: str, settings: dict[str, Any]) -> str:
    """The cache key of a ``cache_as`` build: never a bare sha256, so no sdist digest (which an
    index states) can name it in :meth:`Builder.cached_wheel`."""
    return "src-" + cache_key(hashlib.sha256(key.encode()).hexdigest(), settings)


def _path_hash(tree: Path) -> str:
    return hashlib.sha256(str(tree).encode()).hexdigest()


def _copy_settings(config_settings: ConfigSettings | None) -> dict[str, Any]:
    """A plain copy of the settings (sent as JSON to the backend), checking the value types."""
    settings: dict[str, Any] = {}
    for key, value in (config_settings or {}).items():
        if isinstance(value, str):
            settings[key] = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            settings[key] = list(value)
        else:
            raise UsageError(f"config setting {key!r} must be a string or a list of strings, not {value!r}")
    return settings

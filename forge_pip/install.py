"""The library entry points of Forge's pip front end: ``install``, ``uninstall``, ``fetch``.

Usage::

    from forge_pip.install import InstallOptions, IndexOptions, install, requests_from_strings
    with Store() as store:
        env = store.env("ml")
        opts = InstallOptions(requirements=requests_from_strings(["requests>=2"]),
                              index=IndexOptions(index_urls=("https://pypi.org/simple",)))
        result = install(store, env, opts)
        result.plan.render(); result.report.actions

The flow is resolve (the layers satisfy what they have; the indexes decide the rest; the store
supplies a file only when it holds that very file) -> :class:`~forge_pip.plan.Plan` -> prepare
(download, build, ingest) -> ONE ``Store.change``. Any failure leaves the env as it was and
removes the new store entries nothing uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from forge_pip.models import DistFile
from forge_pip.plan import Plan, PlanItem, make_plan, removal_plan
from forge_pip.reqfile import ReqKind, ReqLine, parse_requirement_line
from forge_pip.sources import (
    DirectSource,
    EmptyLayers,
    EmptyStore,
    EnvLayers,
    IndexFiles,
    StoreDists,
    local_dists,
    target_python,
)
from forge_store.errors import ExitCode, ForgeError, IntegrityError, NotFoundError, UsageError
from forge_store.models import Layer
from forge_store.records import record

if TYPE_CHECKING:
    import datetime

    from forge_pip.build import Builder
    from forge_pip.index import IndexClient, IndexReporter
    from forge_pip.models import TargetPython
    from forge_pip.pylock import LockedPackage
    from forge_pip.resolve import (
        DirectRequirement,
        InstalledDist,
        LayerView,
        Resolution,
        ResolveReporter,
        StoreView,
    )
    from forge_pip.sources import LocalDist
    from forge_store.linker import DistSpec
    from forge_store.models import EnvInfo, InstallAction, InstallReport, Interpreter, StoredWheel
    from forge_store.settings import AbiPolicy, ConflictMode
    from forge_store.store import Store

log = logging.getLogger(__name__)

DEFAULT_INDEX = "https://pypi.org/simple"
MAX_BUILD_DEPTH = 3

__all__ = [
    "DEFAULT_INDEX",
    "HashesRequired",
    "IndexOptions",
    "InstallOptions",
    "InstallReporter",
    "InstallResult",
    "NotAVenv",
    "NullInstallReporter",
    "UninstallResult",
    "fetch",
    "find_target",
    "front_end_dists",
    "install",
    "lock",
    "requests_from_strings",
    "uninstall",
]


class NotAVenv(ForgeError):
    """The target interpreter is not a virtual environment (Forge links only into venvs)."""

    reference = "not-a-venv"
    exit_code = ExitCode.USAGE


class HashesRequired(IntegrityError):
    """Hash-checking mode is on, but some requirement has no ``--hash`` (pip's rule)."""

    reference = "hashes-required"


class UnsupportedRequirement(UsageError):
    reference = "unsupported-requirement"


@record(frozen=True, slots=True)
class IndexOptions:
    """Where distributions come from (pip's ``-i``, ``--extra-index-url``, ``-f``, ``--no-index``...)."""

    index_urls: tuple[str, ...] = (DEFAULT_INDEX,)
    """The index URL then the extra ones; empty for ``--no-index``."""
    find_links: tuple[str, ...] = ()
    offline: bool = False
    """Store and caches only: no network request (``file://`` locations are still read); store
    entries are candidates ranked before index files, as with ``prefer_offline``."""
    prefer_offline: bool = False
    """Store and caches first (pnpm's ``--prefer-offline``): every store entry is a candidate,
    ranked before index files; the indexes are still asked for what the store cannot give."""
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    timeout: float = 15.0
    retries: int = 3
    use_cache: bool = True
    """False for ``--no-cache-dir``: no HTTP/download cache (builds use a scratch cache)."""
    uploaded_prior_to: datetime.datetime | None = None
    """pip's ``--uploaded-prior-to`` (aware): index files uploaded at or after it, or without a
    PEP 700 ``upload-time``, are skipped; local files (``file://``) are exempt. Build envs inherit it."""
    cache_dir: Path | None = None
    """pip's ``--cache-dir`` / ``cache-dir`` / ``PIP_CACHE_DIR``: where the HTTP, download,
    built-wheel and VCS caches live; None: ``$FORGE_HOME/cache``."""
    proxy_env: bool = True
    """False for pip's ``--no-proxy-env``: the ``*_proxy`` environment variables are not read."""
    refresh: frozenset[str] = frozenset()
    """pip's ``--refresh-package``: canonical project names (or ``:all:``) whose index pages are
    fetched whole, not revalidated against the cached copy."""

    def client(self, cache: Path, reporter: IndexReporter | None = None) -> IndexClient | None:
        """The index client over these sources (None when there are none), caching under ``cache``
        unless ``--no-cache-dir``; the caller closes it."""
        if not (self.index_urls or self.find_links):
            return None
        from forge_pip.index import IndexClient

        return IndexClient(
            index_urls=self.index_urls,
            find_links=self.find_links,
            cache_dir=cache if self.use_cache else None,
            offline=self.offline,
            trusted_hosts=self.trusted_hosts,
            cert=self.cert,
            client_cert=self.client_cert,
            timeout=self.timeout,
            retries=self.retries,
            reporter=reporter,
            proxy_env=self.proxy_env,
            refresh=self.refresh,
        )


@record(frozen=True, slots=True)
class InstallOptions:
    """One install request with pip's options (the CLI merges pip's configuration into it)."""

    requirements: tuple[ReqLine, ...]
    index: IndexOptions = IndexOptions()
    constraints: tuple[ReqLine, ...] = ()
    upgrade: bool = False
    upgrade_strategy: str = "only-if-needed"
    force_reinstall: bool = False
    no_deps: bool = False
    pre: bool = False
    prefer_binary: bool = False
    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()
    require_hashes: bool = False
    local: bool = False
    """``--local``: link into the env even what a parent layer provides."""
    dry_run: bool = False
    build_isolation: bool = True
    cwd: Path | None = None
    """Where relative paths of requirements start (default: the process's)."""
    build_depth: int = 0
    """How deep in build-requirement installs this is (guards against endless recursion)."""
    build_constraints: tuple[ReqLine, ...] = ()
    """``--build-constraint``: constraints for build environments only (pip 26.2: ``-c`` never
    reaches a build env)."""
    check_build_deps: bool = False
    """``--check-build-dependencies``: without isolation, refuse to build when the target env
    does not meet ``build-system.requires``."""
    only_deps: bool = False
    """``--only-deps``: install what the requirements depend on, not the requirements themselves."""
    all_releases: frozenset[str] = frozenset()
    """``--all-releases``: canonical names (or ``:all:``) whose pre-releases are allowed."""
    only_final: frozenset[str] = frozenset()
    """``--only-final``: canonical names (or ``:all:``) restricted to final releases."""
    no_require_hashes: bool = False
    """``--no-require-hashes``: a ``--hash`` does not switch on hash-checking for every requirement."""
    lock_files: tuple[str, ...] = ()
    """``-r pylock.toml`` (PEP 751): the packages each selects for the target are installed as
    locked, with no resolution (see :mod:`forge_pip.pylock`)."""
    conflict_mode: ConflictMode | None = None
    """``--mode``: what a change that breaks or shadows another layer's dist does (None: the
    env's ``conflict_mode`` setting); see :mod:`forge_store.policy`."""
    abi_policy: AbiPolicy | None = None
    """``--abi-policy`` (None: the env's ``abi_policy`` setting)."""


class InstallReporter(Protocol):
    """Everything an install tells the outside world (resolve and prepare hooks, plus the plan)."""

    def on_resolved(self, resolution: Resolution) -> None: ...

    def on_plan(self, plan: Plan) -> None: ...

    def on_pin(self, name: NormalizedName, version: object, origin: object) -> None: ...

    def on_backtrack(self, causes: Sequence[str]) -> None: ...

    def on_metadata_fetch(self, file: DistFile) -> None: ...

    def on_warning(self, message: str) -> None: ...

    def on_fetched(self, item: object, path: Path) -> None: ...

    def on_built(self, item: object, wheel: Path, cached: bool) -> None: ...

    def on_ingested(self, item: object, entry: StoredWheel) -> None: ...


class NullInstallReporter:
    """Ignores everything."""

    def on_resolved(self, resolution: Resolution) -> None:
        pass

    def on_plan(self, plan: Plan) -> None:
        pass

    def on_pin(self, name: NormalizedName, version: object, origin: object) -> None:
        pass

    def on_backtrack(self, causes: Sequence[str]) -> None:
        pass

    def on_metadata_fetch(self, file: DistFile) -> None:
        pass

    def on_warning(self, message: str) -> None:
        log.warning("%s", message)

    def on_fetched(self, item: object, path: Path) -> None:
        pass

    def on_built(self, item: object, wheel: Path, cached: bool) -> None:
        pass

    def on_ingested(self, item: object, entry: StoredWheel) -> None:
        pass


@record(frozen=True, slots=True)
class InstallResult:
    plan: Plan
    resolution: Resolution
    report: InstallReport | None
    """None for ``--dry-run`` or when nothing had to change."""
    target: TargetPython
    metadata: Mapping[str, Mapping[str, object]] = dataclasses.field(default_factory=dict)
    """Per installed name, what ``--report`` shows as its metadata (name, version, requires_dist...)."""


@record(frozen=True, slots=True)
class UninstallResult:
    plan: Plan
    report: InstallReport | None
    skipped: tuple[str, ...]
    """Names that were not installed (pip: "Skipping X as it is not installed")."""


def requests_from_strings(texts: Sequence[str], *, cwd: Path | None = None) -> tuple[ReqLine, ...]:
    """Command-line requirement arguments as :class:`ReqLine` s."""
    where = str(cwd) if cwd is not None else None
    return tuple(parse_requirement_line(t, t, cwd=where, with_options=False) for t in texts)


# -- target ------------------------------------------------------------------------------------


def _venv_prefix(path: Path) -> Path | None:
    """The venv prefix of an interpreter path or a prefix; None if it is not a venv."""
    candidates = [path] if path.is_dir() else [path.parent.parent]
    for prefix in candidates:
        if (prefix / "pyvenv.cfg").is_file():
            return prefix.absolute()
    return None


def find_target(
    store: Store,
    *,
    python: str | None = None,
    env_name: str | None = None,
    default_prefix: Path | None = None,
    break_system_packages: bool = False,
) -> EnvInfo:
    """The env to act on: ``--env NAME``, ``--python PATH`` (a venv's interpreter or its prefix),
    else ``default_prefix`` (the venv running Forge). A plain venv is adopted; a non-venv refused."""
    if env_name is not None:
        env = store.env(env_name)
        store.require_env_dir(env)  # deleted by hand: say so before resolving anything
        return env
    if python is None and default_prefix is None:
        raise UsageError("no target environment", hint="pass --env NAME or --python PATH")
    raw = Path(python) if python is not None else default_prefix
    assert raw is not None
    if not raw.exists():
        raise NotFoundError(
            f"{raw} does not exist", hint="--python takes an interpreter path or a venv prefix"
        )
    prefix = _venv_prefix(raw)
    if prefix is None:
        known = store.env_at(raw.absolute())
        if known is not None:
            return known
        if not break_system_packages:  # as pip refuses an externally managed interpreter (PEP 668)
            raise NotAVenv(
                f"{raw} is not a virtual environment: Forge will not change a system interpreter",
                hint="use a venv (`forge create NAME`), or pass --break-system-packages to link into it",
            )
        from forge_store import interpreters

        python_exe = raw if raw.is_file() else raw / "bin" / "python3"
        scheme = interpreters.install_scheme(python_exe)
        return store.adopt(Path(str(scheme["prefix"])), system_python=python_exe)
    return store.adopt(prefix)  # a known env as it is; a re-made adopted venv afresh


# -- the pipeline ------------------------------------------------------------------------------


class _Pipeline:
    """An index client, a builder and the views, for one operation; clean up with ``close``."""

    def __init__(
        self,
        store: Store,
        interpreter: Interpreter,
        index: IndexOptions,
        *,
        build_isolation: bool,
        build_depth: int,
        reporter: InstallReporter,
        download_dir: Path | None = None,
        options: InstallOptions | None = None,
        host_python: Path | None = None,
        check_requires: Callable[[str, Sequence[str]], None] | None = None,
        target: TargetPython | None = None,
    ) -> None:
        from forge_pip.lazybuilder import lazy_builder

        self.store = store
        self.interpreter = interpreter
        self.target = target or target_python(interpreter)
        self._stack = contextlib.ExitStack()
        store.catalog.check_writable()  # a read-only FORGE_HOME says so before the first write
        store.home.ensure()
        # named with our pid: the store lock's sweep removes it once this process is gone
        scratch = Path(tempfile.mkdtemp(prefix=f"pip-{os.getpid()}-", dir=store.home.tmp))
        self._stack.callback(shutil.rmtree, scratch, True)
        cache = (index.cache_dir or store.home.cache) if index.use_cache else scratch / "cache"
        self.cache_dir = cache
        self.index = index
        self.scratch = scratch
        self.src_dir: Path | None = None
        """Where editable VCS requirements are cloned (pip's ``<venv>/src``); None: refused."""
        self.client = index.client(cache, _IndexWarnings(reporter))
        if self.client is not None:
            self._stack.callback(self.client.close)
        opts = options or InstallOptions(requirements=())
        if opts.build_constraints and not build_isolation:  # pip's rule
            raise UsageError("--build-constraint cannot be used with --no-build-isolation.")

        def make_builder() -> Builder:
            from forge_pip.build import Builder
            from forge_pip.buildenv import ForgeBuildEnvFactory

            factory = ForgeBuildEnvFactory(
                store.home.root,
                interpreter,
                index,
                depth=build_depth + 1,
                constraints=opts.build_constraints,
                all_releases=opts.all_releases,
                only_final=opts.only_final,
            )
            return Builder(
                cache_dir=cache,
                env_factory=factory,
                isolation=build_isolation,
                host_python=host_python or interpreter.executable,
                target=self.target,
                check_requires=check_requires if opts.check_build_deps else None,
            )

        self.builder: Builder = lazy_builder(make_builder)  # made when something is built
        self.download_dir = download_dir or scratch / "downloads"
        self.files = IndexFiles(self.client, download_dir=self.download_dir, builder=self.builder)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _IndexWarnings:
    """Forwards the index client's warnings to the install reporter."""

    def __init__(self, reporter: InstallReporter) -> None:
        self._reporter = reporter

    def on_fetch_page(self, url: str) -> None:
        log.debug("fetching %s", url)

    def _forward(self, hook: str, *args: object) -> None:
        """Download hooks are optional on an InstallReporter (the CLI draws progress from them)."""
        method = getattr(self._reporter, hook, None)
        if callable(method):
            method(*args)

    def on_download_start(self, file: DistFile, total: int | None) -> None:
        log.info("downloading %s", file.filename)
        self._forward("on_download_start", file, total)

    def on_download_progress(self, file: DistFile, done: int) -> None:
        self._forward("on_download_progress", file, done)

    def on_download_done(self, file: DistFile, path: Path) -> None:
        self._forward("on_download_done", file, path)

    def on_warning(self, message: str) -> None:
        if "not a valid" in message:  # pip skips malformed file names silently
            log.info("%s", message)
        else:
            self._reporter.on_warning(message)


@record
class _Requests:
    roots: list[Requirement | DirectRequirement] = dataclasses.field(default_factory=list)
    hashes: dict[str, dict[str, set[str]]] = dataclasses.field(default_factory=dict)
    editables: list[str] = dataclasses.field(default_factory=list)
    manifest: dict[str, str] = dataclasses.field(default_factory=dict)
    hash_mode_names: list[tuple[str, bool]] = dataclasses.field(default_factory=list)
    vcs: list[str] = dataclasses.field(default_factory=list)
    """VCS requirements as written (hash-checking mode cannot check them)."""


def _settings(line: ReqLine) -> dict[str, str | list[str]]:
    """A line's ``--config-settings`` in the form the builder passes to the backend."""
    return {k: v if isinstance(v, str) else list(v) for k, v in line.config_settings.items()}


def _dir_source(
    pipe: _Pipeline, path: Path, editable: bool, settings: Mapping[str, str | list[str]] | None = None
) -> DirectSource:
    from forge_pip.resolve import CoreMetadata

    if not path.is_dir():
        raise NotFoundError(f"{path} is not a directory")
    md = CoreMetadata.from_bytes(pipe.builder.prepare_metadata(path, settings))
    if md.name is None or md.version is None:
        raise UsageError(f"{path}: its build backend gave metadata without a name or version")
    stem = f"{md.name.replace('-', '_')}-{md.version}"
    file = DistFile(url=path.absolute().as_uri(), filename=f"{stem}.tar.gz", source=str(path))
    pipe.files.metadata_of[file] = md
    return DirectSource(path.absolute(), file, editable)


def _vcs_source(
    pipe: _Pipeline,
    url: str,
    name: str | None,
    where: str,
    settings: Mapping[str, str | list[str]] | None = None,
) -> DirectSource:
    """Clone (or find cached) and build a ``git+`` URL; its wheel must be the project asked for."""
    from forge_pip.resolve import CoreMetadata
    from forge_pip.sources import wheel_metadata
    from forge_pip.vcs import build_vcs, parse_vcs_url
    from forge_store.errors import MetadataInconsistent

    source = parse_vcs_url(url)
    built = build_vcs(
        source,
        builder=pipe.builder,
        cache_dir=pipe.cache_dir / "vcs",
        work_dir=pipe.scratch,
        config_settings=settings,
    )
    md = CoreMetadata.from_bytes(wheel_metadata(built.wheel))
    expected = name or source.egg
    if expected is not None and md.name is not None and canonicalize_name(expected) != md.name:
        raise MetadataInconsistent(
            f"Requested {expected} from {url} has inconsistent name: "
            f"expected {canonicalize_name(expected)!r}, but metadata has {md.name!r}",
            hint=f"{where}: fix the name (or the #egg= fragment) of this requirement",
        )
    file = DistFile(url=source.key_url, filename=built.wheel.name, source=source.key_url)
    pipe.files.metadata_of[file] = md
    return DirectSource(built.wheel, file, direct_url=built.direct_url())


def _editable_vcs_source(
    pipe: _Pipeline, url: str, where: str, settings: Mapping[str, str | list[str]] | None = None
) -> DirectSource:
    """pip's ``-e git+URL#egg=name``: a real clone at ``ENV/src/<name>``, installed editable."""
    from forge_pip.vcs import checkout_editable, parse_vcs_url
    from forge_store.errors import MetadataInconsistent

    source = parse_vcs_url(url)
    if pipe.src_dir is None:
        raise UnsupportedRequirement(f"{where}: editable VCS requirements install into an env only: {url}")
    if source.egg is None:
        raise UsageError(
            f"Could not detect requirement name for '{url}', please specify one with #egg=your_package_name",
            hint=where,
        )
    dest = pipe.src_dir / canonicalize_name(source.egg)
    fresh = not dest.exists()
    project, _commit = checkout_editable(source, dest)
    try:
        src = _dir_source(pipe, project, True, settings)
        if src.file.name != canonicalize_name(source.egg):
            raise MetadataInconsistent(
                f"Requested {source.egg} from {url} has inconsistent name: "
                f"expected {canonicalize_name(source.egg)!r}, but metadata has {src.file.name!r}",
                hint=f"{where}: fix the #egg= fragment of this requirement",
            )
    except BaseException:
        if fresh:  # a clone this run made for a requirement that turned out bad: leave nothing
            shutil.rmtree(dest, ignore_errors=True)
        raise
    return src


def front_end_dists(env: EnvInfo) -> dict[NormalizedName, InstalledDist]:
    """The env's fixed dists: its ``pip`` when that is Forge's front end (:mod:`forge_store.pip_frontend`)."""
    from packaging.version import Version

    from forge_pip.resolve import InstalledDist
    from forge_store.pip_frontend import front_end_version

    version = front_end_version(env.site_packages)
    if version is None:
        return {}
    pip = NormalizedName("pip")
    return {pip: InstalledDist(pip, Version(version), (), layer="local", requires_python=None)}


def _collect(
    pipe: _Pipeline,
    lines: Sequence[ReqLine],
    cwd: Path | None,
    *,
    fixed: Mapping[NormalizedName, InstalledDist] | None = None,
    reporter: InstallReporter | None = None,
) -> _Requests:
    from packaging.markers import Marker

    from forge_pip.index.urls import file_url_to_path
    from forge_pip.resolve import DirectRequirement
    from forge_pip.urlkinds import is_vcs_url, refuse_unusable_url
    from forge_store.errors import UnsupportedUrl

    out = _Requests()
    base = cwd or Path.cwd()
    markers = dict(pipe.target.markers)

    def file_from_url(url: str) -> DistFile | None:
        from forge_pip.resolve.provider import file_from_url  # resolvelib: only for a URL requirement

        return file_from_url(url)

    def _add_direct(file: DistFile, extras: frozenset[str], text: str, source: DirectSource | None) -> None:
        if source is not None:
            pipe.files.add_direct(source)
        try:
            name = canonicalize_name(file.name)
        except ValueError as exc:
            raise UsageError(f"{file.filename} is not a valid wheel or sdist file name: {exc}") from None
        if fixed and name in fixed:  # e.g. a pip wheel: the env's pip is Forge's front end
            if reporter is not None:
                reporter.on_warning(
                    f"{file.filename} is not installed: {name} in this env is Forge's front end"
                    f" ({name} {fixed[name].version}); for the real pip use `forge create NAME --seed pip`"
                )
            out.roots.append(Requirement(name))
            out.manifest.setdefault(name, name)
            return
        extras_n = frozenset(canonicalize_name(e) for e in extras)
        out.roots.append(DirectRequirement(name, file, extras_n))
        out.manifest.setdefault(name, text)
        if source is not None and source.editable:
            out.editables.append(name)

    settings: dict[str, str | list[str]] = {}

    def add_direct(file: DistFile, extras: frozenset[str], text: str, source: DirectSource | None) -> None:
        _add_direct(file, extras, text, source)
        if settings:
            pipe.files.config_settings[canonicalize_name(file.name)] = settings

    for line in lines:
        if line.requirement is None:
            continue
        settings = _settings(line)
        applies = line.kind is ReqKind.NAMED or not line.marker
        if not applies and not Marker(line.marker or "").evaluate({**markers, "extra": ""}):
            continue
        if line.kind is ReqKind.VCS and line.editable:
            assert line.target is not None
            out.vcs.append(line.requirement)
            src = _editable_vcs_source(pipe, line.target, line.source, settings)
            add_direct(src.file, line.extras, line.target, src)
            continue
        if line.kind is ReqKind.VCS:
            assert line.target is not None
            out.vcs.append(line.requirement)
            src = _vcs_source(pipe, line.target, None, line.source, settings)
            add_direct(src.file, line.extras, line.target, src)
            continue
        if line.kind is ReqKind.PATH:
            assert line.target is not None
            path = Path(line.target) if Path(line.target).is_absolute() else base / line.target
            if path.is_dir():
                src = _dir_source(pipe, path, line.editable, settings)
                add_direct(src.file, line.extras, str(path), src)
            else:
                if line.editable:
                    raise UsageError(f"{line.source}: editable installs need a project directory")
                if not path.is_file():
                    raise NotFoundError(f"{line.source}: {path} does not exist")
                add_direct(
                    DistFile(url=path.absolute().as_uri(), filename=path.name), line.extras, str(path), None
                )
            continue
        if line.kind is ReqKind.URL:
            assert line.target is not None
            refuse_unusable_url(line.target, line.source)
            if line.target.startswith("file:") and file_url_to_path(line.target).is_dir():
                src = _dir_source(pipe, file_url_to_path(line.target), line.editable, settings)
                add_direct(src.file, line.extras, line.target, src)
                continue
            file = file_from_url(line.target)
            if file is None:
                raise UnsupportedUrl(f"{line.source}: {line.target} names no wheel or sdist file")
            add_direct(file, line.extras, line.target, None)
            continue
        req = Requirement(line.requirement)
        name = canonicalize_name(req.name)
        if req.url:
            refuse_unusable_url(req.url, line.source)
            if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                continue
            if is_vcs_url(req.url):
                out.vcs.append(line.requirement)
                src = _vcs_source(pipe, req.url, req.name, line.source, settings)
                add_direct(src.file, frozenset(req.extras), line.requirement, src)
                continue
            if req.url.startswith("file:") and file_url_to_path(req.url).is_dir():
                src = _dir_source(pipe, file_url_to_path(req.url), False, settings)
                add_direct(src.file, frozenset(req.extras), line.requirement, src)
                continue
            if file_from_url(req.url) is None:
                raise UnsupportedUrl(
                    f"{line.source}: {req.url} names no wheel or sdist file (name-version.whl or"
                    " name-version.tar.gz), so Forge cannot install it",
                    hint="point the URL at a wheel or an sdist, or at a git repository with git+",
                )
        out.roots.append(req)
        if settings:
            pipe.files.config_settings[name] = settings
        out.manifest.setdefault(name, line.requirement)
        for algo, digests in line.hashes.items():
            out.hashes.setdefault(name, {}).setdefault(algo, set()).update(d.lower() for d in digests)
        pinned = any(s.operator in ("==", "===") and "*" not in s.version for s in req.specifier)
        out.hash_mode_names.append((line.requirement, pinned or bool(req.url)))
    return out


def _constraints(lines: Sequence[ReqLine]) -> tuple[Requirement, ...]:
    out = []
    for line in lines:
        if line.requirement is None:
            continue
        if line.kind is not ReqKind.NAMED:
            raise UsageError(f"{line.source}: constraints must be named requirements: {line.requirement}")
        out.append(Requirement(line.requirement))
    return tuple(out)


def _resolve(
    pipe: _Pipeline,
    reqs: _Requests,
    options: InstallOptions,
    layers: LayerView,
    store_view: StoreView,
    reporter: InstallReporter,
    fixed: Mapping[NormalizedName, InstalledDist] | None = None,
    *,
    pinned: bool = False,
    while_waiting: Callable[[Sequence[str]], None] | None = None,
) -> Resolution:
    """Resolve ``reqs``; ``pinned``: try :mod:`forge_pip.fastpath` first (installs into an env).
    ``while_waiting``: see :func:`forge_pip.resolve.memo.resolve_memoized`."""
    from forge_pip.resolve import ResolveRequest

    request = ResolveRequest(
        requirements=tuple(reqs.roots),
        target=pipe.target,
        constraints=_constraints(options.constraints),
        upgrade=options.upgrade,
        upgrade_strategy=options.upgrade_strategy,  # type: ignore[arg-type]
        force_local=options.local,
        pre=options.pre,
        prefer_binary=options.prefer_binary,
        only_binary=options.only_binary,
        no_binary=options.no_binary,
        no_deps=options.no_deps,
        hashes={NormalizedName(n): {a: frozenset(d) for a, d in by.items()} for n, by in reqs.hashes.items()},
        prefer_store=options.index.offline or options.index.prefer_offline,
        all_releases=options.all_releases,
        only_final=options.only_final,
        uploaded_prior_to=options.index.uploaded_prior_to,
        fixed=dict(fixed or {}),
    )
    rep: ResolveReporter = reporter

    def run(request: ResolveRequest, **views: Any) -> Resolution:
        if pinned:  # ``==`` pins the store holds: the resolver's answer without the search
            from forge_pip.fastpath import pinned_resolution

            fast = pinned_resolution(request, **views)
            if fast is not None:
                log.debug("pinned fast path: %d pins, no resolution", len(fast.pins))
                return fast
        from forge_pip.resolve import resolve  # the search: loaded when the memo does not answer

        return resolve(request, **views)

    from forge_pip.resolve.memo import resolve_memoized

    context = {
        "index": [pipe.index.index_urls, pipe.index.find_links],
        "build": pipe.files.config_settings,
        "fast_path": pinned,
    }
    memo_dir = pipe.cache_dir / "resolutions" if pipe.index.use_cache else None
    return resolve_memoized(
        request,
        layers=layers,
        store=store_view,
        index=pipe.files,
        reporter=rep,
        root=memo_dir,
        context=context,
        resolver=run,  # the fast path too answers from what the views say: memoised alike
        while_waiting=while_waiting,
    )


_LINK_STAGE = (
    "forge_store.linker",
    "forge_store.policy",
    "forge_store.stack",
    "forge_store.native",
    "forge_store.abi",
    "forge_store.elf",
    "forge_store.conflicts",
    "forge_store.enforce",
    "forge_store.launchers",
    "forge_store.publish",
    "forge_store.seal",
    "forge_store.wheelcheck",
)
"""What an install into an env loads after its resolution (linking, the policy and native checks,
publishing new entries); a name missing here is loaded when it is used, as before."""


def _load_link_stage() -> None:
    """Load the link stage's modules (no other effect), while a memo's pages are revalidated: the
    page threads mostly wait for the network then, and these imports cost ~20 ms of the GIL."""
    import importlib

    for name in _LINK_STAGE:
        importlib.import_module(name)


def _while_revalidating(store: Store, env: EnvInfo, entry_ids: Sequence[str]) -> None:
    """What the link stage will need and the memo's pages do not decide, done while they are
    revalidated (no effect but caches): its modules, and of the entries the memo's answer links
    their rows, applicable Requires-Dist (the policy checks) and METADATA headers (the env's dists
    and pip's conflict lines read them through the new links): ~30 ms of the GIL for set A."""
    _load_link_stage()
    from forge_store import abi, native
    from forge_store.metaheaders import read_headers
    from forge_store.stack import applicable_requirements

    markers = env.interpreter.marker_env()
    try:
        rows = store.catalog.entries(list(entry_ids))
        for row in rows.values():
            lines = row.meta.get("requires_dist")
            if isinstance(lines, list):
                applicable_requirements([str(line) for line in lines], markers)
            read_headers(store.entry_path(row) / "site" / row.dist_info / "METADATA")
        # the policy checks' reads: the interpreter's C API, the entries' ABI and native scans
        abi.target_of(env.interpreter).exported  # noqa: B018 (a cached property: read to fill it)
        abi.entry_binaries(store, list(rows))
        native.warm_scans(store, rows.values())
    except Exception:  # only caches are filled here: the stage that needs them reports any fault
        log.debug("warming the link stage's caches failed", exc_info=True)


def _read_locks(options: InstallOptions, target: TargetPython) -> list[LockedPackage]:
    """The packages the lock files select for ``target``, checked against ``--only-final`` and
    ``--uploaded-prior-to`` (pip 26.2 applies both to locked packages)."""
    from forge_pip.pylock import check_locked, read_pylock
    from forge_pip.resolve.finder import ReleaseControl

    if options.requirements:
        raise UsageError(
            "-r pylock.toml cannot be combined with other requirements in one Forge install",
            hint="install the lock file on its own, then the other requirements",
        )
    base = options.cwd or Path.cwd()
    locked = [pkg for text in options.lock_files for pkg in read_pylock(base / text, target)]
    release = ReleaseControl(
        frozenset(n if n == ":all:" else canonicalize_name(n) for n in options.all_releases),
        frozenset(n if n == ":all:" else canonicalize_name(n) for n in options.only_final),
    )
    check_locked(
        locked,
        allows_prereleases=release.allows_prereleases,
        uploaded_prior_to=options.index.uploaded_prior_to,
    )
    return locked


def _locked(
    pipe: _Pipeline,
    options: InstallOptions,
    layers: LayerView,
    store_view: StoreView,
    reporter: InstallReporter,
) -> tuple[Resolution, _Requests]:
    """``-r pylock.toml``: locked files pinned as they are; locked VCS / directory / archive
    packages go through their own requirement lines (pip's), with no dependencies: the lock
    lists those too. Each file is checked against its recorded hashes when it is fetched."""
    from forge_pip.pylock import locked_resolution
    from forge_pip.resolve import Resolution

    locked = _read_locks(options, pipe.target)
    resolution = locked_resolution(locked, layers, store_view, pipe.target)
    lines = tuple(
        parse_requirement_line(
            pkg.requirement, f"{pkg.lock}: package {pkg.name}", cwd=str(options.cwd or Path.cwd())
        )
        for pkg in locked
        if pkg.requirement is not None
    )
    reqs = _collect(pipe, lines, options.cwd)
    if lines:
        direct = _resolve(
            pipe, reqs, dataclasses.replace(options, no_deps=True), layers, store_view, reporter
        )
        twice = sorted(set(direct.pins) & set(resolution.pins))
        if twice:
            from forge_store.errors import InvalidLockFile

            raise InvalidLockFile(f"{locked[0].lock}: {twice[0]} is selected twice")
        resolution = Resolution({**resolution.pins, **direct.pins}, {**resolution.graph, **direct.graph})
    if options.require_hashes:  # the lock's hashes are its --hash (each file is checked anyway)
        for pkg in locked:
            for algo, digest in (pkg.file.hashes if pkg.file is not None else {}).items():
                reqs.hashes.setdefault(pkg.name, {}).setdefault(algo, set()).add(digest.lower())
    return resolution, reqs


def _keep_fixed(resolution: Resolution, fixed: Mapping[NormalizedName, InstalledDist]) -> Resolution:
    """A lock file's ``pip`` is the env's front end (the resolver's rule, for locked pins too)."""
    from forge_pip.resolve import Origin, Pin, Resolution

    pins = dict(resolution.pins)
    for name, dist in fixed.items():
        pin = pins.get(name)
        if pin is not None and pin.origin is not Origin.LAYER:
            pins[name] = Pin(name, dist.version, Origin.LAYER, layer="local", requested=pin.requested)
    return Resolution(pins, resolution.graph)


def _hash_mode(options: InstallOptions) -> InstallOptions:
    """A lock file's hashes do not switch hash-checking on for its VCS and directory packages
    (every locked file is checked against its own hashes); ``--require-hashes`` still does."""
    if options.lock_files and not options.require_hashes:
        return dataclasses.replace(options, no_require_hashes=True)
    return options


def _without_requested(resolution: Resolution) -> Resolution:
    """``--only-deps``: the resolution minus every name the user asked for (pip 26.2: "no
    user-supplied requirements will be handled, even if they were dependencies of others")."""
    from forge_pip.resolve import Resolution

    pins = {name: pin for name, pin in resolution.pins.items() if not pin.requested}
    graph = {
        name: tuple(dep for dep in deps if dep in pins)
        for name, deps in resolution.graph.items()
        if name in pins
    }
    return Resolution(pins, graph)


def _check_hash_mode(reqs: _Requests, options: InstallOptions, resolution: Resolution) -> None:
    """pip's hash-checking mode: on with --require-hashes or any --hash (unless
    ``--no-require-hashes``); every dist needs a hash. A ``--hash`` given is checked either way."""
    if options.require_hashes and options.no_require_hashes:
        raise UsageError("--require-hashes and --no-require-hashes are mutually exclusive")
    if not (options.require_hashes or (reqs.hashes and not options.no_require_hashes)):
        return
    if reqs.vcs:
        raise HashesRequired(
            "Can't verify hashes for these requirements because we don't have a way to hash version"
            f" control repositories: {reqs.vcs[0]}",
            hint="pin a wheel or sdist URL with --hash instead of the VCS URL",
        )
    unpinned = [text for text, pinned in reqs.hash_mode_names if not pinned]
    if unpinned:
        raise HashesRequired(
            "In --require-hashes mode, all requirements must have their versions pinned with ==:"
            f" {unpinned[0]}",
        )
    from forge_pip.resolve import Origin

    missing = [
        pin
        for pin in resolution.pins.values()
        if pin.origin is not Origin.LAYER and pin.name not in reqs.hashes and not pin.direct
    ]
    if missing:
        # pip's text, with the line to add for each (the digest the index gives for the chosen file)
        lines = [
            f"    {pin.name}=={pin.version}"
            + (
                f" --hash=sha256:{pin.file.hashes['sha256']}"
                if pin.file and "sha256" in pin.file.hashes
                else ""
            )
            for pin in missing
        ]
        raise HashesRequired(
            "Hashes are required in --require-hashes mode, but they are missing from some requirements."
            " Here is a list of those requirements along with the hashes their downloaded archives"
            " actually had. Add lines like these to your requirements files to prevent tampering. (If"
            " you did not enable --require-hashes manually, note that it turns on automatically when"
            " any package has a hash.)\n" + "\n".join(lines),
        )


def _report_metadata(pipe: _Pipeline, resolution: Resolution, store: Store) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, pin in resolution.pins.items():
        md = pipe.files.metadata_of.get(pin.file) if pin.file is not None else None
        data: dict[str, object] = {"metadata_version": "2.1", "name": name, "version": str(pin.version)}
        if md is not None:
            data["requires_dist"] = [str(r) for r in md.requires_dist]
            if md.requires_python:
                data["requires_python"] = md.requires_python
            data["provides_extra"] = sorted(md.provides_extra)
        elif pin.store_entry is not None:
            entry = store.entry(pin.store_entry)
            data["requires_dist"] = list(entry.requires_dist)
            if entry.requires_python:
                data["requires_python"] = entry.requires_python
        out[name] = data
    return out


def install(
    store: Store,
    env: EnvInfo,
    options: InstallOptions,
    *,
    reporter: InstallReporter | None = None,
) -> InstallResult:
    """Resolve, plan, prepare and link ``options.requirements`` into ``env`` (all or nothing)."""
    rep: InstallReporter = reporter or NullInstallReporter()
    with _Pipeline(
        store,
        env.interpreter,
        options.index,
        build_isolation=options.build_isolation,
        build_depth=options.build_depth,
        reporter=rep,
        options=options,
        host_python=env.python,  # --no-build-isolation builds against the target env, as pip does
        check_requires=_build_requires_check(store, env),
    ) as pipe:
        pipe.src_dir = env.path / "src"
        if not options.dry_run:
            from forge_store.pip_frontend import refresh_env_front_end

            refresh_env_front_end(store, env)
        fixed = front_end_dists(env)
        reqs = _collect(pipe, options.requirements, options.cwd, fixed=fixed, reporter=rep)
        early = None
        if not options.dry_run:  # a dry run never loads the later stages
            from forge_pip.early import start as start_early

            early = start_early(
                store,
                env.interpreter,
                pipe.files,
                dry_run=options.dry_run,
                hash_checking=bool(options.require_hashes or reqs.hashes),
            )
        if early is not None:  # closed first: it reads the downloads in the pipeline's scratch dir
            pipe._stack.callback(early.close)
        layers = EnvLayers(store, env, hide_local=options.force_reinstall)
        store_view = StoreDists(
            store,
            built_wheel=lambda sha, name: pipe.builder.cached_wheel(
                sha, pipe.files.config_settings.get(name)
            ),
        )
        if options.lock_files:
            resolution, reqs = _locked(pipe, options, layers, store_view, rep)
            resolution = _keep_fixed(resolution, fixed)
        else:
            resolution = _resolve(
                pipe,
                reqs,
                options,
                layers,
                store_view,
                rep,
                fixed,
                pinned=True,
                while_waiting=None if options.dry_run else lambda ids: _while_revalidating(store, env, ids),
            )
        if options.only_deps:
            resolution = _without_requested(resolution)
        local = local_dists(store, env)
        plan = make_plan(env.name, resolution, local, editables=reqs.editables)
        rep.on_resolved(resolution)
        rep.on_plan(plan)
        _check_hash_mode(reqs, _hash_mode(options), resolution)
        metadata = _report_metadata(pipe, resolution, store)
        # "already satisfied" only if its links are there: files deleted by hand are put back
        broken = [] if options.dry_run else _broken_satisfied(store, env, plan, local)
        if options.dry_run or not (plan.installs or broken):
            return InstallResult(plan, resolution, None, pipe.target, metadata)
        from forge_pip.prepare import prepare  # a dry run or a no-op never loads the later stages
        from forge_store.linker import DistSpec
        from forge_store.policy import policy_for

        added: list[StoredWheel] = []
        try:
            prepared = (
                []
                if not plan.installs
                else prepare(
                    plan,
                    store=store,
                    interpreter=env.interpreter,
                    files=pipe.files,
                    client=pipe.client,
                    builder=pipe.builder,
                    download_dir=pipe.download_dir,
                    added=added,
                    hashes={n: {a: frozenset(d) for a, d in by.items()} for n, by in reqs.hashes.items()},
                    reporter=rep,
                    early=early,
                )
            )
            specs = [DistSpec(p.entry, requested=p.item.requested, direct_url=p.direct_url) for p in prepared]
            specs += broken
            evict: list[Path] = []
            for item in plan.installs:
                here = local.get(item.name)
                if here is not None and not here.managed:
                    evict.extend(here.record_files())
            manifest: dict[str, str | None] = {
                name: text for name, text in reqs.manifest.items() if name in resolution.pins
            }
            rules = policy_for(
                store,
                env,
                conflict_mode=options.conflict_mode,
                abi_policy=options.abi_policy,
                explicit_local=options.local,
            )
            report = store.change(
                env.name, add=specs, local=options.local, manifest=manifest, evict=evict, policy=rules
            )
        except BaseException:
            store._discard_unused(added)
            raise
        finally:
            store.release()
        return InstallResult(plan, resolution, report, pipe.target, metadata)


def _build_requires_check(store: Store, env: EnvInfo) -> Callable[[str, Sequence[str]], None]:
    """``--check-build-dependencies`` without isolation: the env (all its layers) must meet them."""
    env_layers = EnvLayers(store, env)
    markers = env.interpreter.marker_env()  # target_python's markers, without its ~900 tags

    def check(label: str, requires: Sequence[str]) -> None:
        from forge_pip.build.deps import check_build_requires

        def version_of(name: NormalizedName) -> Version | None:
            found = env_layers.installed(name)
            return found[0].version if found else None

        check_build_requires(label, requires, version_of, markers)

    return check


def _broken_satisfied(
    store: Store, env: EnvInfo, plan: Plan, local: Mapping[str, LocalDist]
) -> list[DistSpec]:
    """Forge-managed dists the plan calls satisfied whose top-level links are missing in the env
    (one stat per top-level name); adding them again makes ``Store.change`` repair their links."""
    from forge_pip.plan import Action
    from forge_store.linker import DistSpec, dist_links_present

    out: list[DistSpec] = []
    for item in plan.by_action(Action.SATISFIED):
        here = local.get(item.name)
        if here is None or here.entry_id is None:
            continue
        entry = store.entry(here.entry_id)
        if not dist_links_present(env.site_packages, entry):
            out.append(DistSpec(entry))
    return out


def uninstall(
    store: Store,
    env: EnvInfo,
    names: Sequence[str],
    *,
    dry_run: bool = False,
    conflict_mode: ConflictMode | None = None,
    abi_policy: AbiPolicy | None = None,
) -> UninstallResult:
    """Remove dists from the env's own layer: Forge's links are unlinked, unmanaged files evicted.

    A dist a parent layer provides is an error (uninstall it there); an unknown one is skipped.
    The removal is judged by the layer policy (the env's settings, ``conflict_mode`` /
    ``abi_policy`` winning) like an install: one that breaks a dist of this env's stack or of a
    descendant's is refused in ``strict`` (:class:`~forge_store.policy.PolicyRefused`).
    """
    from forge_store.policy import policy_for

    local = local_dists(store, env)
    visible = {d.name: d for d in store.visible(env.name)}
    fixed = front_end_dists(env)
    chosen = []
    skipped: list[str] = []
    for raw in names:
        name = canonicalize_name(raw)
        if name in fixed:
            raise UsageError(
                f"Cannot uninstall {name} {fixed[name].version}: it is Forge's front end for this env",
                hint="Forge's pip stays in every Forge env; `forge remove` removes the env itself",
            )
        if name in local:
            if local[name] not in chosen:
                chosen.append(local[name])
            continue
        other = visible.get(name)
        if other is not None and other.layer is not Layer.LOCAL:
            raise UsageError(
                f"{name} is provided by the {other.layer.value} layer {other.env!r}, not by {env.name!r}",
                hint=f"uninstall it there: forge pip uninstall --env {other.env} {name}",
            )
        skipped.append(raw)
    plan = removal_plan(env.name, chosen)
    if dry_run or not chosen:
        return UninstallResult(plan, None, tuple(skipped))
    evict: list[Path] = []
    for dist in chosen:
        if not dist.managed:
            evict.extend(dist.record_files())
    managed = [d.name for d in chosen if d.managed]
    rules = policy_for(store, env, conflict_mode=conflict_mode, abi_policy=abi_policy)
    report = store.change(
        env.name, remove=managed, manifest={n: None for n in managed}, evict=evict, policy=rules
    )
    return UninstallResult(plan, report, tuple(skipped))


def fetch(
    store: Store,
    interpreter: Interpreter,
    options: InstallOptions,
    dest: Path,
    *,
    build_wheels: bool,
    reporter: InstallReporter | None = None,
    env: EnvInfo | None = None,
    target: TargetPython | None = None,
) -> tuple[Plan, list[Path]]:
    """pip ``download`` (``build_wheels=False``) or ``wheel``: resolve from the indexes alone and put
    the files (or the wheels, building sdists) into ``dest``. Installed dists and the store are ignored.
    ``env`` (``--python`` / ``--env``) is where ``--no-build-isolation`` builds run and are checked.

    ``target`` replaces the interpreter's tags (pip's ``--platform``/``--python-version``/...);
    ``wheel`` leaves only wheels in ``dest`` (sdists are fetched into a scratch directory)."""
    rep: InstallReporter = reporter or NullInstallReporter()
    dest.mkdir(parents=True, exist_ok=True)
    with _Pipeline(
        store,
        interpreter,
        options.index,
        build_isolation=options.build_isolation,
        build_depth=options.build_depth,
        reporter=rep,
        download_dir=None if build_wheels else dest,
        target=target,
        options=options,
        host_python=env.python if env is not None else None,
        check_requires=_build_requires_check(store, env) if env is not None else None,
    ) as pipe:
        reqs = _collect(pipe, options.requirements, options.cwd)
        if options.lock_files:
            resolution, reqs = _locked(pipe, options, EmptyLayers(), EmptyStore(), rep)
        else:
            resolution = _resolve(pipe, reqs, options, EmptyLayers(), EmptyStore(), rep)
        if options.only_deps:
            resolution = _without_requested(resolution)
        _check_hash_mode(reqs, _hash_mode(options), resolution)
        plan = make_plan(f"download:{dest}", resolution, {}, editables=())
        rep.on_resolved(resolution)
        rep.on_plan(plan)
        if options.dry_run:
            return plan, []
        saved: list[Path] = []
        for item in plan.installs:
            assert item.file is not None
            path = pipe.files.local_path(item.file)
            if build_wheels and not item.file.is_wheel:
                settings = pipe.files.config_settings.get(canonicalize_name(item.name))
                built = pipe.builder.build_wheel(path, config_settings=settings)
                rep.on_built(item, built.path, built.cached)
                path = built.path
            saved_as = dest / path.name
            if path.is_file() and path.resolve() != saved_as.resolve():
                shutil.copyfile(path, saved_as)
            rep.on_fetched(item, saved_as)
            saved.append(saved_as)
        return plan, saved


def lock(
    store: Store,
    interpreter: Interpreter,
    options: InstallOptions,
    *,
    reporter: InstallReporter | None = None,
    lock_dir: Path | None = None,
    env: EnvInfo | None = None,
) -> tuple[Resolution, str]:
    """pip's ``lock`` (25.1): resolve from the sources alone (as ``fetch`` does) and return the
    resolution with its ``pylock.toml`` text. A file whose index states no sha256 is fetched and
    hashed (pip downloads it too). Direct requirements become ``vcs`` (the commit), ``directory``
    (relative to ``lock_dir`` when below it) or ``archive`` tables, as pip writes them."""
    import json

    from forge_pip.pylock import file_sha256, render_pylock

    rep: InstallReporter = reporter or NullInstallReporter()
    with _Pipeline(
        store,
        interpreter,
        options.index,
        build_isolation=options.build_isolation,
        build_depth=options.build_depth,
        reporter=rep,
        options=options,
        host_python=env.python if env is not None else None,
        check_requires=_build_requires_check(store, env) if env is not None else None,
    ) as pipe:
        reqs = _collect(pipe, options.requirements, options.cwd)
        resolution = _resolve(pipe, reqs, options, EmptyLayers(), EmptyStore(), rep)
        if options.only_deps:
            resolution = _without_requested(resolution)
        _check_hash_mode(reqs, _hash_mode(options), resolution)

        def hashes_of(file: DistFile) -> Mapping[str, str]:
            if "sha256" in file.hashes:
                return file.hashes
            return {**file.hashes, "sha256": file_sha256(pipe.files.local_path(file))}

        def direct_of(file: DistFile) -> tuple[str, Mapping[str, object]] | None:
            source = pipe.files.direct.get(file.url)
            if source is not None and source.direct_url:
                record = json.loads(source.direct_url)
                info = record.get("vcs_info") or {}
                return "vcs", {
                    "type": info.get("vcs"),
                    "url": record.get("url"),
                    "requested-revision": info.get("requested_revision"),
                    "commit-id": info.get("commit_id"),
                    "subdirectory": record.get("subdirectory"),
                }
            if source is not None and source.path.is_dir():
                base = (lock_dir or Path.cwd()).resolve()
                folder = source.path.resolve()
                shown = folder.relative_to(base).as_posix() if folder.is_relative_to(base) else str(folder)
                return "directory", {"path": shown, "editable": True if source.editable else None}
            return "archive", {"url": file.url, "hashes": dict(hashes_of(file))}

        return resolution, render_pylock(resolution, hashes_of, direct_of)


def _forge_report_fields(item: PlanItem, action: InstallAction | None) -> dict[str, object]:
    """The ``forge`` key of a ``--report`` item: the plan's action and entry and, once linked,
    the reuse report (``reused``, ``reuse_kind``, ``warnings``; absent in ``--dry-run``)."""
    out: dict[str, object] = {"action": item.action.value, "entry": item.entry_id}
    if action is not None:
        out.update(
            entry=action.entry_id,
            reused=action.reused_entry,
            reuse_kind=action.reuse_kind.value,
            warnings=list(action.warnings),
        )
    return out


def installation_report(result: InstallResult) -> dict[str, object]:
    """pip's ``--report`` JSON (version "1"): what would be / was installed, with its origin."""
    from forge_pip.pipcompat import PIP_VERSION

    items = []
    by_name = {p.name: p for p in result.resolution.pins.values()}
    actions = {a.name: a for a in result.report.actions} if result.report is not None else {}
    for item in result.plan.installs:
        pin = by_name[NormalizedName(item.name)]
        download: dict[str, object]
        if pin.file is not None:
            hashes = dict(pin.file.hashes)
            info: dict[str, object] = {"hashes": hashes}
            if "sha256" in hashes:
                info["hash"] = f"sha256={hashes['sha256']}"
            download = {"url": pin.file.url, "archive_info": info}
            if pin.file.url.startswith("file:") and item.direct and not pin.file.filename.endswith(".whl"):
                download = {"url": pin.file.url, "dir_info": {"editable": True} if item.editable else {}}
        else:
            download = {"url": f"forge-store:{pin.store_entry}", "archive_info": {}}
        metadata = dict(result.metadata.get(item.name) or {"name": item.name, "version": item.version})
        entry: dict[str, object] = {
            "download_info": download,
            "is_direct": item.direct,
            "is_yanked": bool(pin.file is not None and pin.file.yanked is not None),
            "requested": item.requested,
            # pip's schema: fields a dist does not have are left out, not empty
            "metadata": {k: v for k, v in metadata.items() if v not in ([], (), None, "")},
        }
        if item.extras:
            entry["requested_extras"] = list(item.extras)
        # Forge's fields under its own key (pip's schema is left as it is): the reuse report
        entry["forge"] = _forge_report_fields(item, actions.get(item.name))
        items.append(entry)
    return {
        "version": "1",
        "pip_version": PIP_VERSION,  # the pip whose schema this is (forge_pip.pipcompat)
        "install": items,
        "environment": dict(result.target.markers),
    }

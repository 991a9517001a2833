"""Immutable types that the store, linker and envs hand to each other and to callers."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING

from forge_store.records import record

if TYPE_CHECKING:
    from .policy import Finding


class LinkMode(enum.Enum):
    """How an env's site-packages points at the store."""

    SYMLINK = "symlink"  # one link per top-level entry where possible (default)
    HARDLINK = "hardlink"  # real dirs, every file hardlinked (same filesystem only)
    COPY = "copy"  # real dirs, every file copied (always works, costs disk)


class LayeringMode(enum.Enum):
    """How a child sees its parents."""

    STACKED = "stacked"  # parents added to sys.path at start-up by a .pth hook
    FLAT = "flat"  # parents' entries linked into the child; relinked when a parent changes


class ReuseKind(enum.Enum):
    """How an install got a dist's store entry (the reuse report: ``reuse_kind``)."""

    EXACT = "exact"  # the entry already had this interpreter's pycs (it was made for it)
    ABI_COMPATIBLE = "abi_compatible"  # an entry of another interpreter, reused by its tags; pycs added
    NONE = "none"  # newly unpacked


class Layer(enum.Enum):
    """Where a distribution visible in an env comes from; earlier wins."""

    LOCAL = "local"
    PARENT = "parent"
    GLOBAL = "global"


class EnvKind(enum.Enum):
    ENV = "env"  # created by Forge
    GLOBAL = "global"  # the per-interpreter base layer
    ADOPTED = "adopted"  # a plain venv Forge was pointed at
    BUILD = "build"  # a short-lived isolated env for a PEP 517 build (no layers under it)
    MIRROR = "mirror"  # a read-only env linking a stack an upstream publishes (``team:torch``)


@record(frozen=True, slots=True)
class Interpreter:
    """A base (non-venv) Python interpreter an env can run on."""

    executable: Path
    """Real path of the base interpreter binary (what ``bin/python`` in an env links to)."""
    version: tuple[int, int, int]
    implementation: str  # "cpython"
    cache_tag: str  # "cpython-311": the pyc tag, also what an ABI shares
    soabi: str  # "cpython-311-x86_64-linux-gnu" ("" if unknown)
    abiflags: str  # "" or "t" (free-threaded) or "d"
    machine: str  # "x86_64"
    markers: tuple[tuple[str, str], ...]
    """The PEP 508 marker environment of this interpreter, as sorted pairs."""
    extension_suffixes: tuple[str, ...] = ()
    """``importlib.machinery.EXTENSION_SUFFIXES``: the file names an extension module may have
    (``()`` for an env recorded by an older probe: :mod:`.abi` derives them from ``soabi``)."""
    multiarch: str = ""  # ``sys.implementation._multiarch``: "x86_64-linux-gnu"
    libpython: str = ""  # the shared libpython a ``--enable-shared`` build exports its C API from

    @property
    def short_version(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def full_version(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def abi_key(self) -> str:
        """What must match between a child and its parents: ``cpython-311-x86_64-linux-gnu``."""
        return self.soabi or f"{self.cache_tag}{self.abiflags}-{self.machine}"

    @property
    def site_packages_rel(self) -> str:
        """The venv's purelib/platlib relative to its prefix (POSIX layout)."""
        return f"lib/python{self.short_version}{self.abiflags if self.abiflags == 't' else ''}/site-packages"

    def marker_env(self) -> dict[str, str]:
        return dict(self.markers)


@record(frozen=True, slots=True)
class EntryPoint:
    """A console or gui script an entry declares; launchers are written per env."""

    name: str
    module: str
    attr: str
    section: str  # "console" | "gui"


@record(frozen=True, slots=True)
class OriginClimb:
    """An ELF file whose RPATH/RUNPATH ``$ORIGIN`` climbs out of its own directory."""

    file: str  # path relative to site/
    rpath: str  # the raw entry, e.g. "$ORIGIN/../../nvidia/cublas/lib"
    apex: str  # the directory the climb reaches, relative to site/ ("" is site/ itself, ".." above)


@record(frozen=True, slots=True)
class StoredWheel:
    """A published store entry: one wheel's content, unpacked, compiled and sealed."""

    id: str  # sha256 over the wheel's normalised RECORD
    path: Path  # the entry directory: site/, data/, headers/, scripts/, forge-entry.json
    name: str  # canonical project name
    version: str
    dist_info: str  # "numpy-2.4.6.dist-info"
    tags: tuple[str, ...]
    requires_python: str | None
    requires_dist: tuple[str, ...]
    wheel_sha256: str
    size: int  # bytes unpacked (without pycs)
    files: int
    pyc_tags: tuple[str, ...]  # cache tags compiled, e.g. ("cpython-311",)
    entry_points: tuple[EntryPoint, ...]
    namespace_dirs: tuple[str, ...]  # relative dirs that must be real (merged) in an env
    climbs: tuple[OriginClimb, ...]
    has_data: bool
    has_headers: bool
    has_scripts: bool
    record_issues: tuple[str, ...] = ()  # RECORD problems tolerated by policy (reported)
    reused: bool = False  # True when add_wheel found it already in the store
    reuse_kind: ReuseKind = ReuseKind.NONE  # how (EXACT or ABI_COMPATIBLE when ``reused``)

    @property
    def site(self) -> Path:
        return self.path / "site"


@record(frozen=True, slots=True)
class EnvInfo:
    """An env as the catalog knows it."""

    name: str
    path: Path
    interpreter: Interpreter
    parent: str | None
    layering: LayeringMode
    link_mode: LinkMode
    kind: EnvKind
    created: float

    @property
    def site_packages(self) -> Path:
        return self.path / self.interpreter.site_packages_rel

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


@record(frozen=True, slots=True)
class LinkedDist:
    """One distribution as an env sees it."""

    name: str
    version: str
    entry_id: str
    layer: Layer
    env: str  # the env whose site-packages holds the links (the parent's name for PARENT)
    requested: bool


@record(frozen=True, slots=True)
class InstallAction:
    """What an install did (or would do) for one distribution."""

    name: str
    version: str
    action: (
        str  # "linked" | "replaced" | "unchanged" | "repaired" | "from-parent" | "from-global" | "unlinked"
    )
    entry_id: str | None
    reused_entry: bool  # the store already had it
    detail: str = ""
    reuse_kind: ReuseKind = ReuseKind.EXACT
    """``exact``: the entry was there for this interpreter (also for dists already linked,
    provided by a parent, or unlinked); ``abi_compatible``: an entry of another interpreter
    reused by its tags (pycs added); ``none``: newly unpacked."""
    warnings: tuple[str, ...] = ()  # this dist's lines of :attr:`InstallReport.warnings`


@record(frozen=True, slots=True)
class InstallReport:
    env: str
    actions: tuple[InstallAction, ...]
    link_mode: LinkMode  # the mode actually used
    fallback: str | None  # why the requested mode was not used, if it was not
    relinked_children: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    """Problems tolerated by policy that the user should see, e.g. ``foo-1.0: RECORD has md5 ...``."""
    findings: tuple[Finding, ...] = ()
    """Layer-policy findings this change created that its modes warn about (:mod:`.policy`);
    each also has a line in ``warnings``."""

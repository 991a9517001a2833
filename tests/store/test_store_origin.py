"""``$ORIGIN`` climbs out of linked directories: the kernel resolves ``..`` physically, so every climb
recorded for an env's entries must land where the env's own view says it does (DESIGN.md section 3).

The hermetic cases build real ELF files with ``cc``: a library in one wheel, and a Python extension
in another wheel inside the same merged directory (``cmeel.prefix/``, as cmeel's ``pin`` and
``eigenpy`` do), whose RUNPATH climbs out of its own linked leaf directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forge_store.elf import SCAN_VERSION
from forge_store.seal import remove_tree
from forge_store.store import Store
from tests.conftest import have_cc, run_py
from tests.support.origin import climb_escapes
from tests.support.wheels import make_wheel

pytestmark = pytest.mark.skipif(not have_cc(), reason="needs a C compiler")

PYVER = f"python{sys.version_info[0]}.{sys.version_info[1]}"
PREFIX_SITE = f"cmeel.prefix/lib/{PYVER}/site-packages"
EXT_SUFFIX = str(sysconfig.get_config_var("EXT_SUFFIX"))
TAG = "py3-none-linux_x86_64"
CLIMB = "$ORIGIN/../../../../lib"  # from .../site-packages/mod/ up to cmeel.prefix/, then lib/

EXT_C = """
#include <Python.h>
int dep_value(void);
static PyObject *value(PyObject *self, PyObject *args) { return PyLong_FromLong(dep_value()); }
static PyMethodDef methods[] = {{"value", value, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def _cc(src: str, out: Path, *args: str) -> bytes:
    c = out.with_suffix(".c")
    c.write_text(src)
    proc = subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(out), str(c), *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


class Build:
    """ELF files compiled once per module: ``libdep.so`` and extensions/libraries NEEDing it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.libdep = _cc("int dep_value(void) { return 42; }\n", root / "libdep.so")
        self._done: dict[tuple[str, str], bytes] = {}

    def ext(self, rpath: str) -> bytes:
        """A Python extension module ``_ext`` whose ``value()`` returns libdep's ``dep_value()``."""
        return self._build("ext", rpath, EXT_C, f"-I{sysconfig.get_paths()['include']}")

    def climber(self, rpath: str) -> bytes:
        """A plain shared library (``climb_value()`` = ``dep_value() + 1``) for ctypes."""
        src = "int dep_value(void);\nint climb_value(void) { return dep_value() + 1; }\n"
        return self._build("lib", rpath, src)

    def _build(self, kind: str, rpath: str, src: str, *extra: str) -> bytes:
        key = (kind, rpath)
        if key not in self._done:
            out = self.root / f"{kind}{len(self._done)}.so"
            self._done[key] = _cc(
                src, out, *extra, f"-L{self.root}", "-ldep", f"-Wl,-rpath,{rpath}", "-Wl,--enable-new-dtags"
            )
        return self._done[key]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        pytest.skip("needs Python.h to build an extension module")
    return Build(tmp_path_factory.mktemp("elf"))


def _dep_wheel(build: Build, where: Path, name: str = "cmeel-dep") -> Path:
    """Wheel 1: only ``cmeel.prefix/lib/libdep.so`` (and a cmake file, as cmeel wheels have)."""
    files: dict[str, bytes | str] = {
        "cmeel.prefix/lib/libdep.so": build.libdep,
        "cmeel.prefix/lib/cmake/dep/depConfig.cmake": "# dep\n",
    }
    return make_wheel(where, name, "1.0", files=files, tag=TAG, purelib=False)


def _mod_wheel(build: Build, where: Path, rpath: str = CLIMB) -> Path:
    """Wheel 2: ``.../site-packages/mod/_ext.so`` (RUNPATH climbing to ``cmeel.prefix/lib``) and the
    ``.pth`` that puts the prefix's site-packages on sys.path, as cmeel does."""
    files: dict[str, bytes | str] = {
        f"{PREFIX_SITE}/mod/__init__.py": "from ._ext import value\n",
        f"{PREFIX_SITE}/mod/_ext{EXT_SUFFIX}": build.ext(rpath),
        f"{PREFIX_SITE}/mod/sub/helper.py": "H = 1\n",
        "cmeel_mod.pth": f"{PREFIX_SITE}\n",
    }
    return make_wheel(where, "cmeel-mod", "1.0", files=files, tag=TAG, purelib=False)


def _other_wheel(where: Path) -> Path:
    """A third contributor to the merged dir, pure Python."""
    files = {f"{PREFIX_SITE}/other/__init__.py": "O = 1\n", "cmeel.prefix/share/other/x.txt": "x\n"}
    return make_wheel(where, "cmeel-other", "1.0", files=files, tag=TAG, purelib=False)


def _import_mod(store: Store, env_name: str) -> subprocess.CompletedProcess[str]:
    return run_py(store.env(env_name).python, "import mod; print(mod.value())")


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([["dep", "mod"]], id="together-dep-first"),
        pytest.param([["mod", "dep"]], id="together-mod-first"),
        pytest.param([["dep"], ["mod"]], id="dep-then-mod"),
        pytest.param([["mod"], ["dep"]], id="mod-then-dep"),
    ],
)
def test_extension_climbing_out_of_a_linked_leaf_of_a_merged_dir(
    store: Store, build: Build, tmp_path: Path, steps: list[list[str]]
) -> None:
    """cmeel's pin: ``cmeel.prefix/lib/pythonX.Y/site-packages/pinocchio/*.so`` has RUNPATH
    ``$ORIGIN/../../../../lib`` and NEEDs a library another wheel puts in ``cmeel.prefix/lib``."""
    wheels = {"dep": _dep_wheel(build, tmp_path / "w"), "mod": _mod_wheel(build, tmp_path / "w")}
    store.create_env("e")
    for step in steps:
        store.install_wheels("e", [wheels[n] for n in step])
    proc = _import_mod(store, "e")
    assert proc.stdout.strip() == "42", proc.stderr
    assert climb_escapes(store, "e") == []
    site = store.env("e").site_packages
    leaf = site / PREFIX_SITE / "mod"
    assert not leaf.is_symlink(), "the leaf the climb leaves is a real dir"
    assert (leaf / "sub").is_symlink(), "below the climb, directories stay links"
    assert os.stat(leaf / f"_ext{EXT_SUFFIX}").st_nlink > 1, "files in it are hardlinks to the store"


@pytest.mark.parametrize(
    "rpath",
    [
        "${ORIGIN}/../../../../lib",
        "$ORIGIN:$ORIGIN/../../../../lib",
        "$ORIGIN/../../../../lib:$ORIGIN",
        "$ORIGIN/./../mod/../../../../lib/",
        "/nonexistent/lib:$ORIGIN/../../../../lib",
    ],
)
def test_rpath_spellings_and_lists(store: Store, build: Build, tmp_path: Path, rpath: str) -> None:
    store.create_env("e")
    store.install_wheels("e", [_dep_wheel(build, tmp_path / "w"), _mod_wheel(build, tmp_path / "w", rpath)])
    proc = _import_mod(store, "e")
    assert proc.stdout.strip() == "42", proc.stderr
    assert climb_escapes(store, "e") == []


def test_uninstalls_keep_the_remaining_climbs_correct(store: Store, build: Build, tmp_path: Path) -> None:
    w = tmp_path / "w"
    dep, mod, other = _dep_wheel(build, w), _mod_wheel(build, w), _other_wheel(w)
    store.create_env("e")
    store.install_wheels("e", [other, mod])
    assert climb_escapes(store, "e") == []
    store.install_wheels("e", [dep])
    assert _import_mod(store, "e").stdout.strip() == "42"
    store.uninstall("e", ["cmeel-other"])
    assert _import_mod(store, "e").stdout.strip() == "42"
    assert climb_escapes(store, "e") == []
    store.uninstall("e", ["cmeel-dep"])
    assert climb_escapes(store, "e") == []
    assert "libdep.so" in _import_mod(store, "e").stderr, "without the library: the loader's own error"
    store.install_wheels("e", [dep, other])
    assert _import_mod(store, "e").stdout.strip() == "42"
    assert climb_escapes(store, "e") == []
    store.uninstall("e", ["cmeel-mod"])
    assert climb_escapes(store, "e") == []
    assert (store.env("e").site_packages / PREFIX_SITE / "other").is_symlink()


def test_env_linked_by_older_code_is_repaired_by_the_next_change(
    store: Store, build: Build, tmp_path: Path
) -> None:
    """An env whose leaf is still one directory link (as older Forge left it) is converted by the next
    install, even an unrelated one: the diff trusts the disk, not a recomputed old layout."""
    w = tmp_path / "w"
    store.create_env("e")
    store.install_wheels("e", [_dep_wheel(build, w), _mod_wheel(build, w)])
    leaf = store.env("e").site_packages / PREFIX_SITE / "mod"
    assert not leaf.is_symlink()
    leaf.rename(tmp_path / "old-leaf")  # the old layout: the leaf as one symlink into the store
    leaf.symlink_to(store.entries("cmeel-mod")[0].site / PREFIX_SITE / "mod")
    assert "libdep.so" in _import_mod(store, "e").stderr
    store.install_wheels("e", [_other_wheel(w)])
    assert not leaf.is_symlink()
    assert _import_mod(store, "e").stdout.strip() == "42"


def test_same_entry_climb_into_a_linked_dir_stays_one_link(
    store: Store, build: Build, tmp_path: Path
) -> None:
    """numpy's ``numpy/core/x.so -> $ORIGIN/../../numpy.libs``: the target is this very entry's dir, linked
    as it is in the env, so nothing needs to be real (no inode cost)."""
    files: dict[str, bytes | str] = {
        "pkg/__init__.py": "P = 1\n",
        "pkg/core/libclimb.so": build.climber("$ORIGIN/../../pkg.libs"),
        "pkg.libs/libdep.so": build.libdep,
    }
    wheel = make_wheel(tmp_path / "w", "pkg", "1.0", files=files, tag=TAG, purelib=False)
    env = store.create_env("e")
    store.install_wheels("e", [wheel])
    assert (env.site_packages / "pkg").is_symlink()
    assert [c.rpath for c in store.entries("pkg")[0].climbs] == ["$ORIGIN/../../pkg.libs"]
    assert climb_escapes(store, "e") == []
    assert _load(env.python, [env.site_packages / "pkg/core/libclimb.so"]) == [43]


def _load(python: Path, libs: Sequence[Path]) -> list[int | None]:
    """Load each library in a fresh child process (a loaded soname would mask the next search)."""
    code = (
        "import ctypes, os, sys\n"
        "for p in sys.argv[1:]:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            print(ctypes.CDLL(p).climb_value(), flush=True)\n"
        "        except OSError:\n"
        "            print('fail', flush=True)\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    proc = subprocess.run(
        [str(python), "-c", code, *map(str, libs)], capture_output=True, text=True, env=env, check=True
    )
    return [None if v == "fail" else int(v) for v in proc.stdout.split()]


# -- property: any merge depth, any number of contributors, any order, with uninstalls ----------------

# "pkg" is a regular package (linked whole unless shared); the others are namespace-like (real)
_SEGMENTS = st.lists(st.sampled_from(["lib", "py", "pkg"]), min_size=0, max_size=3)


@st.composite
def _worlds(draw: st.DrawFn) -> list[tuple[str, int, bool]]:
    """Consumers: (directory of the ELF below ``pfx/``, how far its RUNPATH climbs, whether the
    consumer's own wheel also ships the library at the target)."""
    out = []
    for i in range(draw(st.integers(1, 3))):
        segments = draw(_SEGMENTS)
        leaf = "/".join(["pfx", *segments, f"c{i}"])
        ups = draw(st.integers(1, len(segments) + 2))  # up to site-packages itself
        out.append((leaf, ups, draw(st.booleans())))
    return out


@pytest.fixture(scope="module")
def prop_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("origin-prop") / "home"
    with Store(home) as s:
        yield s
    remove_tree(home)


_counter = iter(range(10**6))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=_worlds(), data=st.data())
def test_every_recorded_climb_resolves_inside_the_env_view(
    prop_store: Store,
    build: Build,
    tmp_path_factory: pytest.TempPathFactory,
    world: list[tuple[str, int, bool]],
    data: st.DataObject,
) -> None:
    n = next(_counter)
    where = tmp_path_factory.mktemp(f"w{n}")
    wheels: dict[str, Path] = {}
    dists: dict[str, str] = {}
    loads: dict[str, tuple[str, str]] = {}  # consumer wheel -> (ELF path, provider wheel)
    for i, (leaf, ups, own) in enumerate(world):
        target = "/".join([*leaf.split("/")[:-ups], "lib"])
        rpath = "$ORIGIN/" + "../" * ups + "lib"
        files: dict[str, bytes | str] = {
            f"{leaf}/libclimb.so": build.climber(rpath),
            f"{leaf}/__init__.py": "X = 1\n",  # a regular package: linked as one directory
        }
        parts = leaf.split("/")
        for k, part in enumerate(parts[:-1]):
            if part == "pkg":
                files["/".join(parts[: k + 1]) + "/__init__.py"] = "P = 1\n"
        provider = f"prov{i}"
        if own:
            files[f"{target}/libdep.so"] = build.libdep
            provider = f"cons{i}"
        else:
            pfiles: dict[str, bytes | str] = {f"{target}/libdep.so": build.libdep}
            wheels[provider] = make_wheel(where, f"prov{i}-{n}", "1.0", files=pfiles, tag=TAG, purelib=False)
            dists[provider] = f"prov{i}-{n}"
        wheels[f"cons{i}"] = make_wheel(where, f"cons{i}-{n}", "1.0", files=files, tag=TAG, purelib=False)
        dists[f"cons{i}"] = f"cons{i}-{n}"
        loads[f"cons{i}"] = (f"{leaf}/libclimb.so", provider)
    names = data.draw(st.permutations(sorted(wheels)))
    cut = data.draw(st.integers(0, len(names)))
    env_name = f"p{n}"
    store = prop_store
    env = store.create_env(env_name)
    installed: set[str] = set()

    def check() -> None:
        assert climb_escapes(store, env_name) == []
        todo = [c for c, (_f, prov) in loads.items() if c in installed and prov in installed]
        got = _load(env.python, [env.site_packages / loads[c][0] for c in todo])
        assert got == [43] * len(todo), (todo, got)

    for batch in (names[:cut], names[cut:]):
        if batch:
            store.install_wheels(env_name, [wheels[b] for b in batch])
            installed.update(batch)
            check()
    gone = data.draw(st.lists(st.sampled_from(sorted(installed)), unique=True, max_size=2))
    if gone:
        store.uninstall(env_name, [dists[g] for g in gone])
        installed.difference_update(gone)
        check()
        store.install_wheels(env_name, [wheels[g] for g in gone])
        installed.update(gone)
        check()
    store.remove_env(env_name)


def test_entries_of_an_older_scan_are_rescanned_once(store: Store, build: Build, tmp_path: Path) -> None:
    """The scan before ``climb_scan`` 2 left out climbs into the entry's own dirs (pin's target
    ``cmeel.prefix/lib`` is a dir of pin's entry): such entries are rescanned when next linked."""
    w = tmp_path / "w"
    dep, mod = _dep_wheel(build, w), _mod_wheel(build, w)
    store.create_env("first")
    store.install_wheels("first", [dep, mod])
    entry = store.entries("cmeel-mod")[0]
    row = store.catalog.entry(entry.id)
    assert row is not None and row.meta["climb_scan"] == SCAN_VERSION
    old = {k: v for k, v in row.meta.items() if k != "climb_scan"}
    old["climbs"] = []  # what the old scan recorded for it
    with store.catalog.transaction():
        store.catalog.set_meta(entry.id, old)
    assert store.entries("cmeel-mod")[0].climbs == ()
    store.create_env("e")
    store.install_wheels("e", [dep, mod])
    assert _import_mod(store, "e").stdout.strip() == "42"
    fresh = store.entries("cmeel-mod")[0]
    assert [c.rpath for c in fresh.climbs] == [CLIMB]
    row = store.catalog.entry(entry.id)
    assert row is not None and row.meta["climb_scan"] == SCAN_VERSION, "recorded: rescanned once"


def test_native_scans_are_read_once_per_process_an_older_scan_never_kept(
    store: Store, build: Build, tmp_path: Path
) -> None:
    """The policy checks read an entry's native scan from its row once per process (entries never
    change); a row of an older scan is rescanned each time and not kept, so that its rescan is
    recorded when the entry is next linked (the test above)."""
    import dataclasses

    from forge_store import native

    w = tmp_path / "w"
    store.create_env("first")
    store.install_wheels("first", [_dep_wheel(build, w), _mod_wheel(build, w)])
    entry = store.entries("cmeel-mod")[0]
    row = store.catalog.entry(entry.id)
    assert row is not None
    native._scans.pop(entry.id, None)
    native.warm_scans(store, [row])
    kept = native._scans[entry.id]
    assert native._entry_scan(store, row) is kept and [c["rpath"] for c in kept[0]] == [CLIMB]
    older = dataclasses.replace(row, meta={k: v for k, v in row.meta.items() if k != "climb_scan"})
    native._scans.pop(entry.id)
    rescanned = native._entry_scan(store, older)
    assert rescanned == kept and entry.id not in native._scans


@pytest.mark.parametrize(
    ("file", "rpath", "apex"),
    [
        ("torch/lib/x.so", "$ORIGIN/../../nvidia/cublas/lib", ""),
        ("torch/lib/x.so", "${ORIGIN}/../../nvidia/cublas/lib", ""),
        ("a/b/c/d/x.so", "$ORIGIN/../../../../lib", ""),
        ("p/l/py/sp/pin/x.so", "$ORIGIN/../../../../lib", "p"),
        ("pkg/x.so", "$ORIGIN/../../../../lib", "../../.."),
        ("pkg/x.so", "$ORIGIN/sub/../lib", "pkg"),
        ("pkg/x.so", "$ORIGIN/./../lib/", ""),
        ("pkg/x.so", "$ORIGIN", None),
        ("pkg/x.so", "$ORIGIN/lib", None),
        ("pkg/x.so", "/usr/lib/../lib64", None),
        ("pkg/x.so", "$ORIGINAL/../lib", None),
        ("pkg/x.so", "$LIB/..", None),
    ],
)
def test_climb_of(file: str, rpath: str, apex: str | None) -> None:
    from forge_store.elf import climb_of

    assert climb_of(file, rpath) == apex


def test_scan_reads_lists_spellings_and_executables(build: Build, tmp_path: Path) -> None:
    """Every entry of an RPATH list counts; executables (no ``.so`` in the name) are scanned by mode."""
    from forge_store.elf import rpaths, scan_climbs

    site = tmp_path / "site"
    (site / "pkg" / "bin").mkdir(parents=True)
    lib = site / "pkg" / "libx.so"
    lib.write_bytes(build.climber("$ORIGIN:${ORIGIN}/../dep/lib:/opt/x"))
    exe = site / "pkg" / "bin" / "tool"
    exe.write_bytes(build.climber("$ORIGIN/../../dep/lib"))
    exe.chmod(0o755)
    data = site / "pkg" / "bin" / "data"  # neither a library by name nor executable: not read
    data.write_bytes(build.climber("$ORIGIN/../../dep/lib"))
    (site / "pkg" / "empty.so").write_bytes(b"")
    (site / "pkg" / "short.so").write_bytes(b"\x7fELF\x02\x01")
    assert rpaths(lib) == ["$ORIGIN", "${ORIGIN}/../dep/lib", "/opt/x"]
    assert rpaths(site / "pkg" / "empty.so") == [] == rpaths(site / "pkg" / "short.so")
    files = ["pkg/libx.so", "pkg/bin/tool", "pkg/bin/data", "pkg/empty.so", "pkg/short.so"]
    found = {(c.file, c.rpath, c.apex) for c in scan_climbs(site, files)}
    assert found == {
        ("pkg/libx.so", "${ORIGIN}/../dep/lib", ""),
        ("pkg/bin/tool", "$ORIGIN/../../dep/lib", ""),
    }

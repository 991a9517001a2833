"""ABI policy (issue 8, point 2): compiled code that does not fit the env's interpreter although the
wheel's tags let it in, each ``abi_policy``; tag-based store reuse across interpreters and the reuse
report (``reused``, ``reuse_kind``, ``warnings``) in text and JSON.

The lying wheels are built by the wheel factory with ELF bytes from ``tests/support/abi_elf.py``;
the reuse tests run two installed CPythons (3.11 and 3.12, skipped when one is missing) and, so
that the unprivileged run covers a second interpreter too, a compiler wrapper that gives the
running Python another bytecode cache tag.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store import abi, interpreters, policy
from forge_store.errors import ExitCode, IncompatibleWheel
from forge_store.models import Interpreter, ReuseKind
from forge_store.seal import is_sealed
from forge_store.settings import AbiPolicy
from forge_store.store import Store
from tests.conftest import forge_cli, run_py
from tests.support import abi_elf
from tests.support.abi_elf import EM_386, EM_AARCH64, EM_PPC64, EM_X86_64, elf
from tests.support.wheels import make_wheel

HERE = interpreters.current()
OTHER_MINOR = f"{HERE.version[0]}{HERE.version[1] + 1}"  # a CPython that is not this one
MULTIARCH = HERE.multiarch or "x86_64-linux-gnu"
FOREIGN_SO = f"liar/_speedups.cpython-{OTHER_MINOR}-{MULTIARCH}.so"


def _liar(wheel_dir: Path, name: str = "liar", **files: bytes) -> Path:
    """A ``py3-none-any`` wheel that carries an extension for another CPython."""
    body = {f"{name}/__init__.py": b"", FOREIGN_SO.replace("liar", name): elf(), **files}
    return make_wheel(wheel_dir, name, "1.0", files=body)


def _abi_findings(store: Store, env: str) -> list[policy.Finding]:
    return [f for f in policy.stack_findings(store, store.env(env)) if f.kind is policy.Kind.ABI]


# -- each policy -------------------------------------------------------------------------------------


def test_strict_abi_refuses_a_py3_none_any_wheel_with_another_cpythons_extension(
    store: Store, wheel_dir: Path
) -> None:
    from forge_store import settings

    env = store.create_env("strict")
    settings.set_value(store, "strict", "abi_policy", "strict_abi")
    whl = _liar(wheel_dir)
    before = sorted(os.listdir(env.site_packages))
    with pytest.raises(policy.PolicyRefused) as exc:
        store.install_wheels("strict", [whl])
    err = exc.value
    assert err.exit_code == ExitCode.INCOMPATIBLE == 5
    assert "refused (abi_policy strict_abi)" in str(err)
    assert f"is built for CPython {OTHER_MINOR[0]}.{OTHER_MINOR[1:]}" in str(err)
    assert "tag py3-none-any lets it in" in str(err)
    assert [f.kind for f in err.findings] == [policy.Kind.ABI]
    assert err.findings[0].chain == (f"{FOREIGN_SO} is built for CPython {OTHER_MINOR[0]}.{OTHER_MINOR[1:]}",)
    # nothing changed: no link, no catalog row, the new entry discarded
    assert sorted(os.listdir(env.site_packages)) == before
    assert store.visible("strict") == []
    assert store.entries("liar") == []


def test_strict_abi_from_the_cli_exits_5_and_names_the_file(forge_home: Path, wheel_dir: Path) -> None:
    assert forge_cli("create", "kid", "-q").returncode == 0
    assert forge_cli("env", "set", "kid", "abi_policy", "strict_abi").returncode == 0
    proc = forge_cli("install", "--env", "kid", str(_liar(wheel_dir)))
    assert proc.returncode == 5, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("forge: error: refused (abi_policy strict_abi): liar 1.0")
    # the refusal's chain, indented under its one line (h-conflicts' rendering)
    assert lines[1:] == [f"  {FOREIGN_SO} is built for CPython {OTHER_MINOR[0]}.{OTHER_MINOR[1:]}"]
    assert "Traceback" not in proc.stderr
    doc = json.loads(forge_cli("list", "--env", "kid", "--json").stdout)
    assert doc["packages"] == []


def test_warn_abi_installs_and_warns_in_the_report(store: Store, wheel_dir: Path) -> None:
    store.create_env("warned")  # warn_abi is the default
    report = store.install_wheels("warned", [_liar(wheel_dir)])
    (action,) = report.actions
    assert action.action == "linked"
    assert [f.kind for f in report.findings] == [policy.Kind.ABI]
    message = report.findings[0].message
    assert message in report.warnings
    assert action.warnings == (message,)
    assert message.startswith("liar 1.0 (local 'warned') does not fit CPython")


def test_allow_abi_says_nothing(store: Store, wheel_dir: Path) -> None:
    from forge_store.linker import DistSpec

    store.create_env("allowed")
    entry = store.add_wheel(_liar(wheel_dir))
    report = store.change(
        "allowed", add=[DistSpec(entry)], policy=policy.Policy(abi_policy=AbiPolicy.ALLOW_ABI)
    )
    store.release()
    assert report.warnings == () and report.findings == ()
    assert report.actions[0].warnings == ()
    # the finding is still there for doctor / inspect to show
    assert len(_abi_findings(store, "allowed")) == 1


def test_a_fitting_compiled_wheel_has_no_finding(store: Store, wheel_dir: Path) -> None:
    store.create_env("fine")
    own = HERE.extension_suffixes[0]
    files = {
        "fine/__init__.py": b"",
        f"fine/_a{own}": elf(),
        "fine/_b.abi3.so": elf(undefined=["PyLong_FromLong"]),
        "fine/_c.so": elf(),
        "fine.libs/libz-1a2b.so.1": elf(),
    }
    report = store.install_wheels("fine", [make_wheel(wheel_dir, "fine", "1.0", files=files)])
    assert report.findings == () and report.warnings == ()
    assert _abi_findings(store, "fine") == []


# -- the class of mismatches, on the pure check ------------------------------------------------------


def _target(**changes: object) -> abi.Target:
    interp = dataclasses.replace(
        HERE,
        version=(3, 11, 7),
        abiflags="",
        implementation="cpython",
        soabi=f"cpython-311-{MULTIARCH}",
        multiarch=MULTIARCH,
        extension_suffixes=(f".cpython-311-{MULTIARCH}.so", ".abi3.so", ".so"),
    )
    interp = dataclasses.replace(interp, **changes)  # type: ignore[arg-type]
    return abi.Target(interp, abi._suffixes(interp), abi_elf.native(), (), frozenset())


def _bin(path: str, data: bytes = b"") -> abi.Binary:
    data = data or elf()
    fmt = abi._format(data[:20])
    return abi.Binary(f"site/{path}", fmt, abi.elf_ident(data[:20]))


@pytest.mark.parametrize(
    ("name", "expect"),
    [
        (f"m.cpython-312-{MULTIARCH}.so", "is built for CPython 3.12"),
        (f"m.cpython-310-{MULTIARCH}.so", "is built for CPython 3.10"),
        (f"m.cpython-311d-{MULTIARCH}.so", "a debug build of CPython 3.11"),
        (f"m.cpython-311t-{MULTIARCH}.so", "a free-threaded build of CPython 3.11"),
        ("m.cpython-311-aarch64-linux-gnu.so", "is built for platform aarch64-linux-gnu"),
        ("m.cpython-311-darwin.so", "is built for platform darwin"),
        ("m.pypy39-pp73-x86_64-linux-gnu.so", "is built for PyPy (pypy39-pp73)"),
        ("m.cp311-win_amd64.pyd", "is a Windows extension module"),
        ("m.pyd", "is a Windows extension module"),
    ],
)
def test_suffixes_that_name_another_interpreter(name: str, expect: str) -> None:
    (line,) = abi.problems([_bin(f"pkg/{name}")], _target())
    assert line.startswith(f"pkg/{name} ") and expect in line


@pytest.mark.parametrize(
    "name",
    [f"m.cpython-311-{MULTIARCH}.so", "m.abi3.so", "m.so", "libfoo.so.1", "lib.with.dots.so", "libfoo.so"],
)
def test_suffixes_the_interpreter_imports_or_never_imports_are_fine(name: str) -> None:
    assert abi.problems([_bin(f"pkg/{name}")], _target()) == []


def test_abi3_is_no_suffix_of_a_free_threaded_build() -> None:
    target = _target(
        abiflags="t", soabi=f"cpython-313t-{MULTIARCH}", version=(3, 13, 0), extension_suffixes=()
    )
    assert target.suffixes == (f".cpython-313t-{MULTIARCH}.so", ".so")
    (line,) = abi.problems([_bin("pkg/m.abi3.so")], target)
    assert "is an abi3 extension, which CPython 3.13t does not import" in line


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (elf(EM_AARCH64 if abi_elf.native()[2] != EM_AARCH64 else EM_X86_64), "is ELF for "),
        (elf(cls=1 if abi_elf.native()[0] == 2 else 2, machine=abi_elf.native()[2]), "-bit ELF, not "),
        (elf(order=2 if abi_elf.native()[1] == 1 else 1), "-endian ELF, not "),
        (elf(EM_386), "is ELF for i386"),
        (elf(EM_PPC64, order=2), "is ELF for PowerPC64"),
        (b"\xcf\xfa\xed\xfe" + b"\0" * 60, "is a Mach-O (macOS) file"),
        (b"MZ" + b"\0" * 62, "is a PE (Windows) file"),
    ],
)
def test_an_extension_whose_bytes_are_for_another_machine(data: bytes, expect: str) -> None:
    if abi_elf.native()[2] == EM_386 and b"i386" in expect.encode():
        pytest.skip("this machine is i386")
    own = _target().suffixes[0]
    (line,) = abi.problems([_bin(f"pkg/_m{own}", data)], _target())
    assert expect in line, line


def test_foreign_libraries_count_only_without_a_native_one() -> None:
    """A multi-platform bundle carries other platforms' libraries on purpose; a wheel whose only
    binaries are for another machine cannot work here."""
    other = EM_AARCH64 if abi_elf.native()[2] != EM_AARCH64 else EM_X86_64
    bundle = [_bin("pkg/linux-x86_64/libcore.so", elf()), _bin("pkg/linux-arm/libcore.so", elf(other))]
    assert abi.problems(bundle, _target()) == []
    (line,) = abi.problems([_bin("pkg/libs/libcore.so.2", elf(other))], _target())
    assert line.startswith("pkg/libs/libcore.so.2 is ELF for")


def test_abi3_floor_from_the_symbols_the_extension_needs(store: Store, wheel_dir: Path) -> None:
    """``PyType_FromMetaclass`` entered the C API in 3.12: an abi3 extension that needs it does not
    load on 3.11, whatever its ``cp37-abi3`` tag says; weak references are looked up at run time."""
    target = abi.target_of(HERE)
    if not target.exported:
        pytest.skip("the interpreter's exported C API cannot be read")
    if "PyType_FromMetaclass" in target.exported:
        pytest.skip("this interpreter has PyType_FromMetaclass (3.12+)")
    store.create_env("floor")
    files = {
        "floor/__init__.py": b"",
        "floor/_new.abi3.so": elf(undefined=["PyLong_FromLong", "PyType_FromMetaclass"]),
        "floor/_weak.abi3.so": elf(undefined=["PyLong_FromLong"], weak=["PyType_FromMetaclass"]),
    }
    whl = make_wheel(wheel_dir, "floor", "1.0", files=files, tag="cp37-abi3-linux_x86_64")
    whl = whl.rename(wheel_dir / "floor-1.0-py3-none-any.whl")  # its tags still let it in anywhere
    report = store.install_wheels("floor", [whl])
    (finding,) = report.findings
    assert finding.chain == (
        "floor/_new.abi3.so needs PyType_FromMetaclass, which CPython"
        f" {HERE.short_version} does not export (its stable ABI floor is newer)",
    )


def test_an_entry_whose_tags_fit_nothing_here(store: Store, wheel_dir: Path) -> None:
    """Linked through the library API (no tag check on the way): the stack check still sees it."""
    from forge_store.linker import DistSpec

    store.create_env("tags")
    whl = make_wheel(wheel_dir, "wintool", "1.0", tag="cp27-cp27m-win32")
    entry = store.add_wheel(whl)
    report = store.change("tags", add=[DistSpec(entry)])
    store.release()
    (finding,) = report.findings
    assert "none of its tags fits CPython" in finding.message
    with pytest.raises(IncompatibleWheel):
        store.install_wheels("tags", [whl])  # the wheel-file path checks tags first


# -- the scan is recorded once per entry -------------------------------------------------------------


def _stack_of_50(store: Store, wheel_dir: Path) -> None:
    from forge_store.linker import DistSpec

    store.create_env("big")
    own = HERE.extension_suffixes[0]
    specs = []
    for i in range(50):
        files = {f"p{i}/__init__.py": b"", **{f"p{i}/_m{j}{own}": elf() for j in range(6)}}
        files[f"p{i}.libs/libdep{i}.so.1"] = elf()
        specs.append(DistSpec(store.add_wheel(make_wheel(wheel_dir, f"p{i}", "1.0", files=files))))
    store.change("big", add=specs, policy=policy.Policy(abi_policy=AbiPolicy.ALLOW_ABI))
    store.release()


def test_a_check_over_50_entries_reads_no_store_file(
    store: Store, wheel_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from forge_store import stack

    _stack_of_50(store, wheel_dir)
    env = store.env("big")
    view = stack.build(store, env)
    ctx = policy.CheckContext(store, env)
    abi._scans.clear()

    def no_scan(entry_dir: Path) -> list[abi.Binary]:
        raise AssertionError(f"{entry_dir} scanned again: ingest recorded its scan")

    monkeypatch.setattr(abi, "scan_entry", no_scan)
    t0 = time.perf_counter()
    assert list(abi.compiled_code(view, ctx)) == []  # from the entries' metadata
    cold = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    assert list(abi.compiled_code(view, ctx)) == []  # from this process's cache
    warm = (time.perf_counter() - t0) * 1000
    with capsys.disabled():
        print(f"\nabi check, 50 entries, 350 extensions: {cold:.1f} ms from metadata, {warm:.1f} ms cached")
    assert cold < 1000 and warm < 200


def test_an_entry_of_older_code_is_scanned_once_and_recorded(store: Store, wheel_dir: Path) -> None:
    from forge_store.linker import DistSpec

    store.create_env("old")
    entry = store.add_wheel(_liar(wheel_dir))
    meta = dict(store.catalog.entry(entry.id).meta)  # type: ignore[union-attr]
    del meta[abi.META_KEY]
    with store.catalog.transaction():
        store.catalog.set_meta(entry.id, meta)
    abi._scans.clear()
    store.change("old", add=[DistSpec(entry)])
    store.release()
    recorded = store.catalog.entry(entry.id).meta[abi.META_KEY]  # type: ignore[union-attr]
    assert recorded["version"] == abi.SCAN_VERSION and recorded["files"][0][0] == f"site/{FOREIGN_SO}"
    assert is_sealed(entry.path), "scanning reads the sealed entry, never opens it"


# -- reuse across interpreters -----------------------------------------------------------------------


def _walk_writable(root: Path) -> list[str]:
    """Paths below ``root`` (itself included) with any write bit."""
    found = []
    for dirpath, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o222:
                found.append(os.path.relpath(path, root))
    return found


@pytest.fixture
def other_tag(tmp_path: Path) -> Iterator[Interpreter]:
    """This Python under another bytecode cache tag: a second interpreter for the compiler (which
    is all ``ensure_pycs`` runs), available to every user, root or not."""
    shim = tmp_path / "othertag.py"
    shim.write_text(
        "import sys\n"
        "sys.implementation.cache_tag = 'cpython-399'\n"
        "code = sys.argv[1]\n"
        "sys.argv = ['-c', *sys.argv[2:]]\n"
        "exec(compile(code, '<compile>', 'exec'), {'__name__': '__main__'})\n"
    )
    wrapper = tmp_path / "python-othertag"
    wrapper.write_text(f'#!/bin/sh\nshift 2\nexec {sys.executable} -I {shim} "$@"\n')  # drops -I -c
    wrapper.chmod(0o755)
    yield dataclasses.replace(HERE, executable=wrapper, cache_tag="cpython-399")


def test_pycs_for_a_second_interpreter_leave_the_entry_sealed(
    store: Store, wheel_dir: Path, other_tag: Interpreter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forge_store import seal

    whl = make_wheel(
        wheel_dir,
        "shared",
        "1.0",
        files={"shared/__init__.py": "X = 1\n", "shared/sub/m.py": "Y = 2\n", "top.py": ""},
    )
    first = store.add_wheel(whl, interpreters_=[HERE])
    store.release()
    assert first.reuse_kind is ReuseKind.NONE
    opened: list[list[str]] = []
    real_open = seal.open_dirs
    monkeypatch.setattr(
        seal, "open_dirs", lambda root, rels: (opened.append(list(rels)), real_open(root, rels))
    )
    again = store.add_wheel(whl, interpreters_=[other_tag])
    store.release()
    assert (again.id, again.reused, again.reuse_kind) == (first.id, True, ReuseKind.ABI_COMPATIBLE)
    assert set(again.pyc_tags) == {HERE.cache_tag, "cpython-399"}
    site = again.site
    for rel in ("shared/__init__", "shared/sub/m", "top"):
        folder, name = os.path.split(rel)
        for tag in (HERE.cache_tag, "cpython-399"):
            assert (site / folder / "__pycache__" / f"{name}.{tag}.pyc").is_file(), (rel, tag)
    # only the directories that receive files were opened, and everything is sealed again
    (rels,) = opened
    assert sorted(rels) == sorted(
        [
            "site/shared-1.0.dist-info",
            "records",
            "site/__pycache__",
            "site/shared/__pycache__",
            "site/shared/sub/__pycache__",
        ]
    )
    assert is_sealed(again.path)
    assert _walk_writable(again.path) == []
    record = (site / "shared-1.0.dist-info" / "RECORD").read_text()
    assert "shared/__pycache__/__init__.cpython-399.pyc,," in record
    third = store.add_wheel(whl, interpreters_=[other_tag])
    store.release()
    assert third.reuse_kind is ReuseKind.EXACT


def _two_cpythons() -> tuple[Interpreter, Interpreter]:
    found = []
    for version in ("3.11", "3.12"):
        try:
            found.append(interpreters.find(version))
        except Exception:
            pytest.skip(f"no Python {version} here")
    return found[0], found[1]


def test_reuse_across_two_cpythons_by_tag(store: Store, wheel_dir: Path) -> None:
    """``py3-none-any`` serves both; the 3.11 env's entry is linked into the 3.12 env with 3.12's
    pycs added, sealed; ``cp311`` and ``cp312-abi3`` wheels do not reach 3.11/3.12 by tag."""
    py311, py312 = _two_cpythons()
    store.create_env("a311", python=str(py311.executable))
    store.create_env("b311", python=str(py311.executable))
    store.create_env("a312", python=str(py312.executable))
    store.create_env("b312", python=str(py312.executable))
    whl = make_wheel(wheel_dir, "attrs", "25.1", files={"attrs/__init__.py": "V = '25.1'\n"})
    kinds = {}
    for env in ("a311", "b311", "a312", "b312"):
        (action,) = store.install_wheels(env, [whl]).actions
        kinds[env] = (action.reused_entry, action.reuse_kind)
    assert kinds == {
        "a311": (False, ReuseKind.NONE),
        "b311": (True, ReuseKind.EXACT),
        "a312": (True, ReuseKind.ABI_COMPATIBLE),
        "b312": (True, ReuseKind.EXACT),
    }
    (entry,) = store.entries("attrs")
    assert set(entry.pyc_tags) == {"cpython-311", "cpython-312"}
    cache = entry.site / "attrs" / "__pycache__"
    assert sorted(os.listdir(cache)) == ["__init__.cpython-311.pyc", "__init__.cpython-312.pyc"]
    assert is_sealed(entry.path) and _walk_writable(entry.path) == []
    for env in ("a311", "a312"):
        proc = run_py(store.env(env).python, "import attrs, sys; print(attrs.__cached__)")
        assert proc.returncode == 0 and f"cpython-3{env[-2:]}.pyc" in proc.stdout, proc.stderr
    # cpXY serves only XY, abi3 its floor and up
    cp311 = make_wheel(wheel_dir, "only311", "1.0", tag=f"cp311-cp311-linux_{HERE.machine}")
    with pytest.raises(IncompatibleWheel):
        store.install_wheels("a312", [cp311])
    floor312 = make_wheel(wheel_dir, "floor312", "1.0", tag=f"cp312-abi3-linux_{HERE.machine}")
    with pytest.raises(IncompatibleWheel):
        store.install_wheels("a311", [floor312])
    assert store.install_wheels("a312", [floor312]).actions[0].action == "linked"


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_tags_py3_none_any_and_abi3_floors(version: str) -> None:
    try:
        interp = interpreters.find(version)
    except Exception:
        pytest.skip(f"no Python {version} here")
    tags = set(interpreters.wheel_tags(interp))
    minor = interp.version[1]
    plat = f"linux_{interp.machine}"
    assert "py3-none-any" in tags
    assert f"cp{3}{minor}-cp3{minor}-{plat}" in tags
    assert (
        f"cp3{minor + 1}-cp3{minor + 1}-{plat}" not in tags
        and f"cp3{minor - 1}-cp3{minor - 1}-{plat}" not in tags
    )
    assert all(f"cp3{m}-abi3-{plat}" in tags for m in range(2, minor + 1))
    assert f"cp3{minor + 1}-abi3-{plat}" not in tags


def test_the_resolver_path_adds_pycs_for_the_linking_interpreter(forge_home: Path, wheel_dir: Path) -> None:
    """``forge pip install`` links a store entry of another interpreter (same wheel file from the
    index): 3.12 gets its pycs, and ``-v`` prints the reuse report."""
    py311, py312 = _two_cpythons()
    make_wheel(wheel_dir, "attrs", "25.1", files={"attrs/__init__.py": "V = 1\n"})
    for name, interp in (("e311", py311), ("e312", py312)):
        assert forge_cli("create", name, "--python", str(interp.executable), "-q").returncode == 0
    first = forge_cli("pip", "install", "--env", "e311", "--no-index", "-f", str(wheel_dir), "attrs", "-v")
    assert first.returncode == 0, first.stderr
    assert "Forge: linked attrs 25.1 (store: new)" in first.stdout
    proc = forge_cli(
        "pip", "install", "--env", "e312", "--no-index", "-f", str(wheel_dir), "attrs", "-v", "--report", "-"
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    (item,) = report["install"]
    assert sorted(k for k in item if k != "forge") == [
        "download_info",
        "is_direct",
        "is_yanked",
        "metadata",
        "requested",
    ]
    assert item["forge"]["reused"] is True and item["forge"]["reuse_kind"] == "abi_compatible"
    assert item["forge"]["warnings"] == [] and item["forge"]["action"] == "link"
    pycs = sorted(p.name for p in (forge_home / "store").glob("*/site/attrs/__pycache__/*.pyc"))
    assert pycs == ["__init__.cpython-311.pyc", "__init__.cpython-312.pyc"]


# -- the reuse report in text and JSON ---------------------------------------------------------------


def test_forge_install_prints_the_reuse_report(forge_home: Path, wheel_dir: Path) -> None:
    whl = str(_liar(wheel_dir))
    for env in ("one", "two"):
        assert forge_cli("create", env, "-q").returncode == 0
    text = forge_cli("install", "--env", "one", whl)
    assert text.returncode == 0
    assert "linked: liar 1.0 (store: new)" in text.stdout
    assert "warning: liar 1.0 (local 'one') does not fit CPython" in text.stderr
    proc = forge_cli("install", "--env", "two", whl, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "install" and doc["version"] == "1"
    (action,) = doc["actions"]
    assert action["reused"] is True and action["reuse_kind"] == "exact"
    (warning,) = action["warnings"]
    assert warning.startswith("liar 1.0 (local 'two') does not fit")
    assert doc["warnings"] == [warning]
    (finding,) = doc["findings"]
    assert finding["kind"] == "abi-mismatch" and finding["governed_by"] == "abi_policy"
    assert finding["enforce_exit_code"] == 31 and finding["subject"] == "liar"
    again = forge_cli("install", "--env", "two", whl)
    assert "already linked: liar 1.0" in again.stdout
    three = forge_cli("create", "three", "-q")
    assert three.returncode == 0
    assert "linked: liar 1.0 (store: reused, exact)" in forge_cli("install", "--env", "three", whl).stdout


def test_forge_install_of_requirements_prints_the_reuse_report_without_v(
    forge_home: Path, wheel_dir: Path
) -> None:
    make_wheel(wheel_dir, "attrs", "25.1", files={"attrs/__init__.py": ""})
    lines = {}
    for env in ("one", "two"):
        assert forge_cli("create", env, "-q").returncode == 0
        proc = forge_cli("install", "--env", env, "--no-index", "-f", str(wheel_dir), "attrs")
        assert proc.returncode == 0, proc.stderr
        lines[env] = [line for line in proc.stdout.splitlines() if line.startswith("Forge: linked")]
    assert lines == {
        "one": ["Forge: linked attrs 25.1 (store: new)"],
        "two": ["Forge: linked attrs 25.1 (store: reused, exact)"],
    }
    plain = forge_cli("pip", "install", "--env", "one", "--no-index", "-f", str(wheel_dir), "attrs", "-U")
    assert "Forge: linked" not in plain.stdout, "pip's front end prints them under -v only"

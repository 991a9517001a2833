"""Native libraries across layers (issue #8 point 3): CUDA variants mixed across layers, a child
override that a parent's ELF ignores (``$ORIGIN``), a CUDA soname the system loader path offers in
another major. Each through ``forge install`` in ``strict`` (refused, exit 4, nothing changed),
``warn`` (installed, a warning) and ``loose`` (installed, silent); plus the ELF scan behind them.

The ELF files are real, built with ``cc``; the system loader path is staged in temporary
directories (``LD_LIBRARY_PATH``, a cache made by ``ldconfig -C``), never the machine's own.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forge_store import elf, native, policy
from forge_store.policy import Kind
from forge_store.stack import StackView, build
from forge_store.store import Store
from tests.conftest import forge_cli, have_cc, run_py
from tests.support.wheels import make_wheel

MODES = ("strict", "warn", "loose")
LINUX_TAG = "py3-none-linux_x86_64"
needs_cc = pytest.mark.skipif(not have_cc(), reason="needs a C compiler")
# ldconfig lives in sbin, which an ordinary user's PATH often lacks
LDCONFIG = shutil.which("ldconfig") or next(
    (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.access(p, os.X_OK)), None
)


@pytest.fixture(autouse=True)
def _no_system_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own loader path stays out: every test stages what it needs."""
    monkeypatch.setenv("FORGE_LD_CACHE", "")
    monkeypatch.setenv("FORGE_CUDA_DIRS", "")
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)


def _run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return forge_cli(*args, env={**os.environ, **(extra_env or {})})


def _ok(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = _run(*args, extra_env=extra_env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def _doc(*args: str) -> dict[str, Any]:
    doc = json.loads(_ok(*args, "--json").stdout)
    assert isinstance(doc, dict)
    return doc


def _listing(env: str) -> list[tuple[str, str, str]]:
    """What the env sees: (name, version, the env that holds it)."""
    doc = _doc("list", "--env", env)
    return sorted((r["name"], r["version"], r["env"]) for r in doc["packages"])


def _cc(src: str, out: Path, *args: str) -> bytes:
    c = out.with_suffix(".c")
    c.write_text(src)
    proc = subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(out), str(c), *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def _install(
    env: str, mode: str, wheels: list[Path], *flags: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Set the env's conflict_mode, install; check each mode's contract; return the process."""
    _ok("env", "set", env, "conflict_mode", mode)
    before = _listing(env)
    proc = _run("install", *map(str, wheels), "--env", env, *flags, extra_env=extra_env)
    if mode == "strict":
        assert proc.returncode == 4, (proc.stdout, proc.stderr)
        assert "refused (conflict_mode strict)" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert _listing(env) == before, "strict: nothing changed"
    else:
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert _listing(env) != before
    return proc


# -- CUDA variants ---------------------------------------------------------------------------------


def _fake(where: Path, name: str, version: str, **kw: Any) -> Path:
    mod = name.replace("-", "_")
    files = kw.pop("files", None) or {f"{mod}/__init__.py": f"V = {version!r}\n"}
    return make_wheel(where / f"{name}-{version}", name, version, files=files, **kw)


@pytest.mark.parametrize("mode", MODES)
def test_cuda_family_mixed_across_layers(forge_home: Path, wheel_dir: Path, mode: str) -> None:
    """Base: a torch-like ``2.1.0+cu118``; child: ``nvidia-foo-cu12``: two CUDA majors in one stack."""
    _ok("create", "base", "-q")
    _ok("install", str(_fake(wheel_dir, "torch", "2.1.0+cu118")), "--env", "base", "-q")
    _ok("create", "kid", "--parent", "base", "-q")
    proc = _install("kid", mode, [_fake(wheel_dir, "nvidia-foo-cu12", "1.0")])
    if mode == "loose":
        assert "CUDA" not in proc.stderr
        return
    line = "CUDA variants mixed in 'kid': cu12 in local 'kid' (nvidia-foo-cu12 1.0); cu11 in parent 'base'"
    assert line in proc.stderr, proc.stderr
    assert "torch 2.1.0+cu118" in proc.stderr
    if mode == "warn":
        tree = _doc("tree", "--env", "kid")
        cuda = {layer["env"]: layer["cuda"] for layer in tree["layers"]}
        assert cuda["kid"]["variants"] == ["cu12"] and cuda["base"]["variants"] == ["cu11"]
        assert cuda["base"]["packages"][0] == {
            "name": "torch",
            "version": "2.1.0+cu118",
            "variant": "cu11",
            "evidence": "local version +cu118",
            "shadowed": False,
        }
        inspect = _doc("inspect", "torch", "--env", "kid")
        assert [(c["env"], c["variants"]) for c in inspect["cuda"]][:2] == [
            ("kid", ["cu12"]),
            ("base", ["cu11"]),
        ]
        text = _ok("tree", "--env", "kid").stdout
        assert "  cuda: cu12" in text and "  cuda: cu11" in text
        assert "cuda: kid cu12, base cu11" in _ok("inspect", "torch", "--env", "kid").stdout
        assert _run("--enforce", "doctor").returncode == 32
        assert _run("--enforce", "tree", "--env", "kid").returncode == 32


@pytest.mark.parametrize("mode", MODES)
def test_cpu_torch_in_one_layer_cuda_in_another(forge_home: Path, wheel_dir: Path, mode: str) -> None:
    """``+cpu`` torch in the child over a base whose torchvision is ``+cu121``."""
    _ok("create", "base", "-q")
    base = [_fake(wheel_dir, "torch", "2.2.0+cu121"), _fake(wheel_dir, "torchvision", "0.17.0+cu121")]
    _ok("install", *map(str, base), "--env", "base", "-q")
    _ok("create", "kid", "--parent", "base", "-q")
    proc = _install("kid", mode, [_fake(wheel_dir, "torch", "2.2.0+cpu")], "--local")
    if mode == "loose":
        assert "CUDA" not in proc.stderr
    else:
        assert "cpu in local 'kid' (torch 2.2.0+cpu); cu12 in parent 'base' (torchvision 0.17.0+cu121)" in (
            proc.stderr
        )


def test_one_variant_across_layers_is_fine(store: Store, wheel_dir: Path) -> None:
    store.create_env("base")
    store.install_wheels("base", [_fake(wheel_dir, "torch", "2.2.0+cu121")])
    store.create_env("kid", parent="base")
    report = store.install_wheels("kid", [_fake(wheel_dir, "nvidia-cublas-cu12", "12.1.3.1")])
    assert not report.findings
    assert not [f for f in policy.stack_findings(store, store.env("kid")) if f.kind is Kind.CUDA_MIX]


def test_unsuffixed_nvidia_and_requirements_show_the_variant(store: Store, wheel_dir: Path) -> None:
    """CUDA 13 wheels: ``nvidia-*`` without a suffix (told by ``nvidia/cu13/``) and a torch without a
    local version (told by its ``cuda-toolkit==13.0.3`` requirement)."""
    torch = _fake(
        wheel_dir,
        "torch",
        "2.14.1",
        requires=['cuda-toolkit[cublas]==13.0.3; platform_system == "Linux"', "filelock"],
    )
    cufft = _fake(
        wheel_dir,
        "nvidia-cufft",
        "12.0.0.61",
        files={"nvidia/cu13/lib/libcufft.so.12": b"not really\n"},
        tag=LINUX_TAG,
        purelib=False,
    )
    store.create_env("base")
    store.install_wheels("base", [torch, cufft])
    store.create_env("kid", parent="base")
    store.install_wheels("kid", [_fake(wheel_dir, "nvidia-bar-cu12", "1.0")])
    layers = {c.env: c for c in native.layer_cuda(store, _view(store, "kid"))}
    assert layers["base"].variants == ("cu13",)
    evidence = {s.name: s.evidence for s in layers["base"].signals}
    assert evidence == {
        "nvidia-cufft": "nvidia/cu13/ in its files",
        "torch": 'requires cuda-toolkit[cublas]==13.0.3; platform_system == "Linux"',
    }
    mixes = [f for f in policy.stack_findings(store, store.env("kid")) if f.kind is Kind.CUDA_MIX]
    assert (
        len(mixes) == 1
        and "cu12 in local 'kid'" in mixes[0].message
        and "cu13 in parent 'base'" in (mixes[0].message)
    )
    assert set(mixes[0].layers) == {"kid", "base"}
    assert "torch" in mixes[0].packages and "nvidia-bar-cu12" in mixes[0].packages
    assert not [f for f in policy.stack_findings(store, store.env("base")) if f.kind is Kind.CUDA_MIX]


def _view(store: Store, env: str) -> StackView:
    return build(store, store.env(env))


@pytest.mark.parametrize(
    ("name", "version", "variant"),
    [
        ("torch", "2.1.0+cu118", "cu11"),
        ("torch", "2.2.0+cu121", "cu12"),
        ("torch", "2.9.0+cu130", "cu13"),
        ("torch", "1.7.1+cu92", "cu9"),
        ("torch", "2.4.0+cpu", "cpu"),
        ("torch", "2.1.0+cpu.cxx11.abi", "cpu"),
        ("torch", "2.5.1+rocm6.2", "rocm6"),
        ("torch", "2.7.0+xpu", "xpu"),
        ("torchvision", "0.17.0+cu121", "cu12"),
        ("torchaudio", "2.2.0+cpu", "cpu"),
        ("jaxlib", "0.4.7+cuda12.cudnn88", "cu12"),
        ("nvidia-cublas-cu12", "12.1.3.1", "cu12"),
        ("nvidia-cudnn-cu13", "9.24.0.43", "cu13"),
        ("nvidia-cuda-runtime-cu11", "11.8.89", "cu11"),
        ("nvidia-cublas", "13.1.1.3", "cu13"),
        ("nvidia-cuda-runtime", "13.0.96", "cu13"),
        ("cuda-toolkit", "13.0.3.0", "cu13"),
        ("cuda-python", "12.6.0", "cu12"),
        ("cuda-bindings", "13.0.3", "cu13"),
        ("jax-cuda12-plugin", "0.4.30", "cu12"),
        ("jax-cuda13-pjrt", "0.7.0", "cu13"),
        ("cupy-cuda12x", "13.3.0", "cu12"),
        ("cupy-cuda117", "10.6.0", "cu11"),
        ("cupy-cuda102", "9.6.0", "cu10"),
        ("cupy-rocm-5-0", "13.0.0", "rocm5"),
        # no variant from name and version alone:
        ("torch", "2.14.1", None),
        ("nvidia-cufft", "12.0.0.61", None),  # CUDA 13 by its nvidia/cu13/ dir, not its version
        ("nvidia-ml-py", "12.535.161", None),
        ("nvidia-cublas", "11.0.0", None),  # before the unsuffixed era: not a toolkit major
        ("cuda-pathfinder", "1.8.3", None),
        ("numpy", "2.4.6+cu121", None),
        ("tensorflow", "2.17.0", None),
    ],
)
def test_variant_of_name(name: str, version: str, variant: str | None) -> None:
    found = native.variant_of_name(name, version)
    assert (found[0] if found else None) == variant


@pytest.mark.parametrize(
    ("requirement", "variant"),
    [
        ("nvidia-cublas-cu12==12.1.3.1", "cu12"),
        ("nvidia-cudnn-cu13", "cu13"),
        ("jax-cuda12-plugin[with-cuda]>=0.4", "cu12"),
        ("cuda-toolkit[cublas,cudart]==13.0.3", "cu13"),
        ("cuda-bindings<14,>=13.0.3", "cu13"),
        ("cuda-python~=12.6", "cu12"),
        ("cuda-python==12.*", "cu12"),
        ("nvidia-cublas>=13.1,<13.2", "cu13"),
        ("cuda-python>=11.8", None),  # 11, 12, 13 all fit: no variant
        ("cuda-bindings>=12,<14", None),
        ("cuda-python<13", None),
        ("nvidia-cublas>=12", None),
        ("numpy==2.4.6", None),
        ("nvidia-cublas-cu12; extra == 'gpu'", None),  # only with an extra
        ("nvidia-cublas-cu11; sys_platform == 'nonesuch'", None),
    ],
)
def test_variant_of_requirements(requirement: str, variant: str | None) -> None:
    from forge_store import interpreters

    found = native._variant_of_requirements([requirement], interpreters.current().marker_env())
    assert (found[0] if found else None) == variant


# -- $ORIGIN overrides -----------------------------------------------------------------------------


class OriginBuild:
    """``libdep.so`` v1 (``dep_value`` 42) and v2 (99), ``libtop.so`` (``dep_value() + 1``) whose
    RUNPATH climbs ``$ORIGIN/../../dep/lib`` (torch/lib -> nvidia/*/lib in miniature)."""

    def __init__(self, root: Path) -> None:
        self.dep1 = _cc("int dep_value(void) { return 42; }\n", root / "v1" / "libdep.so")
        self.dep2 = _cc("int dep_value(void) { return 99; }\n", root / "v2" / "libdep.so")
        self.top = _cc(
            "int dep_value(void);\nint top_value(void) { return dep_value() + 1; }\n",
            root / "libtop.so",
            f"-L{root / 'v1'}",
            "-ldep",
            "-Wl,-rpath,$ORIGIN/../../dep/lib",
            "-Wl,--enable-new-dtags",
        )

    def wheels(self, where: Path) -> dict[str, Path]:
        def dep(version: str, lib: bytes) -> Path:
            files: dict[str, bytes | str] = {
                "dep/__init__.py": f"V = {version!r}\n",
                "dep/lib/libdep.so": lib,
            }
            return make_wheel(where / version, "dep", version, files=files, tag=LINUX_TAG, purelib=False)

        top_files: dict[str, bytes | str] = {"top/__init__.py": "", "top/lib/libtop.so": self.top}
        top = make_wheel(where, "top", "1.0", files=top_files, tag=LINUX_TAG, purelib=False, requires=["dep"])
        return {"dep1": dep("1.0", self.dep1), "dep2": dep("2.0", self.dep2), "top": top}


@pytest.fixture(scope="module")
def origin_build(tmp_path_factory: pytest.TempPathFactory) -> OriginBuild:
    if not have_cc():
        pytest.skip("needs a C compiler")
    root = tmp_path_factory.mktemp("origin")
    (root / "v1").mkdir()
    (root / "v2").mkdir()
    return OriginBuild(root)


def _top_value(env: str) -> str:
    """What the env's ``top`` library computes, loaded the way an extension module is."""
    with Store() as store:
        python = store.env(env).python
    code = (
        "import ctypes, os, top, dep\n"
        "lib = ctypes.CDLL(os.path.join(os.path.dirname(top.__file__), 'lib', 'libtop.so'))\n"
        "print(dep.V, lib.top_value())"
    )
    proc = run_py(python, code)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@needs_cc
@pytest.mark.parametrize("mode", MODES)
def test_child_override_a_parent_elf_ignores(
    forge_home: Path, tmp_path: Path, origin_build: OriginBuild, mode: str
) -> None:
    w = origin_build.wheels(tmp_path / "w")
    _ok("create", "base", "-q")
    _ok("install", str(w["dep1"]), str(w["top"]), "--env", "base", "-q")
    _ok("create", "kid", "--parent", "base", "-q")
    # --local: the shadowing itself is the user's decision (warned, never refused); what the
    # parent's ELF does with it is not
    proc = _install("kid", mode, [w["dep2"]], "--local")
    message = (
        "top 1.0 (parent 'base') reaches dep/lib/ through $ORIGIN/../../dep/lib, which resolves inside"
        " 'base': the override dep 2.0 (local 'kid') is ignored there, top loads dep 1.0"
        " (parent 'base')"
    )
    if mode == "loose":
        assert "$ORIGIN" not in proc.stderr and "shadows" not in proc.stderr
        return
    assert message in proc.stderr, proc.stderr
    if mode == "warn":
        # what the finding says is what happens: the child imports dep 2.0, top still runs dep 1.0
        assert _top_value("kid") == "2.0 43"
        with Store() as store:
            found = [
                f for f in policy.stack_findings(store, store.env("kid")) if f.kind is Kind.ORIGIN_OVERRIDE
            ]
        assert [f.to_dict()["enforce_exit_code"] for f in found] == [33]
        assert found[0].subject == "dep" and found[0].packages == ("top", "dep")
        assert found[0].layers == ("base", "kid")
        assert found[0].chain[0] == "top/lib/libtop.so: $ORIGIN/../../dep/lib"
        assert _run("--enforce", "tree", "--env", "kid").returncode == 33, "before shadowed's 35"


@needs_cc
def test_parent_change_that_a_childs_override_makes_ignored(
    forge_home: Path, tmp_path: Path, origin_build: OriginBuild
) -> None:
    """The finding appears in the child's stack, the change is the parent's: a strict parent refuses
    it (every descendant's stack is checked)."""
    w = origin_build.wheels(tmp_path / "w")
    _ok("create", "base", "-q")
    _ok("create", "kid", "--parent", "base", "-q")
    _ok("install", str(w["dep2"]), "--env", "kid", "-q")
    proc = _install("base", "strict", [w["dep1"], w["top"]])
    assert "the override dep 2.0 (local 'kid') is ignored there" in proc.stderr, proc.stderr


@needs_cc
def test_child_provides_what_a_parent_elf_climbs_to(
    store: Store, tmp_path: Path, origin_build: OriginBuild
) -> None:
    """The parent lacks dep; the child has it: $ORIGIN still looks in the parent, and finds nothing."""
    w = origin_build.wheels(tmp_path / "w")
    store.create_env("base")
    store.install_wheels("base", [w["top"]])
    store.create_env("kid", parent="base")
    report = store.install_wheels("kid", [w["dep2"]])
    found = [f for f in report.findings if f.kind is Kind.ORIGIN_OVERRIDE]
    assert [f.message for f in found] == [
        "top 1.0 (parent 'base') reaches dep/lib/ through $ORIGIN/../../dep/lib, which resolves inside"
        " 'base': dep 2.0 (local 'kid') provides dep/lib/ only in 'kid', which $ORIGIN never reaches"
    ]
    code = (
        "import ctypes, os, top\nctypes.CDLL(os.path.join(os.path.dirname(top.__file__), 'lib', 'libtop.so'))"
    )
    proc = run_py(store.env("kid").python, code)
    assert proc.returncode != 0 and "libdep.so" in proc.stderr, "what the finding says happens"


@needs_cc
def test_the_same_entry_in_both_layers_is_no_override(
    store: Store, tmp_path: Path, origin_build: OriginBuild
) -> None:
    w = origin_build.wheels(tmp_path / "w")
    store.create_env("base")
    store.install_wheels("base", [w["dep1"], w["top"]])
    store.create_env("kid", parent="base")
    store.install_wheels("kid", [w["dep1"]], local=True)
    assert [(d.name, d.env) for d in store.visible("kid") if d.name == "dep"] == [("dep", "kid")]
    assert not [f for f in policy.stack_findings(store, store.env("kid")) if f.kind is Kind.ORIGIN_OVERRIDE]


@needs_cc
def test_override_of_a_library_the_parent_elf_does_not_need_is_no_finding(
    store: Store, tmp_path: Path, origin_build: OriginBuild
) -> None:
    """The climb reaches dep/lib/, but the child overrides a dist whose files there the ELF does not
    NEED: nothing to report (torch's RPATH names every nvidia dir; most overrides do not matter)."""
    w = origin_build.wheels(tmp_path / "w")
    extra = {"dep/lib/README.txt": "x\n", "other/__init__.py": ""}
    other1 = make_wheel(tmp_path / "o1", "other", "1.0", files=extra, tag=LINUX_TAG, purelib=False)
    store.create_env("base")
    store.install_wheels("base", [w["dep1"], w["top"], other1])
    store.create_env("kid", parent="base")
    extra2 = {"dep/lib/README.txt": "y\n", "other/__init__.py": ""}
    other2 = make_wheel(tmp_path / "o2", "other", "2.0", files=extra2, tag=LINUX_TAG, purelib=False)
    store.install_wheels("kid", [other2], local=True)
    assert not [f for f in policy.stack_findings(store, store.env("kid")) if f.kind is Kind.ORIGIN_OVERRIDE]


@needs_cc
def test_flat_child_override_reaches_the_parent_elf(
    forge_home: Path, tmp_path: Path, origin_build: OriginBuild
) -> None:
    """A flat child links the parent's entries into itself: ``$ORIGIN`` resolves in the child, the
    override works, and strict has nothing to refuse."""
    w = origin_build.wheels(tmp_path / "w")
    _ok("create", "base", "-q")
    _ok("install", str(w["dep1"]), str(w["top"]), "--env", "base", "-q")
    _ok("create", "kid", "--parent", "base", "--layering", "flat", "-q")
    _ok("env", "set", "kid", "conflict_mode", "strict")
    proc = _ok("install", str(w["dep2"]), "--env", "kid", "--local")
    assert "$ORIGIN" not in proc.stderr
    assert _top_value("kid") == "2.0 100"


# -- system sonames --------------------------------------------------------------------------------


class CudaBuild:
    """A fake ``libcudart.so.12`` and ``libgpu.so`` NEEDing it; a system ``libcudart.so.11.0``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        link = root / "link"
        link.mkdir()
        _cc("int cudart(void) { return 12; }\n", link / "libcudart.so.12", "-Wl,-soname,libcudart.so.12")
        self.gpu = _cc(
            '#include <stdio.h>\nint cudart(void);\nint gpu(void) { puts("gpu"); return cudart(); }\n',
            root / "libgpu.so",
            f"-L{link}",
            "-l:libcudart.so.12",
        )
        self.system = root / "system-cuda"
        self.system.mkdir()
        _cc(
            "int cudart(void) { return 11; }\n",
            self.system / "libcudart.so.11.0",
            "-Wl,-soname,libcudart.so.11.0",
        )
        os.symlink("libcudart.so.11.0", self.system / "libcudart.so")

    def wheel(self, where: Path) -> Path:
        files: dict[str, bytes | str] = {"gpu/__init__.py": "", "gpu/lib/libgpu.so": self.gpu}
        return make_wheel(where, "gpulib", "1.0", files=files, tag=LINUX_TAG, purelib=False)


@pytest.fixture(scope="module")
def cuda_build(tmp_path_factory: pytest.TempPathFactory) -> CudaBuild:
    if not have_cc():
        pytest.skip("needs a C compiler")
    return CudaBuild(tmp_path_factory.mktemp("cuda"))


@needs_cc
@pytest.mark.parametrize("mode", MODES)
def test_system_loader_path_offers_another_cuda_major(
    forge_home: Path, tmp_path: Path, cuda_build: CudaBuild, mode: str
) -> None:
    _ok("create", "base", "-q")
    _ok("create", "app", "--parent", "base", "-q")
    staged = {"LD_LIBRARY_PATH": str(cuda_build.system)}
    proc = _install("app", mode, [cuda_build.wheel(tmp_path / "w")], extra_env=staged)
    if mode == "loose":
        assert "libcudart" not in proc.stderr
        return
    expected = (
        f"gpulib 1.0 (local 'app') needs libcudart.so.12, but the system loader path also has"
        f" libcudart.so.11.0 (LD_LIBRARY_PATH {cuda_build.system / 'libcudart.so.11.0'})"
    )
    assert expected in proc.stderr, proc.stderr
    assert "libcudart.so (LD_LIBRARY_PATH" in proc.stderr, "the dev symlink counts by what it points to"
    if mode == "warn":
        assert _run("--enforce", "doctor", extra_env=staged).returncode == 34
        assert _run("--enforce", "doctor").returncode == 0, "without the staged directory: nothing"


@needs_cc
def test_no_clash_without_the_staged_directory(
    forge_home: Path, tmp_path: Path, cuda_build: CudaBuild
) -> None:
    _ok("create", "app", "-q")
    _ok("env", "set", "app", "conflict_mode", "strict")
    proc = _ok("install", str(cuda_build.wheel(tmp_path / "w")), "--env", "app")
    assert "libcudart" not in proc.stderr
    same = tmp_path / "same-major"
    same.mkdir()
    shutil.copy(cuda_build.root / "link" / "libcudart.so.12", same / "libcudart.so.12")
    with Store() as store:
        env = store.env("app")
        os.environ["LD_LIBRARY_PATH"] = str(same)
        try:
            found = [f for f in policy.stack_findings(store, env) if f.kind is Kind.SYSTEM_SONAME]
        finally:
            del os.environ["LD_LIBRARY_PATH"]
    assert found == [], "the same major on the loader path is no clash of majors"


@needs_cc
@pytest.mark.skipif(LDCONFIG is None, reason="needs ldconfig to write a cache")
def test_clash_found_through_an_ld_so_cache(
    store: Store, tmp_path: Path, cuda_build: CudaBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache written by the real ``ldconfig -C`` from a staged directory: parsed without a subprocess."""
    conf = tmp_path / "ld.so.conf"
    conf.write_text(f"{cuda_build.system}\n")
    cache = tmp_path / "ld.so.cache"
    proc = subprocess.run(
        [str(LDCONFIG), "-X", "-C", str(cache), "-f", str(conf)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not cache.is_file():
        pytest.skip(f"ldconfig cannot write a cache here: {proc.stderr.strip()}")
    entries = dict(native.parse_ld_cache(cache.read_bytes()))
    assert entries["libcudart.so.11.0"] == str(cuda_build.system / "libcudart.so.11.0")
    listed = subprocess.run([str(LDCONFIG), "-p", "-C", str(cache)], capture_output=True, text=True).stdout
    assert len(entries) == len(re.findall(r"=>", listed)), "every entry ldconfig -p lists"
    monkeypatch.setenv("FORGE_LD_CACHE", str(cache))
    store.create_env("app")
    report = store.install_wheels("app", [cuda_build.wheel(tmp_path / "w")])
    assert [f.kind for f in report.findings] == [Kind.SYSTEM_SONAME]
    assert "libcudart.so.11.0 (ld.so.cache " in report.findings[0].message


def test_cuda_toolkit_dirs_are_searched(tmp_path: Path) -> None:
    lib64 = tmp_path / "cuda-11.8" / "lib64"
    lib64.mkdir(parents=True)
    for name in ("libcudart.so.11.0", "libcublasLt.so.11", "libfoo.so.3", "libcuda.so.1", "README"):
        (lib64 / name).write_bytes(b"")
    found = native.system_libraries(environ={"FORGE_LD_CACHE": "", "FORGE_CUDA_DIRS": str(lib64)})
    assert sorted((lib.stem, lib.major, lib.source) for lib in found) == [
        ("libcublasLt", 11, "CUDA toolkit dir"),
        ("libcudart", 11, "CUDA toolkit dir"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"glibc-ld.so.cache1.1",
        b"glibc-ld.so.cache1.1" + b"\xff" * 28,  # a library count far beyond the file
        b"ld.so-1.7.0\0" + b"\xff\xff\xff\x7f",
        b"ld.so-1.7.0\0\x01\0\0\0" + b"\0" * 12,
        os.urandom(4096),
    ],
)
def test_a_corrupt_ld_cache_yields_what_parses(data: bytes) -> None:
    assert isinstance(native.parse_ld_cache(data), list)


def test_the_machines_ld_cache_parses_like_ldconfig() -> None:
    cache = Path("/etc/ld.so.cache")
    if not cache.is_file() or LDCONFIG is None:
        pytest.skip("no system ld.so.cache")
    listed = subprocess.run([str(LDCONFIG), "-p"], capture_output=True, text=True).stdout
    expected = set(re.findall(r"^\s+(\S+) \(.*\) => (\S+)$", listed, re.M))
    assert set(native.parse_ld_cache(cache.read_bytes())) == expected


# -- the ELF scan behind them ----------------------------------------------------------------------


@needs_cc
def test_native_record_at_ingest(store: Store, tmp_path: Path, cuda_build: CudaBuild) -> None:
    entry = store.add_wheel(cuda_build.wheel(tmp_path / "w"))
    row = store.catalog.entry(entry.id)
    assert row is not None and row.meta["climb_scan"] == elf.SCAN_VERSION == 3
    files = elf.native_files(row)
    assert list(files) == ["gpu/lib/libgpu.so"]
    info = files["gpu/lib/libgpu.so"]
    assert "libcudart.so.12" in info.needed and "libc.so.6" in info.needed
    assert info.soname is None and info.elf_class == 64
    assert info.machine == {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine(), info.machine)
    if shutil.which("readelf"):
        out = subprocess.run(
            ["readelf", "-V", str(entry.site / "gpu/lib/libgpu.so")], capture_output=True, text=True
        )
        versions = sorted({v for v in re.findall(r"GLIBC_([0-9.]+)", out.stdout)}, key=elf.glibc_key)
        assert info.glibc == (versions[-1] if versions else None)


@needs_cc
def test_entries_of_an_older_scan_get_their_native_record_once(
    store: Store, tmp_path: Path, cuda_build: CudaBuild
) -> None:
    wheel = cuda_build.wheel(tmp_path / "w")
    entry = store.add_wheel(wheel)
    row = store.catalog.entry(entry.id)
    assert row is not None
    old = {k: v for k, v in row.meta.items() if k != "native"}
    old["climb_scan"] = 2
    with store.catalog.transaction():
        store.catalog.set_meta(entry.id, old)
    row = store.catalog.entry(entry.id)
    assert row is not None and elf.native_files(row) == {}
    store.create_env("app")
    # the check reads an old entry by scanning it (read-only) ...
    store.install_wheels("app", [wheel])
    row = store.catalog.entry(entry.id)
    assert row is not None and row.meta["climb_scan"] == elf.SCAN_VERSION, "... and linking records it"
    assert "gpu/lib/libgpu.so" in elf.native_files(row)


def _small_elf() -> bytes:
    for candidate in ("/bin/true", "/usr/bin/true"):
        if os.path.isfile(candidate):
            return Path(candidate).read_bytes()
    pytest.skip("no ELF binary to mutate")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_elf_bytes_never_break_the_scan(tmp_path: Path, data: st.DataObject) -> None:
    """Any byte of a file from a wheel may lie: mutated headers, counts and offsets give an answer
    (or None), never an exception, and quickly (bounded walks)."""
    raw = bytearray(_small_elf())
    n = data.draw(st.integers(1, 16))
    for _ in range(n):
        pos = data.draw(st.integers(0, min(len(raw) - 1, 8191)))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(raw), 64, 300, len(raw) // 2]))
    path = tmp_path / "lib.so"
    path.write_bytes(bytes(raw[:cut]))
    found = elf.native_info(path)
    assert found is None or isinstance(found, elf.NativeInfo)
    assert isinstance(elf.rpaths(path), list)


def test_native_records_from_a_catalog_are_validated() -> None:
    assert elf.NativeInfo.from_dict({"machine": "x86_64", "class": 64, "needed": ["a"]}) is not None
    bad: object
    for bad in (
        None,
        [],
        {"machine": 1},
        {"machine": "x", "class": 16, "needed": []},
        {"machine": "x", "class": 64, "needed": [1]},
    ):
        assert elf.NativeInfo.from_dict(bad) is None


def test_offsets_past_any_size_are_no_crash(store: Store, tmp_path: Path) -> None:
    """An ELF whose section/program header offsets are near 2**64 (the climb scan raised
    OverflowError on it, so ingesting such a wheel failed with a traceback)."""
    import struct

    raw = bytearray(_small_elf())
    struct.pack_into("<Q", raw, 0x20, 0xFFFF_FFFF_FFFF_FFF0)  # e_phoff
    struct.pack_into("<Q", raw, 0x28, 0xFFFF_FFFF_FFFF_FFF0)  # e_shoff
    path = tmp_path / "bad.so"
    path.write_bytes(bytes(raw))
    assert elf.rpaths(path) == []
    info = elf.native_info(path)
    assert info is not None and info.needed == ()
    files: dict[str, bytes | str] = {"bad/__init__.py": "", "bad/bad.so": bytes(raw)}
    entry = store.add_wheel(
        make_wheel(tmp_path / "w", "bad", "1.0", files=files, tag=LINUX_TAG, purelib=False)
    )
    assert entry.climbs == ()


@needs_cc
def test_a_1gb_library_costs_a_few_page_faults(tmp_path: Path, cuda_build: CudaBuild) -> None:
    """The scan maps the file and touches only its headers, dynamic segment and strings: a 1 GB
    CUDA library (here: a real ELF grown sparse to 1 GiB) is not read."""
    import resource

    path = tmp_path / "libhuge.so"
    path.write_bytes(cuda_build.gpu)
    os.truncate(path, 1 << 30)
    elf.native_info(path)  # warm the code paths (imports, caches) before counting
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    info = elf.native_info(path)
    rp = elf.rpaths(path)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert info is not None and "libcudart.so.12" in info.needed and rp == []
    assert faults < 200, f"{faults} page faults for two scans of a 1 GiB file"


REAL_CUDART = Path(
    "/opt/pypi/files/nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
)


@pytest.mark.real
@needs_cc
@pytest.mark.skipif(not REAL_CUDART.is_file(), reason="no local nvidia-cuda-runtime 13 wheel")
def test_real_cuda_13_runtime_wheel(
    store: Store, wheel_dir: Path, tmp_path: Path, cuda_build: CudaBuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``nvidia-cuda-runtime`` 13.0.96 (unsuffixed, ``nvidia/cu13/lib``) in a child of a
    ``+cu121`` torch-like base; then a wheel built for ``libcudart.so.12`` with that real
    ``libcudart.so.13`` directory on ``LD_LIBRARY_PATH``."""
    store.create_env("base")
    store.install_wheels("base", [_fake(wheel_dir, "torch", "2.2.0+cu121")])
    store.create_env("kid", parent="base")
    report = store.install_wheels("kid", [REAL_CUDART])
    assert [f.kind for f in report.findings] == [Kind.CUDA_MIX]
    assert report.findings[0].message == (
        "CUDA variants mixed in 'kid': cu13 in local 'kid' (nvidia-cuda-runtime 13.0.96);"
        " cu12 in parent 'base' (torch 2.2.0+cu121)"
    )
    entry = store.entries("nvidia-cuda-runtime")[0]
    row = store.catalog.entry(entry.id)
    assert row is not None
    cudart = elf.native_files(row)["nvidia/cu13/lib/libcudart.so.13"]
    assert cudart.soname == "libcudart.so.13" and cudart.machine == "x86_64" and cudart.elf_class == 64
    assert cudart.glibc is not None and elf.glibc_key(cudart.glibc) >= (2, 17)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(entry.site / "nvidia" / "cu13" / "lib"))
    store.create_env("app")
    report = store.install_wheels("app", [cuda_build.wheel(tmp_path / "w")])
    assert [f.kind for f in report.findings] == [Kind.SYSTEM_SONAME]
    assert "needs libcudart.so.12, but the system loader path also has libcudart.so.13" in (
        report.findings[0].message
    )


def test_strings_from_an_elf_are_shown_escaped() -> None:
    assert native.shown("$ORIGIN/../../nvidia/cu13/lib") == "$ORIGIN/../../nvidia/cu13/lib"
    assert native.shown("$ORIGIN/x\x1b[2J\n") == "$ORIGIN/x\\x1b[2J\\n"

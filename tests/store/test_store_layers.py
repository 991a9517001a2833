"""Layers: LOCAL > PARENT > GLOBAL at start-up, overrides, flat relinking, ABI checks, $ORIGIN climbs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from forge_store import interpreters
from forge_store.errors import AbiMismatch, EnvBusy, InterpreterNotFound
from forge_store.models import Layer, LayeringMode
from forge_store.store import Store
from tests.conftest import have_cc, run_py
from tests.support.wheels import make_wheel


def _mod(wheel_dir: Path, name: str, version: str, value: str) -> Path:
    return make_wheel(wheel_dir / version, name, version, files={f"{name}.py": f"V = {value!r}\n"})


def test_child_sees_parent_and_overrides_it(store: Store, wheel_dir: Path) -> None:
    store.create_env("base")
    store.install_wheels(
        "base", [_mod(wheel_dir, "foo", "1.0", "parent"), _mod(wheel_dir, "bar", "1.0", "bar")]
    )
    kid = store.create_env("kid", parent="base")
    assert run_py(kid.python, "import foo, bar; print(foo.V, bar.V)").stdout.split() == ["parent", "bar"]
    # same version: reused from the parent, not linked locally
    report = store.install_wheels("kid", [_mod(wheel_dir, "foo", "1.0", "parent")])
    assert [a.action for a in report.actions] == ["from-parent"]
    assert store.catalog.links("kid") == []
    # another version: a local override that shadows the parent
    report = store.install_wheels("kid", [_mod(wheel_dir, "foo", "2.0", "child")])
    assert [a.action for a in report.actions] == ["linked"]
    assert "overrides base's 1.0" in report.actions[0].detail
    assert run_py(kid.python, "import foo; print(foo.V)").stdout.strip() == "child"
    base = store.env("base")
    assert run_py(base.python, "import foo; print(foo.V)").stdout.strip() == "parent"
    seen = {d.name: (d.version, d.layer) for d in store.visible("kid")}
    assert seen == {"foo": ("2.0", Layer.LOCAL), "bar": ("1.0", Layer.PARENT)}


def test_local_flag_links_even_what_the_parent_has(store: Store, wheel_dir: Path) -> None:
    store.create_env("base")
    whl = _mod(wheel_dir, "foo", "1.0", "x")
    store.install_wheels("base", [whl])
    store.create_env("kid", parent="base")
    report = store.install_wheels("kid", [whl], local=True)
    assert [a.action for a in report.actions] == ["linked"]
    assert report.actions[0].reused_entry, "the store entry is shared, not unpacked again"
    assert len(store.catalog.links("kid")) == 1


def test_three_levels_and_sys_path_order(store: Store, wheel_dir: Path) -> None:
    store.create_env("a")
    store.create_env("b", parent="a")
    c = store.create_env("c", parent="b")
    store.install_wheels("a", [_mod(wheel_dir, "m", "1.0", "a")])
    store.install_wheels("b", [_mod(wheel_dir, "m", "2.0", "b")])
    proc = run_py(
        c.python, "import m, sys; print(m.V); print('\\n'.join(p for p in sys.path if 'site-packages' in p))"
    )
    lines = proc.stdout.split()
    assert lines[0] == "b", proc.stderr
    sites = lines[1:]
    expected = [str(store.env(n).site_packages) for n in ("c", "b", "a")]
    assert sites == expected, "LOCAL > nearest PARENT > farther PARENT; each once"


def test_isolated_and_no_site_flags(store: Store, wheel_dir: Path) -> None:
    store.create_env("base")
    store.install_wheels("base", [_mod(wheel_dir, "foo", "1.0", "p")])
    kid = store.create_env("kid", parent="base")
    for flag in ("-I", "-E", "-s"):
        proc = subprocess.run([str(kid.python), flag, "-c", "import foo"], capture_output=True, text=True)
        assert proc.returncode == 0, (flag, proc.stderr)
    proc = subprocess.run([str(kid.python), "-S", "-c", "import foo"], capture_output=True, text=True)
    assert proc.returncode != 0, "-S loads no site, so no layers"


def test_global_layer_under_every_env(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    glob = store.global_env(env.interpreter, create=True)
    assert glob is not None
    store.install_wheels(glob.name, [_mod(wheel_dir, "everywhere", "1.0", "g")])
    assert run_py(env.python, "import everywhere; print(everywhere.V)").stdout.strip() == "g"
    store.install_wheels("e", [_mod(wheel_dir, "everywhere", "2.0", "local")])
    assert run_py(env.python, "import everywhere; print(everywhere.V)").stdout.strip() == "local"
    assert {d.name: d.layer for d in store.visible("e")}["everywhere"] is Layer.LOCAL


def test_flat_child_links_parents_and_is_relinked(store: Store, wheel_dir: Path) -> None:
    store.create_env("base")
    store.install_wheels("base", [_mod(wheel_dir, "foo", "1.0", "p")])
    kid = store.create_env("kid", parent="base", layering=LayeringMode.FLAT)
    assert (kid.site_packages / "foo.py").exists(), "flat: the parent's entries are linked into the child"
    proc = run_py(kid.python, "import foo, sys; print(foo.__file__)")
    assert proc.stdout.strip() == str(kid.site_packages / "foo.py"), proc.stderr
    report = store.install_wheels("base", [_mod(wheel_dir, "bar", "1.0", "new")])
    assert report.relinked_children == ("kid",)
    assert run_py(kid.python, "import bar; print(bar.V)").stdout.strip() == "new"
    store.uninstall("base", ["bar"])
    assert not (kid.site_packages / "bar.py").exists()
    # a local override in the flat child wins over the parent's
    store.install_wheels("kid", [_mod(wheel_dir, "foo", "2.0", "mine")])
    assert run_py(kid.python, "import foo; print(foo.V)").stdout.strip() == "mine"


def test_child_on_another_abi_is_refused(store: Store) -> None:
    store.create_env("base")
    other = "3.12" if interpreters.current().version[:2] != (3, 12) else "3.11"
    try:
        interpreters.find(other)
    except InterpreterNotFound:
        pytest.skip(f"no Python {other} here")
    with pytest.raises(AbiMismatch):
        store.create_env("kid", parent="base", python=other)
    assert [e.name for e in store.envs()] == ["base"]
    assert not (store.home.envs / "kid").exists()


def test_remove_refuses_while_children_exist(store: Store) -> None:
    store.create_env("base")
    store.create_env("kid", parent="base")
    with pytest.raises(EnvBusy):
        store.remove_env("base")
    assert store.remove_env("base", recursive=True) == ["kid", "base"]
    assert store.envs() == []


def test_remove_keeps_store_content(store: Store, wheel_dir: Path) -> None:
    store.create_env("e")
    store.install_wheels("e", [_mod(wheel_dir, "foo", "1.0", "x")])
    entry = store.entries("foo")[0]
    store.remove_env("e")
    assert entry.path.is_dir()
    row = store.catalog.entry(entry.id)
    assert row is not None and row.refcount == 0


def _compile(src: str, out: Path, *args: str) -> None:
    c = out.with_suffix(".c")
    c.write_text(src)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), str(c), *args], check=True, capture_output=True)


@pytest.mark.skipif(not have_cc(), reason="needs a C compiler")
def test_origin_climb_resolves_inside_the_env(store: Store, tmp_path: Path) -> None:
    """libtop (wheel 'top') finds libdep (wheel 'dep') via $ORIGIN/../../dep/lib, like torch -> nvidia."""
    build = tmp_path / "build"
    build.mkdir()
    libdep = build / "libdep.so"
    _compile("int dep_value(void) { return 42; }\n", libdep)
    libtop = build / "libtop.so"
    _compile(
        "int dep_value(void);\nint top_value(void) { return dep_value() + 1; }\n",
        libtop,
        f"-L{build}",
        "-ldep",
        "-Wl,-rpath,$ORIGIN/../../dep/lib",
    )
    wheels = tmp_path / "w"
    dep = make_wheel(
        wheels,
        "dep",
        "1.0",
        files={"dep/__init__.py": "D = 1\n", "dep/lib/libdep.so": libdep.read_bytes()},
        tag="py3-none-linux_x86_64",
        purelib=False,
    )
    top = make_wheel(
        wheels,
        "top",
        "1.0",
        files={"top/__init__.py": "", "top/lib/libtop.so": libtop.read_bytes(), "top/other.py": ""},
        tag="py3-none-linux_x86_64",
        purelib=False,
    )
    env = store.create_env("e")
    store.install_wheels("e", [dep, top])
    entry = store.entries("top")[0]
    assert [c.rpath for c in entry.climbs] == ["$ORIGIN/../../dep/lib"]
    site = env.site_packages
    assert not (site / "top").is_symlink() and not (site / "top" / "lib").is_symlink(), "real up to the apex"
    assert (site / "dep").is_symlink(), "the target package itself can stay one link"
    code = "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); print(lib.top_value())"
    proc = subprocess.run(
        [str(env.python), "-c", code, str(site / "top" / "lib" / "libtop.so")], capture_output=True, text=True
    )
    assert proc.stdout.strip() == "43", proc.stderr

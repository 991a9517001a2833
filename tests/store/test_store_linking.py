"""The smart layout: top-level links, merged namespace dirs, single-file modules, .data, launchers,
link modes, conflicts and rollback."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forge_store.errors import LinkConflict
from forge_store.models import LinkMode
from forge_store.store import Store
from tests.conftest import run_py
from tests.support.wheels import make_wheel


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root: its kind and link target or content hash (what 'unchanged' means)."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st_ = path.lstat()
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = "link:" + os.readlink(path)
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = "dir"
            else:
                out[rel] = "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_top_level_package_is_one_directory_link(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    store.install_wheels(
        "e", [make_wheel(wheel_dir, "demo", "1.0", files={"demo/__init__.py": "X=1\n", "demo/a/b.py": ""})]
    )
    link = env.site_packages / "demo"
    assert link.is_symlink() and link.is_dir()
    assert os.readlink(link).startswith(".forge/"), "links go through the short .forge hop"
    proc = run_py(env.python, "import demo, demo.a.b; print(demo.X, demo.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[1] == str(env.site_packages / "demo" / "__init__.py")


@pytest.mark.parametrize(
    ("init", "kind"),
    [
        (None, "pep420"),
        ("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n", "pkgutil"),
        ("", "regular-shared"),  # like nvidia/: an empty __init__.py shared by many wheels
    ],
)
def test_namespace_dirs_merge_across_wheels(
    store: Store, wheel_dir: Path, init: str | None, kind: str
) -> None:
    def wheel(name: str, sub: str) -> Path:
        files = {f"space/{sub}/__init__.py": f"NAME = {sub!r}\n"}
        if init is not None:
            files["space/__init__.py"] = init
        return make_wheel(wheel_dir, name, "1.0", files=files)

    env = store.create_env("e")
    store.install_wheels("e", [wheel("space-one", "one"), wheel("space-two", "two")])
    space = env.site_packages / "space"
    assert space.is_dir() and not space.is_symlink(), kind
    assert (space / "one").is_symlink() and (space / "two").is_symlink()
    proc = run_py(env.python, "import space.one, space.two; print(space.one.NAME, space.two.NAME)")
    assert proc.stdout.split() == ["one", "two"], proc.stderr
    # a third contributor arriving later joins the same real dir; the store is untouched
    store.install_wheels("e", [wheel("space-three", "three")])
    proc = run_py(env.python, "import space.one, space.three; print(space.three.NAME)")
    assert proc.stdout.strip() == "three", proc.stderr


def test_dir_shared_later_is_converted_not_written_into_store(store: Store, wheel_dir: Path) -> None:
    """A regular package first linked whole, then shared by a second wheel, becomes a merged dir."""
    a = make_wheel(wheel_dir, "plug-a", "1.0", files={"plug/__init__.py": "P = 1\n", "plug/a.py": "A = 1\n"})
    b = make_wheel(wheel_dir, "plug-b", "1.0", files={"plug/__init__.py": "P = 1\n", "plug/b.py": "B = 1\n"})
    env = store.create_env("e")
    store.install_wheels("e", [a])
    assert (env.site_packages / "plug").is_symlink()
    entry_a = store.entries("plug-a")[0]
    before = snapshot(entry_a.path)
    store.install_wheels("e", [b])
    assert not (env.site_packages / "plug").is_symlink()
    assert snapshot(entry_a.path) == before
    assert run_py(env.python, "import plug.a, plug.b").returncode == 0


def test_single_file_module_with_pyc(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    store.install_wheels("e", [make_wheel(wheel_dir, "solo", "1.0", files={"solo.py": "S = 42\n"})])
    assert (env.site_packages / "solo.py").exists()
    tag = env.interpreter.cache_tag
    pyc = env.site_packages / "__pycache__" / f"solo.{tag}.pyc"
    assert pyc.exists()
    code = "import solo, sys; print(solo.S, solo.__cached__)"
    proc = run_py(env.python, code)
    assert proc.stdout.split() == ["42", str(pyc)], proc.stderr


def test_data_scripts_headers_and_launchers(store: Store, wheel_dir: Path) -> None:
    whl = make_wheel(
        wheel_dir,
        "tooly",
        "2.0",
        files={"tooly/__init__.py": "import sys\ndef main():\n    print('tooly', sys.prefix)\n"},
        console_scripts={"tooly": "tooly:main"},
        data={
            "scripts/tooly-raw": "#!python\nimport sys\nprint('raw', sys.prefix)\n",
            "data/share/tooly/data.txt": "payload\n",
            "headers/tooly.h": "#define TOOLY 1\n",
        },
    )
    env = store.create_env("e")
    store.install_wheels("e", [whl])
    launcher = env.bin / "tooly"
    assert launcher.read_text().splitlines()[0] == f"#!{env.python}"
    assert subprocess.run([str(launcher)], capture_output=True, text=True).stdout.split() == [
        "tooly",
        str(env.path),
    ]
    raw = env.bin / "tooly-raw"
    assert raw.read_text().splitlines()[0] == f"#!{env.python}"
    assert subprocess.run([str(raw)], capture_output=True, text=True).stdout.split() == ["raw", str(env.path)]
    assert (env.path / "share" / "tooly" / "data.txt").read_text() == "payload\n"
    header = env.path / "include" / "site" / f"python{env.interpreter.short_version}" / "tooly" / "tooly.h"
    assert header.read_text() == "#define TOOLY 1\n"
    # the store keeps the raw script: its shebang is per env
    entry = store.entries("tooly")[0]
    assert (entry.path / "scripts" / "tooly-raw").read_text().startswith("#!python")


def test_per_env_markers_never_touch_the_store(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    store.install_wheels("e", [make_wheel(wheel_dir, "demo", "1.0")])
    entry = store.entries("demo")[0]
    dist_info = env.site_packages / "demo-1.0.dist-info"
    assert (dist_info / "REQUESTED").exists() and (dist_info / "direct_url.json").exists()
    assert (dist_info / "INSTALLER").read_text().strip() == "forge"
    assert not (entry.site / "demo-1.0.dist-info" / "REQUESTED").exists()
    assert not (entry.site / "demo-1.0.dist-info" / "direct_url.json").exists()
    proc = run_py(
        env.python,
        "import importlib.metadata as m; d = m.distribution('demo');"
        " print(d.version, d.read_text('INSTALLER').strip())",
    )
    assert proc.stdout.split() == ["1.0", "forge"], proc.stderr


@pytest.mark.parametrize("mode", [LinkMode.HARDLINK, LinkMode.COPY])
def test_other_link_modes(store: Store, wheel_dir: Path, mode: LinkMode) -> None:
    env = store.create_env("e", link_mode=mode)
    report = store.install_wheels(
        "e", [make_wheel(wheel_dir, "demo", "1.0", files={"demo/__init__.py": "X=1\n"})]
    )
    assert report.link_mode is mode and report.fallback is None
    init = env.site_packages / "demo" / "__init__.py"
    assert not (env.site_packages / "demo").is_symlink() and not init.is_symlink()
    entry_file = store.entries("demo")[0].site / "demo" / "__init__.py"
    assert (os.stat(init).st_ino == os.stat(entry_file).st_ino) == (mode is LinkMode.HARDLINK)
    assert run_py(env.python, "import demo; assert demo.X == 1").returncode == 0


def test_conflict_is_an_error_and_leaves_env_and_store_as_they_were(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    store.install_wheels(
        "e", [make_wheel(wheel_dir, "first", "1.0", files={"common.py": "A = 1\n", "first/__init__.py": ""})]
    )
    before_env = snapshot(env.path)
    before_entries = {e.id for e in store.entries()}
    before_links = store.catalog.links("e")
    clash = make_wheel(wheel_dir, "second", "1.0", files={"common.py": "A = 2\n", "second/__init__.py": ""})
    with pytest.raises(LinkConflict, match=r"common\.py"):
        store.install_wheels("e", [clash])
    assert snapshot(env.path) == before_env
    assert {e.id for e in store.entries()} == before_entries, "the new entry is discarded again"
    assert store.catalog.links("e") == before_links


def test_identical_files_dedupe_instead_of_conflicting(store: Store, wheel_dir: Path) -> None:
    a = make_wheel(
        wheel_dir,
        "dup-a",
        "1.0",
        files={"shared/__init__.py": "", "shared/same.py": "S = 1\n", "shared/a.py": ""},
    )
    b = make_wheel(
        wheel_dir,
        "dup-b",
        "1.0",
        files={"shared/__init__.py": "", "shared/same.py": "S = 1\n", "shared/b.py": ""},
    )
    env = store.create_env("e")
    store.install_wheels("e", [a, b])
    assert run_py(env.python, "import shared.same, shared.a, shared.b").returncode == 0


def test_uninstall_restores_the_env_exactly(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    base = make_wheel(wheel_dir, "base", "1.0", files={"ns/base/__init__.py": "", "basemod.py": ""})
    store.install_wheels("e", [base])
    before = snapshot(env.path)
    extra = make_wheel(
        wheel_dir,
        "extra",
        "1.0",
        files={"ns/extra/__init__.py": "", "extramod.py": "", "extra/__init__.py": ""},
        console_scripts={"extra": "extra:main"},
        data={"data/share/extra/x": "x"},
    )
    store.install_wheels("e", [extra])
    assert snapshot(env.path) != before
    store.uninstall("e", ["extra"])
    assert snapshot(env.path) == before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta"]), min_size=1, max_size=4, unique=True)
)
def test_link_then_unlink_restores_the_env(
    tmp_path_factory: pytest.TempPathFactory, picks: list[str]
) -> None:
    """Property: installing any set of wheels and uninstalling them again leaves the env as it was."""
    from forge_store.seal import remove_tree

    root = tmp_path_factory.mktemp("prop")
    wheels = root / "w"
    files = {
        "alpha": {"alpha/__init__.py": "", "nsp/alpha/__init__.py": ""},
        "beta": {"beta.py": "", "nsp/beta/__init__.py": ""},
        "gamma": {"gamma/__init__.py": "", "gamma/sub/x.py": ""},
        "delta": {"delta/__init__.py": ""},
    }
    with Store(root / "home") as s:
        env = s.create_env("p")
        s.install_wheels("p", [make_wheel(wheels, "delta", "1.0", files=files["delta"])])
        before = snapshot(env.path)
        paths = [make_wheel(wheels, n, "1.0", files=files[n]) for n in picks if n != "delta"]
        if paths:
            s.install_wheels("p", paths)
            s.uninstall("p", [n for n in picks if n != "delta"])
        assert snapshot(env.path) == before
    remove_tree(root / "home")


def test_library_never_prints(store: Store, wheel_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.create_env("quiet")
    store.install_wheels("quiet", [make_wheel(wheel_dir, "demo", "1.0")])
    store.uninstall("quiet", ["demo"])
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_plain_pip_sees_a_forge_env(store: Store, wheel_dir: Path) -> None:
    env = store.create_env("e")
    store.install_wheels(
        "e",
        [
            make_wheel(wheel_dir, "dep", "1.0"),
            make_wheel(wheel_dir, "top", "1.0", requires=["dep>=1"]),
        ],
    )
    base = [sys.executable, "-m", "pip", "--python", str(env.python)]
    listing = subprocess.run([*base, "list", "--format=freeze"], capture_output=True, text=True)
    assert {"dep==1.0", "top==1.0"} <= set(listing.stdout.split()), listing.stderr
    check = subprocess.run([*base, "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    "python", ["/env/bin/python", "/a path/with spaces/bin/python", "/x" * 70 + "/python"]
)
@pytest.mark.parametrize(("module", "attr"), [("pkg.cli", "main"), ("pkg", "App.run")])
def test_launchers_match_installer_byte_for_byte(python: str, module: str, attr: str) -> None:
    from installer.scripts import Script

    from forge_store.launchers import launcher

    _name, expected = Script("x", module, attr, "console").generate(python, "posix")
    assert launcher(python, module, attr) == expected

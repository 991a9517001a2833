"""The pip front end over layers: what a parent provides counts as installed, conflict modes,
``pip check`` across the stack, and pip's own lines kept as pip prints them.

A hermetic index with pure wheels named like the real case (``numpy`` 1.26.4 / 2.4.6, ``scipy``
1.10.0 requiring ``numpy<1.27.0,>=1.19.5``). Forge's rule for ``-U`` differs from pip's in a
``--system-site-packages`` venv on purpose: pip installs the upgrade into the venv; Forge never
upgrades (or reinstalls) a parent's dist in a child unless ``--local`` asks for the override.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from forge_store.models import Layer
from forge_store.store import Store
from tests.support.index_server import LocalIndex
from tests.support.wheels import make_wheel

Pip = Any
SCIPY_REQ = "numpy<1.27.0,>=1.19.5"


@pytest.fixture
def index(tmp_path: Path, hermetic_pip: None) -> LocalIndex:
    src = tmp_path / "src"
    idx = LocalIndex(tmp_path / "index")
    for name, version, requires in (
        ("numpy", "1.26.4", ()),
        ("numpy", "2.4.6", ()),
        ("scipy", "1.10.0", (SCIPY_REQ,)),
        ("app-tool", "1.0", ("scipy",)),
        ("lonely", "1.0", ("gone>=1",)),
    ):
        mod = name.replace("-", "_")
        files = {f"{mod}/__init__.py": f"__version__ = {version!r}\n"}
        idx.add(make_wheel(src, name, version, files=files, requires=list(requires)))
    idx.write()
    return idx


def local(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env) if d.layer is Layer.LOCAL}


@pytest.fixture
def base(store: Store, index: LocalIndex, pip: Pip) -> LocalIndex:
    """base: numpy 1.26.4 and scipy 1.10.0."""
    store.create_env("base")
    r = pip("install", "--env", "base", "-i", index.file_url, "numpy==1.26.4", "scipy==1.10.0")
    assert r.code == 0, r.err
    return index


def test_a_child_links_nothing_its_parent_provides(store: Store, base: LocalIndex, pip: Pip) -> None:
    store.create_env("kid", parent="base")
    r = pip("install", "--env", "kid", "-i", base.file_url, "app-tool")
    assert r.code == 0, r.err
    assert local(store, "kid") == {"app-tool": "1.0"}
    assert "Requirement already satisfied: scipy in the parent layer 'base' (from app-tool) (1.10.0)" in r.out
    assert (
        f"Requirement already satisfied: {SCIPY_REQ} in the parent layer 'base' (from scipy->app-tool)"
        " (1.26.4)"
    ) in r.out
    assert "WARNING" not in r.err and "ERROR" not in r.err


def test_upgrade_and_reinstall_never_touch_a_parents_dist_without_local(
    store: Store, base: LocalIndex, pip: Pip
) -> None:
    store.create_env("kid", parent="base")
    i = ("--env", "kid", "-i", base.file_url)
    for args in (
        ("-U", "numpy"),
        ("-U", "--upgrade-strategy", "eager", "scipy"),
        ("--force-reinstall", "numpy", "scipy"),
        ("-U", "--force-reinstall", "numpy"),
        ("-I", "scipy"),
    ):
        r = pip("install", *i, *args)
        assert r.code == 0, (args, r.err)
        assert local(store, "kid") == {}, args
        assert "Requirement already satisfied: numpy" in r.out or "scipy in the parent layer" in r.out
    r = pip("install", *i, "-U", "numpy")
    assert r.err.splitlines() == [
        "WARNING: numpy 1.26.4 is provided by the parent layer 'base': not upgraded here (upgrade it in"
        " that env, or pass --local to install a newer one into this env's own layer)"
    ]
    # --local is the override, asked for: the newest numpy, in the child's own layer (judged: it
    # breaks the parent's scipy, which warn mode reports)
    r = pip("install", *i, "--local", "-U", "numpy")
    assert r.code == 0, r.err
    assert local(store, "kid") == {"numpy": "2.4.6"}
    assert "which is incompatible" in r.err and "shadows numpy 1.26.4 (parent 'base')" in r.err
    # and in the parent itself, -U upgrades as pip does (scipy then breaks: pip's warning)
    r = pip("install", "--env", "base", "-i", base.file_url, "-U", "numpy")
    assert r.code == 0, r.err
    assert local(store, "base")["numpy"] == "2.4.6"


def test_strict_refuses_a_child_override_that_breaks_the_parent(
    store: Store, base: LocalIndex, pip: Pip, forge_home: Path
) -> None:
    kid = store.create_env("kid", parent="base")
    before = sorted(os.listdir(kid.site_packages))
    r = pip("install", "--env", "kid", "-i", base.file_url, "--mode", "strict", "--local", "numpy==2.4.6")
    assert r.code == 4, r.err
    lines = r.err.splitlines()
    assert lines[0] == (
        f"ERROR: refused (conflict_mode strict): scipy 1.10.0 (parent 'base') requires {SCIPY_REQ},"
        " but 'kid' has numpy 2.4.6 (local 'kid')"
    )
    assert lines[1:3] == [
        f"  scipy 1.10.0 requires {SCIPY_REQ}",
        "  numpy 2.4.6 in 'kid' shadows 1.26.4 in 'base'",
    ]
    assert lines[3].startswith("hint: nothing was changed; see `forge inspect scipy --env kid`")
    assert "Successfully installed" not in r.out
    assert local(store, "kid") == {} and sorted(os.listdir(kid.site_packages)) == before
    # without --local, strict refuses the override itself too ("and 1 more": the shadowing)
    r = pip("install", "--env", "kid", "-i", base.file_url, "--conflict-mode=strict", "numpy==2.4.6")
    assert r.code == 4 and "(and 1 more)" in r.err
    assert "  also: numpy 2.4.6 (local 'kid') shadows numpy 1.26.4 (parent 'base')" in r.err.splitlines()
    # the env's bin/pip is the same front end with the same parser
    bin_pip = [str(kid.path / "bin" / "pip"), "install", "-i", base.file_url]
    proc = subprocess.run(
        [*bin_pip, "--mode", "strict", "--local", "numpy==2.4.6"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.splitlines()[0] == lines[0]
    assert local(store, "kid") == {}


def test_warn_prints_pips_line_once_and_forges_layer_line(store: Store, base: LocalIndex, pip: Pip) -> None:
    store.create_env("kid", parent="base")
    r = pip("install", "--env", "kid", "-i", base.file_url, "--local", "numpy==2.4.6")  # default: warn
    assert r.code == 0, r.err
    assert local(store, "kid") == {"numpy": "2.4.6"}
    assert r.err.splitlines() == [
        "ERROR: pip's dependency resolver does not currently take into account all the packages that are"
        " installed. This behaviour is the source of the following dependency conflicts.",
        f"scipy 1.10.0 requires {SCIPY_REQ}, but you have numpy 2.4.6 which is incompatible.",
        # Forge's one extra line: which layer hides which (pip's line above already names the break)
        "WARNING: numpy 2.4.6 (local 'kid') shadows numpy 1.26.4 (parent 'base')",
    ]
    # --no-deps: pip checks nothing, so Forge's layer-aware break is the only line about it
    store.create_env("kid2", parent="base")
    r = pip("install", "--env", "kid2", "-i", base.file_url, "--local", "--no-deps", "numpy==2.4.6")
    assert r.code == 0, r.err
    assert r.err.splitlines() == [
        f"WARNING: scipy 1.10.0 (parent 'base') requires {SCIPY_REQ}, but 'kid2' has numpy 2.4.6"
        " (local 'kid2')",
        "WARNING: numpy 2.4.6 (local 'kid2') shadows numpy 1.26.4 (parent 'base')",
    ]
    # loose: pip's own lines stay (pip prints them), Forge adds nothing
    store.create_env("kid3", parent="base")
    r = pip("install", "--env", "kid3", "-i", base.file_url, "--local", "--mode", "loose", "numpy==2.4.6")
    assert r.code == 0, r.err
    assert "WARNING" not in r.err and "which is incompatible" in r.err


def test_pip_check_checks_the_whole_stack(store: Store, base: LocalIndex, pip: Pip) -> None:
    store.create_env("kid", parent="base")
    assert pip("check", "--env", "kid").out == "No broken requirements found.\n"
    r = pip("install", "--env", "kid", "-i", base.file_url, "--local", "--mode", "loose", "numpy==2.4.6")
    assert r.code == 0, r.err
    r = pip("check", "--env", "kid")
    assert (r.code, r.out) == (1, f"scipy 1.10.0 has requirement {SCIPY_REQ}, but you have numpy 2.4.6.\n")
    # the parent's own stack is fine: a child's override does not reach it
    r = pip("check", "--env", "base")
    assert (r.code, r.out) == (0, "No broken requirements found.\n")
    # a requirement no layer provides, in pip's words
    r = pip("install", "--env", "kid", "-i", base.file_url, "--no-deps", "lonely")
    assert r.code == 0, r.err
    r = pip("check", "--env", "kid")
    assert r.code == 1
    assert r.out.splitlines() == [
        "lonely 1.0 requires gone, which is not installed.",
        f"scipy 1.10.0 has requirement {SCIPY_REQ}, but you have numpy 2.4.6.",
    ]


def test_pip_uninstall_in_a_parent_is_judged_in_the_child(store: Store, base: LocalIndex, pip: Pip) -> None:
    store.create_env("kid", parent="base")
    r = pip("install", "--env", "kid", "-i", base.file_url, "app-tool")
    assert r.code == 0, r.err
    r = pip("uninstall", "--env", "base", "-y", "--mode", "strict", "scipy")
    assert r.code == 4
    assert r.err.splitlines()[0] == (
        "ERROR: refused (conflict_mode strict): app-tool 1.0 (local 'kid') requires scipy, which is not"
        " installed in any layer of 'kid'"
    )
    assert local(store, "base") == {"numpy": "1.26.4", "scipy": "1.10.0"}
    r = pip("uninstall", "--env", "base", "-y", "scipy")  # warn
    assert r.code == 0, r.err
    assert "Successfully uninstalled scipy-1.10.0" in r.out
    assert r.err.splitlines() == [
        "WARNING: app-tool 1.0 (local 'kid') requires scipy, which is not installed in any layer of 'kid'"
    ]
    assert local(store, "base") == {"numpy": "1.26.4"}


def test_policy_options_are_forge_only(store: Store, base: LocalIndex, pip: Pip, monkeypatch: Any) -> None:
    """pip's configuration never sets them (real pip has no such option); a bad value is pip's usage error."""
    store.create_env("kid", parent="base")
    monkeypatch.setenv("PIP_MODE", "strict")
    monkeypatch.setenv("PIP_CONFLICT_MODE", "strict")
    r = pip("install", "--env", "kid", "-i", base.file_url, "--local", "numpy==2.4.6")
    assert r.code == 0, r.err  # the env's default (warn), not the PIP_* variables
    assert "WARNING: numpy 2.4.6 (local 'kid') shadows" in r.err
    r = pip("install", "--env", "kid", "-i", base.file_url, "--mode", "harsh", "numpy")
    assert r.code == 2 and "invalid choice: 'harsh'" in r.err
    r = pip("install", "--env", "kid", "--abi-policy", "lax", "numpy")
    assert r.code == 2 and "invalid choice: 'lax'" in r.err


def test_real_pip_over_a_base_site_takes_it_as_installed_but_upgrades_into_the_venv(
    tmp_path: Path, base: LocalIndex
) -> None:
    """pip's analogue of a child env: a venv whose ``sys.path`` also holds a base site-packages
    (what ``--system-site-packages`` does with the system's). pip takes the base's numpy as
    installed, as Forge takes a parent's; but ``-U`` installs the upgrade into the venv, which
    Forge does only with ``--local``. The pip is ``FORGE_TEST_PIP26`` when given, else the test
    interpreter's, acting on the venvs with ``--python``."""
    import sys

    given = os.environ.get("FORGE_TEST_PIP26")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def venv(path: Path) -> Path:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        return path

    def run(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
        python = str(prefix / "bin" / "python")
        head = [given] if given else [sys.executable, "-m", "pip"]  # pip >= 22.3 takes --python
        head += ["--python", python]
        cmd = [*head, "--disable-pip-version-check", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300)

    def site(prefix: Path) -> Path:
        return next((prefix / "lib").glob("python3.*/site-packages"))

    def here(prefix: Path) -> set[str]:
        return {p.name.split("-")[0] for p in site(prefix).glob("*.dist-info")} - {"pip", "setuptools"}

    real_base = venv(tmp_path / "pip-base")
    assert run(real_base, "install", "-q", "-i", base.file_url, "numpy==1.26.4").returncode == 0
    kid = venv(tmp_path / "pip-kid")
    (site(kid) / "zz_base.pth").write_text(str(site(real_base)) + "\n")
    r = run(kid, "install", "-i", base.file_url, "scipy==1.10.0")
    assert r.returncode == 0, r.stderr
    assert f"Requirement already satisfied: {SCIPY_REQ}" in r.stdout
    assert here(kid) == {"scipy"}  # as in Forge: the base's numpy counts as installed
    r = run(kid, "install", "-i", base.file_url, "-U", "numpy")
    assert r.returncode == 0, r.stderr
    assert here(kid) == {"scipy", "numpy"}  # pip: the upgrade goes into the venv (Forge: --local only)

"""The issue's real case: a child's numpy 2.4.6 under a parent's scipy 1.10.0 (``numpy<1.27``).

Real cp311 wheels from the machine's local indexes, fetched once with plain ``pip download`` into
``$FORGE_TEST_CACHE`` (default ~/.cache/forge-tests) and installed with ``forge pip install
--no-index -f CACHE``: in a ``strict`` child the override is refused naming scipy and the env stays
as it was; in a ``warn`` child it installs and warns; ``forge inspect numpy --json`` shows both
candidates and the shadowing; ``forge --enforce doctor`` then exits 30.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import forge_cli
from tests.store.test_policy_conflicts import snapshot
from tests.support.wheel_cache import CacheFillError, cache_set, fill

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.xdist_group("real")]

PINS = ["numpy==1.26.4", "scipy==1.10.0", "numpy==2.4.6"]


@pytest.fixture(scope="module")
def wheels() -> Path:
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the machine's local package indexes carry cp311 wheels")
    dest = cache_set("policy-wheels-py311")
    for pin in PINS:  # one at a time: the two numpys cannot be in one resolution
        name, version = pin.split("==")
        if any(dest.glob(f"{name}-{version}-cp311-*.whl")):
            continue  # complete: wheels appear there only whole (tests/support/wheel_cache.py)
        try:
            fill(dest, [pin], pip_args=["--no-deps", "--only-binary=:all:"])
        except CacheFillError as exc:
            pytest.skip(f"could not fetch {pin}: {str(exc)[-300:]}")
    return dest


def forge(*args: str) -> subprocess.CompletedProcess[str]:
    return forge_cli(*args)


def test_numpy2_in_a_child_under_a_parents_scipy(wheels: Path, forge_home: Path) -> None:
    src = ("--no-index", "-f", str(wheels))
    assert forge("create", "base", "-q").returncode == 0
    proc = forge("pip", "install", "--env", "base", *src, "numpy==1.26.4", "scipy==1.10.0")
    assert proc.returncode == 0, proc.stderr
    for name, mode in (("strict-kid", "strict"), ("warn-kid", "warn")):
        assert forge("create", name, "--parent", "base", "-q").returncode == 0
        assert forge("env", "set", name, "conflict_mode", mode, "-q").returncode == 0

    env = forge_home / "envs" / "strict-kid"
    before = snapshot(env)
    proc = forge("pip", "install", "--env", "strict-kid", *src, "numpy==2.4.6", "--local")
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(
        "ERROR: refused (conflict_mode strict): scipy 1.10.0 (parent 'base') requires numpy<"
    ), lines
    assert "but 'strict-kid' has numpy 2.4.6 (local 'strict-kid')" in lines[0]
    assert "  numpy 2.4.6 in 'strict-kid' shadows 1.26.4 in 'base'" in lines
    assert "Successfully installed" not in proc.stdout
    assert snapshot(env) == before

    proc = forge("pip", "install", "--env", "warn-kid", *src, "numpy==2.4.6", "--local")
    assert proc.returncode == 0, proc.stderr
    assert "Successfully installed numpy-2.4.6" in proc.stdout
    assert "scipy 1.10.0 requires numpy<" in proc.stderr and "but you have numpy 2.4.6" in proc.stderr
    assert "WARNING: numpy 2.4.6 (local 'warn-kid') shadows numpy 1.26.4 (parent 'base')" in proc.stderr
    check = forge("pip", "check", "--env", "warn-kid")
    assert check.returncode == 1 and check.stdout.startswith("scipy 1.10.0 has requirement numpy<")

    proc = forge("inspect", "numpy", "--env", "warn-kid", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(c["env"], c["layer"], c["version"]) for c in doc["candidates"]] == [
        ("warn-kid", "local", "2.4.6"),
        ("base", "parent", "1.26.4"),
    ]
    assert all("cp311" in ",".join(c["tags"]) for c in doc["candidates"])
    assert doc["shadowed_sources"] == [{"env": "base", "layer": "parent", "version": "1.26.4"}]
    assert doc["reason"] == "local layer shadows parent 'base'"
    kinds = {(f["kind"], f["subject"], f["verdict"]) for f in doc["findings"]}
    assert kinds == {("broken-requirement", "scipy", "warn"), ("shadowed", "numpy", "warn")}
    # CI enforcement sees the same break: the broken-requirement code of policy.EXIT_CODES
    proc = forge("--enforce", "doctor")
    assert proc.returncode == 30, (proc.stdout, proc.stderr)
    assert (
        "enforce: exit 30 (broken-requirement): scipy 1.10.0 (parent 'base') requires numpy<" in proc.stderr
    )

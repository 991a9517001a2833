"""scripts/smoke.sh and scripts/compat_matrix.py: they pass on a good Forge, and name what failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.slow

FORGE = Path(sys.executable).parent / "forge"
MATRIX = REPO / "docs" / "compatibility-matrix.json"
COMPAT = [sys.executable, str(REPO / "scripts" / "compat_matrix.py")]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FORGE_ENV")}
    env["TMPDIR"] = str(tmp_path)
    env.pop("FORGE_SMOKE_PKG", None)
    return env


def _smoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "smoke.sh"), *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
    )


def _trampoline_forge(tmp_path: Path) -> Path:
    """A console script as pip writes it when the interpreter's path is long: /bin/sh re-execs it."""
    script = tmp_path / "bin" / "forge"
    script.parent.mkdir()
    quotes = "'" * 3
    script.write_text(
        "#!/bin/sh\n"
        f'{quotes}exec\' {sys.executable} "$0" "$@"\n'
        f"' {quotes}\n"
        "import sys\nfrom forge_store.isolation import forge_main\nsys.exit(forge_main())\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("kind", ["shebang", "trampoline"])
def test_smoke_passes_and_leaves_nothing_behind(tmp_path: Path, kind: str) -> None:
    forge = FORGE if kind == "shebang" else _trampoline_forge(tmp_path)
    r = _smoke(tmp_path, "--forge", str(forge))
    assert r.returncode == 0, r.stdout + r.stderr
    for step in ("create base", "activate (eval in bash), use, deactivate", "forge inspect", "forge doctor"):
        assert f"ok  {step}\n" in r.stdout
    assert "smoke: all steps passed" in r.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name != "bin"] == [], "its FORGE_HOME was left"


def test_smoke_fails_naming_the_step(tmp_path: Path) -> None:
    # a forge whose doctor is broken: every step before it passes, then the run stops there
    fake = tmp_path / "bin" / "forge"
    fake.parent.mkdir()
    fake.write_text(
        f'#!{sys.executable}\nimport sys\nif "doctor" in sys.argv:\n    sys.exit(11)\n'
        "from forge_store.isolation import forge_main\nsys.exit(forge_main())\n"
    )
    fake.chmod(0o755)
    r = _smoke(tmp_path, "--forge", str(fake))
    assert r.returncode == 1
    assert "ok  forge inspect --json\n" in r.stdout and "ok  forge doctor" not in r.stdout
    assert r.stderr.rstrip().endswith(f"smoke: FAILED at step 'forge doctor': exit 11 from: {fake} doctor")
    bad = _smoke(tmp_path, "--bogus")
    assert bad.returncode == 2 and "unknown argument --bogus" in bad.stderr


def test_matrix_document_matches_the_project() -> None:
    doc = json.loads(MATRIX.read_text())
    assert (doc["version"], doc["kind"]) == ("1", "compatibility-matrix")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert doc["requires_python"] == project["requires-python"] == ">=3.10"
    checked = [p["minor"] for p in doc["python"] if p["checked"]]
    assert checked == ["3.10", "3.11", "3.12", "3.13"]
    assert all(
        p["status"] in ("supported", "expected to work", "untested", "unsupported") for p in doc["python"]
    )
    assert any(p["checked"] and p["platform"] == "linux-x86_64" for p in doc["platforms"])


def test_compat_matrix_skips_missing_minors_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    matrix = tmp_path / "matrix.json"
    matrix.write_text(
        json.dumps(
            {
                "version": "1",
                "kind": "compatibility-matrix",
                "python": [{"minor": "3.98", "checked": True}, {"minor": "3.97", "checked": True}],
                "platforms": [],
            }
        )
    )
    broken = tmp_path / "python3.97"  # answers the version probe, then cannot make a venv
    broken.write_text(
        '#!/bin/sh\ncase "$*" in *version_info*) echo 3.97.0 ;; *) echo broken >&2; exit 1 ;; esac\n'
    )
    broken.chmod(0o755)
    r = subprocess.run(
        [*COMPAT, "--matrix", str(matrix), "--python", f"3.97={broken}", "--forge", str(FORGE)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "skip 3.98: not installed" in r.stdout
    assert "FAILED 3.97 (3.97.0" in r.stdout
    assert "forge on 3.97: installing Forge failed" in r.stdout
    assert "envs of 3.97 from forge on" in r.stdout and "FAILED at step 'create base'" in r.stdout
    assert (
        r.stdout.rstrip().splitlines()[-1].startswith("compat-matrix: FAILED: 1 minor(s) checked, 1 skipped")
    )
    bad = subprocess.run(
        [*COMPAT, "--minors", "2.7"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "not checked in the matrix: 2.7" in bad.stderr


def test_compat_matrix_one_real_minor(tmp_path: Path) -> None:
    """The real thing for the minor the tests run on (CI runs every minor via scripts/test.sh)."""
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    base = getattr(sys, "_base_executable", sys.executable)
    r = subprocess.run(
        [*COMPAT, "--minors", minor, "--forge", str(FORGE), "--python", f"{minor}={base}"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"ok {minor} (" in r.stdout

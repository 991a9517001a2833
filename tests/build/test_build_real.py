"""A real setuptools build, in a plain venv filled from the machine's configured index."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from forge_pip.build import BuildEnv, Builder

pytestmark = pytest.mark.real


class SetupFailed(Exception):
    """The venv or its requirements could not be installed (no index reachable, most likely)."""


@dataclasses.dataclass
class VenvFactory:
    """A ``BuildEnvFactory`` making one plain venv per requirement set, filled with pip."""

    root: Path
    envs: dict[tuple[str, ...], Path] = dataclasses.field(default_factory=dict)
    installed: list[tuple[str, ...]] = dataclasses.field(default_factory=list)

    def create(self, requirements: Sequence[str], *, purpose: str) -> BuildEnv:
        key = tuple(requirements)
        if key not in self.envs:
            venv = self.root / f"env{len(self.envs)}"
            self._run([sys.executable, "-m", "venv", str(venv)])
            self.envs[key] = venv / "bin" / "python"
            self._install(self.envs[key], requirements)
        python = self.envs[key]
        return BuildEnv(python=python, install=lambda extra: self._install(python, extra))

    def _install(self, python: Path, requirements: Sequence[str]) -> None:
        self.installed.append(tuple(requirements))
        if requirements:
            self._run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--retries",
                    "0",
                    "--timeout",
                    "20",
                    *requirements,
                ]
            )

    @staticmethod
    def _run(cmd: list[str]) -> None:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise SetupFailed(result.stderr[-2000:])


def test_real_setuptools_project_builds_wheel_and_editable(tmp_path: Path) -> None:
    project = tmp_path / "real-demo"
    (project / "src" / "real_demo").mkdir(parents=True)
    (project / "src" / "real_demo" / "__init__.py").write_text("ANSWER = 42\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "real-demo"\nversion = "0.1"\n'
    )
    factory = VenvFactory(tmp_path / "envs")
    builder = Builder(cache_dir=tmp_path / "cache", env_factory=factory)

    try:
        factory.create(["setuptools>=64"], purpose="warm-up")
    except (SetupFailed, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not install setuptools from the configured index: {exc}")

    wheel = builder.build_wheel(project)
    editable = builder.build_wheel(project, editable=True)

    assert wheel.path.name == "real_demo-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel.path) as zf:
        assert zf.read("real_demo/__init__.py") == b"ANSWER = 42\n"
        assert "real_demo-0.1.dist-info/METADATA" in zf.namelist()
    assert editable.path.name.startswith("real_demo-0.1-")
    with zipfile.ZipFile(editable.path) as zf:
        assert any(name.endswith(".pth") for name in zf.namelist())
    assert len(factory.envs) == 1

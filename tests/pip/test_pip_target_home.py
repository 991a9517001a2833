"""An env's pip acts in the store the env belongs to, with or without ``FORGE_HOME`` set.

An env made under ``FORGE_HOME=/data/forge`` records that home in its ``pyvenv.cfg``; its
``bin/pip`` run from a shell, a cron job or a CI step without the variable used to open the default
home instead and adopt the env there as a plain venv (a second catalog owning links into the
first store). Real subprocesses of the env's launcher and of ``forge pip`` with ``VIRTUAL_ENV``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from forge_store.home import home_of_venv
from forge_store.store import Store
from tests.support.index_server import LocalIndex

FORGE = Path(sys.executable).parent / "forge"


def _without_home(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell that never set FORGE_HOME; its default home is below a fresh HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORGE_HOME", "VIRTUAL_ENV", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "user")
    env.update(extra)
    return env


def _listed(forge_home: Path, env_name: str) -> str:
    proc = subprocess.run(
        [str(FORGE), "list", "--env", env_name],
        capture_output=True,
        text=True,
        env=dict(os.environ, FORGE_HOME=str(forge_home)),
        check=True,
    )
    return proc.stdout


def test_env_pip_without_forge_home_uses_the_envs_store(
    tmp_path: Path, store: Store, demo_index: LocalIndex, forge_home: Path
) -> None:
    env = store.create_env("app")
    assert home_of_venv(env.path) == forge_home
    proc = subprocess.run(
        [str(env.path / "bin" / "pip"), "install", "-i", demo_index.file_url, "gamma"],
        capture_output=True,
        text=True,
        env=_without_home(tmp_path),
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gamma" in _listed(forge_home, "app")
    assert not (tmp_path / "user" / ".local" / "share" / "forge").exists()  # no second home made


def test_forge_pip_on_the_active_env_without_forge_home(
    tmp_path: Path, store: Store, demo_index: LocalIndex, forge_home: Path
) -> None:
    env = store.create_env("app")
    proc = subprocess.run(
        [str(FORGE), "pip", "install", "-i", demo_index.file_url, "gamma"],
        capture_output=True,
        text=True,
        env=_without_home(tmp_path, VIRTUAL_ENV=str(env.path)),
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gamma" in _listed(forge_home, "app")
    assert not (tmp_path / "user" / ".local" / "share" / "forge").exists()


def test_a_moved_or_deleted_home_is_not_followed(tmp_path: Path, store: Store, forge_home: Path) -> None:
    env = store.create_env("app")
    cfg = env.path / "pyvenv.cfg"
    text = cfg.read_text()
    assert f"forge_home = {forge_home}\n" in text
    cfg.write_text(text.replace(str(forge_home), str(tmp_path / "gone")))
    assert home_of_venv(env.path) is None
    plain = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(plain)], check=True)
    assert home_of_venv(plain) is None

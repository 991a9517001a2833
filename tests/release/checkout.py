"""A copy of this checkout (its tracked and unignored files, symlinks kept) for tests that build
or install it, so that they never write build artifacts into the real tree or race another run.

Outside a git work tree (scripts/test-unprivileged.sh runs a plain copy), every file but the usual
local state (venvs, build output, caches) is copied."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO

TOP_SKIP = {".git", ".venv", ".venv-pip26", "build", "dist"}
"""Local state at the top of a checkout (``forge_pip/build`` is a package: only the top ``build``)."""
ANY_SKIP = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}


def _listed() -> list[str]:
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
    )
    if proc.returncode == 0:
        return [name.decode() for name in proc.stdout.split(b"\0") if name]
    out: list[str] = []
    for dirpath, dirs, files in os.walk(REPO):
        rel = Path(dirpath).relative_to(REPO)
        top = rel == Path()
        dirs[:] = [
            d
            for d in dirs
            if d not in ANY_SKIP and not d.endswith(".egg-info") and not (top and d in TOP_SKIP)
        ]
        out.extend(str(rel / name) for name in files)
        out.extend(str(rel / d) for d in dirs if (Path(dirpath) / d).is_symlink())
    return out


def copy_checkout(dest: Path) -> Path:
    """Copy the checkout's files (work-tree content, modes and symlinks kept) to ``dest``."""
    for rel in _listed():
        origin, target = REPO / rel, dest / rel
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the work tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(origin.readlink())
        else:
            target.write_bytes(origin.read_bytes())
            target.chmod(origin.stat().st_mode & 0o777)
    return dest

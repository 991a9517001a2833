"""A copy of this checkout (its tracked and unignored files, symlinks kept) for tests that build
or install it, so that they never write build artifacts into the real tree or race another run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import REPO


def copy_checkout(dest: Path) -> Path:
    """Copy the checkout's files (as ``git ls-files`` lists them, work-tree content) to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        rel = name.decode()
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

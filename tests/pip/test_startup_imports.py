"""Start-up stays lean: ``forge``, ``python -m forge_pip`` and an env's ``bin/pip`` answer
``--version`` / ``--help`` without importing what only real work needs, and an ``--offline
--dry-run`` from the store loads no network, build, fetch or link stage.

Each entry point runs as a real subprocess with ``-X importtime`` (``PYTHONPROFILEIMPORTTIME``),
whose report names every module the process imported. Not a timing: a list that can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from forge_store.store import Store
from tests.support.wheels import make_wheel

HEAVY = (
    "resolvelib",
    "packaging.metadata",
    "packaging.requirements",
    "packaging.specifiers",
    "packaging.version",
    "packaging.tags",
    "sqlite3",
    "http.client",
    "ssl",
    "email",
    "zipfile",
    "urllib.request",
    "installer",
    "subprocess",
    "concurrent.futures",
    "tempfile",
    "forge_store.store",
    "forge_store.catalog",
    "forge_pip.install",
    "forge_pip.index",
    "forge_pip.resolve",
    "forge_pip.fastpath",
)


def imported(command: list[str]) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPROFILEIMPORTTIME")}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "forge_store" in names, "no import report: is PYTHONPROFILEIMPORTTIME honoured?"
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names for h in HEAVY if n == h or n.startswith(h + "."))


FORGE = [sys.executable, "-c", "from forge_store.isolation import forge_main; forge_main()"]
FRONT_END = [sys.executable, "-m", "forge_pip"]


@pytest.mark.parametrize(
    "command",
    [
        [*FORGE, "--version"],
        [*FORGE, "--help"],
        [*FORGE, "create", "--help"],
        [*FORGE, "install", "--help"],
        [*FORGE, "pip", "--version"],
        [*FRONT_END, "--version"],
        [*FRONT_END, "--help"],
        [*FRONT_END, "install", "--help"],
    ],
    ids=lambda c: " ".join(["forge" if "forge_main" in " ".join(c) else "forge_pip", *c[3:]]),
)
def test_entry_points_import_nothing_heavy_for_version_and_help(forge_home: Path, command: list[str]) -> None:
    assert heavy(imported(command)) == []


VERSION_LEAN = ("argparse", "json", "dataclasses", "hashlib", "shutil", "forge_pip.cli.forge")
"""What printing a version line needs none of: a parser, JSON, dataclasses (``inspect``, ``ast``),
hashing (OpenSSL), archive support."""


def test_version_lines_build_no_parser(store: Store) -> None:
    """``forge --version`` is answered before the parser and its subcommand modules load; the
    pip front ends answer ``--version`` before theirs too."""
    env = store.create_env("e")
    for command in ([*FORGE, "--version"], [*FRONT_END, "--version"], [str(env.path / "bin" / "pip"), "-V"]):
        names = imported(command)
        assert _not_needed(names, VERSION_LEAN) == [], command
    assert "forge_store.version" in imported([*FORGE, "--version"])


def test_an_envs_pip_imports_nothing_heavy_for_version(store: Store) -> None:
    env = store.create_env("e")
    for args in (["--version"], ["--help"]):
        assert heavy(imported([str(env.path / "bin" / "pip"), *args])) == []


OFFLINE_DRY_RUN_HEAVY = (
    "ssl",
    "http.client",
    "urllib.request",
    "tarfile",
    "zipfile",
    "installer",
    "pyproject_hooks",
    "forge_pip.build",
    "forge_pip.buildenv",
    "forge_pip.prepare",
    "forge_store.linker",
    "forge_store.ingest",
    "forge_store.policy",
)
"""What an ``--offline --dry-run`` that the store answers never needs: the network (the configured
indexes may be https), sdist builds, downloads and ingest, the link stage and its checks."""


def _not_needed(names: set[str], heavy: Sequence[str]) -> list[str]:
    return sorted(n for n in names for h in heavy if n == h or n.startswith(h + "."))


def test_offline_dry_run_loads_no_network_build_or_link_stage(store: Store, wheel_dir: Path) -> None:
    """Through each front end, with the machine's pip configuration (as a user runs it)."""
    wheels = [
        make_wheel(wheel_dir, "startup-app", "1.0", requires=["startup-lib>=1"]),
        make_wheel(wheel_dir, "startup-lib", "1.2"),
    ]
    store.create_env("seed")
    store.install_wheels("seed", wheels)  # the store holds both entries now
    env = store.create_env("fresh")
    args = ["install", "--offline", "--dry-run", "startup-app"]
    for command in (
        [*FRONT_END, *args, "--env", "fresh"],
        [str(env.path / "bin" / "pip"), *args],
    ):
        names = imported(command)
        assert "forge_pip.resolve" in names, "the dry run did not resolve"
        assert _not_needed(names, OFFLINE_DRY_RUN_HEAVY) == [], command
    assert store.catalog.links("fresh") == []


MEMO_HIT_NOT_NEEDED = (
    *OFFLINE_DRY_RUN_HEAVY,
    "resolvelib",
    "forge_pip.resolve.resolver",
    "forge_pip.resolve.provider",
    "forge_pip.resolve.finder",
    "forge_pip.resolve.candidates",
    "forge_pip.fastpath",
    "html.parser",
)
"""What an answer from the resolution memo needs none of, beyond an offline dry run's: the search
(resolvelib, the provider, the finder and its candidates), the pinned fast path before it, and
the HTML page parser (the memo compares cached pages by their headers)."""


def test_an_offline_dry_run_the_memo_answers_loads_no_resolver(store: Store, wheel_dir: Path) -> None:
    """The first ``--offline --dry-run`` resolves (and loads the resolver); the same one again is
    answered by the memo, with the same output, without loading it. Through each front end."""
    wheels = [
        make_wheel(wheel_dir, "memohit-app", "1.0", requires=["memohit-lib>=1"]),
        make_wheel(wheel_dir, "memohit-lib", "1.2"),
    ]
    store.create_env("seed")
    store.install_wheels("seed", wheels)
    env = store.create_env("fresh")
    args = ["install", "--offline", "--dry-run", "memohit-app"]
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for command in ([*FRONT_END, *args, "--env", "fresh"], [str(env.path / "bin" / "pip"), *args]):
        first = subprocess.run(command, capture_output=True, text=True, env=plain, check=True, timeout=120)
        names = imported(command)
        again = subprocess.run(command, capture_output=True, text=True, env=plain, check=True, timeout=120)
        assert (again.stdout, again.stderr) == (first.stdout, first.stderr)
        assert "Would install memohit-app-1.0 memohit-lib-1.2" in first.stdout
        assert "forge_pip.resolve.memo" in names
        assert _not_needed(names, MEMO_HIT_NOT_NEEDED) == [], command
    store.install_wheels("seed", [make_wheel(wheel_dir, "memohit-lib", "1.3")])  # the memo no longer holds
    assert "resolvelib" in imported([*FRONT_END, *args, "--env", "fresh"])


def test_the_link_stage_preloaded_during_revalidation_names_real_modules() -> None:
    """``forge_pip.install`` loads its link stage by name while a memo's pages are revalidated: a
    renamed module would fail every such install, so each name must be importable."""
    import importlib.util

    from forge_pip.install import _LINK_STAGE

    assert [name for name in _LINK_STAGE if importlib.util.find_spec(name) is None] == []


RARE_MACHINERY = ("forge_store.upstream", "forge_store.mirror", "forge_pip.vcs", "forge_pip.pylock")
"""What an install loads only when it is used: upstream stores (none configured), mirror envs (the
env is not one), VCS requirements (none asked for), lock files (``-r`` names a requirements file)."""


def test_an_install_loads_no_upstream_mirror_vcs_or_lock_machinery_it_does_not_use(
    store: Store, wheel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real install from the store into an env, with a ``-r`` file: it links, and loads none of
    :data:`RARE_MACHINERY`; with an upstream named (``FORGE_UPSTREAM``), the same install does
    consult it (the upstream module is loaded), so the list can fail."""
    wheels = [
        make_wheel(wheel_dir, "rare-app", "1.0", requires=["rare-lib>=1"]),
        make_wheel(wheel_dir, "rare-lib", "1.2"),
    ]
    store.create_env("seed")
    store.install_wheels("seed", wheels)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("rare-app\n")
    store.create_env("fresh")
    names = imported([*FRONT_END, "install", "--offline", "-r", str(reqs), "--env", "fresh"])
    assert "forge_store.linker" in names, "the install did not link"
    assert {link.entry_id for link in store.catalog.links("fresh")} == {
        e.id for e in store.entries() if e.name in ("rare-app", "rare-lib")
    }
    assert _not_needed(names, RARE_MACHINERY) == []
    store.create_env("again")
    upstream = tmp_path / "upstream-home"
    monkeypatch.setenv("FORGE_UPSTREAM", str(upstream))
    names = imported([*FRONT_END, "install", "--offline", "-r", str(reqs), "--env", "again"])
    assert "forge_store.upstream" in names

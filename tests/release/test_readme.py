"""README.md cannot go stale: its quick-start session runs, and prints what the README shows.

The block between ``<!-- quickstart:begin -->`` and ``<!-- quickstart:end -->`` is a console
session: ``$ CMD`` (or ``(env) $ CMD`` while an env is active) lines are commands, the lines under
each are its output. The test runs every command, in order, in one bash (so ``eval "$(forge
activate app)"`` really activates) with this project's ``forge`` on PATH, a temporary
``FORGE_HOME`` and pip pointed at a loopback index of factory wheels named as the README's
packages (requests and its four dependencies). Each command must exit 0 and print exactly the
README's lines, after the few normalizations below (the reader's home and interpreter differ).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_store.seal import remove_tree
from tests.conftest import REPO
from tests.support.index_server import IndexServer, LocalIndex, serve
from tests.support.user_env import user_environ
from tests.support.wheels import make_wheel

README = REPO / "README.md"
BLOCK = re.compile(r"<!-- quickstart:begin -->\n```console\n(.*?)```\n<!-- quickstart:end -->", re.S)
PROMPT = re.compile(r"^(?:\([\w.-]+\) )?\$ (.+)$")
SEED = (  # issue #11: the seed's quick start, every command of it in the README's session
    "forge create base",
    "forge create app --parent base",
    "forge env set app abi_policy warn_abi",
    "forge activate app",
    "forge inspect pip --env app --mode warn",
    "forge doctor",
    "forge gc --dry-run",
)
HOME_SHOWN = "~/.local/share/forge"
"""Where the README's outputs say the envs are (Forge's default FORGE_HOME)."""


def session() -> list[tuple[str, list[str]]]:
    """The quick-start block as (command, expected output lines)."""
    found = BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README.md has no quick-start block between the quickstart markers"
    steps: list[tuple[str, list[str]]] = []
    for line in found.group(1).splitlines():
        prompt = PROMPT.match(line)
        if prompt:
            steps.append((prompt.group(1), []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
    return steps


def normalize(text: str, home: str | None = None) -> str:
    """What differs from one reader to the next: the home, the interpreter's version, and the
    doctor's counts of catalog rows and links (they depend on the wheels the index serves)."""
    if home is not None:
        text = text.replace(home, HOME_SHOWN)
    text = re.sub(r"Python 3\.\d+\.\d+", "Python 3.X.Y", text)
    text = re.sub(r"python3\.\d+", "python3.X", text)
    text = re.sub(
        r"scanned \d+ catalog rows, (\d+) envs, \d+ links", r"scanned N catalog rows, \1 envs, N links", text
    )
    return "\n".join(line.rstrip() for line in text.splitlines())


@pytest.fixture
def index(tmp_path: Path) -> Iterator[IndexServer]:
    """requests and its dependencies, as factory wheels with the real packages' top-level names."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    local = LocalIndex(tmp_path / "index")
    deps = {"idna": "3.20", "urllib3": "2.8.0", "charset-normalizer": "3.5.3", "certifi": "2026.10.19"}
    for name, version in deps.items():
        module = name.replace("-", "_")
        local.add(make_wheel(wheels, name, version, files={f"{module}/__init__.py": f"V = {version!r}\n"}))
    requests = make_wheel(
        wheels,
        "requests",
        "2.34.2",
        files={"requests/__init__.py": "__version__ = '2.34.2'\n"},
        requires=[f"{name}>=1" for name in deps],
    )
    local.add(requests)
    local.write()
    with serve(local.root) as server:
        yield server


def test_readme_session_holds_the_seed_quick_start() -> None:
    commands = [cmd for cmd, _out in session()]
    for seed in SEED:
        assert any(seed in cmd for cmd in commands), f"the README's quick start lacks `{seed}`"


def test_readme_quick_start_runs_as_shown(tmp_path: Path, index: IndexServer) -> None:
    steps = session()
    home = tmp_path / "forge-home"
    out = tmp_path / "out"
    out.mkdir()
    script = [f"{{ {cmd}\n}} >{out}/{i}.out 2>&1\necho $? >{out}/{i}.rc" for i, (cmd, _) in enumerate(steps)]
    environ = user_environ(tmp_path, forge_home=home, home=tmp_path, index_url=index.index_url)
    try:
        r = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            env=environ,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        for i, (cmd, expected) in enumerate(steps):
            got = (out / f"{i}.out").read_text()
            rc = (out / f"{i}.rc").read_text().strip()
            assert rc == "0", f"`{cmd}` exited {rc}:\n{got}"
            assert normalize(got, str(home)) == normalize("\n".join(expected)), f"`{cmd}` printed:\n{got}"
    finally:
        remove_tree(home)


def test_readme_set_up_commands_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for script in ("scripts/quickstart.sh", "scripts/test.sh", "scripts/install.sh"):
        assert script in text and os.access(REPO / script, os.X_OK), script
    assert '-m "not real and not slow"' in text  # the hermetic run: markers pyproject declares
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"real:' in pyproject and '"slow:' in pyproject


def test_docs_stand_on_their_own() -> None:
    """No page points at notes outside the repository, and every relative link resolves."""
    for page in (README, *sorted((REPO / "docs").glob("*.md"))):
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text and "DESIGN.md" not in text, f"{page.name} points outside the repo"
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"

"""pip 26 and the standards since: ``--group`` (PEP 735), ``-r pylock.toml`` and ``lock`` (PEP 751),
``--requirements-from-script`` (PEP 723), ``--only-deps``, ``--uploaded-prior-to`` (PEP 700),
``--all-releases`` / ``--only-final``, ``--no-require-hashes``, and SBOMs in ``.dist-info/sboms/``
(PEP 770).

Hermetic: wheels the tests build, a ``file://`` or loopback HTTP index. Where a pip >= 26 is
given (``FORGE_TEST_PIP26=/path/to/bin/pip``), the same request also runs through real pip
(``--dry-run --report``) and both must choose the same distributions.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from forge_store.store import Store
from tests.conftest import run_py
from tests.support.index_server import LocalIndex, serve
from tests.support.wheels import make_wheel

Pip = Any


def toml_loads(text: str) -> dict[str, Any]:
    from forge_pip.tomlfile import loads

    return loads(text, what="test", error=AssertionError)  # type: ignore[arg-type]


# -- real pip, when available ----------------------------------------------------------------------


@pytest.fixture
def pip26() -> str:
    exe = os.environ.get("FORGE_TEST_PIP26")
    if not exe or not Path(exe).is_file():
        pytest.skip("set FORGE_TEST_PIP26 to a pip >= 26 to compare with it")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split()[1]
    if int(version.split(".")[0]) < 26:
        pytest.skip(f"FORGE_TEST_PIP26 is pip {version}")
    return exe


def real_pip_picks(pip26: str, *args: str, cwd: Path | None = None) -> set[tuple[str, str]]:
    """``(name, version)`` real pip would install (``--dry-run --report``) in an empty env."""
    cmd = [
        pip26,
        "install",
        "--dry-run",
        "--ignore-installed",
        "-q",
        "--no-cache-dir",
        "--report",
        "-",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    return {(i["metadata"]["name"], i["metadata"]["version"]) for i in report["install"]}


def real_pip_fails(pip26: str, *args: str, cwd: Path | None = None) -> str:
    cmd = [pip26, "install", "--dry-run", "--ignore-installed", "-q", "--no-cache-dir", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def forge_picks(pip: Pip, *args: str) -> set[tuple[str, str]]:
    r = pip("install", "--dry-run", "--report", "-", *args)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    return {(i["metadata"]["name"], i["metadata"]["version"]) for i in report["install"]}


def local_names(store: Store, env: str) -> dict[str, str]:
    return {d.name: d.version for d in store.visible(env)}


# -- PEP 735 dependency groups ----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "1"\n\n'
        "[dependency-groups]\n"
        'Dev = ["alpha", {include-group = "test_tools"}]\n'
        'test-tools = ["gamma"]\n'
        'loop-a = [{include-group = "loop-b"}]\n'
        'loop-b = [{include-group = "loop-a"}]\n'
        'bad = ["not a requirement !!"]\n'
    )
    (root / "sub" / "pyproject.toml").write_text('[dependency-groups]\nonly = ["prerel"]\n')
    (root / "nogroups.toml").write_text("")
    monkeypatch.chdir(root)
    return root


def test_group_installs_its_requirements_and_includes(
    store: Store, pip: Pip, demo_index: LocalIndex, project: Path
) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--group", "dev")
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"alpha": "1.0", "beta": "2.0", "gamma": "1.0"}
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--group", "sub/pyproject.toml:only")
    assert r.code == 0, r.err
    assert local_names(store, "e")["prerel"] == "1.0"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", "dependency group 'nope' not found"),
        ("loop-a", "cyclic dependency group include"),
        ("bad", "invalid requirement"),
        ("nogroups.toml:dev", "group paths use 'pyproject.toml' filenames"),
        ("missing/pyproject.toml:dev", "missing/pyproject.toml not found"),
    ],
)
def test_group_errors_are_one_line(
    store: Store, pip: Pip, demo_index: LocalIndex, project: Path, value: str, message: str
) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--group", value)
    assert r.code == 1, r.out + r.err  # pip's status for a failed command
    assert message in r.err and "Traceback" not in r.err
    assert local_names(store, "e") == {}


def test_group_without_table(store: Store, pip: Pip, demo_index: LocalIndex, project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--group", "dev")
    assert r.code == 1 and "[dependency-groups] table was missing from 'pyproject.toml'" in r.err


def test_group_matches_real_pip(
    store: Store, pip: Pip, demo_index: LocalIndex, project: Path, pip26: str
) -> None:
    store.create_env("e")
    args = ("-i", demo_index.file_url, "--group", "dev", "--group", "sub/pyproject.toml:only")
    assert forge_picks(pip, "--env", "e", *args) == real_pip_picks(pip26, *args)


# -- PEP 723 scripts -------------------------------------------------------------------------------


def write_script(path: Path, deps: Sequence[str], requires_python: str | None = None) -> Path:
    lines = ["# /// script", f"# dependencies = {json.dumps(list(deps))}"]
    if requires_python:
        lines.append(f'# requires-python = "{requires_python}"')
    lines += ["# ///", "print('hi')", ""]
    path.write_text("\n".join(lines))
    return path


def test_requirements_from_script(store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path) -> None:
    script = write_script(tmp_path / "tool.py", ["alpha", "fancy[color]"], ">=3.8")
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--requirements-from-script", str(script))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"alpha": "1.0", "beta": "2.0", "fancy": "1.0", "gamma": "1.0"}


def test_script_errors(store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path) -> None:
    store.create_env("e")
    base = ("install", "--env", "e", "-i", demo_index.file_url, "--requirements-from-script")
    old = write_script(tmp_path / "old.py", ["alpha"], "<3")
    r = pip(*base, str(old))
    assert r.code == 10 or r.code != 0, r.err
    assert "requires a different Python" in r.err and "not in '<3'" in r.err
    plain = tmp_path / "plain.py"
    plain.write_text("print(1)\n")
    r = pip(*base, str(plain))
    assert r.code == 1 and "File does not contain 'script' metadata" in r.err
    twice = tmp_path / "twice.py"
    twice.write_text((tmp_path / "old.py").read_text() * 2)
    r = pip(*base, str(twice))
    assert r.code == 1 and "Multiple 'script' blocks" in r.err
    assert local_names(store, "e") == {}
    # --ignore-requires-python, as pip
    r = pip(*base, str(old), "--ignore-requires-python")
    assert r.code == 0, r.err


def test_script_matches_real_pip(
    store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path, pip26: str
) -> None:
    script = write_script(tmp_path / "tool.py", ["app", "fancy[color]"])
    store.create_env("e")
    args = ("-i", demo_index.file_url, "--requirements-from-script", str(script))
    assert forge_picks(pip, "--env", "e", *args) == real_pip_picks(pip26, *args)
    old = write_script(tmp_path / "old.py", ["alpha"], "<3")
    assert "requires a different Python" in real_pip_fails(
        pip26, "-i", demo_index.file_url, "--requirements-from-script", str(old)
    )


# -- --only-deps ----------------------------------------------------------------------------------


def test_only_deps(store: Store, pip: Pip, demo_index: LocalIndex) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--only-deps", "app")
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"beta": "2.0", "tool": "1.0"}
    # a named requirement that is also another's dependency is still not installed (pip 26.2)
    store.create_env("f")
    r = pip("install", "--env", "f", "-i", demo_index.file_url, "--only-deps", "alpha", "beta")
    assert r.code == 0, r.err
    assert local_names(store, "f") == {}
    r = pip("install", "--env", "f", "-i", demo_index.file_url, "--only-deps", "--no-deps", "app")
    assert r.code == 1 and "Cannot use '--only-dependencies' in combination with '--no-deps'" in r.err


def test_only_deps_matches_real_pip(store: Store, pip: Pip, demo_index: LocalIndex, pip26: str) -> None:
    store.create_env("e")
    for reqs in (["app"], ["alpha", "fancy[color]"], ["alpha", "beta"]):
        args = ("-i", demo_index.file_url, "--only-deps", *reqs)
        assert forge_picks(pip, "--env", "e", *args) == real_pip_picks(pip26, *args), reqs


# -- --all-releases / --only-final ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["prerel"], "1.0"),
        (["--all-releases", "prerel", "prerel"], "2.0b1"),
        (["--all-releases", ":all:", "prerel"], "2.0b1"),
        (["--all-releases", ":all:", "--only-final", "prerel", "prerel"], "1.0"),
        (["--only-final", "prerel", "--all-releases", ":all:", "prerel"], "2.0b1"),
        (["--all-releases", "prerel", "--all-releases", ":none:", "prerel"], "1.0"),
        (["--only-final", ":all:", "--all-releases", "Prerel", "prerel"], "2.0b1"),
        (["prerel>=2.0b1"], "2.0b1"),
    ],
)
def test_release_control(
    store: Store, pip: Pip, demo_index: LocalIndex, args: list[str], expected: str
) -> None:
    store.create_env("e")
    picks = forge_picks(pip, "--env", "e", "-i", demo_index.file_url, *args)
    assert picks == {("prerel", expected)}


def test_only_final_refuses_a_named_prerelease(store: Store, pip: Pip, demo_index: LocalIndex) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--only-final", ":all:", "prerel==2.0b1")
    assert r.code != 0 and "Traceback" not in r.err
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--pre", "--only-final", "x", "prerel")
    assert r.code == 1 and "--pre cannot be used with --all-releases or --only-final." in r.err


def test_release_control_matches_real_pip(store: Store, pip: Pip, demo_index: LocalIndex, pip26: str) -> None:
    store.create_env("e")
    cases = [
        ["--all-releases", "prerel", "prerel"],
        ["--all-releases", ":all:", "--only-final", "prerel", "prerel"],
        ["--only-final", ":all:", "prerel>=2.0b1", "beta"],
        ["--all-releases", ":all:", "--all-releases", ":none:", "prerel"],
    ]
    for case in cases:
        args = ("-i", demo_index.file_url, *case)
        try:
            want = real_pip_picks(pip26, *args)
        except AssertionError:
            r = pip("install", "--env", "e", "--dry-run", *args)
            assert r.code != 0, case
            continue
        assert forge_picks(pip, "--env", "e", *args) == want, case


# -- --uploaded-prior-to (PEP 700 upload-time) ----------------------------------------------------


@pytest.fixture
def timed_index(tmp_path: Path, hermetic_pip: None) -> Iterator[str]:
    index = LocalIndex(tmp_path / "timed")
    src = tmp_path / "timed-src"
    index.add(make_wheel(src, "beta", "1.0"), upload_time="2020-01-01T00:00:00.000000Z")
    index.add(make_wheel(src, "beta", "2.0"), upload_time="2024-06-01T12:00:00Z")
    index.add(make_wheel(src, "alpha", "1.0", requires=["beta"]), upload_time="2019-05-05T00:00:00Z")
    index.write()
    with serve(index.root) as server:
        yield server.index_url


@pytest.mark.parametrize(
    ("cutoff", "beta"),
    [
        (None, "2.0"),
        ("2022-01-01", "1.0"),
        ("2024-06-01T12:00:00Z", "1.0"),  # "prior to": an upload at the cutoff is too late
        ("2024-06-01T12:00:01+00:00", "2.0"),
        ("P1D", "2.0"),
    ],
)
def test_uploaded_prior_to(store: Store, pip: Pip, timed_index: str, cutoff: str | None, beta: str) -> None:
    store.create_env("e")
    extra = ["--uploaded-prior-to", cutoff] if cutoff else []
    assert forge_picks(pip, "--env", "e", "-i", timed_index, *extra, "alpha") == {
        ("alpha", "1.0"),
        ("beta", beta),
    }


def test_uploaded_prior_to_errors_and_local_files(
    store: Store, pip: Pip, timed_index: str, demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", timed_index, "--uploaded-prior-to", "yesterday", "alpha")
    assert r.code == 2 and "--uploaded-prior-to: invalid value: 'yesterday'" in r.err
    r = pip("install", "--env", "e", "-i", timed_index, "--uploaded-prior-to", "2010-01-01", "beta")
    assert r.code != 0 and "Traceback" not in r.err
    # local files have no upload time and are exempt (pip: the filter is for indexes)
    assert forge_picks(
        pip, "--env", "e", "-i", demo_index.file_url, "--uploaded-prior-to", "2010-01-01", "beta"
    ) == {("beta", "2.0")}
    monkeypatch.setenv("PIP_UPLOADED_PRIOR_TO", "2022-01-01")
    assert forge_picks(pip, "--env", "e", "-i", timed_index, "beta") == {("beta", "1.0")}


@pytest.fixture
def untimed_index(tmp_path: Path, hermetic_pip: None) -> Iterator[str]:
    index = LocalIndex(tmp_path / "untimed")
    index.add(make_wheel(tmp_path / "untimed-src", "beta", "1.0"), upload_time="2020-01-01T00:00:00Z")
    index.add(make_wheel(tmp_path / "untimed-src", "beta", "3.0"))  # the index states no upload-time
    index.write()
    with serve(index.root) as server:
        yield server.index_url


def test_uploaded_prior_to_needs_upload_times(store: Store, pip: Pip, untimed_index: str) -> None:
    """pip fails at once when an index file has no upload-time (it does not skip the file)."""
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", untimed_index, "--uploaded-prior-to", "2022-01-01", "beta")
    assert r.code == 1, r.out + r.err
    assert "does not provide upload-time metadata." in r.err and "Traceback" not in r.err
    assert forge_picks(pip, "--env", "e", "-i", untimed_index, "beta") == {("beta", "3.0")}


def test_uploaded_prior_to_matches_real_pip(
    store: Store, pip: Pip, timed_index: str, untimed_index: str, pip26: str
) -> None:
    store.create_env("e")
    for cutoff in ("2022-01-01T00:00:00Z", "2024-06-01T12:00:00Z", "P1D"):
        args = ("-i", timed_index, "--uploaded-prior-to", cutoff, "alpha")
        assert forge_picks(pip, "--env", "e", *args) == real_pip_picks(pip26, *args), cutoff
    err = real_pip_fails(pip26, "-i", untimed_index, "--uploaded-prior-to", "2022-01-01", "beta")
    assert "does not provide upload-time metadata." in err


# -- --no-require-hashes --------------------------------------------------------------------------


def test_no_require_hashes(store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path) -> None:
    beta = next(e for e in demo_index.entries if e.filename.startswith("beta-1.0"))
    reqs = tmp_path / "req.txt"
    reqs.write_text(f"beta==1.0 --hash=sha256:{beta.sha256}\ngamma\n")
    store.create_env("e")
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "-r", str(reqs))
    assert r.code != 0 and "--require-hashes mode" in r.err  # a --hash turns hash-checking on
    r = pip("install", "--env", "e", "-i", demo_index.file_url, "--no-require-hashes", "-r", str(reqs))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"beta": "1.0", "gamma": "1.0"}
    bad = tmp_path / "bad.txt"
    bad.write_text(f"beta==2.0 --hash=sha256:{beta.sha256}\n")  # the given hash is still checked
    store.create_env("f")
    r = pip("install", "--env", "f", "-i", demo_index.file_url, "--no-require-hashes", "-r", str(bad))
    assert r.code != 0 and local_names(store, "f") == {}
    r = pip(
        "install", "--env", "f", "-i", demo_index.file_url, "--require-hashes", "--no-require-hashes", "beta"
    )
    assert r.code == 1 and "mutually exclusive" in r.err


# -- PEP 751 lock files ---------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_lock(
    path: Path, packages: Sequence[str], *, head: str = 'lock-version = "1.0"\ncreated-by = "test"\n'
) -> Path:
    path.write_text(head + "\n" + "\n".join(packages))
    return path


def wheel_entry(name: str, version: str, wheel: Path, *, url: bool = False, marker: str | None = None) -> str:
    where = f'url = "{wheel.as_uri()}"' if url else f'path = "{wheel.name}"'
    lines = ["[[packages]]", f'name = "{name}"', f'version = "{version}"']
    if marker:
        lines.append(f"marker = {json.dumps(marker)}")
    lines += [
        "[[packages.wheels]]",
        f'name = "{wheel.name}"',
        where,
        f'hashes = {{sha256 = "{sha256(wheel)}"}}',
        "",
    ]
    return "\n".join(lines)


def test_pylock_installs_exactly_what_is_locked(
    store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None
) -> None:
    wheels = tmp_path / "lock"
    a = make_wheel(wheels, "alpha", "1.0", requires=["beta>=1"])
    b = make_wheel(wheels, "beta", "1.0")
    never = make_wheel(wheels, "never", "1.0")
    lock = write_lock(
        wheels / "pylock.toml",
        [
            wheel_entry("alpha", "1.0", a),
            wheel_entry("beta", "1.0", b, url=True),
            wheel_entry("never", "1.0", never, marker='python_version < "3"'),
        ],
    )
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-r", str(lock))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"alpha": "1.0", "beta": "1.0"}
    assert run_py(env.python, "import alpha, beta").returncode == 0
    # again: already satisfied, nothing changes
    r = pip("install", "--env", "e", "--no-index", "-r", str(lock))
    assert r.code == 0 and "Requirement already satisfied: alpha" in r.out


def test_pylock_checks_hashes_and_changes_nothing(
    store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None
) -> None:
    wheels = tmp_path / "lock"
    a = make_wheel(wheels, "alpha", "1.0")
    b = make_wheel(wheels, "beta", "1.0")
    text = wheel_entry("alpha", "1.0", a) + "\n" + wheel_entry("beta", "1.0", b).replace(sha256(b), "0" * 64)
    lock = write_lock(wheels / "pylock.toml", [text])
    store.create_env("e")
    entries = {e.id for e in store.entries()}
    r = pip("install", "--env", "e", "--no-index", "-r", str(lock))
    assert r.code != 0 and "Traceback" not in r.err
    assert local_names(store, "e") == {}
    assert {e.id for e in store.entries()} == entries


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('lock-version = "2.0"\ncreated-by = "x"\n', "lock-version"),
        ("not toml = = =", "Invalid pylock file"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\nrequires-python = "<3"\npackages = []\n',
            "requires a different Python",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "x"\n'
            '[packages.vcs]\ntype = "git"\nurl = "https://example.invalid/x"\n',
            "commit-id",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "alpha"\nversion = "1.0"\n'
            '[[packages.wheels]]\nname = "evil-1.0-py3-none-any.whl"\npath = "../evil-1.0-py3-none-any.whl"\n'
            'hashes = {sha256 = "00"}\n',
            "'evil-1.0-py3-none-any.whl'",
        ),
    ],
)
def test_bad_lock_files_are_one_line(
    store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None, body: str, message: str
) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text(body)
    store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-r", str(lock))
    assert r.code != 0 and message in r.err, r.err
    assert "Traceback" not in r.err and local_names(store, "e") == {}


def test_lock_then_install_round_trip(store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path) -> None:
    out = tmp_path / "pylock.toml"
    r = pip("lock", "-i", demo_index.file_url, "-o", str(out), "app", "fancy[color]")
    assert r.code == 0, r.err
    text = out.read_text()
    assert text.startswith('lock-version = "1.0"\ncreated-by = "forge"\n')
    doc = toml_loads(text)
    packages = {p["name"]: p for p in doc["packages"]}
    assert {n: p["version"] for n, p in packages.items()} == {
        "app": "1.0",
        "beta": "2.0",
        "fancy": "1.0",
        "gamma": "1.0",
        "tool": "1.0",
    }
    beta = next(e for e in demo_index.entries if e.filename.startswith("beta-2.0"))
    assert packages["beta"]["wheels"][0]["hashes"] == {"sha256": beta.sha256}
    assert packages["beta"]["wheels"][0]["url"].endswith("/beta-2.0-py3-none-any.whl")
    try:
        from packaging.pylock import Pylock

        Pylock.from_dict(doc)  # valid PEP 751
    except ImportError:
        pass
    store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-r", str(out))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {n: p["version"] for n, p in packages.items()}
    r = pip("lock", "-i", demo_index.file_url, "-o", "-", "beta==1.0")
    assert r.code == 0 and 'name = "beta"\nversion = "1.0"' in r.out


def test_lock_matches_real_pip(
    store: Store, pip: Pip, demo_index: LocalIndex, tmp_path: Path, pip26: str
) -> None:
    ours, theirs = tmp_path / "ours" / "pylock.toml", tmp_path / "theirs" / "pylock.toml"
    theirs.parent.mkdir()
    assert pip("lock", "-i", demo_index.file_url, "-o", str(ours), "app", "alpha").code == 0
    proc = subprocess.run(
        [pip26, "lock", "-q", "--no-cache-dir", "-i", demo_index.file_url, "-o", str(theirs), "app", "alpha"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr

    def summary(path: Path) -> set[tuple[str, str, str, str]]:
        doc = toml_loads(path.read_text())
        return {
            (p["name"], p["version"], p["wheels"][0]["name"], p["wheels"][0]["hashes"]["sha256"])
            for p in doc["packages"]
        }

    assert summary(ours) == summary(theirs)
    # and real pip installs from Forge's lock what Forge installs from it
    assert real_pip_picks(pip26, "-r", str(ours)) == {(n, v) for n, v, _, _ in summary(ours)}


# -- PEP 770 SBOMs --------------------------------------------------------------------------------


def test_sbom_reaches_the_env(store: Store, pip: Pip, tmp_path: Path, hermetic_pip: None) -> None:
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []})
    wheel = make_wheel(
        tmp_path / "w", "sbomdemo", "1.0", raw_members={"sbomdemo-1.0.dist-info/sboms/x.cdx.json": sbom}
    )
    with zipfile.ZipFile(wheel) as zf:
        assert "sbomdemo-1.0.dist-info/sboms/x.cdx.json" in zf.namelist()
    env = store.create_env("e")
    r = pip("install", "--env", "e", str(wheel))
    assert r.code == 0, r.err
    on_disk = env.site_packages / "sbomdemo-1.0.dist-info" / "sboms" / "x.cdx.json"
    assert json.loads(on_disk.read_text())["bomFormat"] == "CycloneDX"
    code = (
        "import importlib.metadata as m\n"
        "d = m.distribution('sbomdemo')\n"
        "print([str(f) for f in d.files if 'sboms' in str(f)])\n"
        "print(d.read_text('sboms/x.cdx.json') is not None)"
    )
    out = run_py(env.python, code).stdout.split("\n")
    assert "sbomdemo-1.0.dist-info/sboms/x.cdx.json" in out[0]
    assert out[1] == "True"


@pytest.fixture
def direct_world(tmp_path: Path, hermetic_pip: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A project directory, a git repository (one commit) and two wheels, under ``lock/``."""
    import shutil
    import sys

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build"))
    from build_support import make_project

    for name in (
        "TINY_BACKEND_FAIL",
        "TINY_BACKEND_EXTRA_REQUIRES",
        "TINY_BACKEND_LOG",
        "TINY_BACKEND_RECORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(key, "t")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, "t@example.invalid")
    lockdir = tmp_path / "lock"
    project = make_project(lockdir / "dirpkg", name="dirpkg", version="1.5")
    repo = make_project(tmp_path / "repo", name="vcspkg", version="2.5")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    return {
        "lockdir": lockdir,
        "project": project,
        "repo": repo,
        "head": head.stdout.strip(),
        "archive": make_wheel(lockdir / "arch", "gamma", "1.0"),
        "wheel": make_wheel(lockdir, "beta", "1.0"),
    }


def test_pylock_direct_references(store: Store, pip: Pip, direct_world: dict[str, Any]) -> None:
    """Locked directories, archives and VCS commits install by pip's requirement for each."""
    w = direct_world
    archive, repo = w["archive"], w["repo"]
    body = [
        wheel_entry("beta", "1.0", w["wheel"]),
        '[[packages]]\nname = "dirpkg"\n[packages.directory]\npath = "dirpkg"\n',
        f'[[packages]]\nname = "gamma"\n[packages.archive]\npath = "arch/{archive.name}"\n'
        f'hashes = {{sha256 = "{sha256(archive)}"}}\n',
        f'[[packages]]\nname = "vcspkg"\n[packages.vcs]\ntype = "git"\nurl = "{repo.as_uri()}"\n'
        f'commit-id = "{w["head"]}"\n',
    ]
    lock = write_lock(w["lockdir"] / "pylock.toml", body)
    env = store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-r", str(lock))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"beta": "1.0", "dirpkg": "1.5", "gamma": "1.0", "vcspkg": "2.5"}
    assert run_py(env.python, "import dirpkg, vcspkg, gamma, beta").returncode == 0
    # a wrong archive hash is refused, and nothing changes
    bad = write_lock(w["lockdir"] / "pylock.bad.toml", [body[2].replace(sha256(archive), "1" * 64)])
    store.create_env("f")
    r = pip("install", "--env", "f", "--no-index", "-r", str(bad))
    assert r.code != 0 and local_names(store, "f") == {}


def test_lock_writes_direct_references(store: Store, pip: Pip, direct_world: dict[str, Any]) -> None:
    w = direct_world
    out = w["lockdir"] / "pylock.toml"
    reqs = [str(w["project"]), str(w["archive"]), f"vcspkg @ git+{w['repo'].as_uri()}@main"]
    r = pip("lock", "--no-index", "-o", str(out), *reqs)
    assert r.code == 0, r.err
    packages = {p["name"]: p for p in toml_loads(out.read_text())["packages"]}
    assert packages["dirpkg"] == {"name": "dirpkg", "directory": {"path": "dirpkg"}}
    assert packages["gamma"]["archive"]["hashes"] == {"sha256": sha256(w["archive"])}
    assert packages["vcspkg"]["vcs"] == {
        "type": "git",
        "url": w["repo"].as_uri(),
        "requested-revision": "main",
        "commit-id": w["head"],
    }
    store.create_env("e")
    r = pip("install", "--env", "e", "--no-index", "-r", str(out))
    assert r.code == 0, r.err
    assert local_names(store, "e") == {"dirpkg": "1.5", "gamma": "1.0", "vcspkg": "2.5"}


def test_lock_direct_references_match_real_pip(
    store: Store, pip: Pip, direct_world: dict[str, Any], pip26: str
) -> None:
    w = direct_world
    reqs = [str(w["project"]), str(w["archive"]), f"vcspkg @ git+{w['repo'].as_uri()}@main"]
    ours, theirs = w["lockdir"] / "pylock.toml", w["lockdir"] / "pylock.pip.toml"
    assert pip("lock", "--no-index", "-o", str(ours), *reqs).code == 0
    proc = subprocess.run(
        [pip26, "lock", "-q", "--no-cache-dir", "--no-index", "-o", str(theirs), *reqs],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr

    def packages(path: Path) -> list[dict[str, Any]]:
        return sorted(toml_loads(path.read_text())["packages"], key=lambda p: p["name"])

    assert packages(ours) == packages(theirs)


def test_pylock_selection_without_packaging_pylock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hermetic_pip: None
) -> None:
    """Forge's own PEP 751 selection (for a packaging without ``pylock``) picks what packaging's does."""
    from forge_pip import pylock
    from forge_pip.sources import target_python
    from forge_store import interpreters

    wheels = tmp_path / "lock"
    a = make_wheel(wheels, "alpha", "1.0")
    a_other = make_wheel(wheels, "alpha", "1.0", tag="cp27-cp27m-win32")
    b = make_wheel(wheels, "beta", "1.0")
    never = make_wheel(wheels, "never", "1.0")
    both = (
        wheel_entry("alpha", "1.0", a)
        + "[[packages.wheels]]\n"
        + wheel_entry("x", "1", a_other).split("[[packages.wheels]]\n", 1)[1]
    )
    lock = write_lock(
        wheels / "pylock.toml",
        [
            both,
            wheel_entry("beta", "1.0", b, url=True),
            wheel_entry("never", "1.0", never, marker='sys_platform == "x"'),
        ],
    )
    target = target_python(interpreters.current())
    theirs = pylock.read_pylock(lock, target)
    monkeypatch.setattr(pylock, "_has_packaging_select", lambda: False)
    ours = pylock.read_pylock(lock, target)
    assert [(p.name, str(p.version), p.file.filename if p.file else None) for p in ours] == [
        ("alpha", "1.0", a.name),
        ("beta", "1.0", b.name),
    ]
    assert ours == theirs


# -- pip 26.3's network options --------------------------------------------------------------------


def test_pip_26_3_network_options_match_real_pip(
    store: Store, pip: Pip, demo_index: LocalIndex, pip26: str
) -> None:
    """``--refresh-package`` and ``--no-proxy-env`` (pip 26.3): both accept them, same picks."""
    version = subprocess.run([pip26, "--version"], capture_output=True, text=True).stdout.split()[1]
    if tuple(int(p) for p in version.split(".")[:2]) < (26, 3):
        pytest.skip(f"FORGE_TEST_PIP26 is pip {version}; these options are pip 26.3's")
    store.create_env("e")
    args = ("-i", demo_index.file_url, "--refresh-package", "alpha,:all:", "--no-proxy-env", "alpha")
    picks = {("alpha", "1.0"), ("beta", "2.0")}
    assert forge_picks(pip, "--env", "e", *args) == real_pip_picks(pip26, *args) == picks

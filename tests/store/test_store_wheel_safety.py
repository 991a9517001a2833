"""Wheels that attack: names that are paths, archives that escape, metadata that lies, bombs.

Every refused wheel must be refused whole, with one ``InvalidWheel`` subclass, before anything is
written: the store, the env and every directory around them (the parents a ``../`` would reach)
are byte-for-byte what they were.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forge_store import ingest, wheelcheck
from forge_store.errors import (
    ExitCode,
    InvalidWheel,
    InvalidWheelMetadata,
    UnsafeWheel,
    UsageError,
    WheelTooLarge,
)
from forge_store.models import EnvInfo
from forge_store.store import Store
from tests.conftest import REPO, forge_cli, run_py
from tests.support.wheels import make_wheel, make_zero_bomb

SKIP = ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm", "locks")


def snapshot(root: Path) -> dict[str, str]:
    """Every path below ``root`` with its kind and link target or content hash (catalog files and
    lock files excepted: the catalog is compared through its API)."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for name in dirs + files:
            if name in SKIP:
                continue
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st_ = path.lstat()
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = "link:" + os.readlink(path)
            elif stat.S_ISDIR(st_.st_mode):
                out[rel] = "dir"
            else:
                out[rel] = "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return out


class World:
    """An env with one good dist in it, and a way to assert that nothing changed anywhere."""

    def __init__(self, store: Store, root: Path, wheel_dir: Path) -> None:
        self.store = store
        self.root = root  # tmp_path: holds FORGE_HOME (store, envs) and the wheels
        self.wheel_dir = wheel_dir
        self.env: EnvInfo = store.create_env("e")
        good = make_wheel(wheel_dir / "good", "good", "1.0", console_scripts={"good": "good:main"})
        store.install_wheels("e", [good])
        self.before = self.state()

    def state(self) -> tuple[dict[str, str], list[tuple[str, str]], object]:
        entries = sorted((e.name, e.id) for e in self.store.entries())
        links = self.store.catalog.links("e")
        return snapshot(self.root), entries, links

    def assert_unchanged(self) -> None:
        files, entries, links = self.state()
        before_files, before_entries, before_links = self.before
        added = sorted(set(files) - set(before_files))
        removed = sorted(set(before_files) - set(files))
        assert not added, f"written: {added[:5]}"
        assert not removed, f"removed: {removed[:5]}"
        assert files == before_files, "a file changed"
        assert entries == before_entries and links == before_links
        assert list(self.store.home.tmp.iterdir()) == [], "staging left behind"

    def refuse(self, whl: Path, error: type[InvalidWheel], words: str = "") -> InvalidWheel:
        self.before = self.state()  # the wheel file itself is new
        with pytest.raises(error) as info:
            self.store.install_wheels("e", [whl])
        assert words in info.value.message, info.value.message
        assert "\n" not in info.value.message
        self.assert_unchanged()
        return info.value


@pytest.fixture
def world(store: Store, tmp_path: Path, wheel_dir: Path) -> World:
    return World(store, tmp_path, wheel_dir)


# -- names that become paths ------------------------------------------------------------------------

ESCAPING_NAMES = [
    "../../../../x",
    "../lib/python3.11/site-packages/x.pth",
    "../x",
    "..",
    ".",
    "/tmp/forge-abs-x",
    "a/b",
    "a\\b",
    "x\x00y",
    "x\x1b[2Jy",
]


@pytest.mark.parametrize("section", ["console_scripts", "gui_scripts"])
@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_entry_point_names_are_plain_file_names(world: World, name: str, section: str) -> None:
    text = f"[{section}]\n{name} = evil:main\n"
    whl = make_wheel(world.wheel_dir, "evil", "1.0", entry_points=text, files={"evil.py": "def main(): 0\n"})
    err = world.refuse(whl, UnsafeWheel, "script name")
    assert err.reference == "unsafe-wheel" and err.exit_code is ExitCode.INTEGRITY
    assert not (world.root / "x").exists()
    assert not (world.env.site_packages / "x.pth").exists()


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("os; import shutil", "not 'module:attribute'"),
        ("evil:main; x", "not 'module:attribute'"),
        ("evil", "not 'module:attribute'"),
        ("1evil:main", "not a dotted identifier"),
        ("evil:main..x", "not a dotted identifier"),
    ],
)
def test_entry_point_targets_are_dotted_identifiers(world: World, target: str, words: str) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0", entry_points=f"[console_scripts]\nevil = {target}\n")
    world.refuse(whl, InvalidWheel, words)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[console_scripts]\njust-a-name\n", "cannot be parsed"),
        ("no section header = x:y\n", "cannot be parsed"),
        ("[console_scripts]\na = x:y\na = x:z\n", "cannot be parsed"),
        ("[console_scripts]\na = %(nope)s\n", "cannot be parsed"),
        ("[console_scripts]\na = x:y\n[console_scripts]\n", "cannot be parsed"),
        (b"[console_scripts]\na = \xff:y\n", "not UTF-8"),
    ],
)
def test_bad_entry_points_txt_is_a_clear_error(world: World, text: str | bytes, words: str) -> None:
    """Before: installer's ``assert match`` (an AssertionError) or a raw configparser traceback."""
    whl = make_wheel(world.wheel_dir, "evil", "1.0", entry_points=text)
    world.refuse(whl, InvalidWheelMetadata, words)


def test_other_entry_point_groups_are_not_scripts(world: World) -> None:
    text = "[console_scripts]\nok = ok:main\n[some.plugin]\nanything = goes here: [x]\n"
    whl = make_wheel(world.wheel_dir, "ok", "1.0", entry_points=text, files={"ok.py": "def main(): 0\n"})
    world.store.install_wheels("e", [whl])
    assert (world.env.bin / "ok").is_file()


# -- paths inside the archive -----------------------------------------------------------------------

DATA = "evil-1.0.data"


@pytest.mark.parametrize(
    ("member", "words"),
    [
        ("../evil.py", "'..' component"),
        ("../../../../x", "'..' component"),
        ("evil/../../x.py", "'..' component"),
        ("/tmp/forge-abs-x.py", "is absolute"),
        ("evil\\..\\..\\x.py", "backslash"),
        ("C:/x.py", "drive letter"),
        ("evil//x.py", "empty component"),
        ("./x.py", "'.' component"),
        ("evil/x\x01.py", "control character"),
        ("evil/" + "x" * 300 + ".py", "longer than 255"),
        (f"{DATA}/data/../../../x", "'..' component"),
        (f"{DATA}/scripts/../../x", "'..' component"),
        (f"{DATA}/headers/../../x.h", "'..' component"),
        (f"{DATA}/purelib/../../lib/python3.11/site-packages/x.pth", "'..' component"),
        (f"{DATA}/scripts/sub/x", "subdirectory of .data/scripts"),
        (f"{DATA}/evil/x", "not inside a .data/<scheme>/"),
        (f"{DATA}/loose-file", "not inside a .data/<scheme>/"),
        ("other-1.0.data/scripts/x", "unexpected data directory"),
    ],
)
def test_archive_paths_stay_inside(world: World, member: str, words: str) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0", raw_members={member: b"import os\n"})
    world.refuse(whl, UnsafeWheel, words)
    assert not (world.root / "x").exists()


def test_symlink_members_are_refused(world: World) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0", symlinks={"evil/link": "/etc/passwd"})
    world.refuse(whl, UnsafeWheel, "is a symlink")


def test_duplicate_members_are_refused(world: World, tmp_path: Path) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0")
    with zipfile.ZipFile(whl, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("evil/__init__.py", b"import os; os.system('x')\n")
    world.refuse(whl, UnsafeWheel, "appears twice")


# -- the dist-info directory and METADATA ----------------------------------------------------------


@pytest.mark.parametrize(
    ("dist_info", "words"),
    [
        ("numpy-1.0.dist-info", "does not match the file name"),
        ("evil-2.0.dist-info", "does not match the file name"),
        ("evil-notaversion.dist-info", "does not match the file name"),
        ("evil.dist-info", "does not match the file name"),
    ],
)
def test_dist_info_name_must_match_file_name(world: World, dist_info: str, words: str) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0", dist_info=dist_info)
    world.refuse(whl, InvalidWheelMetadata, words)


def test_two_dist_info_dirs_are_refused(world: World) -> None:
    whl = make_wheel(world.wheel_dir, "evil", "1.0", raw_members={"numpy-2.0.dist-info/METADATA": b"x"})
    world.refuse(whl, InvalidWheelMetadata, "2 .dist-info directories")


def _meta(name: str = "evil", version: str = "1.0", extra: str = "") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}\n"


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        (_meta(name="numpy"), "says numpy 1.0, but the file name says evil 1.0"),
        (_meta(version="2.0"), "says evil 2.0, but the file name says evil 1.0"),
        (_meta(version="one"), "is not a valid version"),
        (_meta(name="-bad-"), "is not a valid project name"),
        ("Metadata-Version: 2.1\nVersion: 1.0\n\n", "has no Name field"),
        ("Metadata-Version: 2.1\nName: evil\n\n", "has no Version field"),
        ("Name: evil\nVersion: 1.0\n\n", "has no Metadata-Version field"),
        (_meta(extra="Name: numpy\n"), "has more than one Name field"),
        ("Metadata-Version: 2.1\nName:\nVersion: 1.0\n\n", "has an empty Name field"),
        (b"\xff\xfe\x00\x01 garbage \x80\x81", "is not UTF-8"),
        ("Metadata-Version: 2.1\nName: evil\x00\nVersion: 1.0\n\n", "NUL"),
        ("\x01\x02 this is not a header block at all\n", "has no Metadata-Version field"),
    ],
)
def test_metadata_must_parse_and_agree(world: World, metadata: str | bytes, words: str) -> None:
    """Before: a mismatch made `forge list` and `pip list` disagree; garbage broke
    ``importlib.metadata.distributions()`` for the whole env."""
    whl = make_wheel(world.wheel_dir, "evil", "1.0", metadata=metadata)
    world.refuse(whl, InvalidWheelMetadata, words)


def test_equivalent_spellings_are_accepted(world: World) -> None:
    """Canonical name and normalized version compare, as pip compares them."""
    whl = make_wheel(
        world.wheel_dir,
        "Fancy.Name",
        "1.0",
        metadata=_meta(name="fancy_NAME", version="1.0.0"),
        files={"fancy/__init__.py": ""},
    )
    report = world.store.install_wheels("e", [whl])
    assert [a.name for a in report.actions] == ["fancy-name"]
    proc = run_py(
        world.env.python,
        "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in m.distributions()))",
    )
    assert proc.returncode == 0 and "fancy_NAME" in proc.stdout, proc.stderr


# -- bombs ------------------------------------------------------------------------------------------


def test_unpacked_size_limit_from_environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    whl = make_wheel(world.wheel_dir, "big", "1.0", files={"big/blob.bin": os.urandom((3 << 20) - 4096)})
    monkeypatch.setenv("FORGE_MAX_UNPACKED_BYTES", "2M")
    err = world.refuse(whl, WheelTooLarge, "unpacks to 3.0 MiB; the limit is 2.0 MiB")
    assert err.hint is not None and "FORGE_MAX_UNPACKED_BYTES=3M" in err.hint
    monkeypatch.setenv("FORGE_MAX_UNPACKED_BYTES", "3M")  # the hint's value admits it
    world.store.install_wheels("e", [whl])


def test_file_count_limit_from_environment(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"many/m{i}.py": "" for i in range(10)}
    whl = make_wheel(world.wheel_dir, "many", "1.0", files=files)
    monkeypatch.setenv("FORGE_MAX_WHEEL_FILES", "8")
    err = world.refuse(whl, WheelTooLarge, "holds 13 files; the limit is 8")
    assert err.hint is not None and "FORGE_MAX_WHEEL_FILES=13" in err.hint


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FORGE_MAX_UNPACKED_BYTES", "lots"),
        ("FORGE_MAX_WHEEL_FILES", "-1"),
        ("FORGE_MAX_COMPRESSION_RATIO", "x"),
    ],
)
def test_bad_limit_values_are_usage_errors(
    world: World, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(UsageError, match=var):
        world.store.install_wheels("e", [make_wheel(world.wheel_dir, "ok", "1.0")])


@pytest.fixture(scope="module")
def zero_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~1 MB of deflate that unpacks to 1 GiB + 1 MiB of zeros (built once per module, ~3 s)."""
    return make_zero_bomb(tmp_path_factory.mktemp("bomb"), "bomb", "1.0", (1 << 30) + (1 << 20))


def test_default_limits_refuse_a_deflate_bomb(world: World, zero_bomb: Path) -> None:
    assert zero_bomb.stat().st_size < 2 << 20
    err = world.refuse(zero_bomb, WheelTooLarge, "compression ratio")
    assert "the limit is 100:1" in err.message and "1.0 GiB" in err.message
    assert err.hint is not None and "FORGE_MAX_COMPRESSION_RATIO=" in err.hint


def test_ratio_limit_can_be_raised(zero_bomb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only inspected (not unpacked): the hint's value lets the central-directory check pass."""
    monkeypatch.setenv("FORGE_MAX_COMPRESSION_RATIO", "5000")
    info = ingest.inspect_wheel(zero_bomb)
    assert info.unpacked_bytes > (1 << 30) + (1 << 20)


def test_real_bytes_are_counted_while_unpacking() -> None:
    """Headers can lie: the budget stops at what the central directory declared."""
    budget = wheelcheck.Budget("liar-1.0-py3-none-any.whl", wheelcheck.Limits(), 10, 1)
    reader = budget.reader(io.BytesIO(b"x" * 100))
    with pytest.raises(InvalidWheel, match="more bytes than its zip directory declares"):
        while reader.read(8):
            pass
    budget = wheelcheck.Budget("liar-1.0-py3-none-any.whl", wheelcheck.Limits(unpacked_bytes=10), 100, 1)
    with pytest.raises(WheelTooLarge, match="unpacks to more than 10 B") as info:
        budget.reader(io.BytesIO(b"x" * 100)).read()
    assert info.value.hint is not None and "FORGE_MAX_UNPACKED_BYTES=" in info.value.hint


def _shrink_declared_size(whl: Path, member: str) -> None:
    """Rewrite the central directory so ``member`` claims to be 1 byte long."""
    data = bytearray(whl.read_bytes())
    with zipfile.ZipFile(whl) as zf:
        info = zf.getinfo(member)
    name = member.encode()
    pos = data.find(name, data.find(b"PK\x01\x02"))
    header = pos - 46
    assert data[header : header + 4] == b"PK\x01\x02"
    assert int.from_bytes(data[header + 24 : header + 28], "little") == info.file_size
    data[header + 24 : header + 28] = (1).to_bytes(4, "little")
    whl.write_bytes(bytes(data))


def test_lying_central_directory_is_refused(world: World) -> None:
    whl = make_wheel(world.wheel_dir, "liar", "1.0", files={"liar/blob.py": "x = 1\n" * 5000})
    _shrink_declared_size(whl, "liar/blob.py")
    world.refuse(whl, InvalidWheel)


def test_metadata_bomb_is_not_read_into_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RECORD/METADATA/entry_points.txt are read into memory: one over 64 MiB is refused unread
    (even when the ratio limit was raised for a wheel the user trusts)."""
    monkeypatch.setenv("FORGE_MAX_COMPRESSION_RATIO", "5000")
    member = "mbomb-1.0.dist-info/entry_points.txt"
    bomb = make_zero_bomb(tmp_path / "mb", "mbomb", "1.0", 80 << 20, member=member)
    with zipfile.ZipFile(bomb) as zf, pytest.raises(WheelTooLarge, match="metadata files are limited"):
        wheelcheck.read_member(zf, member, bomb.name)
    with pytest.raises(WheelTooLarge, match=r"entry_points\.txt is 80\.0 MiB"):
        ingest.inspect_wheel(bomb)


# -- RECORD problems are warnings the user sees -----------------------------------------------------


def test_record_problems_are_reported_as_warnings(world: World) -> None:
    md5 = "md5=" + hashlib.md5(b"").hexdigest()
    whl = make_wheel(
        world.wheel_dir,
        "sloppy",
        "1.0",
        files={"sloppy/__init__.py": "", "sloppy/extra.py": "E = 1\n"},
        record_override={"sloppy/__init__.py": md5},
        omit_from_record=["sloppy/extra.py"],
    )
    report = world.store.install_wheels("e", [whl])
    assert any(
        w.startswith("sloppy-1.0: RECORD has md5 instead of sha256 for 1 file") for w in report.warnings
    )
    assert any(w.startswith("sloppy-1.0: RECORD does not list 1 file(s)") for w in report.warnings)
    again = world.store.install_wheels("e", [whl])
    assert again.warnings == (), "an unchanged dist is not reported again"


# -- defence in depth: the linker re-checks entries already in a store -------------------------------


def _tamper(store: Store, entry_id: str, edit: Callable[[dict[str, object]], None]) -> None:
    import json

    row = store.catalog.entry(entry_id)
    assert row is not None
    meta = dict(row.meta)
    edit(meta)
    with store.catalog.transaction():
        store.catalog._db.execute("UPDATE entries SET meta = ? WHERE id = ?", (json.dumps(meta), entry_id))


@pytest.mark.parametrize("name", ["../../../../x", "../lib/python3.11/site-packages/x.pth", "a/b"])
def test_linker_refuses_unsafe_names_already_in_the_store(world: World, name: str) -> None:
    whl = make_wheel(world.wheel_dir, "tool", "1.0", console_scripts={"tool": "tool:main"})
    entry = world.store.add_wheel(whl)
    world.store.release()

    def edit(meta: dict[str, object]) -> None:
        meta["entry_points"] = [{"name": name, "module": "tool", "attr": "main", "section": "console"}]

    _tamper(world.store, entry.id, edit)
    world.before = world.state()
    with pytest.raises(UnsafeWheel, match=r"store entry 'tool' 1\.0"):
        world.store.install_wheels("e", [whl])
    world.assert_unchanged()
    assert not (world.root / "x").exists()


def test_linker_refuses_an_unsafe_dist_info_name(world: World) -> None:
    whl = make_wheel(world.wheel_dir, "tool", "1.0")
    entry = world.store.add_wheel(whl)
    world.store.release()
    with world.store.catalog.transaction():
        world.store.catalog._db.execute(
            "UPDATE entries SET dist_info = ? WHERE id = ?", ("../../x.dist-info", entry.id)
        )
    world.before = world.state()
    with pytest.raises(UnsafeWheel, match="dist-info directory"):
        world.store.install_wheels("e", [whl])
    world.assert_unchanged()


# -- through the command lines: one line on stderr, non-zero exit, nothing changed -------------------


def _one_line(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == int(ExitCode.INTEGRITY), (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert words in lines[0], lines[0]


def _pip_refused(proc: subprocess.CompletedProcess[str], words: str) -> None:
    """The pip front end refuses as pip fails: exit 1, an ``ERROR:`` line and Forge's ``hint:``."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert lines[0].startswith("ERROR: ") and words in lines[0], lines[0]


def _pip_cli(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env.update({"PIP_CONFIG_FILE": os.devnull, **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "-m", "forge_pip", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=str(REPO),
    )


def _cli_wheels(wheel_dir: Path) -> Iterator[tuple[Path, str]]:
    yield (
        make_wheel(
            wheel_dir / "a", "evil", "1.0", entry_points="[console_scripts]\n../../../../x = evil:main\n"
        ),
        "console script name '../../../../x' contains a path separator",
    )
    yield (
        make_wheel(wheel_dir / "b", "evil", "1.0", raw_members={"../evil.pth": b"import os\n"}),
        "archive member '../evil.pth'",
    )
    yield (make_wheel(wheel_dir / "c", "evil", "1.0", metadata=_meta(name="numpy")), "says numpy 1.0")
    yield (
        make_wheel(wheel_dir / "d", "evil", "1.0", entry_points="[console_scripts]\nx\n"),
        "cannot be parsed",
    )


def test_cli_refuses_in_one_line(world: World) -> None:
    world.store.close()
    for whl, words in _cli_wheels(world.wheel_dir):
        world.before = world.state()
        _one_line(forge_cli("install", str(whl), "--env", "e"), words)
        world.assert_unchanged()
        _pip_refused(_pip_cli("install", "--no-index", "--env", "e", str(whl)), words)
        world.assert_unchanged()
    assert not (world.root / "x").exists()


def test_cli_bomb_limit_in_one_line(world: World) -> None:
    world.store.close()
    whl = make_wheel(world.wheel_dir, "big", "1.0", files={"big/blob.bin": os.urandom((3 << 20) - 4096)})
    world.before = world.state()
    proc = forge_cli("install", str(whl), "--env", "e", env={**os.environ, "FORGE_MAX_UNPACKED_BYTES": "1M"})
    _one_line(proc, "the limit is 1.0 MiB")
    assert "FORGE_MAX_UNPACKED_BYTES=3M" in proc.stderr
    world.assert_unchanged()
    proc = _pip_cli(
        "install", "--no-index", "--env", "e", str(whl), extra_env={"FORGE_MAX_UNPACKED_BYTES": "1M"}
    )
    _pip_refused(proc, "the limit is 1.0 MiB")
    assert "FORGE_MAX_UNPACKED_BYTES=3M" in proc.stderr
    world.assert_unchanged()


def test_cli_prints_record_warnings(world: World) -> None:
    world.store.close()
    md5 = "md5=" + hashlib.md5(b"").hexdigest()
    whl = make_wheel(world.wheel_dir, "sloppy", "1.0", record_override={"sloppy/__init__.py": md5})
    proc = forge_cli("install", str(whl), "--env", "e")
    assert proc.returncode == 0, proc.stderr
    assert "warning: sloppy-1.0: RECORD has md5 instead of sha256" in proc.stderr
    whl2 = make_wheel(world.wheel_dir / "2", "sloppy2", "1.0", record_override={"sloppy2/__init__.py": md5})
    proc = _pip_cli("install", "--no-index", "--env", "e", str(whl2))
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: sloppy2-1.0: RECORD has md5 instead of sha256" in proc.stderr


# -- the invariants, for any string ----------------------------------------------------------------

_PATHISH = st.text(alphabet=st.sampled_from(["a", "b", ".", "/", "\\", ":", "\x00", " ", "C"]), max_size=12)


@settings(max_examples=500, deadline=None)
@given(path=_PATHISH)
def test_an_accepted_member_path_stays_strictly_inside(path: str) -> None:
    base = "/forge/staging/site"
    if wheelcheck.path_problem(path) is not None:
        return
    joined = os.path.normpath(os.path.join(base, path))
    assert joined.startswith(base + "/"), (path, joined)
    assert len(Path(joined).relative_to(base).parts) == len(path.rstrip("/").split("/"))


@settings(max_examples=500, deadline=None)
@given(name=_PATHISH)
def test_an_accepted_name_is_one_component(name: str) -> None:
    if wheelcheck.name_problem(name) is not None:
        return
    joined = Path(os.path.normpath(os.path.join("/env/bin", name)))
    assert joined.parent == Path("/env/bin") and joined.name == name

"""Ingest: content-keyed ids, idempotence, RECORD policy, sealing, bytecode."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forge_store import ingest, interpreters
from forge_store.errors import InvalidWheel
from forge_store.seal import is_immutable
from forge_store.store import Store
from tests.support.wheels import make_wheel


def test_same_wheel_twice_is_one_entry_reported_reused(store: Store, wheel_dir: Path) -> None:
    whl = make_wheel(wheel_dir, "demo", "1.0")
    first = store.add_wheel(whl)
    second = store.add_wheel(whl)
    assert not first.reused and second.reused
    assert first.id == second.id
    assert len(store.entries()) == 1


def test_rebuilt_wheel_with_same_content_dedupes(store: Store, tmp_path: Path) -> None:
    a = make_wheel(tmp_path / "a", "demo", "1.0", files={"demo/__init__.py": "X = 1\n"})
    # same content, different archive bytes (other compression and member order)
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = b_dir / a.name
    with zipfile.ZipFile(a) as src, zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as dst:
        for name in reversed(src.namelist()):
            dst.writestr(name, src.read(name))
    assert ingest.file_sha256(a) != ingest.file_sha256(b)
    ea, eb = store.add_wheel(a), store.add_wheel(b)
    assert ea.id == eb.id and eb.reused
    assert store.entry_for_wheel_sha256(ingest.file_sha256(b)) is not None


def test_entry_is_sealed_and_has_unchecked_hash_pycs(store: Store, wheel_dir: Path) -> None:
    entry = store.add_wheel(make_wheel(wheel_dir, "demo", "1.0", files={"demo/__init__.py": "X = 1\n"}))
    init = entry.site / "demo" / "__init__.py"
    tag = interpreters.current().cache_tag
    pyc = entry.site / "demo" / "__pycache__" / f"__init__.{tag}.pyc"
    assert pyc.is_file(), "bytecode must be compiled at ingest even with PYTHONDONTWRITEBYTECODE=1"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01, "unchecked-hash pyc expected"
    assert not os.access(init, os.W_OK) or os.geteuid() == 0
    assert oct(init.stat().st_mode & 0o777) == "0o444"
    assert oct((entry.site / "demo").stat().st_mode & 0o777) == "0o555"
    assert oct(entry.path.stat().st_mode & 0o777) == "0o555"
    if os.geteuid() == 0:
        assert is_immutable(entry.site / "demo"), "as root on ext4 the entry's dirs must be immutable"
    with pytest.raises(PermissionError):  # the flag stops root, the modes everybody else
        (entry.site / "demo" / "new.py").write_text("x")
    assert entry.pyc_tags == (tag,)


def test_corrupt_wheel_is_refused_and_leaves_nothing(store: Store, wheel_dir: Path) -> None:
    bad = make_wheel(
        wheel_dir,
        "demo",
        "1.0",
        record_override={"demo/__init__.py": "sha256=" + "A" * 43},
    )
    with pytest.raises(InvalidWheel, match="does not match its RECORD hash"):
        store.add_wheel(bad)
    assert store.entries() == []
    assert list(store.home.tmp.iterdir()) == []
    assert [p.name for p in store.home.store.iterdir() if not p.name.startswith(".")] == []


def test_hex_digests_tolerated_and_reported(store: Store, wheel_dir: Path) -> None:
    entry = store.add_wheel(make_wheel(wheel_dir, "hexy", "1.0", hex_record=True))
    assert any("hex digests" in issue for issue in entry.record_issues)


def test_unlisted_file_tolerated_and_reported(store: Store, wheel_dir: Path) -> None:
    whl = make_wheel(
        wheel_dir,
        "loose",
        "1.0",
        files={"loose/__init__.py": "", "loose/extra.py": "E = 1\n"},
        omit_from_record=["loose/extra.py"],
    )
    entry = store.add_wheel(whl)
    assert any("does not list" in i for i in entry.record_issues)
    assert (entry.site / "loose" / "extra.py").is_file()


@pytest.mark.parametrize(
    "content",
    [b"not a zip at all", b"PK\x03\x04garbage"],
)
def test_not_a_wheel(store: Store, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(content)
    with pytest.raises(InvalidWheel):
        store.add_wheel(path)


def test_bad_wheel_filename(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "whatever.whl"
    path.write_bytes(b"")
    with pytest.raises(InvalidWheel, match="not a wheel file name"):
        store.add_wheel(path)


def test_entry_points_and_namespace_dirs_recorded(store: Store, wheel_dir: Path) -> None:
    entry = store.add_wheel(
        make_wheel(
            wheel_dir,
            "nsdemo",
            "1.0",
            files={
                "space/__init__.py": "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
                "space/nsdemo/__init__.py": "",
                "pep420/inner/__init__.py": "",
                "regular/__init__.py": "R = 1\n",
            },
            console_scripts={"nsdemo": "space.nsdemo:main"},
        )
    )
    assert {"space", "pep420"} <= set(entry.namespace_dirs)
    assert "regular" not in entry.namespace_dirs
    assert [ep.name for ep in entry.entry_points] == ["nsdemo"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.dictionaries(
        st.from_regex(r"pkg/[a-z]{1,8}\.py", fullmatch=True),
        st.binary(max_size=64),
        min_size=1,
        max_size=5,
    )
)
def test_content_id_depends_only_on_content(tmp_path: Path, files: dict[str, bytes]) -> None:
    """Property: the id of a wheel is the same however the archive is written."""
    a = make_wheel(tmp_path / "x", "pkg", "1.0", files=files)
    info_a = ingest.inspect_wheel(a)
    b_dir = tmp_path / "y"
    b_dir.mkdir(exist_ok=True)
    b = b_dir / a.name
    with zipfile.ZipFile(a) as src, zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as dst:
        for name in sorted(src.namelist(), reverse=True):
            dst.writestr(name, src.read(name))
    assert info_a.provisional_id == ingest.inspect_wheel(b).provisional_id

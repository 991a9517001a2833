"""Safe sdist unpacking: every hostile member is refused before anything is written."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest
from build_support import RecordingEnvFactory, add_tar_member, make_project, make_sdist

from forge_pip.build import Builder, InvalidBuildSource, UnsafeSdist
from forge_pip.build.sdist import sdist_label, sdist_name_version, unpack_sdist


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


HOSTILE = {
    "dotdot": [_member("tiny_pkg-1.0/../../evil.txt")],
    "absolute": [_member("/tmp/forge-evil.txt")],
    "symlink-out": [_member("tiny_pkg-1.0/escape", tarfile.SYMTYPE, "../../..")],
    "symlink-absolute": [_member("tiny_pkg-1.0/etc", tarfile.SYMTYPE, "/etc")],
    "symlink-chain": [
        _member("tiny_pkg-1.0/a", tarfile.SYMTYPE, "."),
        _member("tiny_pkg-1.0/a/evil.txt"),
    ],
    "hardlink-out": [_member("tiny_pkg-1.0/passwd", tarfile.LNKTYPE, "../etc/passwd")],
    "device": [_member("tiny_pkg-1.0/dev", tarfile.CHRTYPE)],
}


@pytest.mark.parametrize("use_data_filter", [True, False], ids=["data-filter", "vetting-only"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_members_are_refused(tmp_path: Path, case: str, use_data_filter: bool) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    for member in HOSTILE[case]:
        add_tar_member(sdist, member, b"pwned")
    dest = tmp_path / "deep" / "unpack"

    with pytest.raises(UnsafeSdist) as caught:
        unpack_sdist(sdist, dest, use_data_filter=use_data_filter)

    assert caught.value.project == "tiny_pkg-1.0"
    assert list(dest.iterdir()) == []  # refused before writing anything
    assert not (tmp_path / "deep" / "evil.txt").exists()


def test_builder_refuses_a_traversal_tarball_before_creating_an_env(
    tmp_path: Path, builder: Builder, factory: RecordingEnvFactory, cache_dir: Path
) -> None:
    sdist = make_sdist(make_project(tmp_path / "p"), tmp_path / "dist")
    add_tar_member(sdist, _member("tiny_pkg-1.0/../../../evil.txt"), b"pwned")

    with pytest.raises(UnsafeSdist, match="outside the unpack directory"):
        builder.build_wheel(sdist)

    assert factory.created == []
    assert not list(tmp_path.rglob("evil.txt"))
    assert [p.name for p in (cache_dir / "built").iterdir()] == []  # scratch removed


@pytest.mark.parametrize("use_data_filter", [True, False], ids=["data-filter", "vetting-only"])
def test_inner_links_and_modes_survive(tmp_path: Path, use_data_filter: bool) -> None:
    if use_data_filter and not hasattr(tarfile, "data_filter"):
        pytest.skip("this interpreter predates tarfile's extraction filters (Debian's 3.11.2)")
    project = make_project(tmp_path / "p")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o4755)  # setuid must not survive
    (project / "link").symlink_to("src")
    root = unpack_sdist(
        make_sdist(project, tmp_path / "dist"), tmp_path / "u", use_data_filter=use_data_filter
    )

    assert root == tmp_path / "u" / "tiny_pkg-1.0"
    assert (root / "link" / "tiny_pkg" / "__init__.py").is_file()
    assert (root / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_zip_traversal_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "tiny_pkg-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("tiny_pkg-1.0/pyproject.toml", "")
        zf.writestr("tiny_pkg-1.0/../../evil.txt", "pwned")

    with pytest.raises(UnsafeSdist):
        unpack_sdist(archive, tmp_path / "u")

    assert not list(tmp_path.rglob("evil.txt"))


def test_zip_keeps_executable_bits(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    root = unpack_sdist(make_sdist(project, tmp_path / "dist", fmt="zip"), tmp_path / "u")
    assert (root / "run.sh").stat().st_mode & 0o111


def test_archive_without_a_single_top_level_dir_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "flat-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/x.py", "")
        zf.writestr("b/y.py", "")
    with pytest.raises(InvalidBuildSource, match="single top-level"):
        unpack_sdist(archive, tmp_path / "u")


def test_flat_archive_with_pyproject_at_the_top_is_its_own_root(tmp_path: Path) -> None:
    archive = tmp_path / "flat-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pyproject.toml", "")
        zf.writestr("flat.py", "")
    assert unpack_sdist(archive, tmp_path / "u") == tmp_path / "u"


def test_corrupt_archive_is_an_invalid_source(tmp_path: Path) -> None:
    archive = tmp_path / "tiny_pkg-1.0.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(InvalidBuildSource, match="not a readable archive"):
        unpack_sdist(archive, tmp_path / "u")


def test_names_from_sdist_file_names() -> None:
    assert sdist_label(Path("Foo_Bar-1.0.post1.tar.gz")) == "Foo_Bar-1.0.post1"
    assert sdist_name_version(Path("Foo_Bar-1.0.post1.tar.gz")) == ("foo-bar", "1.0.post1")
    assert sdist_name_version(Path("tiny_pkg-1.0.zip")) == ("tiny-pkg", "1.0")
    assert sdist_name_version(Path("noversion.tar.gz")) is None

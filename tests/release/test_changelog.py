"""``forge --version`` and ``forge changelog``: the version from package metadata, the CHANGELOG
shipped in the package (forge_store/CHANGELOG.md, a symlink that the sdist and wheel dereference)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from forge_store import changelog
from forge_store.errors import ExitCode, ReleaseNotFound
from tests.conftest import REPO, forge_cli
from tests.release.checkout import copy_checkout

SAMPLE = """\
# Changelog

Intro text.

## Unreleased (1.2.0)

Some prose before the first section.

### Added
- one item that goes on
  over two lines
- `two` with ## inside

### Fixed
* three

```
## 9.9.9 (not a heading: fenced)
```

## 1.1.0 (2026-01-02)

### Changed
- four

## v1.0.0
"""


def test_parse_releases_sections_and_items() -> None:
    log = changelog.parse(SAMPLE)
    assert log.preamble == "# Changelog\n\nIntro text."
    assert [(r.version, r.date, r.unreleased) for r in log.releases] == [
        ("1.2.0", None, True),
        ("1.1.0", "2026-01-02", False),
        ("1.0.0", None, True),
    ]
    first = log.releases[0]
    assert [s.title for s in first.sections] == ["Added", "Fixed"]
    assert first.sections[0].items == ("one item that goes on over two lines", "`two` with ## inside")
    assert first.sections[1].items == ("three\n```\n## 9.9.9 (not a heading: fenced)\n```",)
    assert "9.9.9" not in [r.version for r in log.releases]
    assert first.text.startswith("## Unreleased (1.2.0)\n") and "## 1.1.0" not in first.text
    assert log.release("v1.1.0").sections[0].items == ("four",)
    assert log.release("unreleased").version == "1.2.0"
    with pytest.raises(ReleaseNotFound):
        log.release("3.0")


def test_parse_degenerate_inputs() -> None:
    assert changelog.parse("").releases == ()
    assert changelog.parse("no headings at all\n").preamble == "no headings at all"
    log = changelog.parse("## Unreleased\n### Added\n- x\n")
    assert (log.releases[0].version, log.releases[0].date) == ("unreleased", None)


def test_repo_changelog_parses_and_every_release_has_sections() -> None:
    log = changelog.parse((REPO / "CHANGELOG.md").read_text())
    assert log.releases, "CHANGELOG.md has no ## X.Y.Z (date) release"
    for rel in log.releases:
        assert rel.sections, rel.version
        assert all(s.items for s in rel.sections), rel.version
    dated = [r for r in log.releases if r.date]
    assert all(len(r.date or "") == 10 for r in dated)


def test_shipped_changelog_is_the_repo_one() -> None:
    shipped = REPO / "forge_store" / "CHANGELOG.md"
    assert shipped.is_symlink() and shipped.resolve() == (REPO / "CHANGELOG.md").resolve()
    assert changelog.read_shipped() == (REPO / "CHANGELOG.md").read_text()


def test_forge_changelog_cli(forge_home: Path) -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    r = forge_cli("changelog")
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    doc = json.loads(forge_cli("changelog", "--json").stdout)
    assert doc["version"] == "1" and doc["kind"] == "changelog"
    assert doc["forge_version"] == changelog.forge_version()
    assert [r["version"] for r in doc["releases"]] == [r.version for r in changelog.parse(text).releases]
    for rel in doc["releases"]:
        assert set(rel) == {"version", "date", "unreleased", "sections"}
        assert all(set(s) == {"title", "items"} for s in rel["sections"])
    one = forge_cli("changelog", "--version", "0.1.0")
    assert one.returncode == 0 and one.stdout.startswith("## 0.1.0 (") and one.stdout.count("\n## ") == 0
    doc = json.loads(forge_cli("changelog", "--json", "--version", "0.1.0").stdout)
    assert [r["version"] for r in doc["releases"]] == ["0.1.0"]


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_forge_changelog_unknown_release_is_one_line(forge_home: Path, extra: list[str]) -> None:
    r = forge_cli("changelog", "--version", "77.0", *extra)
    assert r.returncode == int(ExitCode.NOT_FOUND)
    assert "Traceback" not in r.stderr
    if extra:
        assert json.loads(r.stdout)["error"]["reference"] == "release-not-found"
    else:
        assert r.stderr.count("\n") == 1 and "no release '77.0'" in r.stderr


def test_forge_version_is_the_distribution_metadata(forge_home: Path) -> None:
    r = forge_cli("--version")
    assert r.returncode == 0
    assert r.stdout == f"forge {metadata.version('forge-runtime')}\n"


def test_version_from_the_first_dist_info_else_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import forge_store
    from forge_store import isolation

    monkeypatch.setattr(isolation, "forge_root", lambda: str(tmp_path / "none"))
    assert changelog.forge_version([]) == forge_store.__version__
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, version in ((first, "9.1"), (second, "9.2")):
        info = folder / f"forge_runtime-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: forge-runtime\nVersion: {version}\n\nVersion: not a header\n"
        )
    (tmp_path / "c" / "other-1.0.dist-info").mkdir(parents=True)
    assert changelog.forge_version([str(tmp_path / "c"), str(first), str(second)]) == "9.1"
    monkeypatch.setattr(isolation, "forge_root", lambda: str(second))  # beside the running code first
    assert changelog.forge_version([str(first)]) == "9.2"


@pytest.mark.slow
def test_built_sdist_and_wheel_ship_the_changelog(tmp_path: Path) -> None:
    """The wheel built from the source tree, and the one built from the sdist, carry CHANGELOG.md's
    text as forge_store/CHANGELOG.md (not a symlink, not a stale copy)."""
    src = copy_checkout(tmp_path / "src")
    build = (
        "import sys; from setuptools import build_meta as b; "
        "print(b.build_sdist(sys.argv[1]) if sys.argv[2] == 'sdist' else b.build_wheel(sys.argv[1]))"
    )

    def run(cwd: Path, out: Path, kind: str) -> Path:
        r = subprocess.run(
            [sys.executable, "-c", build, str(out), kind], cwd=cwd, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr[-2000:]
        return out / r.stdout.strip().splitlines()[-1]

    expected = (REPO / "CHANGELOG.md").read_bytes()
    wheel = run(src, tmp_path / "dist", "wheel")
    sdist = run(src, tmp_path / "dist", "sdist")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("forge_store/CHANGELOG.md") == expected
    import tarfile

    unpacked = tmp_path / "sdist"
    with tarfile.open(sdist) as tf:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # 3.11.4+
        tf.extractall(unpacked, **safe)  # type: ignore[arg-type]
    (root,) = unpacked.iterdir()
    shipped = root / "forge_store" / "CHANGELOG.md"
    assert not shipped.is_symlink() and shipped.read_bytes() == expected
    with zipfile.ZipFile(run(root, tmp_path / "dist2", "wheel")) as zf:
        assert zf.read("forge_store/CHANGELOG.md") == expected

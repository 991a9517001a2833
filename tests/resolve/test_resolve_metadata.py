"""CoreMetadata.from_bytes: tolerant parsing of METADATA, as pip does."""

from __future__ import annotations

from packaging.version import Version

from forge_pip.resolve import CoreMetadata

GOOD = b"""Metadata-Version: 2.1
Name: My_Package
Version: 1.2.3
Requires-Python: >=3.9
Provides-Extra: Socks
Provides-Extra: all
Requires-Dist: idna (>=2.5)
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"
Summary: \xc3\xa9t\xc3\xa9

Body text with Requires-Dist: not-a-header
"""


def test_parses_the_fields_the_resolver_needs() -> None:
    md = CoreMetadata.from_bytes(GOOD)
    assert md.name == "my-package"
    assert md.version == Version("1.2.3")
    assert md.requires_python == ">=3.9"
    assert md.provides_extra == {"socks", "all"}
    assert [r.name for r in md.requires_dist] == ["idna", "PySocks"]
    assert md.problems == ()


def test_bad_lines_are_skipped_and_recorded() -> None:
    md = CoreMetadata.from_bytes(
        b"Name: x\nVersion: one\nRequires-Python: >>3\nRequires-Dist: ok\nRequires-Dist: bad name!!\n"
    )
    assert [r.name for r in md.requires_dist] == ["ok"]
    assert md.version is None and md.requires_python is None
    assert len(md.problems) == 3
    assert any("bad name!!" in p for p in md.problems)


def test_empty_metadata() -> None:
    md = CoreMetadata.from_bytes(b"")
    assert md == CoreMetadata()

"""``metaheaders.parse_headers`` gives exactly the fields of ``email``'s header-only parse of the
whole text, however the text is written (folded lines, CRLF, a body that looks like headers, no
body, no blank line, stray ``\\r``)."""

from __future__ import annotations

import email.parser
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from forge_store.metaheaders import header_block, parse_headers


def _full(text: str) -> list[tuple[str, str]]:
    return list(email.parser.Parser().parsestr(text, headersonly=True).items())


def _fast(text: str) -> list[tuple[str, str]]:
    return list(parse_headers(text).items())


PANDAS_LIKE = (
    "Metadata-Version: 2.1\nName: pandas\nVersion: 3.1.1\nSummary: Powerful data structures\n"
    "Requires-Dist: numpy>=1.26\nRequires-Dist: tzdata>=2022.7; extra == 'all'\n"
    "Description-Content-Type: text/markdown\n\n# pandas\n\nName: not-a-header\nVersion: 0\n"
    + "body line\n"
    * 2000
)


def test_the_body_is_not_parsed_and_the_fields_are_the_same() -> None:
    assert header_block(PANDAS_LIKE).endswith("text/markdown\n\n")
    assert _fast(PANDAS_LIKE) == _full(PANDAS_LIKE)
    meta = parse_headers(PANDAS_LIKE)
    assert meta["Name"] == "pandas" and meta["Version"] == "3.1.1"
    assert meta.get_all("Requires-Dist") == ["numpy>=1.26", "tzdata>=2022.7; extra == 'all'"]


def test_crlf_folded_and_bodiless_texts() -> None:
    for text in (
        "Name: a\r\nVersion: 1\r\n\r\nName: b\r\n",
        "Name: a\nSummary: one\n  two\n\tthree\nVersion: 1\n\nbody",
        "Name: a\nVersion: 1\n",
        "Name: a\nVersion: 1",
        "",
        "\n\nName: a\n",
        "Name: a\nnot a header line\nVersion: 1\n\n",
        "Name: a\r\n\nVersion: 2\n",
        "Name: a\rVersion: 1\r\rName: b",
        "From someone\nName: a\nVersion: 1\n",  # an envelope line first
        "Name: a\nFrom x: y\nVersion: 1\n",  # a misplaced envelope line
        "Name: a\nVersion: 1\nFrom x\n",  # an envelope-looking last line: the body
        "From x\n",
        ": no name\nName: a\n  folded after\n",
        "  leading continuation\nName: a\n",
        "Name: a\n: x\n  orphan\nVersion: 1\n",
        "Name:a\nVersion:\t 1 \nSummary:\n",
        "name: a\nNAME: b\n",
    ):
        assert _fast(text) == _full(text), repr(text)


_LINE = st.one_of(
    st.builds(
        lambda k, v: f"{k}: {v}",
        st.sampled_from(["Name", "Version", "Requires-Dist", "Summary", "X"]),
        st.text(alphabet="ab =;<>'.\t", max_size=8),
    ),
    st.text(alphabet=" \tab:", max_size=6),
    st.builds(lambda v: f"From {v}", st.text(alphabet="ab: ", max_size=5)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_LINE, st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n\r\n"])), max_size=12
    )
)
def test_any_text_parses_to_the_same_fields(parts: list[tuple[str, str]]) -> None:
    text = "".join(line + end for line, end in parts)
    assert _fast(text) == _full(text)


def _real_metadata(limit: int = 400) -> list[str]:
    """The METADATA of the wheels on this machine's local indexes (a sample, in a stable order)."""
    import zipfile
    from pathlib import Path

    wheels = sorted(
        p for root in ("/opt/pypi", "/opt/pypi-more", "/opt/wheels") for p in Path(root).rglob("*.whl")
    )
    out = []
    for wheel in wheels[:: max(1, len(wheels) // limit)]:
        try:
            with zipfile.ZipFile(wheel) as zf:
                name = next(
                    n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1
                )
                out.append(zf.read(name).decode("utf-8", errors="replace"))
        except (OSError, StopIteration, zipfile.BadZipFile):
            continue
    return out


def test_every_real_metadata_parses_to_the_same_fields() -> None:
    texts = _real_metadata()
    if not texts:
        import pytest

        pytest.skip("no local wheels on this machine")
    for text in texts:
        assert _fast(text) == _full(text), text[:200]


def test_lone_surrogates_go_to_email_itself() -> None:
    text = "Name: a\nSummary: \udcff\n\n"
    assert _fast(text) == _full(text)


def _name(path: Path) -> object:
    from forge_store.metaheaders import read_headers

    fields = read_headers(path)
    return None if fields is None else fields.get("Name")


def test_read_headers_sees_every_change_to_the_file(tmp_path: Path) -> None:
    """``read_headers`` remembers a parse per file: a rewrite (same size, other mtime), a
    replacement (other inode) and a removal are each seen on the next read."""
    from forge_store.metaheaders import read_headers

    path = tmp_path / "METADATA"
    path.write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n\nbody\n")
    first = read_headers(path)
    assert first is not None and first.get("Name") == "alpha"
    assert read_headers(path) is first  # remembered
    link = tmp_path / "link"
    link.symlink_to(path)
    assert read_headers(link) is first  # the file itself, whatever path reaches it
    path.write_text("Metadata-Version: 2.1\nName: gamma\nVersion: 1.0\n\nbody\n")  # same size
    os.utime(path, ns=(1, 1))
    again = read_headers(path)
    assert again is not None and again.get("Name") == "gamma"
    other = tmp_path / "other"
    other.write_text("Name: beta\n")
    os.replace(other, path)  # another inode under the same name
    assert _name(path) == "beta"
    path.unlink()
    assert read_headers(path) is None
    path.write_bytes(b"Name: caf\xe9\n")  # not UTF-8: replaced, as the readers did before
    assert _name(path) == "caf\ufffd"

"""PEP 503 HTML and PEP 691 JSON parsing, without any I/O."""

from __future__ import annotations

import json

import pytest

from forge_pip.index.simple import PageError, is_dist_filename, matching, parse_html, parse_json, parse_page

PAGE = "https://example.test/simple/demo/"


def test_html_relative_links_hash_fragment_and_escaping() -> None:
    body = b"""<!DOCTYPE html><html><body>
    <a href="../../files/demo-1.0-py3-none-any.whl#sha256=ABCDEF" data-requires-python="&gt;=3.8,&lt;4">x</a>
    <a href="https://files.test/p/demo-1.1.tar.gz?x=1&amp;y=2#md5=00ff">y</a>
    <a href="/abs/demo%2B-2.0.zip">z</a>
    </body></html>"""
    files = parse_html(body, PAGE, source="src")
    assert [f.filename for f in files] == ["demo-1.0-py3-none-any.whl", "demo-1.1.tar.gz", "demo+-2.0.zip"]
    first, second, third = files
    assert first.url == "https://example.test/files/demo-1.0-py3-none-any.whl"
    assert first.hashes == {"sha256": "abcdef"}
    assert first.requires_python == ">=3.8,<4"
    assert first.source == "src"
    assert second.url == "https://files.test/p/demo-1.1.tar.gz?x=1&y=2"
    assert second.hashes == {"md5": "00ff"}
    assert third.url == "https://example.test/abs/demo%2B-2.0.zip"


def test_html_yanked_with_and_without_reason() -> None:
    body = b"""<a href="a-1.0.tar.gz" data-yanked>a</a>
    <a href="a-1.1.tar.gz" data-yanked="bad &amp; broken">a</a>
    <a href="a-1.2.tar.gz" data-yanked="">a</a>
    <a href="a-1.3.tar.gz">a</a>"""
    assert [f.yanked for f in parse_html(body, PAGE)] == ["", "bad & broken", "", None]


def test_html_metadata_pep714_key_wins_and_true_means_no_hash() -> None:
    body = b"""<a href="a-1.0-py3-none-any.whl" data-core-metadata="sha256=AA"
        data-dist-info-metadata="sha256=bb">1</a>
    <a href="a-1.1-py3-none-any.whl" data-dist-info-metadata="sha256=cc">2</a>
    <a href="a-1.2-py3-none-any.whl" data-core-metadata="true">3</a>
    <a href="a-1.3-py3-none-any.whl">4</a>"""
    assert [f.metadata_hashes for f in parse_html(body, PAGE)] == [
        {"sha256": "aa"},
        {"sha256": "cc"},
        {},
        None,
    ]


def test_html_base_href_and_non_distributions_are_skipped() -> None:
    body = b"""<html><head><base href="https://mirror.test/pkgs/"></head><body>
    <a href="a-1.0.egg">egg</a><a href="a-1.0.exe">exe</a><a href="a-1.0.tar.bz2">bz2</a>
    <a href="a-1.0.tar.gz">ok</a><a>no href</a></body></html>"""
    files = parse_html(body, PAGE)
    assert [f.url for f in files] == ["https://mirror.test/pkgs/a-1.0.tar.gz"]


def test_json_page() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "../../files/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": "AB"},
                "requires-python": ">=3.9",
                "core-metadata": {"sha256": "cd"},
                "size": 123,
            },
            {
                "filename": "demo-0.9.tar.gz",
                "url": "https://f.test/demo-0.9.tar.gz",
                "hashes": {},
                "yanked": True,
            },
            {"filename": "demo-0.8.tar.gz", "url": "demo-0.8.tar.gz", "hashes": {}, "yanked": "oops"},
            {
                "filename": "demo-0.7.tar.gz",
                "url": "demo-0.7.tar.gz",
                "hashes": {},
                "dist-info-metadata": True,
            },
            {"filename": "demo-0.6.tar.gz", "url": "demo-0.6.tar.gz", "hashes": {}, "yanked": False},
            {"filename": "demo-0.5.exe", "url": "demo-0.5.exe", "hashes": {}},
            {"no-url": True},
        ],
    }
    warnings: list[str] = []
    files = parse_json(json.dumps(doc).encode(), PAGE, warn=warnings.append)
    assert [f.filename for f in files] == [
        "demo-1.0-py3-none-any.whl",
        "demo-0.9.tar.gz",
        "demo-0.8.tar.gz",
        "demo-0.7.tar.gz",
        "demo-0.6.tar.gz",
    ]
    wheel = files[0]
    assert wheel.url == "https://example.test/files/demo-1.0-py3-none-any.whl"
    assert (wheel.hashes, wheel.requires_python, wheel.metadata_hashes, wheel.size) == (
        {"sha256": "ab"},
        ">=3.9",
        {"sha256": "cd"},
        123,
    )
    assert [f.yanked for f in files] == [None, "", "oops", None, None]
    assert [f.metadata_hashes for f in files[1:4]] == [None, None, {}]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", json.dumps({"meta": {"api-version": "2.0"}, "files": []}).encode()]
)
def test_json_unusable_documents_raise_page_error(body: bytes) -> None:
    with pytest.raises(PageError):
        parse_json(body, PAGE)


def test_parse_page_dispatches_on_content_type() -> None:
    html_body = b'<a href="a-1.0.tar.gz">a</a>'
    json_body = json.dumps({"files": [{"url": "a-2.0.tar.gz", "hashes": {}}]}).encode()
    assert parse_page(html_body, PAGE, "text/html; charset=utf-8")[0].filename == "a-1.0.tar.gz"
    assert parse_page(json_body, PAGE, "application/vnd.pypi.simple.v1+json")[0].filename == "a-2.0.tar.gz"
    with pytest.raises(PageError):
        parse_page(b"", PAGE, "application/pdf")


def test_matching_filters_other_projects_and_malformed_names() -> None:
    body = b"""<a href="Demo_Pkg-1.0-py3-none-any.whl">1</a><a href="demo-pkg-2.0.tar.gz">2</a>
    <a href="other-1.0.tar.gz">3</a><a href="demo_pkg-notaversion-py3-none-any.whl">4</a>
    <a href="demo-pkg.tar.gz">5</a>"""
    warnings: list[str] = []
    kept = matching(parse_html(body, PAGE), "Demo.Pkg", warnings.append)
    assert [f.filename for f in kept] == ["Demo_Pkg-1.0-py3-none-any.whl", "demo-pkg-2.0.tar.gz"]
    assert any("demo_pkg-notaversion" in w for w in warnings)


def test_is_dist_filename() -> None:
    assert (
        is_dist_filename("a-1.0.tar.gz")
        and is_dist_filename("A-1.0.ZIP")
        and is_dist_filename("a-1-py3-none-any.whl")
    )
    assert not is_dist_filename("a-1.0.egg") and not is_dist_filename("../a-1.0.tar.gz".replace("..", "x/.."))

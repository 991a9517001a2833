"""IndexClient against the loopback index server: formats, caching, auth, offline, downloads, failures."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import TypedDict

import pytest

from forge_pip.index import HashMismatch, IndexClient, IndexUnreachable, OfflineError, addresses
from forge_pip.models import DistFile
from tests.index.helpers import METADATA, RecordingReporter, make_file
from tests.support.index_server import LocalIndex, make_certificate, serve


class _Limits(TypedDict):
    timeout: float
    retries: int


FAST: _Limits = {"timeout": 5.0, "retries": 0}
"""Short timeout, no retries: a failing test fails fast."""


@pytest.mark.parametrize("json_pages", [True, False], ids=["pep691-json", "pep503-html"])
def test_http_index_in_both_formats(demo_index: LocalIndex, tmp_path: Path, json_pages: bool) -> None:
    with serve(demo_index.root, json_pages=json_pages) as server:
        with IndexClient(index_urls=[server.index_url + "/"], cache_dir=tmp_path / "cache", **FAST) as client:
            files = client.project_files("demo")
            assert client.fetch_metadata(files[0]) == METADATA
        accept = server.log[0][1]["accept"]
    assert accept.startswith("application/vnd.pypi.simple.v1+json")
    assert [f.filename for f in files] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.1.tar.gz",
        "demo-0.9-py3-none-any.whl",
    ]
    assert files[0].url == f"{server.url}/files/demo-1.0-py3-none-any.whl"
    assert files[0].metadata_hashes == {"sha256": hashlib.sha256(METADATA).hexdigest()}
    assert files[1].requires_python == ">=3.8,<4"
    assert files[2].yanked == "broken build"
    assert all(len(f.hashes["sha256"]) == 64 for f in files)


def test_metadata_hash_mismatch_over_http(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index")
    index.add(
        make_file(tmp_path / "s", "demo-1.0-py3-none-any.whl"), metadata=METADATA, metadata_hash="2" * 64
    )
    index.add(
        make_file(tmp_path / "s", "demo-1.1-py3-none-any.whl"), metadata=METADATA, metadata_key="dist-info"
    )
    index.write()
    with (
        serve(index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as client,
    ):
        bad, legacy = client.project_files("demo")
        with pytest.raises(HashMismatch):
            client.fetch_metadata(bad)
        assert client.fetch_metadata(legacy) == METADATA


def test_unknown_project_is_a_404_and_empty(demo_index: LocalIndex) -> None:
    with (
        serve(demo_index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as c,
    ):
        assert c.project_files("missing") == []
        assert server.requests["/simple/missing/"] == 1


def test_etag_revalidation_gets_304(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        for _ in range(2):  # two clients: the second one only has the disk cache
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                assert len(client.project_files("demo")) == 3
        assert server.requests["/simple/demo/"] == 2
        second = server.log[-1][1]
    assert second["if-none-match"].startswith('"')


def test_max_age_does_not_skip_revalidating_an_index_page(demo_index: LocalIndex, tmp_path: Path) -> None:
    """pip asks for index pages with ``Cache-Control: max-age=0`` (pypa/pip#5670): a page within
    its max-age is still revalidated, so an upload a minute ago is seen; a 304 costs no parse."""
    cache = tmp_path / "cache"
    with serve(demo_index.root, cache_control="max-age=600") as server:
        for _ in range(2):
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                assert len(client.project_files("demo")) == 3
        assert server.requests["/simple/demo/"] == 2
        assert [h["cache-control"] for p, h in server.log] == ["max-age=0", "max-age=0"]
        assert "if-none-match" in server.log[-1][1]


def test_no_store_is_not_cached(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root, cache_control="no-store, max-age=600") as server:
        for _ in range(2):
            with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
                client.project_files("demo")
        assert server.requests["/simple/demo/"] == 2
        assert "if-none-match" not in server.log[-1][1]


def test_offline_uses_cache_and_refuses_uncached(
    demo_index: LocalIndex, tmp_path: Path, reporter: RecordingReporter
) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            first = client.project_files("demo")
            client.download(first[0], tmp_path / "warm")
        before = sum(server.requests.values())
        offline = IndexClient(index_urls=[server.index_url], cache_dir=cache, offline=True, reporter=reporter)
        with offline:
            files = offline.project_files("demo")
            assert files == first
            assert offline.project_files("other") == []
            assert offline.download(files[0], tmp_path / "dest").is_file()
            with pytest.raises(OfflineError, match="offline"):
                offline.download(files[1], tmp_path / "dest")
        assert sum(server.requests.values()) == before
    assert any("offline" in w and "/simple/other/" in w for w in reporter.warnings)


def test_download_verified_then_served_from_cache(demo_index: LocalIndex, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(demo_index.root) as server:
        with IndexClient(index_urls=[server.index_url], cache_dir=cache, **FAST) as client:
            wheel = client.project_files("demo")[0]
            first = client.download(wheel, tmp_path / "a")
            second = client.download(wheel, tmp_path / "b")
        assert server.requests["/files/demo-1.0-py3-none-any.whl"] == 1
    sha = wheel.hashes["sha256"]
    assert (cache / "files" / sha[:2] / sha / wheel.filename).is_file()
    assert first.read_bytes() == second.read_bytes()
    assert hashlib.sha256(second.read_bytes()).hexdigest() == sha


def test_http_hash_mismatch_leaves_nothing(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index")
    index.add(make_file(tmp_path / "s", "demo-1.0.tar.gz"), sha256="f" * 64)
    index.write()
    dest = tmp_path / "dest"
    with (
        serve(index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=tmp_path / "cache", **FAST) as client,
    ):
        (file,) = client.project_files("demo")
        with pytest.raises(HashMismatch, match="f" * 64):
            client.download(file, dest)
    assert os.listdir(dest) == []
    assert not (tmp_path / "cache" / "files").exists()


def test_parallel_downloads(tmp_path: Path, reporter: RecordingReporter) -> None:
    index = LocalIndex(tmp_path / "index")
    for i in range(6):
        index.add(make_file(tmp_path / "s", f"demo-1.{i}-py3-none-any.whl", os.urandom(300_000)))
    index.write()
    dest = tmp_path / "dest"
    with (
        serve(index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, reporter=reporter, **FAST) as client,
    ):
        files = client.project_files("demo")
        paths = client.download_many(files + files[:2], dest, jobs=3)
    assert set(paths) == set(files)
    for file, path in paths.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file.hashes["sha256"]
    assert sorted(os.listdir(dest)) == sorted(f.filename for f in files)
    assert len(reporter.done) == 6


def test_parallel_download_failure_is_raised(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index")
    index.add(make_file(tmp_path / "s", "demo-1.0.tar.gz"))
    index.add(make_file(tmp_path / "s", "demo-2.0.tar.gz"), sha256="e" * 64)
    index.write()
    with (
        serve(index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as c,
        pytest.raises(HashMismatch),
    ):
        c.download_many(c.project_files("demo"), tmp_path / "dest", jobs=2)


def test_basic_auth_from_url_is_used_and_never_shown(
    demo_index: LocalIndex, tmp_path: Path, reporter: RecordingReporter
) -> None:
    with serve(demo_index.root, auth=("alice", "s3cret")) as server:
        url = server.index_url.replace("http://", "http://alice:s3cret@")
        with IndexClient(index_urls=[url], cache_dir=None, reporter=reporter, **FAST) as client:
            files = client.project_files("demo")
            assert len(files) == 3
            assert client.download(files[0], tmp_path / "dest").is_file()  # same host: same credentials
            assert "s3cret" not in repr(client)
        assert all("s3cret" not in f.url and "s3cret" not in f.source for f in files)
        assert all("s3cret" not in page for page in reporter.pages)
        wrong = server.index_url.replace("http://", "http://alice:wrong@")
        with IndexClient(index_urls=[wrong], cache_dir=None, reporter=reporter, **FAST) as client:
            assert client.project_files("demo") == []
            with pytest.raises(Exception) as info:
                client.download(files[0], tmp_path / "other")
    assert "401" in reporter.warnings[-1] and "wrong" not in reporter.warnings[-1]
    assert "401" in str(info.value)


def test_basic_auth_from_netrc(
    demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password n3trc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with (
        serve(demo_index.root, auth=("bob", "n3trc")) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as client,
    ):
        assert len(client.project_files("demo")) == 3


def test_unreachable_index_fails_fast_with_redacted_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://carol:t0psecret@127.0.0.1:{port}/simple"
    start = time.monotonic()
    with (
        IndexClient(index_urls=[url], cache_dir=None, timeout=2.0, retries=1) as client,
        pytest.raises(IndexUnreachable) as info,
    ):
        client.project_files("demo")
    assert time.monotonic() - start < 3
    error = info.value
    assert f"127.0.0.1:{port}/simple/demo/" in error.message
    assert "t0psecret" not in error.message and "t0psecret" not in str(error)
    assert "\n" not in error.message and int(error.exit_code) == 7


def test_server_errors_are_retried_then_reported(demo_index: LocalIndex) -> None:
    with serve(demo_index.root) as server:
        server.fail["/simple/demo/"] = 503
        with (
            IndexClient(index_urls=[server.index_url], cache_dir=None, timeout=5.0, retries=2) as client,
            pytest.raises(IndexUnreachable, match="503"),
        ):
            client.project_files("demo")
        assert server.requests["/simple/demo/"] == 3


def test_connections_are_reused(demo_index: LocalIndex, tmp_path: Path) -> None:
    with (
        serve(demo_index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as c,
    ):
        c.project_files("demo")
        c.project_files("other")
        c.fetch_metadata(c.project_files("demo")[0])
        c.download(c.project_files("demo")[1], tmp_path)
        assert len(server.client_ports) == 4
        assert len(set(server.client_ports)) == 1  # one keep-alive connection for everything


def test_plain_http_to_untrusted_host_is_skipped_without_a_connection(reporter: RecordingReporter) -> None:
    with IndexClient(index_urls=["http://index.test/simple"], cache_dir=None, reporter=reporter, **FAST) as c:
        assert c.project_files("demo") == []
    assert "trusted-host index.test" in reporter.warnings[0]


def test_http_proxy_from_environment(demo_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(demo_index.root) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        url = "http://index.test/simple"  # never resolved: the proxy answers for it
        with IndexClient(index_urls=[url], trusted_hosts=["index.test"], cache_dir=None, **FAST) as client:
            files = client.project_files("demo")
        assert proxy.proxied == ["http://index.test/simple/demo/"]
    assert files[0].url == "http://index.test/files/demo-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:2"},
        {"HTTPS_PROXY": "http://upper:3", "no_proxy": "corp,.example"},
        {"HTTP_PROXY": "http://upper:2", "http_proxy": ""},  # an empty lowercase one unsets it
        {"HTTP_PROXY": "http://upper:2", "REQUEST_METHOD": "GET"},  # CGI: HTTP_PROXY ignored
        {"http_proxy": "http://lower:1", "REQUEST_METHOD": "GET", "All_Proxy": "socks5://s:4"},
        {"FTP_PROXY": "", "ftp_proxy": "http://f:5", "NO_PROXY": "*", "_proxy": "x", "proxy": "y"},
    ],
)
def test_environment_proxies_are_what_urllib_reads(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forge reads the ``*_proxy`` variables itself (no ``urllib.request`` import on the way to
    the first request): the same answer as the standard library's, case and CGI rules included."""
    import urllib.request

    from forge_pip.index.http import environment_proxies

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert environment_proxies() == urllib.request.getproxies_environment()
    assert environment_proxies(environ) == urllib.request.getproxies_environment()  # the mapping given


def test_find_links_http_page(tmp_path: Path) -> None:
    root = tmp_path / "site"
    make_file(root / "dl", "demo-1.0-py3-none-any.whl")
    (root / "links.html").write_text(
        '<a href="dl/demo-1.0-py3-none-any.whl">w</a><a href="dl/x-1.0.tar.gz">x</a>'
    )
    with serve(root) as server:
        with IndexClient(index_urls=[], find_links=[server.url + "/links.html"], cache_dir=None, **FAST) as c:
            (file,) = c.project_files("demo")
            c.project_files("x")
            path = c.download(file, tmp_path / "dest")
        assert server.requests["/links.html"] == 1
    assert file.url == server.url + "/dl/demo-1.0-py3-none-any.whl"
    assert path.read_bytes() == (root / "dl" / file.filename).read_bytes()


def test_download_without_known_hash_still_fills_cache(demo_index: LocalIndex, tmp_path: Path) -> None:
    with (
        serve(demo_index.root) as server,
        IndexClient(index_urls=[], cache_dir=tmp_path / "cache", **FAST) as client,
    ):
        bare = DistFile(url=server.url + "/files/demo-1.1.tar.gz", filename="demo-1.1.tar.gz")
        path = client.download(bare, tmp_path / "dest")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (tmp_path / "cache" / "files" / sha[:2] / sha / "demo-1.1.tar.gz").is_file()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = make_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no openssl command to make a test certificate")
    return made


def test_https_with_ca_bundle_trusted_host_and_refusal(
    demo_index: LocalIndex, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    with serve(demo_index.root, tls=certificate) as server:
        with IndexClient(
            index_urls=[server.index_url], cert=str(certificate[0]), cache_dir=None, **FAST
        ) as c:
            files = c.project_files("demo")
            assert c.download(files[0], tmp_path / "a").is_file()
        with IndexClient(
            index_urls=[server.index_url], trusted_hosts=["127.0.0.1"], cache_dir=None, **FAST
        ) as c:
            assert len(c.project_files("demo")) == 3
        with (
            IndexClient(index_urls=[server.index_url], cache_dir=None, **FAST) as c,
            pytest.raises(IndexUnreachable, match="certificate") as info,
        ):
            c.project_files("demo")
    assert info.value.hint is not None and "--cert" in info.value.hint


@pytest.mark.parametrize(
    "host",
    [
        "pypi.org",
        "PyPI.Org",
        "127.0.0.1",
        "::1",
        "org.",
        "a." + "y" * 63,
        "a..b",
        "",
        "x" * 64 + ".org",
        "b\u00fccher.de",
        "xn--bcher-kva.de",
        "a" * 63 + "." + "b" * 64,
    ],
)
def test_ascii_host_is_what_the_idna_codec_makes_of_it(host: str) -> None:
    """Bytes only where the codec gives the same bytes; anything else is left to the codec
    (which converts it, or refuses it as before)."""
    from forge_pip.index.urls import ascii_host

    got = ascii_host(host)
    try:
        expected: bytes | None = host.encode("idna")
    except UnicodeError:
        expected = None
    if isinstance(got, bytes):
        assert got == expected
    else:  # the codec refuses it, converts it (not ASCII), or it is empty
        assert got == host and (expected is None or not host.isascii() or not host)


def test_https_by_name_checks_the_name_without_loading_the_idna_codec(
    demo_index: LocalIndex, tmp_path: Path
) -> None:
    """A TLS connection to a named host: its certificate is checked against the name (one for
    another name is refused), and the process never imports ``encodings.idna`` to get there."""
    import subprocess
    import sys

    try:
        socket.getaddrinfo("localhost", 443)
    except OSError:
        pytest.skip("localhost does not resolve here")
    good = make_certificate(tmp_path / "good", "localhost")
    bad = make_certificate(tmp_path / "bad", "forge-other.test")
    if good is None or bad is None:
        pytest.skip("no openssl command to make a test certificate")
    script = (
        "import sys\n"
        "from forge_pip.index import IndexClient, IndexUnreachable\n"
        "limits = {'cache_dir': None, 'timeout': 5, 'retries': 0}\n"
        "with IndexClient(index_urls=[sys.argv[1]], cert=sys.argv[2], **limits) as c:\n"
        "    try:\n"
        "        print(len(c.project_files('demo')))\n"
        "    except IndexUnreachable as exc:\n"
        "        print('refused', exc)\n"
        "print('encodings.idna' in sys.modules)\n"
    )
    for tls, expected in ((good, "3"), (bad, "refused")):
        with serve(demo_index.root, tls=tls) as server:
            url = server.index_url.replace("127.0.0.1", "localhost")
            out = subprocess.run(
                [sys.executable, "-c", script, url, str(tls[0])], capture_output=True, text=True, check=True
            ).stdout.splitlines()
        assert out[0].startswith(expected), out
        assert out[1] == "False", "the idna codec was imported"
    assert "certificate" in out[0]


def test_redirects_are_followed_and_links_resolve_against_the_final_page(
    demo_index: LocalIndex, tmp_path: Path
) -> None:
    with serve(demo_index.root, gzip_pages=True) as server:
        server.redirect["/simple/Demo/"] = "/simple/demo/"  # what PyPI does for a non-normalised name
        server.redirect["/mirror/demo/"] = server.url + "/simple/Demo/"
        with IndexClient(index_urls=[server.url + "/mirror"], cache_dir=None, **FAST) as client:
            files = client.project_files("demo")
        assert server.requests["/simple/demo/"] == 1
        assert server.log[-1][1]["accept-encoding"] == "gzip"
    assert files[0].url == server.url + "/files/demo-1.0-py3-none-any.whl"


def test_malformed_json_page_is_a_warning(
    demo_index: LocalIndex, tmp_path: Path, reporter: RecordingReporter
) -> None:
    (demo_index.simple / "demo" / "index.json").write_text('{"files": "not a list"}')
    with (
        serve(demo_index.root) as server,
        IndexClient(index_urls=[server.index_url], cache_dir=None, reporter=reporter, **FAST) as client,
    ):
        assert client.project_files("demo") == []
        assert len(client.project_files("other")) == 1
    assert len(reporter.warnings) == 1 and "malformed page" in reporter.warnings[0]


def test_parallel_connections_to_a_host_look_it_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six downloads at once open several connections to ``localhost`` but ask the resolver once
    (where the resolver loses a packet now and then, every extra lookup risks a 5-second wait);
    ``localhost`` may name ::1 first, where nothing listens: the next address is tried."""
    index = LocalIndex(tmp_path / "index")
    for i in range(6):
        index.add(make_file(tmp_path / "s", f"demo-1.{i}-py3-none-any.whl", os.urandom(200_000)))
    index.write()
    real = socket.getaddrinfo
    asked: list[object] = []

    def counting(host: object, *args: object, **kwargs: object) -> object:
        if host == b"localhost":  # an ASCII name reaches the resolver as bytes (no idna codec)
            asked.append(host)
            time.sleep(0.2)  # a slow resolver: the other connections wait for this answer
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    monkeypatch.setattr(addresses, "HEDGE_AFTER", 60.0)  # slow, not lost: no second ask
    with serve(index.root) as server:
        url = server.index_url.replace("127.0.0.1", "localhost")
        with IndexClient(index_urls=[url], cache_dir=None, **FAST) as client:
            files = client.project_files("demo")
            paths = client.download_many(files, tmp_path / "dest", jobs=6)
        assert len(set(server.client_ports)) > 1  # several connections were made
    assert len(paths) == 6 and asked == [b"localhost"]


def test_an_address_that_refuses_is_looked_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached answer whose addresses all refuse is forgotten: the next connection asks again."""
    from forge_pip.index.addresses import Addresses

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    real = socket.getaddrinfo
    asked: list[object] = []

    def counting(host: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        return real("127.0.0.1", *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    addresses = Addresses()
    assert addresses.lookup("index.test", port) == addresses.lookup("index.test", port)
    assert asked == [b"index.test"]
    for _ in range(2):  # the first uses the cached answer; it refuses, so the second asks again
        with pytest.raises(ConnectionRefusedError):
            addresses.connect(("index.test", port), timeout=5.0)
    assert asked == [b"index.test"] * 2


def test_a_lookup_left_unanswered_is_asked_again_beside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost DNS packet costs glibc 5 seconds: a lookup unanswered after ``HEDGE_AFTER`` is asked
    again, and the first answer wins (here the first ask never returns until the test ends)."""
    real = socket.getaddrinfo
    release = threading.Event()
    asked: list[object] = []

    def first_lost(host: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        if len(asked) == 1:
            release.wait(30)
        return real("127.0.0.1", *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", first_lost)
    monkeypatch.setattr(addresses, "HEDGE_AFTER", 0.05)
    try:
        found = addresses.Addresses().lookup("index.test", 80)
    finally:
        release.set()
    assert found[0][4] == ("127.0.0.1", 80) and asked == [b"index.test"] * 2


def test_a_resolver_error_is_raised_once_nothing_else_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answered "no such host" is the answer (not asked again); an address literal is not looked up."""
    asked: list[object] = []

    def nxdomain(host: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nxdomain)
    with pytest.raises(socket.gaierror):
        addresses.Addresses().lookup("nowhere.test", 80)
    assert asked == [b"nowhere.test"]
    monkeypatch.setattr(addresses, "_getaddrinfo", lambda host, port: [("literal", host, port)])
    assert addresses.Addresses().lookup("127.0.0.1", 80) == [("literal", "127.0.0.1", 80)]

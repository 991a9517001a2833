"""A local package index for tests: a PEP 503/691 "simple" tree on disk, served on 127.0.0.1.

Build a tree, then serve it (or use it as ``file://``)::

    index = LocalIndex(tmp_path / "index")
    index.add(wheel_path, requires_python=">=3.9", metadata=b"Metadata-Version: 2.1\\n...")
    index.write()
    with serve(index.root) as server:
        client = IndexClient(index_urls=[server.index_url], cache_dir=None)
        ...
        assert server.requests["/simple/demo/"] == 1

The server answers PEP 691 JSON when the ``Accept`` header asks for it (unless ``json=False``), sets a
content ``ETag`` and honours ``If-None-Match`` (304) and/or sends ``Last-Modified`` (the file's mtime)
and honours ``If-Modified-Since`` (``validators=``; none at all, like some mirrors, with ``()``), counts
its 304 answers per path, can require Basic auth, adds a configurable ``Cache-Control``, gzips pages
on request, speaks TLS when given a certificate, can be told to fail or redirect paths, counts
requests per path, and also acts as a plain-HTTP forward proxy (absolute-URI
requests are served from the tree and recorded in ``proxied``).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import email.utils
import gzip
import hashlib
import html
import json
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class IndexedFile:
    """One file of a :class:`LocalIndex`, with what its project page says about it."""

    project: str
    filename: str
    sha256: str
    requires_python: str | None = None
    yanked: bool | str = False
    metadata: bytes | None = None
    metadata_key: str = "core"
    """``"core"`` (PEP 714 ``data-core-metadata``), ``"dist-info"`` (PEP 658 only) or ``"both"``."""
    metadata_hash: str | None = None
    """Announced metadata sha256; defaults to the real one (set it to test a mismatch)."""
    hash_fragment: bool = True
    upload_time: str | None = None
    """PEP 700 ``upload-time`` on the JSON page (ISO 8601, e.g. ``2024-01-02T03:04:05.000000Z``)."""


def project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(filename)[0])
    return canonicalize_name(parse_sdist_filename(filename)[0])


@dataclass
class LocalIndex:
    """A directory ``root`` with ``files/`` and ``simple/<project>/index.html`` (+ ``index.json``)."""

    root: Path
    entries: list[IndexedFile] = field(default_factory=list)

    @property
    def simple(self) -> Path:
        return self.root / "simple"

    @property
    def file_url(self) -> str:
        """The ``file://`` index URL of this tree."""
        return self.simple.as_uri()

    def add(
        self,
        path: Path,
        *,
        requires_python: str | None = None,
        yanked: bool | str = False,
        metadata: bytes | None = None,
        metadata_key: str = "core",
        metadata_hash: str | None = None,
        hash_fragment: bool = True,
        sha256: str | None = None,
        upload_time: str | None = None,
    ) -> IndexedFile:
        """Copy ``path`` into ``files/``; ``sha256`` overrides the announced digest (to test mismatches)."""
        files = self.root / "files"
        files.mkdir(parents=True, exist_ok=True)
        target = files / path.name
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        entry = IndexedFile(
            project=project_of(path.name),
            filename=path.name,
            sha256=sha256 or hashlib.sha256(target.read_bytes()).hexdigest(),
            requires_python=requires_python,
            yanked=yanked,
            metadata=metadata,
            metadata_key=metadata_key,
            metadata_hash=metadata_hash,
            hash_fragment=hash_fragment,
            upload_time=upload_time,
        )
        self.entries.append(entry)
        return entry

    def write(self) -> Path:
        """Write every project page (HTML and JSON), ``.metadata`` files and the root listing."""
        projects: dict[str, list[IndexedFile]] = collections.defaultdict(list)
        for entry in self.entries:
            projects[entry.project].append(entry)
            if entry.metadata is not None:
                (self.root / "files" / (entry.filename + ".metadata")).write_bytes(entry.metadata)
        for project, entries in projects.items():
            page = self.simple / project
            page.mkdir(parents=True, exist_ok=True)
            (page / "index.html").write_text(_project_html(project, entries), encoding="utf-8")
            (page / "index.json").write_text(json.dumps(_project_json(project, entries)), encoding="utf-8")
        self.simple.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
        (self.simple / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
        return self.simple


def _metadata_digest(entry: IndexedFile) -> str:
    assert entry.metadata is not None
    return entry.metadata_hash or hashlib.sha256(entry.metadata).hexdigest()


def _project_html(project: str, entries: list[IndexedFile]) -> str:
    lines = [
        "<!DOCTYPE html>",
        "<html><head><title>Links for " + html.escape(project) + "</title></head><body>",
    ]
    for entry in entries:
        href = "../../files/" + urllib.parse.quote(entry.filename)
        if entry.hash_fragment:
            href += "#sha256=" + entry.sha256
        attrs = [f'href="{html.escape(href)}"']
        if entry.requires_python:
            attrs.append(f'data-requires-python="{html.escape(entry.requires_python)}"')
        if entry.yanked is True:
            attrs.append("data-yanked")
        elif entry.yanked:
            attrs.append(f'data-yanked="{html.escape(entry.yanked)}"')
        if entry.metadata is not None:
            value = "sha256=" + _metadata_digest(entry)
            if entry.metadata_key in ("core", "both"):
                attrs.append(f'data-core-metadata="{value}"')
            if entry.metadata_key in ("dist-info", "both"):
                attrs.append(f'data-dist-info-metadata="{value}"')
        lines.append(f"<a {' '.join(attrs)}>{html.escape(entry.filename)}</a><br/>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def _project_json(project: str, entries: list[IndexedFile]) -> dict[str, object]:
    files: list[dict[str, object]] = []
    for entry in entries:
        item: dict[str, object] = {
            "filename": entry.filename,
            "url": "../../files/" + urllib.parse.quote(entry.filename),
            "hashes": {"sha256": entry.sha256} if entry.hash_fragment else {},
        }
        if entry.requires_python:
            item["requires-python"] = entry.requires_python
        if entry.yanked is not False:
            item["yanked"] = entry.yanked
        if entry.upload_time is not None:
            item["upload-time"] = entry.upload_time
        if entry.metadata is not None:
            digest = {"sha256": _metadata_digest(entry)}
            if entry.metadata_key in ("core", "both"):
                item["core-metadata"] = digest
            if entry.metadata_key in ("dist-info", "both"):
                item["dist-info-metadata"] = digest
        files.append(item)
    return {"meta": {"api-version": "1.1"}, "name": project, "files": files}


class IndexServer:
    """What :func:`serve` yields: the base ``url``, the ``index_url`` and request bookkeeping."""

    def __init__(
        self,
        root: Path,
        *,
        auth: tuple[str, str] | None,
        json_pages: bool,
        cache_control: str | None,
        gzip_pages: bool,
        validators: tuple[str, ...] = ("etag",),
    ) -> None:
        self.root = root
        self.auth = auth
        self.json_pages = json_pages
        self.cache_control = cache_control
        self.gzip_pages = gzip_pages
        self.validators = validators
        """Which of ``"etag"`` and ``"last-modified"`` responses carry (and requests may match)."""
        self.requests: collections.Counter[str] = collections.Counter()
        """Requests per path (including 304s and refused ones)."""
        self.not_modified: collections.Counter[str] = collections.Counter()
        """304 answers per path."""
        self.log: list[tuple[str, dict[str, str]]] = []
        """``(path, headers)`` of every request, in order."""
        self.client_ports: list[int] = []
        """The client-side port of every request's connection (to see keep-alive reuse)."""
        self.proxied: list[str] = []
        """Absolute URLs received as a forward proxy."""
        self.fail: dict[str, int] = {}
        """``path -> status``: answer that status instead of serving the path."""
        self.redirect: dict[str, str] = {}
        """``path -> location``: answer 302 with that ``Location`` (relative or absolute)."""
        self.url = ""
        self._lock = threading.Lock()

    @property
    def index_url(self) -> str:
        return self.url + "/simple"

    def record(self, path: str, headers: dict[str, str], client_port: int) -> None:
        with self._lock:
            self.requests[path] += 1
            self.log.append((path, headers))
            self.client_ports.append(client_port)


def _make_handler(server: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            path = self.path
            if path.startswith(("http://", "https://")):
                server.proxied.append(path)
                parts = urllib.parse.urlsplit(path)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
            path = path.split("?", 1)[0]
            server.record(path, {k.lower(): v for k, v in self.headers.items()}, self.client_address[1])
            if path in server.fail:
                self._send(server.fail[path], b"failing on purpose\n", "text/plain")
                return
            if path in server.redirect:
                self._send(302, b"", None, {"Location": server.redirect[path]})
                return
            if server.auth is not None and not self._authorized(server.auth):
                self._send(
                    401, b"authentication required\n", "text/plain", {"WWW-Authenticate": 'Basic realm="t"'}
                )
                return
            target = self._resolve(path)
            if target is None:
                self._send(404, b"not found\n", "text/plain")
                return
            body = target.read_bytes()
            if target.name == "index.json":
                content_type = JSON_TYPE
            elif target.suffix == ".html":
                content_type = "text/html; charset=utf-8"
            else:
                content_type = "application/octet-stream"
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            mtime = int(target.stat().st_mtime)
            extra: dict[str, str] = {}
            if "etag" in server.validators:
                extra["ETag"] = etag
            if "last-modified" in server.validators:
                extra["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
            if server.cache_control:
                extra["Cache-Control"] = server.cache_control
            if self._not_modified(etag, mtime):
                server.not_modified[path] += 1
                self._send(304, b"", None, extra)
                return
            if (
                server.gzip_pages
                and target.name.startswith("index.")
                and "gzip" in self.headers.get("Accept-Encoding", "")
            ):
                body = gzip.compress(body)
                extra["Content-Encoding"] = "gzip"
            self._send(200, body, content_type, extra)

        def _not_modified(self, etag: str, mtime: int) -> bool:
            if "etag" in server.validators and self.headers.get("If-None-Match") is not None:
                return self.headers.get("If-None-Match") == etag  # takes precedence (RFC 9110)
            since = self.headers.get("If-Modified-Since")
            if "last-modified" in server.validators and since:
                try:
                    return mtime <= email.utils.parsedate_to_datetime(since).timestamp()
                except (TypeError, ValueError):
                    return False
            return False

        def _authorized(self, auth: tuple[str, str]) -> bool:
            expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            return self.headers.get("Authorization") == expected

        def _resolve(self, path: str) -> Path | None:
            relative = urllib.parse.unquote(path).lstrip("/")
            candidate = (server.root / relative).resolve()
            if not candidate.is_relative_to(server.root.resolve()):
                return None
            if candidate.is_dir():
                if not path.endswith("/"):
                    return None
                json_page = candidate / "index.json"
                if server.json_pages and JSON_TYPE in self.headers.get("Accept", "") and json_page.is_file():
                    return json_page
                candidate = candidate / "index.html"
            return candidate if candidate.is_file() else None

        def _send(
            self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def serve(
    root: Path,
    *,
    auth: tuple[str, str] | None = None,
    json_pages: bool = True,
    cache_control: str | None = None,
    gzip_pages: bool = False,
    tls: tuple[Path, Path] | None = None,
    validators: tuple[str, ...] = ("etag",),
) -> Iterator[IndexServer]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; always stopped on exit.

    ``tls`` is ``(certfile, keyfile)``: the server then speaks https (see :func:`make_certificate`).
    ``validators``: which of ``"etag"``, ``"last-modified"`` it sends and honours (``()``: none).
    """
    state = IndexServer(
        root,
        auth=auth,
        json_pages=json_pages,
        cache_control=cache_control,
        gzip_pages=gzip_pages,
        validators=validators,
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        # the handshake happens in the handler thread, so a client that gives up cannot block accept()
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    state.url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def make_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path] | None:
    """A self-signed certificate for ``host`` (an IP address or a DNS name) made with the
    ``openssl`` command (``None`` without it)."""
    import ipaddress
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        ipaddress.ip_address(host)
        san = f"IP:{host}"
    except ValueError:
        san = f"DNS:{host}"
    args = f"req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN={host} -addext subjectAltName={san}"
    command = [openssl, *args.split(), "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key

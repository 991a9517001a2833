"""A small, thread-safe HTTP/1.1 client on the standard library, for index pages and downloads.

What pip users rely on, and nothing more: keep-alive connection reuse (a per-host pool), retries with
backoff on connection errors and 5xx, timeouts, TLS with a CA bundle (``cert``) and a client
certificate, ``--trusted-host`` (plain http / unverified TLS), proxies from ``*_proxy`` environment
variables (a CONNECT tunnel for https), Basic auth from URL credentials and ``~/.netrc``, redirects.
``ssl`` and ``http.client`` are imported lazily so that importing :mod:`forge_pip.index` stays cheap.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from forge_store.hosts import host_matches, is_loopback
from forge_store.records import record

from .errors import HttpStatusError, IndexUnreachable, InsecureOrigin
from .urls import netloc_key, redact_url, split_auth

if TYPE_CHECKING:
    import http.client
    import ssl

    from .addresses import Addresses

log = logging.getLogger(__name__)

USER_AGENT = "forge-pip/0.1 (pip-compatible)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_POOL_SIZE = 8

_PoolKey = tuple[str, str, int]


@record(frozen=True)
class Response:
    """A fully read response (bodies of index pages and metadata files are small)."""

    url: str
    """The final URL, after redirects, without credentials."""
    status: int
    reason: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes


class StreamResponse:
    """A response whose body is read in chunks (downloads); use as a context manager."""

    def __init__(
        self,
        session: HttpSession,
        key: _PoolKey,
        conn: http.client.HTTPConnection,
        resp: http.client.HTTPResponse,
    ) -> None:
        self._session = session
        self._key = key
        self._conn = conn
        self._resp = resp
        self.status = resp.status
        self.reason = resp.reason
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in resp.getheaders()}
        self.url = ""

    def read(self, size: int = 1 << 18) -> bytes:
        return self._resp.read(size)

    def read_all(self) -> bytes:
        return self._resp.read()

    def close(self) -> None:
        self._session._release(self._key, self._conn, self._resp)

    def __enter__(self) -> StreamResponse:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class HttpSession:
    """Shared by every thread of one :class:`~forge_pip.index.client.IndexClient`.

    Example: ``with HttpSession(timeout=5) as s: s.get("https://pypi.org/simple/numpy/").status``.
    """

    def __init__(
        self,
        *,
        cert: str | None = None,
        client_cert: str | None = None,
        trusted_hosts: Sequence[str] = (),
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.25,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        self._cert = cert
        self._client_cert = client_cert
        self._trusted = tuple(trusted_hosts)
        self._timeout = timeout
        self._retries = max(0, retries)
        self._backoff = backoff
        self._proxies = dict(proxies) if proxies is not None else None
        self._lock = threading.Lock()
        self._pool: dict[_PoolKey, list[http.client.HTTPConnection]] = {}
        self._addresses: Addresses | None = None  # one DNS lookup per host for all connections
        self._credentials: dict[str, tuple[str, str]] = {}
        self._netrc_loaded = False
        self._netrc: dict[str, tuple[str, str]] = {}
        self._contexts: dict[bool, ssl.SSLContext] = {}

    def __repr__(self) -> str:
        return (
            f"HttpSession(trusted_hosts={self._trusted!r}, timeout={self._timeout}, retries={self._retries})"
        )

    # -- credentials ---------------------------------------------------------------------------------

    def add_credentials(self, url: str) -> str:
        """Strip ``user:password@`` from ``url``, remember it for that host, return the clean URL."""
        clean, creds = split_auth(url)
        if creds is not None:
            with self._lock:
                self._credentials[netloc_key(clean)] = creds
        return clean

    def _netrc_for(self, host: str) -> tuple[str, str] | None:
        with self._lock:
            if not self._netrc_loaded:
                self._netrc_loaded = True
                self._netrc = _load_netrc()
            return self._netrc.get(host.lower()) or self._netrc.get("default")

    def _authorization(self, url: str) -> str | None:
        with self._lock:
            creds = self._credentials.get(netloc_key(url))
        if creds is None:
            creds = self._netrc_for(urllib.parse.urlsplit(url).hostname or "")
        if creds is None:
            return None
        token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii")
        return f"Basic {token}"

    # -- requests ------------------------------------------------------------------------------------

    def check_origin(self, url: str) -> None:
        """Refuse plain http to hosts that are neither loopback nor trusted (pip's secure origins)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            return
        if parts.scheme != "http":
            raise IndexUnreachable(url, f"unsupported URL scheme {parts.scheme!r}")
        host = parts.hostname or ""
        if not (is_loopback(host) or host_matches(host, parts.port, self._trusted)):
            raise InsecureOrigin(url, host)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """GET ``url`` and read the whole body (gzip decoded). Raises :class:`IndexUnreachable`."""
        merged = {"Accept-Encoding": "gzip", **(headers or {})}
        with self.stream(url, merged) as resp:
            try:
                body = resp.read_all()
            except (OSError, _http_exceptions()) as exc:
                raise IndexUnreachable(url, f"{type(exc).__name__}: {exc}")
        if resp.headers.get("content-encoding", "").lower() == "gzip":
            import gzip

            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise IndexUnreachable(url, f"bad gzip body: {exc}")
        return Response(url=resp.url, status=resp.status, reason=resp.reason, headers=resp.headers, body=body)

    def stream(self, url: str, headers: Mapping[str, str] | None = None) -> StreamResponse:
        """GET ``url``, following redirects; the caller reads the body and closes the response."""
        url = self.add_credentials(url)
        for _ in range(_MAX_REDIRECTS + 1):
            self.check_origin(url)
            key, conn, resp = self._send_with_retries(url, headers or {})
            if resp.status in _REDIRECTS and resp.getheader("Location"):
                location = urllib.parse.urljoin(url, resp.getheader("Location") or "")
                resp.read()
                self._release(key, conn, resp)
                log.debug("redirect %s -> %s", redact_url(url), redact_url(location))
                url = self.add_credentials(location)
                continue
            stream = StreamResponse(self, key, conn, resp)
            stream.url = url
            return stream
        raise IndexUnreachable(url, f"more than {_MAX_REDIRECTS} redirects")

    def _send_with_retries(
        self, url: str, headers: Mapping[str, str]
    ) -> tuple[_PoolKey, http.client.HTTPConnection, http.client.HTTPResponse]:
        import ssl

        cause = "no attempt made"
        attempts = self._retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self._backoff * 2 ** (attempt - 1), 8.0))
            try:
                key, conn, resp = self._send_once(url, headers)
            except ssl.SSLCertVerificationError as exc:
                raise IndexUnreachable(
                    url,
                    f"TLS certificate verification failed: {exc.verify_message or exc}",
                    hint="pass --cert with your CA bundle, or --trusted-host for this host",
                )
            except (OSError, _http_exceptions()) as exc:
                cause = f"{type(exc).__name__}: {exc}"
                log.debug("attempt %d/%d for %s failed: %s", attempt + 1, attempts, redact_url(url), cause)
                continue
            if resp.status >= 500:
                cause = f"HTTP {resp.status} {resp.reason}"
                try:
                    resp.read()
                except (OSError, _http_exceptions()):
                    pass
                self._release(key, conn, resp)
                continue
            return key, conn, resp
        raise IndexUnreachable(url, cause)

    def _send_once(
        self, url: str, headers: Mapping[str, str]
    ) -> tuple[_PoolKey, http.client.HTTPConnection, http.client.HTTPResponse]:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key: _PoolKey = (parts.scheme, host, port)
        proxy = self._proxy_for(parts.scheme, host)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = {"User-Agent": USER_AGENT, **headers}
        auth = self._authorization(url)
        if auth is not None:
            request_headers["Authorization"] = auth
        if proxy is not None and parts.scheme == "http":
            target = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
            proxy_auth = _proxy_authorization(proxy)
            if proxy_auth:
                request_headers["Proxy-Authorization"] = proxy_auth
        for fresh in (False, True):
            conn, reused = self._acquire(key, proxy, fresh=fresh)
            try:
                conn.request("GET", target, headers=request_headers)
                return key, conn, conn.getresponse()
            except (OSError, _http_exceptions()) as exc:
                conn.close()
                import http.client

                if reused and isinstance(exc, (ConnectionError, http.client.BadStatusLine)):
                    continue  # the server closed an idle keep-alive connection: not a real failure
                raise
        raise AssertionError("unreachable")

    # -- connections ---------------------------------------------------------------------------------

    def _acquire(
        self, key: _PoolKey, proxy: str | None, *, fresh: bool
    ) -> tuple[http.client.HTTPConnection, bool]:
        if not fresh:
            with self._lock:
                idle = self._pool.get(key)
                if idle:
                    return idle.pop(), True
        return self._connect(key, proxy), False

    def _connect(self, key: _PoolKey, proxy: str | None) -> http.client.HTTPConnection:
        conn = self._new_connection(key, proxy)
        with self._lock:
            if self._addresses is None:
                from .addresses import Addresses  # (imports socket: not before a connection)

                self._addresses = Addresses()
            addresses = self._addresses
        conn._create_connection = addresses.connect  # type: ignore[attr-defined]
        return conn

    def _new_connection(self, key: _PoolKey, proxy: str | None) -> http.client.HTTPConnection:
        import http.client

        scheme, host, port = key
        if proxy is not None:
            p = urllib.parse.urlsplit(proxy)
            p_host, p_port = p.hostname or "", p.port or 80
        if scheme == "https":
            from .connection import HTTPSConnection

            context = self._ssl_context(host_matches(host, port, self._trusted))
            if proxy is None:
                return HTTPSConnection(host, port, timeout=self._timeout, context=context)
            conn = HTTPSConnection(p_host, p_port, timeout=self._timeout, context=context)
            proxy_auth = _proxy_authorization(proxy)
            conn.set_tunnel(host, port, headers={"Proxy-Authorization": proxy_auth} if proxy_auth else None)
            return conn
        if proxy is None:
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        return http.client.HTTPConnection(p_host, p_port, timeout=self._timeout)

    def _release(
        self, key: _PoolKey, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse
    ) -> None:
        """Back to the pool if the body was fully read and the server keeps the connection alive."""
        if resp.isclosed() and not resp.will_close:
            with self._lock:
                idle = self._pool.setdefault(key, [])
                if len(idle) < _POOL_SIZE:
                    idle.append(conn)
                    return
        resp.close()
        conn.close()

    def _ssl_context(self, trusted: bool) -> ssl.SSLContext:
        import ssl

        with self._lock:
            context = self._contexts.get(trusted)
            if context is None:
                if self._cert and not trusted:
                    import os

                    if os.path.isdir(self._cert):
                        context = ssl.create_default_context(capath=self._cert)
                    else:
                        context = ssl.create_default_context(cafile=self._cert)
                else:
                    context = ssl.create_default_context()
                if trusted:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if self._client_cert:
                    context.load_cert_chain(self._client_cert)
                self._contexts[trusted] = context
            return context

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        with self._lock:
            if self._proxies is None:
                self._proxies = environment_proxies()
            proxies = self._proxies
        proxy = proxies.get(scheme)
        if not proxy:
            return None
        if _bypasses_proxy(host, proxies.get("no", "")):
            return None
        if "://" not in proxy:
            proxy = "http://" + proxy
        return proxy

    def close(self) -> None:
        with self._lock:
            pools, self._pool = self._pool, {}
        for idle in pools.values():
            for conn in idle:
                conn.close()

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def expect_ok(resp: Response | StreamResponse) -> None:
    """Raise :class:`HttpStatusError` unless the response is a 2xx."""
    if not 200 <= resp.status < 300:
        raise HttpStatusError(resp.url, resp.status, resp.reason)


def _http_exceptions() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def environment_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``urllib.request.getproxies()`` on Linux (what pip's requests reads): scheme -> proxy from
    the ``<scheme>_proxy`` variables, a lowercase one winning over its uppercase twin (an empty
    lowercase one unsets it), ``HTTP_PROXY`` ignored in a CGI request (CVE-2016-1000110).
    Written out so that the first request does not import ``urllib.request`` (~14 ms)."""
    import os

    env = os.environ if environ is None else environ
    proxies: dict[str, str] = {}
    for name, value in env.items():
        lowered = name.lower()
        if value and lowered[-6:] == "_proxy":
            proxies[lowered[:-6]] = value
    if "REQUEST_METHOD" in env:
        proxies.pop("http", None)
    for name, value in env.items():
        if name[-6:] == "_proxy":
            lowered = name.lower()
            if value:
                proxies[lowered[:-6]] = value
            else:
                proxies.pop(lowered[:-6], None)
    return proxies


def _bypasses_proxy(host: str, no_proxy: str) -> bool:
    """The ``no_proxy`` rule: ``*``, an exact host, or a domain suffix (``.corp`` or ``corp``)."""
    host = host.lower()
    for item in no_proxy.replace(" ", ",").split(","):
        entry = item.strip().lower().lstrip(".")
        entry = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False


def _proxy_authorization(proxy: str) -> str | None:
    _clean, creds = split_auth(proxy)
    if creds is None:
        return None
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode("ascii")


def _load_netrc() -> dict[str, tuple[str, str]]:
    """Host -> (login, password) from ``$NETRC`` or ``~/.netrc``; a missing or broken file gives ``{}``."""
    import os

    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return {}
    import netrc  # (and shlex: only when there is a file to read)

    try:
        parsed = netrc.netrc(path)
    except (OSError, netrc.NetrcParseError) as exc:
        log.info("ignoring unreadable netrc file %s: %s", path, exc)
        return {}
    result: dict[str, tuple[str, str]] = {}
    for host, (login, _account, password) in parsed.hosts.items():
        result[host.lower()] = (login or "", password or "")
    return result

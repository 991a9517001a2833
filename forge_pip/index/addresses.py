"""One DNS lookup per host and port for a whole HTTP session, shared by all its connections.

A warm install revalidates its pages over up to eight connections at once, and
``socket.create_connection`` asks the resolver again for each of them. Where the resolver drops
a UDP packet now and then, glibc waits out its 5-second timeout before it asks again. This is
common in containers (the conntrack race of parallel A and AAAA queries); on the machine these
figures come from, 1 lookup in 30 took 5 s. Eight lookups per process make such a stall eight
times as likely: one warm install in four took 5 s longer. pip opens one connection per host, so
it pays one lookup. A session that looks up once pays the same.

The answer is kept for the session only (one command), as every connection of a pip run would
see it; an address that refuses is forgotten, so the next connection asks again.

A lookup that has not been answered after :data:`HEDGE_AFTER` is asked again beside the first
(up to :data:`HEDGES` asks; the first answer wins): a lost UDP packet costs glibc its whole
5-second timeout, a second question usually gets through at once. On this machine 21 of 150
lookups in a row went unanswered at 0.25 s (glibc would have waited 5 s for each); hedged, all 21
were answered in 0.26 s. A resolver that answers nobody for a while (seen: 4 s) still costs that
while. Only slow lookups are asked twice.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any

from .urls import ascii_host

__all__ = ["HEDGES", "HEDGE_AFTER", "Addresses"]

_AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]

HEDGE_AFTER = 0.25
"""Seconds a lookup may go unanswered before it is asked again beside itself (a resolver that
answers at all answers in milliseconds)."""
HEDGES = 3
"""At most this many asks of one lookup in flight."""


def _getaddrinfo(host: str, port: int) -> list[_AddrInfo]:
    # an ASCII host as bytes: as text, getaddrinfo imports the idna codec to make the same bytes
    return list(socket.getaddrinfo(ascii_host(host), port, 0, socket.SOCK_STREAM))


def _numeric(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            continue
    return False


def _resolve(host: str, port: int) -> list[_AddrInfo]:
    """``getaddrinfo``, asked again beside itself each :data:`HEDGE_AFTER` seconds it goes
    unanswered (up to :data:`HEDGES` asks): the first answer wins. An error is raised when no
    other ask is still out (the resolver retried it already); an address literal is not looked up."""
    if _numeric(host):
        return _getaddrinfo(host, port)
    answers: queue.SimpleQueue[tuple[list[_AddrInfo] | None, OSError | None]] = queue.SimpleQueue()

    def ask() -> None:
        try:
            answers.put((_getaddrinfo(host, port), None))
        except OSError as exc:
            answers.put((None, exc))

    asked = pending = 0
    error: OSError | None = None
    hedge = True
    while True:
        if hedge and asked < HEDGES:
            # daemon: a stalled ask never holds the process (its answer is not needed any more)
            threading.Thread(target=ask, name="forge-dns", daemon=True).start()
            asked += 1
            pending += 1
        try:
            found, exc = answers.get(timeout=HEDGE_AFTER if asked < HEDGES else None)
        except queue.Empty:
            hedge = True
            continue
        hedge = False
        pending -= 1
        if found is not None:
            return found
        error = error or exc
        if pending == 0:
            assert error is not None
            raise error


class Addresses:
    """``getaddrinfo`` answers by (host, port); concurrent askers wait for the first lookup."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, int], list[_AddrInfo]] = {}
        self._pending: dict[tuple[str, int], threading.Event] = {}

    def lookup(self, host: str, port: int) -> list[_AddrInfo]:
        """The addresses of ``host`` (looked up once; raises ``OSError`` as getaddrinfo does)."""
        key = (host, port)
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                return known
            event = self._pending.get(key)
            if event is None:
                event = self._pending[key] = threading.Event()
                owner = True
            else:
                owner = False
        if not owner:
            event.wait()
            with self._lock:
                known = self._known.get(key)
            if known is not None:
                return known
            # the first lookup failed; its error was its caller's: ask again for ours
            return _resolve(host, port)
        try:
            found = _resolve(host, port)
            if found:
                with self._lock:
                    self._known[key] = found
            return found
        finally:
            with self._lock:
                del self._pending[key]
            event.set()

    def forget(self, host: str, port: int) -> None:
        with self._lock:
            self._known.pop((host, port), None)

    def connect(
        self,
        address: tuple[str, int],
        timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        """``socket.create_connection`` on the looked-up addresses, tried in the resolver's
        order (what ``http.client`` calls to open a connection)."""
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in self.lookup(host, port):
            sock = None
            try:
                sock = socket.socket(family, kind, proto)
                if timeout is not None:
                    sock.settimeout(timeout)
                if source_address is not None:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                if sock is not None:
                    sock.close()
        self.forget(host, port)  # perhaps a stale answer: the next connection asks again
        raise error if error is not None else OSError(f"no address for {host}")

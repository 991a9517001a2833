"""``http.client``'s HTTPS connection, with its TLS server name handed to ``ssl`` as ASCII bytes.

``HTTPSConnection.connect`` (the same on CPython 3.10-3.13) gives ``wrap_socket`` the host as
text, which ``ssl`` passes through the ``idna`` codec: the first connection of a process imports
that codec (~5 ms of the GIL, on the way to the first response). For an ASCII host the codec
returns the host's bytes unchanged, so :func:`~forge_pip.index.urls.ascii_host` gives them
directly; anything else still goes through the codec.
"""

from __future__ import annotations

import http.client

from .urls import ascii_host


class HTTPSConnection(http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` with the server name (SNI, hostname check) as ASCII bytes."""

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # the TCP connection (through a tunnel if set)
        server_hostname = self._tunnel_host or self.host  # type: ignore[attr-defined]
        context = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(self.sock, server_hostname=ascii_host(server_hostname))

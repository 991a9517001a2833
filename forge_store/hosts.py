"""Host rules shared by the index client (forge_pip) and HTTP upstreams (forge_store): pure, no network."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``[::1]``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_matches(host: str, port: int | None, patterns: tuple[str, ...]) -> bool:
    """pip's ``--trusted-host`` rule: an entry is ``host`` (any port) or ``host:port``."""
    host = host.lower()
    for pattern in patterns:
        p_host, sep, p_port = pattern.lower().rpartition(":") if ":" in pattern else (pattern.lower(), "", "")
        if not sep:
            if p_host == host:
                return True
        elif p_host == host and p_port == str(port):
            return True
    return False

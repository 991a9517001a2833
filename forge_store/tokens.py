"""Random names and this host's name, without ``uuid`` and ``socket`` (their imports cost every
Forge process a few milliseconds; staging names and lock holders need neither)."""

from __future__ import annotations

import os


def token(length: int = 32) -> str:
    """``length`` random hex digits (``os.urandom``, as ``uuid.uuid4`` draws them): a staging or
    scratch name no other process picks."""
    return os.urandom((length + 1) // 2).hex()[:length]


def hostname() -> str:
    """This host's name, as ``socket.gethostname()`` gives it (``uname``'s node name)."""
    return os.uname().nodename

"""Which envs no command may change: a mirror of a stack its upstream publishes
(:mod:`.mirror`). Every install and uninstall asks, few envs are mirrors: this check does not
load the mirror machinery."""

from __future__ import annotations

from .errors import MirrorReadOnly
from .models import EnvInfo, EnvKind

__all__ = ["refuse_changes"]


def refuse_changes(env: EnvInfo) -> None:
    """:class:`MirrorReadOnly` for a mirror env (installs, uninstalls, mode changes)."""
    if env.kind is EnvKind.MIRROR:
        raise MirrorReadOnly(
            f"env {env.name!r} mirrors a stack its upstream publishes; it cannot be changed here",
            hint=f"create an env on top of it (forge create NAME --parent {env.name}) and install there",
        )

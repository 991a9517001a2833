"""The layer-policy options every command that changes or checks a stack takes.

``--mode loose|warn|strict`` (alias ``--conflict-mode``) and ``--abi-policy
strict_abi|warn_abi|allow_abi`` override the env's ``conflict_mode`` / ``abi_policy`` settings for
one command (``forge env set`` changes the default). They are Forge's own options: on the pip
front end they sit beside pip's (``pip install --mode strict``), but pip's configuration files and
``PIP_*`` variables never set them, since real pip has no such option.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge_store.models import EnvInfo
    from forge_store.policy import Policy
    from forge_store.settings import AbiPolicy, ConflictMode
    from forge_store.store import Store

CONFLICT_MODES = ("loose", "warn", "strict")
ABI_POLICIES = ("strict_abi", "warn_abi", "allow_abi")
#: the spellings ``forge install`` takes out of its arguments before pip's parser sees the rest
VALUE_OPTIONS = {"--mode": "conflict_mode", "--conflict-mode": "conflict_mode", "--abi-policy": "abi_policy"}


def add_policy_args(p: argparse.ArgumentParser | Any, *, forge_prefix: bool = False) -> None:
    """``--mode/--conflict-mode`` and ``--abi-policy`` (dest ``conflict_mode``, ``abi_policy``)."""
    tag = "Forge: " if forge_prefix else ""
    p.add_argument(
        "--mode",
        "--conflict-mode",
        dest="conflict_mode",
        choices=CONFLICT_MODES,
        help=f"{tag}what a change that breaks or shadows another layer's package does: loose (allow),"
        " warn (allow, warn) or strict (refuse); default: the env's conflict_mode",
    )
    p.add_argument(
        "--abi-policy",
        dest="abi_policy",
        choices=ABI_POLICIES,
        help=f"{tag}what compiled code that does not fit the env's interpreter does: strict_abi"
        " (refuse), warn_abi or allow_abi; default: the env's abi_policy",
    )


def check_value(option: str, value: str) -> str:
    """A value of ``option`` (one of :data:`VALUE_OPTIONS`), or a usage error naming the valid ones."""
    from forge_store.errors import UsageError

    valid = CONFLICT_MODES if VALUE_OPTIONS[option] == "conflict_mode" else ABI_POLICIES
    if value not in valid:
        raise UsageError(f"argument {option}: invalid choice: {value!r} (choose from {', '.join(valid)})")
    return value


def overrides(ns: argparse.Namespace) -> tuple[ConflictMode | None, AbiPolicy | None]:
    """The modes the command line gives (None: the env's setting)."""
    from forge_store.settings import AbiPolicy, ConflictMode

    mode = getattr(ns, "conflict_mode", None)
    abi = getattr(ns, "abi_policy", None)
    return (ConflictMode(mode) if mode else None, AbiPolicy(abi) if abi else None)


def policy_from_args(store: Store, env: EnvInfo, ns: argparse.Namespace, *, explicit_local: bool) -> Policy:
    """The env's settings with the command line's modes winning."""
    from forge_store.policy import policy_for

    mode, abi = overrides(ns)
    return policy_for(store, env, conflict_mode=mode, abi_policy=abi, explicit_local=explicit_local)

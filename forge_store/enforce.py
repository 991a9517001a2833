"""Enforcement for CI (``forge --enforce``, ``--enforce-profile warn|strict``): findings become
exit codes.

One :class:`Session` is active while the ``forge`` command that asked for enforcement runs, set
by the CLI through :func:`session` (library code never reads ``sys.argv`` or the environment for
it). It is process-wide on purpose, not a ``ContextVar``: a check that runs in a worker thread
must see the profile too (a thread does not inherit a context, and a CI gate must not fail open).
It does two things:

* **the profile** raises every env's modes to *at least* its level while judging
  (:func:`floor`, applied by :func:`forge_store.policy.policy_for`): ``warn`` judges as if every
  env had ``conflict_mode warn`` / ``abi_policy warn_abi``, ``strict`` as ``strict`` /
  ``strict_abi``. A stricter setting of an env is kept (a CI flag never lets through what the
  env's owner refuses); an env's ``loose`` or ``allow_abi`` no longer hides anything.
* **the count**: every finding a change was allowed to make with a warning
  (:func:`forge_store.policy.judge` calls :func:`note`), and every finding a read command shows
  at warn level or above (:func:`judged` for one env's stack), is noted; :func:`exit_code` maps
  them to :data:`forge_store.policy.EXIT_CODES` (the first kind in the table's order wins).

Refusals are not counted: a refused change raises ``PolicyRefused`` (exit 4, or 5 for the ABI
policy) as without enforcement. Build envs (short-lived, isolated PEP 517 envs) are neither
raised nor counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from forge_store.records import record

from .models import EnvKind
from .settings import AbiPolicy, ConflictMode

if TYPE_CHECKING:
    from .models import EnvInfo
    from .policy import Finding, Policy, Verdict
    from .store import Store


class Profile(enum.Enum):
    """``--enforce-profile``: the level every env's modes are raised to while judging."""

    WARN = "warn"
    STRICT = "strict"

    @property
    def conflict_mode(self) -> ConflictMode:
        return ConflictMode.WARN if self is Profile.WARN else ConflictMode.STRICT

    @property
    def abi_policy(self) -> AbiPolicy:
        return AbiPolicy.WARN_ABI if self is Profile.WARN else AbiPolicy.STRICT_ABI


_CONFLICT_RANK = {ConflictMode.LOOSE: 0, ConflictMode.WARN: 1, ConflictMode.STRICT: 2}
_ABI_RANK = {AbiPolicy.ALLOW_ABI: 0, AbiPolicy.WARN_ABI: 1, AbiPolicy.STRICT_ABI: 2}


def floor(policy: Policy, profile: Profile | None) -> Policy:
    """``policy`` with each mode raised to at least ``profile``'s level (None: unchanged)."""
    if profile is None:
        return policy
    mode = max(policy.conflict_mode, profile.conflict_mode, key=_CONFLICT_RANK.__getitem__)
    abi = max(policy.abi_policy, profile.abi_policy, key=_ABI_RANK.__getitem__)
    return dataclasses.replace(policy, conflict_mode=mode, abi_policy=abi)


def counted(findings: Iterable[Finding], policy: Policy) -> list[Finding]:
    """The findings ``policy`` judges at warn level or above (what ``--enforce`` counts)."""
    from .policy import Verdict

    return [f for f in findings if policy.verdict(f) >= Verdict.WARN]


def exit_code(findings: Iterable[Finding]) -> int:
    """The ``--enforce`` exit code of ``findings``: the code of the first kind, in the order of
    :data:`~forge_store.policy.EXIT_CODES`, that is among them; 0 when there are none."""
    from .policy import EXIT_CODES

    kinds = {f.kind for f in findings}
    return next((code for kind, code in EXIT_CODES.items() if kind in kinds), 0)


@record(slots=True)
class Session:
    """The enforcement of one command: its profile and the findings it counted so far."""

    profile: Profile | None = None
    _found: dict[tuple[str, str, str, str], Finding] = dataclasses.field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        """Counted findings, in the order of the exit-code table, then env, subject, message."""
        from .policy import EXIT_CODES

        order = list(EXIT_CODES)
        return sorted(self._found.values(), key=lambda f: (order.index(f.kind), f.env, f.subject, f.message))

    def note(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self._found.setdefault(f.key, f)

    @property
    def exit_code(self) -> int:
        return exit_code(self._found.values())

    def to_dict(self) -> dict[str, object]:
        """The ``enforce`` member of ``--json`` documents (docs/json.md)."""
        return {
            "profile": self.profile.value if self.profile is not None else None,
            "exit_code": self.exit_code,
            "findings": [f.to_dict() for f in self.findings],
        }


_ACTIVE: list[Session] = []  # the innermost session last (a command run inside another's)


@contextlib.contextmanager
def session(profile: Profile | None = None) -> Iterator[Session]:
    """Enforce while the block runs (the CLI's ``--enforce``)."""
    current = Session(profile)
    _ACTIVE.append(current)
    try:
        yield current
    finally:
        _ACTIVE.remove(current)


def active() -> Session | None:
    """The session of the running command, None without ``--enforce``."""
    return _ACTIVE[-1] if _ACTIVE else None


def governs(env: EnvInfo) -> bool:
    """Whether enforcement applies to ``env`` (never to a build env)."""
    return env.kind is not EnvKind.BUILD


def raise_to_profile(policy: Policy, env: EnvInfo) -> Policy:
    """``policy`` under the active session's profile (:func:`floor`); unchanged without one."""
    current = active()
    if current is None or not governs(env):
        return policy
    return floor(policy, current.profile)


def note(findings: Iterable[Finding]) -> None:
    """Count findings a change was allowed to make with a warning (:func:`.policy.judge`)."""
    current = active()
    if current is None:
        return
    from .store import BUILD_PREFIX  # a build env's name; no user's env name starts with "@"

    current.note(f for f in findings if not f.env.startswith(BUILD_PREFIX))


def judged(store: Store, env: EnvInfo) -> list[tuple[Finding, Verdict]]:
    """Every finding of ``env``'s stack as it is now, with the verdict the env's modes (raised by
    the active profile) give it: what ``forge doctor`` lists and read commands count."""
    from .policy import policy_for, stack_findings

    policy = policy_for(store, env)
    return [(f, policy.verdict(f)) for f in stack_findings(store, env)]

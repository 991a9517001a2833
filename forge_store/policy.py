"""Layer policy: what a check finds in a stack, the verdict each mode gives it, the exit-code table.

A *check* looks at one env's whole stack (:class:`forge_store.stack.StackView`, built from the
catalog or from the catalog with a change applied) and yields :class:`Finding` s. The checks live
in their own modules and are listed in :data:`CHECKS`:

* :mod:`.conflicts`: requirements of one layer's dist that the stack breaks, shadowing;
* :mod:`.abi`: compiled code that does not fit the env's interpreter;
* :mod:`.native`: CUDA variants mixed across layers, ``$ORIGIN`` overrides, system soname clashes.

Every finding kind is governed by one setting (``conflict_mode`` or ``abi_policy``), whose value
gives the :class:`Verdict`: ignore, warn, or refuse. At install time (:func:`check_change`) only
findings that the change *creates* count (what was already there was reported when it appeared,
and ``forge doctor`` lists it); in ``strict`` a refused change raises :class:`PolicyRefused` and
nothing changes. With ``--enforce`` the CLI turns findings into the exit code of
:data:`EXIT_CODES` (documented in ``docs/cli.md``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from forge_store.records import record

from .errors import ExitCode, ForgeError
from .settings import AbiPolicy, ConflictMode

if TYPE_CHECKING:
    from .models import EnvInfo
    from .stack import StackView
    from .store import Store


class Kind(enum.Enum):
    """What a finding is about; the value is its stable ``--json`` name."""

    BROKEN_REQUIREMENT = "broken-requirement"  # a dist's requirement the stack does not meet
    SHADOWED = "shadowed"  # a nearer layer overrides a farther layer's dist with another version
    ABI = "abi-mismatch"  # compiled code built for another interpreter / platform / glibc
    CUDA_MIX = "cuda-variant-mix"  # layers carry different CUDA variants (cu118 vs cu121 vs cpu)
    ORIGIN_OVERRIDE = "origin-override"  # a child override a parent's ELF ignores ($ORIGIN)
    SYSTEM_SONAME = "system-soname-clash"  # the system loader path offers another major of a soname


#: The setting that decides each kind's verdict.
GOVERNED_BY: dict[Kind, str] = {
    Kind.BROKEN_REQUIREMENT: "conflict_mode",
    Kind.SHADOWED: "conflict_mode",
    Kind.ABI: "abi_policy",
    Kind.CUDA_MIX: "conflict_mode",
    Kind.ORIGIN_OVERRIDE: "conflict_mode",
    Kind.SYSTEM_SONAME: "conflict_mode",
}

#: ``--enforce``: the exit code of each kind (the first kind in this order wins when several are
#: found). Outside every other code's range (forge_store.errors.ExitCode), stable, documented.
EXIT_CODES: dict[Kind, int] = {
    Kind.BROKEN_REQUIREMENT: 30,
    Kind.ABI: 31,
    Kind.CUDA_MIX: 32,
    Kind.ORIGIN_OVERRIDE: 33,
    Kind.SYSTEM_SONAME: 34,
    Kind.SHADOWED: 35,
}


class Verdict(enum.IntEnum):
    IGNORE = 0
    WARN = 1
    REFUSE = 2


@record(frozen=True, slots=True)
class Finding:
    """One problem in one env's stack, in words a user can act on."""

    kind: Kind
    env: str  # the env whose stack shows it
    subject: str  # the dist it is about (canonical name)
    message: str  # one line, e.g. "scipy 1.10.0 (base) requires numpy<1.27, but app has numpy 2.4.6"
    chain: tuple[str, ...] = ()  # how it comes about, one step per line (requirement chain, paths)
    packages: tuple[str, ...] = ()  # every dist involved (canonical names)
    layers: tuple[str, ...] = ()  # every env involved

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity across a before/after comparison."""
        return (self.kind.value, self.env, self.subject, self.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "env": self.env,
            "subject": self.subject,
            "message": self.message,
            "chain": list(self.chain),
            "packages": list(self.packages),
            "layers": list(self.layers),
            "governed_by": GOVERNED_BY[self.kind],
            "enforce_exit_code": EXIT_CODES[self.kind],
        }


@record(frozen=True, slots=True)
class Policy:
    """The modes one command runs with (the env's settings, overridden by flags)."""

    conflict_mode: ConflictMode = ConflictMode.WARN
    abi_policy: AbiPolicy = AbiPolicy.WARN_ABI
    explicit_local: bool = False  # ``--local``: the user asked for the override on purpose

    def stricter(self, other: Policy) -> Policy:
        """Each mode at the stricter of the two; ``explicit_local`` from ``other``."""
        cm = [ConflictMode.LOOSE, ConflictMode.WARN, ConflictMode.STRICT]
        ap = [AbiPolicy.ALLOW_ABI, AbiPolicy.WARN_ABI, AbiPolicy.STRICT_ABI]
        return Policy(
            max(self.conflict_mode, other.conflict_mode, key=cm.index),
            max(self.abi_policy, other.abi_policy, key=ap.index),
            other.explicit_local,
        )

    def verdict(self, finding: Finding) -> Verdict:
        if GOVERNED_BY[finding.kind] == "abi_policy":
            return {
                AbiPolicy.ALLOW_ABI: Verdict.IGNORE,
                AbiPolicy.WARN_ABI: Verdict.WARN,
                AbiPolicy.STRICT_ABI: Verdict.REFUSE,
            }[self.abi_policy]
        verdict = {
            ConflictMode.LOOSE: Verdict.IGNORE,
            ConflictMode.WARN: Verdict.WARN,
            ConflictMode.STRICT: Verdict.REFUSE,
        }[self.conflict_mode]
        if finding.kind is Kind.SHADOWED and self.explicit_local:
            # an override asked for with --local is the user's decision: shown, never refused
            return min(verdict, Verdict.WARN)
        return verdict


def policy_for(
    store: Store,
    env: EnvInfo,
    *,
    conflict_mode: ConflictMode | None = None,
    abi_policy: AbiPolicy | None = None,
    explicit_local: bool = False,
) -> Policy:
    """The env's settings, with what the command line gave winning; under ``forge
    --enforce-profile`` raised to at least the profile's level (:mod:`.enforce`)."""
    from . import enforce, settings

    policy = Policy(
        conflict_mode or settings.conflict_mode(store, env),
        abi_policy or settings.abi_policy(store, env),
        explicit_local,
    )
    return enforce.raise_to_profile(policy, env)


@record(frozen=True, slots=True)
class CheckContext:
    """What a check may consult besides the stack (the store, for entries' scan results)."""

    store: Store
    env: EnvInfo


Check = Callable[["StackView", CheckContext], Iterable[Finding]]


def _checks() -> list[Check]:
    """Every check, imported when first needed (start-up stays lean)."""
    from . import conflicts

    found: list[Check] = [*conflicts.CHECKS]
    for module in ("abi", "native"):
        try:
            mod = __import__(f"{__package__}.{module}", fromlist=["CHECKS"])
        except ModuleNotFoundError as exc:  # a check module not written yet
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        found.extend(getattr(mod, "CHECKS", ()))
    return found


def findings(view: StackView, ctx: CheckContext) -> list[Finding]:
    """Every finding of every check on one stack, deduplicated, in a stable order."""
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for check in _checks():
        for f in check(view, ctx):
            seen.setdefault(f.key, f)
    order = list(EXIT_CODES)
    return sorted(seen.values(), key=lambda f: (order.index(f.kind), f.env, f.subject, f.message))


def stack_findings(store: Store, env: EnvInfo) -> list[Finding]:
    """The findings of ``env``'s stack as it is now (``forge doctor``, ``forge inspect``)."""
    from . import stack

    return findings(stack.build(store, env), CheckContext(store, env))


class PolicyRefused(ForgeError):
    """A change would create findings that the env's modes refuse; nothing was changed.

    Exit code 4 (``CONFLICT``) for what ``conflict_mode`` refuses, 5 (``INCOMPATIBLE``) for what
    ``abi_policy`` refuses (the first finding decides)."""

    reference = "policy-refused"
    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, found: Sequence[Finding], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.findings = tuple(found)
        if self.findings and GOVERNED_BY[self.findings[0].kind] == "abi_policy":
            self.exit_code = ExitCode.INCOMPATIBLE

    @property
    def details(self) -> tuple[str, ...]:
        """What the CLIs print indented under the error line: the first finding's chain, then
        every further refused finding with its chain."""
        if not self.findings:
            return ()
        first, *more = self.findings
        lines = list(first.chain)
        for f in more:
            lines.append(f"also: {f.message}")
            lines.extend(f"  {step}" for step in f.chain)
        return tuple(lines)

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["findings"] = [f.to_dict() for f in self.findings]
        return out


@record(frozen=True, slots=True)
class ChangeVerdict:
    """What :func:`check_change` found new: the warnings to show (the refusals raised)."""

    warned: tuple[Finding, ...] = ()
    ignored: tuple[Finding, ...] = ()


def judge(
    new: Sequence[Finding],
    policy: Policy,
    env_name: str,
    per_env: Mapping[str, Policy] | None = None,
) -> ChangeVerdict:
    """Sort new findings by verdict; raise :class:`PolicyRefused` if any is refused. Under
    ``forge --enforce`` the warned ones are counted for the exit code (:func:`.enforce.note`).

    ``per_env``: the policy a finding in another env's stack is judged with (a descendant's own
    settings when they are stricter than the command's); ``policy`` for the rest."""

    def rules(f: Finding) -> Policy:
        return (per_env or {}).get(f.env, policy)

    refused = [f for f in new if rules(f).verdict(f) is Verdict.REFUSE]
    if refused:
        first = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        setting = GOVERNED_BY[first.kind]
        used = rules(first)
        value = used.abi_policy.value if setting == "abi_policy" else used.conflict_mode.value
        flag = "--abi-policy" if setting == "abi_policy" else "--mode"
        raise PolicyRefused(
            f"refused ({setting} {value}): {first.message}{more}",
            refused,
            hint=f"nothing was changed; see `forge inspect {first.subject} --env {first.env}`;"
            f" to allow it, use a laxer mode (`forge env set {first.env} {setting} ...`"
            + (f", or {flag} for one command)" if first.env == env_name else ")"),
        )
    from . import enforce

    verdict = ChangeVerdict(
        tuple(f for f in new if rules(f).verdict(f) is Verdict.WARN),
        tuple(f for f in new if rules(f).verdict(f) is Verdict.IGNORE),
    )
    enforce.note(verdict.warned)
    return verdict


def new_findings(before: Iterable[Finding], after: Iterable[Finding]) -> list[Finding]:
    """The findings of ``after`` that ``before`` did not have."""
    old = {f.key for f in before}
    return [f for f in after if f.key not in old]


def descendants(store: Store, env: EnvInfo) -> list[EnvInfo]:
    """Every env stacked on ``env`` (children, their children, ...), nearest first."""
    out: list[EnvInfo] = []
    todo = list(store.children(env.name))
    while todo:
        kid = todo.pop(0)
        out.append(kid)
        todo.extend(store.children(kid.name))
    return out


def check_change(
    store: Store, env: EnvInfo, new_local: Sequence[tuple[str, bool]], policy: Policy
) -> ChangeVerdict:
    """Judge the findings that giving ``env`` the LOCAL layer ``new_local`` would create, in its own
    stack and in the stack of every env stacked on it; raises :class:`PolicyRefused`."""
    from . import stack

    override = {env.name: list(new_local)}
    before: list[Finding] = []
    after: list[Finding] = []
    per_env: dict[str, Policy] = {}
    for e in [env, *descendants(store, env)]:
        ctx = CheckContext(store, e)
        before += findings(stack.build(store, e), ctx)
        after += findings(stack.build(store, e, local_rows=override), ctx)
        if e.name != env.name:
            # a child's own settings protect it from a parent's change when they are stricter;
            # its overrides are its own choice (shadowing there is shown, never refused)
            per_env[e.name] = policy.stricter(policy_for(store, e, explicit_local=True))
    return judge(new_findings(before, after), policy, env.name, per_env)

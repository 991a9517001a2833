"""``forge doctor [--verify] [--fix [--dry-run]]``: find and repair catalog/store/env drift.

Exit codes: 0 when no finding remains (none found, or ``--fix`` repaired all), 11
(``ExitCode.UNHEALTHY``) when findings remain, the usual error codes (a lock timeout: 9) otherwise.
The layer-policy findings of every env's stack are listed in their own ``layers`` section (text
and ``--json``): they are the env's modes at work, not damage, so they never change the exit code
and ``--fix`` leaves them alone; ``forge --enforce doctor`` exits with their ``--enforce`` code
(docs/enforcement.md).
Without ``--fix`` (and with ``--fix --dry-run``) nothing is written, not even a lock file: a
read-only ``FORGE_HOME`` can be diagnosed. ``--json`` prints one ``doctor`` document.

Imports nothing heavy until the command runs (``forge --help`` stays fast).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forge_store.doctor import Diagnosis, Finding, LayerFinding
    from forge_store.repair import FixResult


def add_parser(sub: argparse._SubParsersAction[Any], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the store, the catalog and the envs; --fix repairs",
        epilog="exit status: 0 when no finding remains, 11 when some do (layer-policy findings"
        " never count, unless forge --enforce doctor: then 30-35)",
    )
    p.add_argument("--verify", action="store_true", help="also re-hash every store file against RECORD")
    p.add_argument("--fix", action="store_true", help="apply the safe repairs")
    p.add_argument("--dry-run", action="store_true", help="with --fix: show the plan, change nothing")


def _finding_line(f: Finding) -> str:
    tag = "fixable" if f.fixable else "manual"
    return f"{f.severity.value:<7}  {f.kind.value:<19}  {f.message}  [{tag}]"


_VERDICT_WORD = {"ignore": "note", "warn": "warning", "refuse": "conflict"}


def _layer_line(f: LayerFinding) -> str:
    word = _VERDICT_WORD[f.verdict.name.lower()]
    return f"{word:<8} {f.finding.kind.value:<19}  {f.finding.env}: {f.finding.message}"


def _print_layers(diag: Diagnosis, quiet: int) -> None:
    """The ``layers`` section: every env's stack findings, with the verdict of its modes."""
    for env, why in diag.layers_unchecked:
        print(f"layers: env {env!r} not checked: {why}")
    if not diag.layers:
        if not quiet and not diag.layers_unchecked:
            print("layers: no findings in any env's stack")
        return
    envs = len({f.finding.env for f in diag.layers})
    print(f"layers: {len(diag.layers)} finding(s) in {envs} env(s)' stacks (policy, not damage)")
    for f in diag.layers:
        print(f"  {_layer_line(f)}")
        for step in f.finding.chain:
            print(f"      {step}")


def _summary_line(diag: Diagnosis) -> str:
    return (
        f"scanned {diag.metadata_rows_scanned} catalog rows, {diag.envs_scanned} envs,"
        f" {diag.symlinks_scanned} links, {diag.entries_verified} entries verified"
        f" ({diag.files_hashed} files hashed)"
    )


def _json(result: FixResult | None, diag: Diagnosis, *, fixing: bool, dry_run: bool) -> dict[str, object]:
    remaining = result.remaining if result is not None else diag.findings
    doc: dict[str, object] = {
        "healthy": not remaining,
        "summary": diag.summary(),
        "findings": [f.to_dict() for f in diag.findings],
        "layers": {
            "envs": sorted({f.finding.env for f in diag.layers}),
            "findings": [f.to_dict() for f in diag.layers],
            "unchecked": [{"env": env, "reason": why} for env, why in diag.layers_unchecked],
        },
    }
    if fixing and result is not None:
        outcomes = result.outcomes
        doc["fix"] = {
            "dry_run": dry_run,
            "planned": len(result.planned),
            "applied": sum(1 for o in outcomes if o.applied),
            "failed": sum(1 for o in outcomes if not o.applied),
            "repairs": [o.to_dict() for o in outcomes] if outcomes else [r.to_dict() for r in result.planned],
            "fixed_issues": [f.to_dict() for f in result.fixed],
            "remaining": [f.to_dict() for f in remaining],
        }
        if result.after is not None:
            doc["summary_after"] = result.after.summary()
    return doc


def cmd_doctor(args: argparse.Namespace) -> int:
    from forge_store.doctor import diagnose
    from forge_store.errors import ExitCode, HomeNotWritable, UsageError
    from forge_store.home import default_home
    from forge_store.repair import fix
    from forge_store.store import Store

    from .common import emit_json
    from .enforce import enforcing_now, note_judged

    if args.dry_run and not args.fix:
        raise UsageError("--dry-run needs --fix", hint="forge doctor --fix --dry-run shows the repair plan")
    writes = args.fix and not args.dry_run
    result: FixResult | None = None
    home = default_home()
    if writes and home.exists() and not os.access(home, os.W_OK):
        raise HomeNotWritable(
            f"{home} is not writable: nothing can be repaired",
            hint="run `forge doctor` (or --fix --dry-run) to see the findings, or --fix as its owner",
        )
    with Store(home, read_only=not writes) as store:
        if args.fix:
            result = fix(store, verify=args.verify, dry_run=args.dry_run)
            diag = result.before
        else:
            diag = diagnose(store, verify=args.verify)
    remaining = result.remaining if result is not None else diag.findings
    code = int(ExitCode.UNHEALTHY) if remaining else 0
    note_judged((f.finding, f.verdict) for f in diag.layers)
    if diag.layers_unchecked and enforcing_now():
        code = int(ExitCode.ERROR)  # enforcement cannot vouch for a stack it could not read
    if args.json:
        emit_json("doctor", _json(result, diag, fixing=args.fix, dry_run=args.dry_run))
        return code
    quiet = args.quiet
    if not quiet:
        print(f"forge doctor: {_summary_line(diag)}")
    for f in diag.findings:
        print(_finding_line(f))
    _print_layers(diag, quiet)
    if result is not None and args.dry_run:
        for r in result.planned:
            print(f"would {r.action.value}: {r.detail}" + (f" (then: {r.hint})" if r.hint else ""))
        print(f"plan: {len(result.planned)} repair(s); nothing was changed (--dry-run)")
    elif result is not None:
        for o in result.outcomes:
            if o.applied:
                print(f"fixed ({o.repair.action.value}): {o.repair.detail}")
                if o.repair.hint:
                    print(f"  to do: {o.repair.hint}")
            else:
                print(f"failed ({o.repair.action.value}): {o.repair.detail}: {o.error}", file=sys.stderr)
        applied = sum(1 for o in result.outcomes if o.applied)
        print(f"applied {applied} of {len(result.planned)} repair(s); {len(result.fixed)} finding(s) fixed")
        for f in result.remaining:
            print(f"remaining: {_finding_line(f)}")
    if not remaining:
        if not quiet:
            policy = " (the layer findings above are the envs' modes at work)" if diag.layers else ""
            print(f"healthy: no findings{policy}")
    elif result is None:
        fixable = sum(1 for f in diag.findings if f.fixable)
        print(
            f"{len(diag.findings)} finding(s), {fixable} fixable: `forge doctor --fix`"
            " (`--fix --dry-run` shows the plan)"
        )
    return code

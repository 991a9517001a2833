"""``install``, ``uninstall``, ``download`` and ``wheel``: options in, pip-like lines out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from forge_pip.cli.policy_args import overrides
from forge_pip.cli.progress import DownloadProgress
from forge_pip.cli.target import open_target
from forge_pip.install import NullInstallReporter
from forge_pip.plan import Action, Plan, PlanItem

if TYPE_CHECKING:
    from forge_pip.cli.pip_output import Origin
    from forge_pip.install import InstallOptions
    from forge_pip.models import DistFile
    from forge_pip.reqfile import ReqLine
    from forge_pip.resolve import Resolution
    from forge_pip.sources import LocalDist
    from forge_store.models import EnvInfo, InstallReport, Interpreter, StoredWheel
    from forge_store.policy import Finding
    from forge_store.store import Store


class CliReporter(NullInstallReporter):
    """Prints pip's progress lines on stdout (``-q`` silences them) and warnings on stderr.

    With the user's requirement lines (``roots``), ``Collecting`` / ``Requirement already
    satisfied`` lines name the requirement and where it came from as pip does.
    """

    def __init__(
        self,
        quiet: int,
        site: Path | None = None,
        *,
        dry_run: bool = False,
        stream: TextIO | None = None,
        roots: Sequence[ReqLine] = (),
        force_reinstall: bool = False,
    ) -> None:
        self.quiet = quiet
        self.force_reinstall = force_reinstall
        self.site = site
        self.dry_run = dry_run
        self.roots = tuple(roots)
        self.origins: dict[str, Origin] = {}
        self.resolution: Resolution | None = None
        self.display: dict[str, str] = {}
        """Canonical name -> metadata Name, once the dists are in the env."""
        self.built: list[str] = []
        err = stream or sys.stderr
        self.progress = DownloadProgress(err) if quiet <= 0 and err.isatty() else None

    def on_download_start(self, file: DistFile, total: int | None) -> None:
        if self.progress is not None:
            self.progress.start(file.filename, total)

    def on_download_progress(self, file: DistFile, done: int) -> None:
        if self.progress is not None:
            self.progress.advance(file.filename, done)

    def on_download_done(self, file: DistFile, path: Path) -> None:
        if self.progress is not None:
            self.progress.finish(file.filename)

    def out(self, line: str) -> None:
        if self.quiet <= 0:
            print(line, flush=True)

    def name(self, canonical: str) -> str:
        """The name pip prints for a dist: as the requirement that brought it in spells it."""
        origin = self.origins.get(canonical)
        if origin is not None and origin.written:
            return origin.written
        return self.display.get(canonical, canonical)  # a path or URL: the metadata's Name

    def installed_satisfies(self, origin: Origin, version: str) -> bool:
        """Whether the installed ``version`` meets the requirement (pip then logs it as satisfied)."""
        from packaging.requirements import InvalidRequirement, Requirement

        if self.force_reinstall:
            return False
        try:
            return Requirement(origin.text).specifier.contains(version, prereleases=True)
        except (InvalidRequirement, ValueError):
            return False

    def on_resolved(self, resolution: Resolution) -> None:
        from forge_pip.cli.pip_output import origins

        self.resolution = resolution
        self.origins = origins(resolution, self.roots)

    def on_plan(self, plan: Plan) -> None:
        by_name = {i.name: i for i in plan.items}
        order = [n for n in self.origins if n in by_name]
        order += [n for n in by_name if n not in self.origins]
        for name in order:
            self._item(by_name[name])

    def _item(self, item: PlanItem) -> None:
        from forge_pip.cli.pip_output import Origin

        origin = self.origins.get(item.name) or Origin(item.name, None, "")
        if item.replaces is not None and self.installed_satisfies(origin, item.replaces):
            # pip's resolver prepares the installed dist as a candidate first, and says so
            where = f" in {self.site}" if self.site is not None else ""
            self.out(
                f"Requirement already satisfied: {origin.text}{where}{origin.suffix()} ({item.replaces})"
            )
        if item.action is Action.SATISFIED:
            where = f" in {self.site}" if self.site is not None else ""
            self.out(f"Requirement already satisfied: {origin.text}{where}{origin.suffix()} ({item.version})")
        elif item.action is Action.FROM_LAYER:
            layer = item.layer or ""
            words = (
                f"parent layer {layer.split(':', 1)[1]!r}" if layer.startswith("parent:") else "global layer"
            )
            where = f"in the {words}{origin.suffix()}"
            self.out(f"Requirement already satisfied: {origin.text} {where} ({item.version})")
        elif item.action is Action.LINK:
            self.out(f"Collecting {origin.text}{origin.suffix()}")
            self.out(f"  Using {item.name}-{item.version} from the Forge store (no download)")
        elif item.action in (Action.DOWNLOAD, Action.BUILD):
            assert item.file is not None
            if item.file.url.startswith("file:"):  # pip: a local file is "Processing PATH", no Collecting
                from forge_pip.index.urls import file_url_to_path

                self.out(f"Processing {file_url_to_path(item.file.url)}")
            elif "+" in item.file.url.split(":", 1)[0]:  # git+URL: built (or cached) by commit
                self.out(f"Collecting {origin.text}{origin.suffix()}")
                self.out(f"  Using {item.file.filename}, built from {item.file.url}")
            else:
                from forge_pip.index.urls import redact_url

                self.out(f"Collecting {origin.text}{origin.suffix()}")
                self.out(f"  Downloading {redact_url(item.file.url)}")

    def on_warning(self, message: str) -> None:
        if self.quiet <= 1:
            print(f"WARNING: {message}", file=sys.stderr)

    def on_fetched(self, item: object, path: Path) -> None:
        pass

    def on_built(self, item: object, wheel: Path, cached: bool) -> None:
        assert isinstance(item, PlanItem)
        if cached:
            self.out(f"  Using cached wheel for {item.name}: {wheel.name}")
        else:
            self.built.append(self.name(item.name))
            self.out(f"  Created wheel for {item.name}: filename={wheel.name}")

    def on_ingested(self, item: object, entry: StoredWheel) -> None:
        pass


def _options(
    ns: argparse.Namespace, env_prefix: Path | None, interpreter: Interpreter | None = None, **extra: object
) -> object:
    from forge_pip.cli.pip_options import load_config, merge
    from forge_pip.cli.pip_sources import install_fields, requirement_lines
    from forge_pip.install import InstallOptions

    config = load_config(ns, env_prefix)
    merged = merge(ns, config)
    requirements = merged.requirements
    standards = merged.standards
    if standards is not None and (standards.groups or standards.scripts):
        from forge_pip.sources import target_python
        from forge_store import interpreters

        target = target_python(interpreter or interpreters.current())
        requirements = (*requirements, *requirement_lines(standards, target))
    if not requirements and not (standards is not None and standards.lock_files):
        from forge_store.errors import UsageError

        raise UsageError(
            f'You must give at least one requirement to {ns.command} (see "pip help {ns.command}")'
        )
    upgrade_strategy = getattr(ns, "upgrade_strategy", None) or config.get_str("upgrade-strategy")
    return InstallOptions(
        requirements=requirements,
        constraints=merged.constraints,
        index=merged.index,
        pre=merged.pre,
        prefer_binary=merged.prefer_binary,
        only_binary=merged.only_binary,
        no_binary=merged.no_binary,
        require_hashes=merged.require_hashes,
        no_deps=merged.no_deps,
        build_isolation=merged.build_isolation,
        dry_run=bool(ns.dry_run),
        upgrade_strategy=upgrade_strategy or "only-if-needed",
        **install_fields(standards),  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def _write_report(path: str, data: dict[str, object]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def _ignored_by_markers(options: InstallOptions, markers: dict[str, str]) -> list[str]:
    """pip's ``Ignoring x: markers '...' don't match your environment`` for the user's requirements."""
    from packaging.requirements import InvalidRequirement, Requirement

    from forge_pip.reqfile import ReqKind

    lines = []
    for line in options.requirements:
        if line.requirement is None or line.kind is not ReqKind.NAMED:
            continue
        try:
            req = Requirement(line.requirement)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
            lines.append(f"Ignoring {req.name}: markers '{req.marker}' don't match your environment")
    return lines


def cmd_install(ns: argparse.Namespace) -> int:
    """``pip install``; ``ns.reuse_report`` (set by ``forge install``) prints the reuse report's
    lines without ``-v``."""
    from forge_pip.cli.pip_output import install_order, looking_in, would_install
    from forge_pip.install import InstallOptions, install, installation_report
    from forge_store.errors import UsageError
    from forge_store.readonly import refuse_changes
    from forge_store.store import Store

    if ns.user:
        raise UsageError(
            "Can not perform a '--user' install. User site-packages are not visible in this virtualenv."
        )
    if ns.target or ns.prefix or ns.root:
        return _tree_install(ns)
    with Store() as store:
        env = open_target(ns, store)
        refuse_changes(env)
        upgrade = bool(ns.upgrade)
        mode, abi = overrides(ns)
        options = _options(
            ns,
            env.path,
            env.interpreter,
            upgrade=upgrade,
            force_reinstall=bool(ns.force_reinstall or ns.ignore_installed),
            local=bool(ns.local),
            conflict_mode=mode,
            abi_policy=abi,
        )
        assert isinstance(options, InstallOptions)
        quiet = ns.quiet + (1 if ns.report == "-" else 0)
        reporter = CliReporter(
            quiet,
            env.site_packages,
            dry_run=options.dry_run,
            roots=options.requirements,
            force_reinstall=options.force_reinstall,
        )
        for line in looking_in(options.index):
            reporter.out(line)
        for line in _ignored_by_markers(options, env.interpreter.marker_env()):
            reporter.out(line)
        result = install(store, env, options, reporter=reporter)
        if ns.report:
            _write_report(ns.report, installation_report(result))
        plan = result.plan
        if options.dry_run:
            if ns.verbose:
                for line in plan.render():
                    reporter.out(line)
            if plan.installs:
                reporter.out(would_install(plan, {n: reporter.name(n) for n in reporter.origins}))
            return 0
        if result.report is None:
            return 0
        layer_findings = result.report.findings
        layer_lines = {f.message for f in layer_findings}
        for warning in result.report.warnings:
            if warning not in layer_lines:
                reporter.on_warning(warning)
        for a in result.report.actions:
            if a.action == "repaired":
                reporter.out(f"Repaired {a.name}-{a.version}: its files were missing in the env (relinked)")
        if not plan.installs:
            for line in layer_warnings(layer_findings, env.name, []):
                reporter.on_warning(line)
            return 0
        if result.report.fallback:
            reporter.on_warning(f"link mode fell back: {result.report.fallback}")
        if reporter.built:
            reporter.out("Successfully built " + " ".join(reporter.built))
        by_name = {i.name: i for i in plan.installs}
        order = install_order(result.resolution.graph, by_name)
        order += [n for n in by_name if n not in order]
        from forge_pip.sources import local_dists

        local = local_dists(store, env)  # as the install left it: for the names and pip's conflict lines
        display = {name: d.display_name for name, d in local.items()}
        reporter.display = display
        reporter.out("Installing collected packages: " + ", ".join(reporter.name(n) for n in order))
        for name in order:
            item = by_name[name]
            if item.replaces is None or ns.ignore_installed:  # -I: pip overwrites, never uninstalls
                continue
            shown = display.get(name, reporter.name(name))
            reporter.out(f"  Attempting uninstall: {reporter.name(name)}")
            reporter.out(f"    Found existing installation: {shown} {item.replaces}")
            reporter.out(f"    Uninstalling {shown}-{item.replaces}:")
            reporter.out(f"      Successfully uninstalled {shown}-{item.replaces}")
        done = sorted(f"{reporter.name(n)}-{by_name[n].version}" for n in order)
        reporter.out("Successfully installed " + " ".join(done))
        # Forge's one extra line: what the store saved (pip's lines above are unchanged)
        reused = sum(1 for a in result.report.actions if a.reused_entry and a.action != "from-parent")
        layered = [i for i in plan.items if i.action is Action.FROM_LAYER]
        notes = [f"{len(order)} linked ({reused} reused from the store, {len(order) - reused} new)"]
        if layered:
            notes.append(f"{len(layered)} satisfied by parent layers")
        if ns.verbose:
            notes.append(f"link mode {result.report.link_mode.value}")
        reporter.out("Forge: " + "; ".join(notes))
        if ns.verbose or getattr(ns, "reuse_report", False):  # the reuse report, a line per dist
            for line in reuse_lines(result.report):
                reporter.out(line)
        pip_lines: list[str] = []
        if not (ns.no_warn_conflicts or options.no_deps):
            pip_lines = _conflicts(store, env, list(by_name), local)
            for line in pip_lines:
                print(line, file=sys.stderr)
        # Forge's layer-aware lines, except the breaks pip's own lines just named
        for line in layer_warnings(layer_findings, env.name, pip_lines):
            reporter.on_warning(line)
        return 0


def _tree_install(ns: argparse.Namespace) -> int:
    """``--target`` / ``--prefix`` / ``--root``: resolve as pip does there (installed dists
    ignored), build what needs building, and copy the wheels into the tree (``forge_pip.tree``)."""
    import shutil
    import tempfile

    from forge_pip.cli.pip_output import install_order, looking_in
    from forge_pip.install import InstallOptions, fetch
    from forge_pip.tree import install_scheme, install_target, prefix_scheme, root_scheme
    from forge_store import interpreters
    from forge_store.errors import UsageError
    from forge_store.store import Store

    if sum(bool(x) for x in (ns.target, ns.prefix, ns.root)) > 1 and ns.target:
        raise UsageError("Can not combine '--target' with '--prefix' or '--root'")
    with Store() as store:
        interp = interpreters.current()
        python, base = sys.executable, Path(sys.prefix)
        if ns.python is not None or ns.env is not None:
            env = open_target(ns, store)
            interp, python, base = env.interpreter, str(env.python), env.path
        options = _options(ns, None)
        assert isinstance(options, InstallOptions)
        reporter = CliReporter(ns.quiet, dry_run=options.dry_run, roots=options.requirements)
        for line in looking_in(options.index):
            reporter.out(line)
        store.home.ensure()
        scratch = Path(tempfile.mkdtemp(prefix="forge-tree-", dir=store.home.tmp))
        try:
            plan, wheels = fetch(store, interp, options, scratch, build_wheels=True, reporter=reporter)
            if options.dry_run:
                from forge_pip.cli.pip_output import would_install

                if plan.installs:
                    reporter.out(would_install(plan, {n: reporter.name(n) for n in reporter.origins}))
                return 0
            if reporter.built:
                reporter.out("Successfully built " + " ".join(reporter.built))
            names = [i.name for i in plan.installs]
            graph = reporter.resolution.graph if reporter.resolution is not None else {}
            order = install_order(graph, names)
            order += [n for n in names if n not in order]
            by_name = dict(zip(names, wheels, strict=True))
            reporter.out("Installing collected packages: " + ", ".join(reporter.name(n) for n in order))
            ordered = [by_name[n] for n in order]
            if ns.target:
                report = install_target(
                    ordered,
                    Path(ns.target).absolute(),
                    python=interp.short_version,
                    interpreter=python,
                    upgrade=ns.upgrade,
                )
            elif ns.prefix:
                scheme = prefix_scheme(Path(ns.prefix), interp.short_version)
                report = install_scheme(ordered, scheme, interpreter=python)
            else:
                scheme = root_scheme(Path(ns.root), base, interp.short_version)
                report = install_scheme(ordered, scheme, interpreter=python)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    done = sorted(
        f"{reporter.name(n)}-{v}" for n, v in zip(order, (i[1] for i in report.installed), strict=True)
    )
    reporter.out("Successfully installed " + " ".join(done))
    for kept in report.kept:
        reporter.on_warning(
            f"Target directory {kept} already exists. Specify --upgrade to force replacement."
        )
    where = ns.target or ns.prefix or ns.root
    reporter.out(
        f"Forge: {len(report.installed)} copied into {where} (link mode {report.mode}: not a Forge env)"
    )
    return 0


def reuse_lines(report: InstallReport) -> list[str]:
    """``Forge: linked attrs 25.1 (store: reused, abi_compatible)``, one per dist linked."""
    out: list[str] = []
    for a in report.actions:
        if a.action not in ("linked", "replaced"):
            continue
        how = f"reused, {a.reuse_kind.value}" if a.reused_entry else "new"
        out.append(f"Forge: {a.action} {a.name} {a.version} (store: {how})")
    return out


def layer_warnings(found: Sequence[Finding], env_name: str, pip_lines: Sequence[str]) -> list[str]:
    """The warned layer findings the pip front end prints (``WARNING: ...``, pip's style), without
    the requirement breaks of ``env_name`` that pip's own conflict lines (``pip_lines``, of
    :func:`~forge_pip.cli.pip_output.conflict_lines`) already named: the same break is never
    printed twice. Shadowing, breaks in other envs (descendants) and the other kinds are Forge's
    alone."""
    from forge_pip.cli.pip_output import conflict_pairs
    from forge_store.policy import Kind

    named = conflict_pairs(pip_lines)
    out: list[str] = []
    for f in found:
        pair = (f.subject, f.packages[1] if len(f.packages) > 1 else "")
        if f.kind is Kind.BROKEN_REQUIREMENT and f.env == env_name and pair in named:
            continue
        out.append(f.message)
    return out


def _conflicts(
    store: Store, env: EnvInfo, changed: Sequence[str], local: Mapping[str, LocalDist]
) -> list[str]:
    """pip's post-install dependency warning for what the install just changed; ``local``: the
    env's own dists as they are now."""
    from forge_pip.cli.pip_inspect import applicable, seen_dists
    from forge_pip.cli.pip_output import conflict_lines

    markers = env.interpreter.marker_env()
    dists = {
        d.name: (d.display, d.version, applicable(d.metadata(), markers))
        for d in seen_dists(store, env, local=local)
    }
    return conflict_lines(dists, changed)


def _ask(prompt: str, options: Sequence[str], *, no_input: bool) -> str:
    """pip's ``ask``: ``input()`` until the answer is one of ``options``; end of input is an error."""
    from forge_store.errors import AnswerUnavailable

    while True:
        if no_input:
            raise AnswerUnavailable(f"No input was expected ($PIP_NO_INPUT set); question: {prompt}")
        try:
            answer = input(prompt).strip().lower()
        except EOFError:
            print(flush=True)
            raise AnswerUnavailable(
                "EOF when reading a line: no answer to " + repr(prompt.strip()), hint="pass -y to answer yes"
            ) from None
        if answer in options:
            return answer
        print(f"Your response ({answer!r}) was not one of the expected responses: {', '.join(options)}")


def _would_remove(dist: LocalDist | None) -> list[str]:
    """pip's "Would remove:" list: each top-level directory of the dist as ``DIR/*``, files as they are."""
    import csv

    if dist is None:
        return []
    site = dist.dist_info.parent
    try:
        rows = list(csv.reader((dist.dist_info / "RECORD").read_text(encoding="utf-8").splitlines()))
    except OSError:
        rows = []
    tops = {row[0].split("/", 1)[0] for row in rows if row and row[0] and not row[0].startswith("..")}
    tops.add(dist.dist_info.name)
    return sorted(f"{site / top}/*" if (site / top).is_dir() else str(site / top) for top in tops)


def cmd_uninstall(ns: argparse.Namespace) -> int:
    """pip's sequence per package: ``Found existing installation``, ``Uninstalling x:``, the
    ``Proceed (Y/n)?`` question (unless ``-y``), ``Successfully uninstalled x``; each package is
    removed on its own (all or nothing), as pip removes them one after the other."""
    import os

    from forge_pip.install import uninstall
    from forge_pip.reqfile import ReqKind, parse_requirements
    from forge_pip.sources import local_dists
    from forge_store.errors import UsageError
    from forge_store.readonly import refuse_changes
    from forge_store.store import Store

    names = list(ns.names)
    for path in ns.requirement_files:
        lines, _fo = parse_requirements(path, environ=os.environ)
        for line in lines:
            if line.requirement and line.kind is ReqKind.NAMED:
                from packaging.requirements import Requirement

                names.append(Requirement(line.requirement).name)
    if not names:
        raise UsageError('You must give at least one requirement to uninstall (see "pip help uninstall")')
    no_input = bool(ns.no_input or os.environ.get("PIP_NO_INPUT"))
    with Store() as store:
        env = open_target(ns, store)
        refuse_changes(env)
        preview = uninstall(store, env, names, dry_run=True)
        for name in preview.skipped:
            print(f"WARNING: Skipping {name} as it is not installed.", file=sys.stderr)
        out = CliReporter(ns.quiet).out
        local = local_dists(store, env)
        display = {name: d.display_name for name, d in local.items()}
        for item in preview.plan.items:
            shown = display.get(item.name, item.name)
            out(f"Found existing installation: {shown} {item.version}")
            out(f"Uninstalling {shown}-{item.version}:")
            if not ns.yes:
                if ns.quiet <= 0:
                    print("  Would remove:")
                    for path in _would_remove(local.get(item.name)):
                        print(f"    {path}")
                if _ask("Proceed (Y/n)? ", ("y", "n", ""), no_input=no_input) == "n":
                    continue
            mode, abi = overrides(ns)
            done = uninstall(store, env, [item.name], conflict_mode=mode, abi_policy=abi)
            out(f"  Successfully uninstalled {shown}-{item.version}")
            if done.report is not None:  # pip checks nothing here: Forge's lines are all there is
                for note in layer_warnings(done.report.findings, env.name, []):
                    print(f"WARNING: {note}", file=sys.stderr)
        return 0


def _fetch(ns: argparse.Namespace, dest: Path, build_wheels: bool) -> int:
    from forge_pip.cli.pip_output import looking_in
    from forge_pip.cli.pip_platform import check_restriction, custom_target
    from forge_pip.install import InstallOptions, fetch
    from forge_store import interpreters
    from forge_store.store import Store

    with Store() as store:
        interp: Interpreter
        prefix: Path | None = None
        env: EnvInfo | None = None
        if ns.python is not None or ns.env is not None:
            env = open_target(ns, store)
            interp, prefix = env.interpreter, env.path
        else:
            interp = interpreters.current()
        options = _options(ns, prefix, interp)
        assert isinstance(options, InstallOptions)
        target = None
        if not build_wheels:
            check_restriction(ns, options.only_binary, options.no_binary)
            target = custom_target(ns, interp)
        reporter = CliReporter(ns.quiet, dry_run=bool(ns.dry_run), roots=options.requirements)
        for line in looking_in(options.index):
            reporter.out(line)
        plan, saved = fetch(
            store, interp, options, dest, build_wheels=build_wheels, reporter=reporter, target=target, env=env
        )
        if options.dry_run:
            from forge_pip.cli.pip_output import would_install

            if plan.installs:
                reporter.out(would_install(plan, {n: reporter.name(n) for n in reporter.origins}))
            return 0
        built = {i.name for i in plan.installs if i.file is not None and not i.file.is_wheel}
        for item, path in zip(plan.installs, saved, strict=False):
            if not (build_wheels and item.name in built):
                reporter.out(f"Saved {_display_path(path)}")
        if build_wheels:
            if reporter.built:
                reporter.out("Successfully built " + " ".join(reporter.built))
        else:
            order = [n for n in reporter.origins if any(i.name == n for i in plan.installs)]
            reporter.out("Successfully downloaded " + " ".join(reporter.name(n) for n in order))
        return 0


def _display_path(path: Path) -> str:
    """pip's ``display_path``: ``./x`` for a path under the working directory, else the path."""
    import os

    text = os.path.abspath(path)
    cwd = os.getcwd()
    return "." + text[len(cwd) :] if text.startswith(cwd + os.sep) else text


def cmd_download(ns: argparse.Namespace) -> int:
    return _fetch(ns, Path(ns.dest), build_wheels=False)


def cmd_wheel(ns: argparse.Namespace) -> int:
    return _fetch(ns, Path(ns.wheel_dir), build_wheels=True)

"""``install``, ``uninstall``, ``download`` and ``wheel``: options in, pip-like lines out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from forge_pip.cli.progress import DownloadProgress
from forge_pip.cli.target import open_target
from forge_pip.install import NullInstallReporter
from forge_pip.plan import Action, Plan, PlanItem

if TYPE_CHECKING:
    from forge_pip.models import DistFile
    from forge_store.models import EnvInfo, Interpreter, StoredWheel


class CliReporter(NullInstallReporter):
    """Prints pip's progress lines on stdout (``-q`` silences them) and warnings on stderr."""

    def __init__(
        self, quiet: int, site: Path | None = None, *, dry_run: bool = False, stream: TextIO | None = None
    ) -> None:
        self.quiet = quiet
        self.site = site
        self.dry_run = dry_run
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

    def on_plan(self, plan: Plan) -> None:
        if self.dry_run:  # the command prints the plan itself
            return
        for item in plan.items:
            self._item(item)

    def _item(self, item: PlanItem) -> None:
        if item.action is Action.SATISFIED:
            where = f" in {self.site}" if self.site is not None else ""
            self.out(f"Requirement already satisfied: {item.name}{where} ({item.version})")
        elif item.action is Action.FROM_LAYER:
            layer = item.layer or ""
            words = (
                f"parent layer {layer.split(':', 1)[1]!r}" if layer.startswith("parent:") else "global layer"
            )
            self.out(f"Requirement already satisfied: {item.name} in the {words} ({item.version})")
        elif item.action is Action.LINK:
            self.out(f"Collecting {item.name}=={item.version}")
            self.out(f"  Using {item.name}-{item.version} from the Forge store (no download)")
        elif item.action in (Action.DOWNLOAD, Action.BUILD):
            assert item.file is not None
            self.out(f"Collecting {item.name}=={item.version}")
            if item.file.url.startswith("file:"):
                from forge_pip.index.urls import file_url_to_path

                self.out(f"  Processing {file_url_to_path(item.file.url)}")
            elif "+" in item.file.url.split(":", 1)[0]:  # git+URL: built (or cached) by commit
                self.out(f"  Using {item.file.filename}, built from {item.file.url}")
            else:
                self.out(f"  Downloading {item.file.filename}")

    def on_warning(self, message: str) -> None:
        if self.quiet <= 1:
            print(f"WARNING: {message}", file=sys.stderr)

    def on_fetched(self, item: object, path: Path) -> None:
        pass

    def on_built(self, item: object, wheel: Path, cached: bool) -> None:
        assert isinstance(item, PlanItem)
        how = "Using cached wheel" if cached else "Built wheel"
        self.out(f"{how} for {item.name}: {wheel.name}")

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
            "You must give at least one requirement to " + ns.command,
            hint=f'see "forge_pip {ns.command} --help"',
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


def cmd_install(ns: argparse.Namespace) -> int:
    from forge_pip.install import InstallOptions, install, installation_report
    from forge_store.store import Store

    with Store() as store:
        env = open_target(ns, store)
        upgrade = bool(ns.upgrade)
        options = _options(
            ns,
            env.path,
            env.interpreter,
            upgrade=upgrade,
            force_reinstall=bool(ns.force_reinstall or ns.ignore_installed),
            local=bool(ns.local),
        )
        assert isinstance(options, InstallOptions)
        quiet = ns.quiet + (1 if ns.report == "-" else 0)
        reporter = CliReporter(quiet, env.site_packages, dry_run=options.dry_run)
        result = install(store, env, options, reporter=reporter)
        if ns.report:
            _write_report(ns.report, installation_report(result))
        plan = result.plan
        if options.dry_run:
            for line in plan.render():
                reporter.out(line)
            return 0
        if result.report is None:
            return 0
        for warning in result.report.warnings:
            reporter.on_warning(warning)
        for a in result.report.actions:
            if a.action == "repaired":
                reporter.out(f"Repaired {a.name}-{a.version}: its files were missing in the env (relinked)")
        installs = plan.installs
        if not installs:
            return 0
        reporter.out("Installing collected packages: " + ", ".join(i.name for i in installs))
        reused = sum(1 for a in result.report.actions if a.reused_entry and a.action != "from-parent")
        layered = [i for i in plan.items if i.action is Action.FROM_LAYER]
        reporter.out("Successfully installed " + " ".join(f"{i.name}-{i.version}" for i in installs))
        notes = [f"{len(installs)} linked ({reused} reused from the store, {len(installs) - reused} new)"]
        if layered:
            notes.append(f"{len(layered)} satisfied by parent layers")
        if result.report.fallback:
            notes.append(f"link mode fell back: {result.report.fallback}")
        reporter.out("Forge: " + "; ".join(notes))
        return 0


def _confirm(items: Sequence[PlanItem]) -> bool:
    if not sys.stdin.isatty():
        return True
    answer = input("Proceed (Y/n)? ").strip().lower()
    return answer in ("", "y", "yes")


def cmd_uninstall(ns: argparse.Namespace) -> int:
    from forge_pip.install import uninstall
    from forge_pip.reqfile import ReqKind, parse_requirements
    from forge_store.errors import UsageError
    from forge_store.store import Store

    names = list(ns.names)
    for path in ns.requirement_files:
        import os

        lines, _fo = parse_requirements(path, environ=os.environ)
        for line in lines:
            if line.requirement and line.kind is ReqKind.NAMED:
                from packaging.requirements import Requirement

                names.append(Requirement(line.requirement).name)
    if not names:
        raise UsageError(
            "You must give at least one requirement to uninstall", hint='see "forge_pip uninstall --help"'
        )
    with Store() as store:
        env = open_target(ns, store)
        preview = uninstall(store, env, names, dry_run=True)
        for name in preview.skipped:
            print(f"WARNING: Skipping {name} as it is not installed.", file=sys.stderr)
        items = list(preview.plan.items)
        if not items:
            return 0
        out = CliReporter(ns.quiet).out
        for item in items:
            out(f"Found existing installation: {item.name} {item.version}")
            out(f"Uninstalling {item.name}-{item.version}:")
        if not ns.yes and not _confirm(items):
            return 1
        result = uninstall(store, env, names)
        for item in result.plan.items:
            out(f"  Successfully uninstalled {item.name}-{item.version}")
        return 0


def _fetch(ns: argparse.Namespace, dest: Path, build_wheels: bool) -> int:
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
        reporter = CliReporter(ns.quiet, dry_run=bool(ns.dry_run))
        plan, saved = fetch(
            store, interp, options, dest, build_wheels=build_wheels, reporter=reporter, env=env
        )
        if options.dry_run:
            for line in plan.render()[1:]:
                reporter.out(line)
            return 0
        for path in saved:
            reporter.out(f"Saved {path}")
        if build_wheels:
            built = [i for i in plan.installs if i.file is not None and not i.file.is_wheel]
            if built:
                reporter.out("Successfully built " + " ".join(i.name for i in built))
        else:
            reporter.out("Successfully downloaded " + " ".join(i.name for i in plan.installs))
        return 0


def cmd_download(ns: argparse.Namespace) -> int:
    return _fetch(ns, Path(ns.dest), build_wheels=False)


def cmd_wheel(ns: argparse.Namespace) -> int:
    return _fetch(ns, Path(ns.wheel_dir), build_wheels=True)

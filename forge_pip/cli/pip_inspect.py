"""``list``, ``freeze``, ``show``, ``check`` and ``cache``: what an env sees, across its layers."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from forge_pip.cli.common import human_size
from forge_store.metaheaders import Fields, HeaderFields, read_headers
from forge_store.records import record

if TYPE_CHECKING:
    import email.message
    from collections.abc import Mapping

    from packaging.requirements import Requirement

    from forge_pip.cli.pip_index import Latest
    from forge_pip.sources import LocalDist
    from forge_store.models import EnvInfo
    from forge_store.store import Store


@record(frozen=True, slots=True)
class SeenDist:
    """One dist the env sees: where its dist-info lives and which layer provides it."""

    name: str  # canonical
    display: str
    version: str
    layer: str  # "local", "unmanaged", "parent:<env>", "global"; "forge": the env's pip front end
    dist_info: Path
    location: Path

    def metadata(self) -> Fields:
        """The header fields (what every command but ``inspect`` reads)."""
        for fname in ("METADATA", "PKG-INFO"):
            fields = read_headers(self.dist_info / fname)  # None: not a readable file
            if fields is not None:
                return fields
        return HeaderFields([])

    def full_metadata(self) -> email.message.Message:
        """The headers and the body (the long description): ``email`` parses it."""
        import email.message
        import email.parser

        text = self._text()
        return email.parser.Parser().parsestr(text) if text is not None else email.message.Message()

    def _text(self) -> str | None:
        for fname in ("METADATA", "PKG-INFO"):
            path = self.dist_info / fname
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace")
        return None

    def direct_url(self) -> dict[str, object] | None:
        try:
            data = json.loads((self.dist_info / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def editable_location(self) -> str | None:
        """The project directory of an editable install (PEP 610 ``dir_info.editable``), else None."""
        from forge_pip.index.urls import file_url_to_path, is_file_url

        data = self.direct_url()
        if data is None:
            return None
        info = data.get("dir_info")
        url = data.get("url")
        if not (isinstance(info, dict) and info.get("editable") and isinstance(url, str)):
            return None
        return str(file_url_to_path(url)) if is_file_url(url) else url


def seen_dists(
    store: Store, env: EnvInfo, *, local_only: bool = False, local: Mapping[str, LocalDist] | None = None
) -> list[SeenDist]:
    """Every dist the env sees, nearest layer first, sorted by name. ``local``: the env's own
    dists (:func:`~forge_pip.sources.local_dists`) when the caller has just read them."""
    from forge_pip.sources import local_dists
    from forge_store.models import Layer

    out: dict[str, SeenDist] = {}
    from forge_store.pip_frontend import front_end_version

    front_end = front_end_version(env.site_packages) is not None
    for d in (local_dists(store, env) if local is None else local).values():
        layer = "local" if d.managed else "forge" if front_end and d.name == "pip" else "unmanaged"
        out[d.name] = SeenDist(d.name, d.display_name, d.version, layer, d.dist_info, env.site_packages)
    if not local_only:
        for linked in store.visible(env.name):
            if linked.layer is Layer.LOCAL or linked.name in out:
                continue
            entry = store.entry(linked.entry_id)
            layer = "global" if linked.layer is Layer.GLOBAL else f"parent:{linked.env}"
            dist_info = entry.site / entry.dist_info
            owner = store.env(linked.env)
            display = _display_name(dist_info, linked.name)
            out[linked.name] = SeenDist(
                linked.name, display, linked.version, layer, dist_info, owner.site_packages
            )
    return [out[k] for k in sorted(out)]


def _display_name(dist_info: Path, default: str) -> str:
    meta = read_headers(dist_info / "METADATA")
    return default if meta is None else str(meta.get("Name") or default)


def _target(ns: argparse.Namespace, store: Store) -> EnvInfo:
    from forge_pip.cli.target import open_target

    return open_target(ns, store)


_FREEZE_SKIP = {"pip", "setuptools", "wheel", "distribute"}


def pip_table(rows: list[list[str]], headers: list[str]) -> str:
    """pip's ``tabulate``: columns padded to their widest cell, one space apart, a dashed rule."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        " ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines
    )


def cmd_list(ns: argparse.Namespace) -> int:
    """pip's ``list``: ``Package``/``Version`` (``Latest``/``Type`` with ``-o``, ``Editable project
    location`` when any is editable); ``--layers`` adds the layer that provides each dist."""
    from packaging.utils import NormalizedName, canonicalize_name
    from packaging.version import InvalidVersion, Version

    from forge_store.store import Store

    if ns.outdated and ns.uptodate:
        from forge_store.errors import UsageError

        raise UsageError("Options --outdated and --uptodate cannot be combined.")
    with Store() as store:
        env = _target(ns, store)
        dists = seen_dists(store, env, local_only=ns.local)
        excluded = {canonicalize_name(e) for e in ns.exclude}
        dists = [d for d in dists if d.name not in excluded]
        if ns.not_required:
            required = _required_names(dists, env)
            dists = [d for d in dists if d.name not in required]
        editable = {d.name: d.editable_location() for d in dists}
        if ns.editable_only:
            dists = [d for d in dists if editable[d.name] is not None]
        elif not ns.include_editable:
            dists = [d for d in dists if editable[d.name] is None]
        latest: dict[str, Latest] = {}
        if ns.outdated or ns.uptodate:
            from forge_pip.cli.pip_index import index_options, latest_versions

            found = latest_versions(index_options(ns, env.path), env.interpreter, dists, pre=bool(ns.pre))
            kept = []
            for d in dists:
                info = found.get(NormalizedName(d.name))
                if info is None:
                    continue
                try:
                    newer = info.version > Version(d.version)
                except InvalidVersion:
                    continue
                if newer == bool(ns.outdated):
                    kept.append(d)
                    latest[d.name] = info
            dists = kept
    any_editable = any(editable[d.name] is not None for d in dists)
    if ns.format == "json":
        items: list[dict[str, object]] = []
        for d in dists:
            item: dict[str, object] = {"name": d.display, "version": d.version}
            if ns.outdated and d.name in latest:
                item["latest_version"] = str(latest[d.name].version)
                item["latest_filetype"] = latest[d.name].kind
            if editable[d.name] is not None:
                item["editable_project_location"] = editable[d.name]
            if ns.layers:
                item["layer"] = d.layer
            items.append(item)
        print(json.dumps(items))
    elif ns.format == "freeze":
        if ns.outdated:
            from forge_store.errors import UsageError

            raise UsageError("List format 'freeze' cannot be used with the --outdated option.")
        for d in dists:
            print(f"{d.display}=={d.version}")
    elif dists:
        headers = ["Package", "Version"]
        if ns.outdated:
            headers += ["Latest", "Type"]
        if any_editable:
            headers.append("Editable project location")
        if ns.layers:
            headers.append("Layer")
        rows = []
        for d in dists:
            row = [d.display, d.version]
            if ns.outdated:
                row += [str(latest[d.name].version), latest[d.name].kind]
            if any_editable:
                row.append(editable[d.name] or "")
            if ns.layers:
                row.append(d.layer)
            rows.append(row)
        print(pip_table(rows, headers))
    return 0


def cmd_freeze(ns: argparse.Namespace) -> int:
    """pip's ``freeze``; with ``-r FILE`` the file's lines first, in its order (pip's rules)."""
    from packaging.utils import canonicalize_name

    from forge_store.store import Store

    with Store() as store:
        env = _target(ns, store)
        dists = seen_dists(store, env, local_only=ns.local)
    excluded = {canonicalize_name(e) for e in ns.exclude}
    shown = [d for d in dists if d.name not in excluded and (ns.all or d.name not in _FREEZE_SKIP)]
    lines = {d.name: _freeze_line(d) for d in shown}
    out: list[str] = []
    done: set[str] = set()
    for path in ns.requirement_files:
        out.extend(_freeze_with_file(Path(path), lines, done))
    if ns.requirement_files and len(done) < len(lines):
        out.append("## The following requirements were added by pip freeze:")
    out.extend(line for name, line in lines.items() if name not in done)
    if out:
        print("\n".join(out))
    return 0


def _freeze_with_file(path: Path, lines: dict[str, str], done: set[str]) -> list[str]:
    """pip's ``freeze -r``: comments and options as they are, each requirement replaced by the
    installed dist's line (a warning on stderr for one that is not installed)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    from forge_store.errors import NotFoundError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFoundError(f"Could not open requirements file: {exc}") from None
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if (
            not line
            or line.startswith("#")
            or (line.startswith("-") and not line.startswith(("-e", "--editable")))
        ):
            out.append(raw)
            continue
        spec = line.split(" #", 1)[0].strip()
        if spec.startswith(("-e", "--editable")):
            spec = spec.split(None, 1)[-1]
            name = spec.rsplit("#egg=", 1)[-1] if "#egg=" in spec else spec
        else:
            try:
                name = Requirement(spec).name
            except InvalidRequirement:
                print(
                    f"WARNING: Skipping line in requirement file [{path}] because it's not clear"
                    f" what it would install: {line}",
                    file=sys.stderr,
                )
                continue
        key = canonicalize_name(name)
        if key in done:
            continue
        if key not in lines:
            print(
                f"WARNING: Requirement file [{path}] contains {line}, but package {name!r} is not installed",
                file=sys.stderr,
            )
            continue
        out.append(lines[key])
        done.add(key)
    return out


def _freeze_line(d: SeenDist) -> str:
    """pip's: ``name @ URL`` (``git+URL@commit`` for VCS) from direct_url.json, else ``name==version``.

    Editable installs of a project in a git clone are ``-e git+URL@commit#egg=name``; other editable
    installs are pip's ``# Editable install with no version control (name==version)`` + ``-e PATH``."""
    from forge_store.pep610 import direct_reference

    try:
        text = (d.dist_info / "direct_url.json").read_text(encoding="utf-8")
    except OSError:
        text = None
    reference = direct_reference(d.display, text) if text is not None else None
    if reference is None and text is not None:
        reference = _editable_vcs_line(d, text)
    if reference is None and d.editable_location() is not None:
        reference = (
            f"# Editable install with no version control ({d.display}=={d.version})\n"
            f"-e {d.editable_location()}"
        )
    return reference or f"{d.display}=={d.version}"


def _editable_vcs_line(d: SeenDist, record: str) -> str | None:
    """``-e git+URL@commit#egg=name`` for an editable install whose project is in a git clone."""
    import json

    from forge_pip.index.urls import file_url_to_path, is_file_url
    from forge_pip.vcs import editable_requirement

    try:
        url = json.loads(record)["url"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not is_file_url(url):
        return None
    return editable_requirement(file_url_to_path(url), d.display)


def applicable(meta: Fields, markers: dict[str, str]) -> list[Requirement]:
    """A dist's Requires-Dist that apply on the target (no extra requested); unparsable lines skipped."""
    from forge_store.stack import applicable_requirements

    return applicable_requirements((str(t) for t in meta.get_all("Requires-Dist") or ()), markers)


def _required_names(dists: list[SeenDist], env: EnvInfo) -> set[str]:
    from packaging.utils import canonicalize_name

    markers = env.interpreter.marker_env()
    return {canonicalize_name(req.name) for d in dists for req in applicable(d.metadata(), markers)}


def cmd_show(ns: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from forge_store.store import Store

    with Store() as store:
        env = _target(ns, store)
        dists = seen_dists(store, env)
    by_name = {d.name: d for d in dists}
    markers = env.interpreter.marker_env()
    required_by: dict[str, list[str]] = {}
    for d in dists:
        for req in applicable(d.metadata(), markers):
            required_by.setdefault(canonicalize_name(req.name), []).append(d.display)
    if not ns.names:  # pip logs this as a warning, then fails
        print("WARNING: ERROR: Please provide a package name or names.", file=sys.stderr)
        return 1
    missing = [n for n in ns.names if canonicalize_name(n) not in by_name]
    if missing:
        print(f"WARNING: Package(s) not found: {', '.join(missing)}", file=sys.stderr)
    first = True
    for raw in ns.names:
        found = by_name.get(canonicalize_name(raw))
        if found is None:
            continue
        d = found
        if not first:
            print("---")
        first = False
        meta = d.metadata()
        reqs = [req.name for req in applicable(meta, markers)]
        print(f"Name: {d.display}")
        print(f"Version: {d.version}")
        for field, key in (
            ("Summary", "Summary"),
            ("Home-page", "Home-page"),
            ("Author", "Author"),
            ("Author-email", "Author-email"),
            ("License", "License"),
        ):
            print(f"{field}: {meta.get(key) or ''}")
        print(f"Location: {d.location}")
        editable = d.editable_location()
        if editable is not None:
            print(f"Editable project location: {editable}")
        print(f"Requires: {', '.join(sorted(set(reqs), key=str.lower))}")
        print(f"Required-by: {', '.join(sorted(set(required_by.get(d.name, [])), key=str.lower))}")
        if ns.verbose:
            _show_verbose(d, meta)
        if ns.files:
            print("Files:")
            record = d.dist_info / "RECORD"
            try:
                lines = record.read_text(encoding="utf-8").splitlines()
            except OSError:
                print("Cannot locate RECORD or installed-files.txt")
                continue
            import csv

            for path in sorted(row[0] for row in csv.reader(lines) if row and row[0]):
                print(f"  {path}")
    return 1 if missing and first else 0


def _show_verbose(d: SeenDist, meta: Fields) -> None:
    """pip's ``show -v`` fields, then the layer that provides the dist (Forge's)."""
    try:
        installer = (d.dist_info / "INSTALLER").read_text(encoding="utf-8").strip()
    except OSError:
        installer = ""
    print(f"Metadata-Version: {meta.get('Metadata-Version') or ''}")
    print(f"Installer: {installer}")
    print("Classifiers:")
    for value in meta.get_all("Classifier") or ():
        print(f"  {value}")
    print("Entry-points:")
    try:
        entry_points = (d.dist_info / "entry_points.txt").read_text(encoding="utf-8")
    except OSError:
        entry_points = ""
    for line in entry_points.splitlines():
        if line.strip():
            print(f"  {line.strip()}")
    print("Project-URLs:")
    for value in meta.get_all("Project-URL") or ():
        print(f"  {value}")
    print(f"Layer: {d.layer}")


def cmd_check(ns: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    from forge_store.store import Store

    with Store() as store:
        env = _target(ns, store)
        dists = seen_dists(store, env)
    by_name = {d.name: d for d in dists}
    markers = env.interpreter.marker_env()
    problems: list[str] = []
    for d in dists:
        for req in applicable(d.metadata(), markers):
            dep = by_name.get(canonicalize_name(req.name))
            if dep is None:
                problems.append(f"{d.display} {d.version} requires {req.name}, which is not installed.")
                continue
            try:
                ok = req.specifier.contains(Version(dep.version), prereleases=True)
            except InvalidVersion:
                ok = True
            if not ok:
                problems.append(
                    f"{d.display} {d.version} has requirement {req}, "
                    f"but you have {dep.display} {dep.version}."
                )
    for line in problems:
        print(line)
    if not problems:
        print("No broken requirements found.")
    return 1 if problems else 0


def _cache_remove(cache: Path, pattern: str | None) -> int:
    """pip's ``cache remove PATTERN``: the cached wheels whose file name matches ``PATTERN*``
    (``-`` and ``_`` alike, as pip's glob), then pip's ``Files removed: N`` line."""
    import fnmatch

    from forge_store.errors import NotFoundError, UsageError

    if not pattern:
        raise UsageError("Please provide a pattern")
    if "/" in pattern or "\\" in pattern:
        raise UsageError("Invalid pattern: a cache pattern names wheel files, not paths")
    wanted = pattern.replace("-", "_").lower()
    glob = wanted if "*" in wanted or "-" in wanted else f"{wanted}-*"
    found = [
        w
        for part in ("built", "files")
        for w in (cache / part).rglob("*.whl")
        if w.is_file() and fnmatch.fnmatch(w.name.lower(), glob)
    ]
    if not found:
        raise NotFoundError("No matching packages")
    for w in found:
        w.unlink()
    print(f"Files removed: {len(found)}")
    return 0


_CACHE_PARTS = (
    ("http", "Package index page cache"),
    ("pages", "Parsed index page cache"),
    ("resolutions", "Resolution memos"),
    ("metadata", "Package metadata cache"),
    ("files", "Downloaded files"),
    ("built", "Built wheels"),
    ("vcs", "VCS mirrors"),
)


def _tree_size(path: Path) -> tuple[int, int]:
    files = size = 0
    if path.is_dir():
        for p in path.rglob("*"):
            if p.is_file() and not p.is_symlink():
                files += 1
                size += p.stat().st_size
    return files, size


def cmd_cache(ns: argparse.Namespace) -> int:
    from forge_pip.cli.pip_options import configured_cache_dir, load_config
    from forge_store.errors import UsageError
    from forge_store.home import ForgeHome, default_home

    config = load_config(ns, None)
    if ns.no_cache_dir or config.get_bool("no-cache-dir"):
        raise UsageError("pip cache commands can not function since cache is disabled.")
    cache = configured_cache_dir(ns, config) or ForgeHome(default_home()).cache
    actions = ("dir", "info", "list", "remove", "purge")
    if ns.action is None:
        raise UsageError(f"Need an action ({', '.join(actions)}) to perform.")
    if ns.action not in actions:
        raise UsageError(f"Unknown action: {ns.action!r}")
    if ns.action == "remove":
        return _cache_remove(cache, ns.pattern)
    if ns.action == "dir":
        print(cache)
        return 0
    if ns.action == "info":
        for part, label in _CACHE_PARTS:
            files, size = _tree_size(cache / part)
            print(f"{label} location: {cache / part}")
            print(f"{label} size: {human_size(size)}")
            print(f"Number of {label.lower()} files: {files}")
        return 0
    if ns.action == "list":
        wheels = sorted(
            p for part in ("built", "files") for p in (cache / part).rglob("*.whl") if p.is_file()
        )
        if ns.pattern:
            import fnmatch

            wheels = [w for w in wheels if fnmatch.fnmatch(w.name, f"{ns.pattern}*")]
        if not wheels:
            print("No locally built wheels cached.")
        for w in wheels:
            print(str(w) if ns.format == "abspath" else f" - {w.name} ({human_size(w.stat().st_size)})")
        return 0
    removed = 0
    for part, _label in _CACHE_PARTS:
        files, _size = _tree_size(cache / part)
        removed += files
        shutil.rmtree(cache / part, ignore_errors=True)
    print(f"Files removed: {removed}")
    return 0

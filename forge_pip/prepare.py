"""The prepare stage: make every planned distribution a store entry, ready to link.

Remote files are downloaded in parallel (hash-checked by the index client), local ``file://``
files are verified and used in place (no copy: a 200 MB torch wheel from find-links is read once,
by ingest), sdists and project directories are built, and every wheel is ingested with the
*target* interpreter so its pycs exist. Every entry this stage adds is appended to ``added`` as
soon as it exists, so the caller can discard unused new entries whatever fails later.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name

from forge_pip.index.urls import is_file_url
from forge_pip.plan import Action, Plan, PlanItem
from forge_pip.sources import IndexFiles, verify_file

if TYPE_CHECKING:
    from forge_pip.build import Builder
    from forge_pip.index import IndexClient
    from forge_store.models import Interpreter, StoredWheel
    from forge_store.store import Store

log = logging.getLogger(__name__)

__all__ = ["NullPrepareReporter", "PrepareReporter", "Prepared", "prepare"]


class PrepareReporter(Protocol):
    """Progress of the prepare stage (the CLI prints pip-like lines from it)."""

    def on_fetched(self, item: PlanItem, path: Path) -> None: ...

    def on_built(self, item: PlanItem, wheel: Path, cached: bool) -> None: ...

    def on_ingested(self, item: PlanItem, entry: StoredWheel) -> None: ...


class NullPrepareReporter:
    def on_fetched(self, item: PlanItem, path: Path) -> None:
        pass

    def on_built(self, item: PlanItem, wheel: Path, cached: bool) -> None:
        pass

    def on_ingested(self, item: PlanItem, entry: StoredWheel) -> None:
        pass


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A planned distribution as a store entry, with the PEP 610 record of where it came from."""

    item: PlanItem
    entry: StoredWheel
    direct_url: str | None = None


def _direct_url(item: PlanItem, source: Path | None, sha256: str | None) -> str | None:
    """PEP 610 ``direct_url.json`` for a direct requirement (None for index installs)."""
    if not item.direct or item.file is None:
        return None
    if source is not None and source.is_dir():
        info: dict[str, object] = {"editable": True} if item.editable else {}
        return json.dumps({"dir_info": info, "url": source.absolute().as_uri()}, sort_keys=True)
    from forge_store.linker import direct_url_json

    return direct_url_json(item.file.url, archive_hash=sha256)


def prepare(
    plan: Plan,
    *,
    store: Store,
    interpreter: Interpreter,
    files: IndexFiles,
    client: IndexClient | None,
    builder: Builder | None,
    download_dir: Path,
    added: list[StoredWheel],
    hashes: Mapping[str, Mapping[str, frozenset[str]]] | None = None,
    reporter: PrepareReporter | None = None,
    jobs: int = 4,
) -> list[Prepared]:
    """Turn the plan's LINK / DOWNLOAD / BUILD items into store entries (see module doc)."""
    rep: PrepareReporter = reporter or NullPrepareReporter()
    wanted = {name: {a: frozenset(d) for a, d in by.items()} for name, by in (hashes or {}).items()}
    fetch = [
        i.file
        for i in plan.by_action(Action.DOWNLOAD, Action.BUILD)
        if i.file is not None
        and not is_file_url(i.file.url)
        and i.file.url not in files.direct
        and i.file not in files.fetched
    ]
    if fetch and client is not None:
        files.fetched.update(client.download_many(fetch, download_dir, jobs=jobs))
    out: list[Prepared] = []
    for item in plan.installs:
        if item.action is Action.LINK:
            assert item.entry_id is not None
            # held until the link step commits; pycs for the target added if the entry was made
            # for another interpreter (reused by its tags)
            entry = store.lease(item.entry_id, interpreters_=[interpreter])
            out.append(Prepared(item, entry))
            continue
        assert item.file is not None
        source = files.local_path(item.file)
        rep.on_fetched(item, source)
        sha: str | None = None
        if source.is_file():
            sha = verify_file(item.file, source, wanted.get(item.name))
        if item.action is Action.BUILD:
            if builder is None:
                from forge_store.errors import UsageError

                raise UsageError(f"{item.file.filename} must be built, but builds are disabled")
            settings = files.config_settings.get(canonicalize_name(item.name))
            built = builder.build_wheel(source, editable=item.editable, config_settings=settings)
            rep.on_built(item, built.path, built.cached)
            wheel, wheel_sha = built.path, None
        else:
            wheel, wheel_sha = source, sha
        entry = store.add_wheel(wheel, interpreters_=[interpreter], wheel_sha256=wheel_sha)
        added.append(entry)
        _check_identity(item, entry)
        rep.on_ingested(item, entry)
        direct = files.direct.get(item.file.url)
        record = direct.direct_url if direct is not None and direct.direct_url else None
        out.append(Prepared(item, entry, record or _direct_url(item, source, sha)))
    return out


def _check_identity(item: PlanItem, entry: StoredWheel) -> None:
    """A built or fetched wheel must be the dist the resolver pinned."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    if canonicalize_name(entry.name) != item.name or Version(entry.version) != Version(item.version):
        from forge_store.errors import IntegrityError

        raise IntegrityError(
            f"{item.file.filename if item.file else item.name} produced {entry.name} {entry.version},"
            f" but {item.name} {item.version} was expected",
            hint="the project's metadata is inconsistent with its file name",
        )

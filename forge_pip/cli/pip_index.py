"""``pip index versions NAME`` and the index look-ups of ``pip list -o/-u``.

Versions come from the configured sources through the same finder the resolver uses (tags of
the target interpreter, Requires-Python, yanked files left out, pre-releases only with ``--pre``
or when nothing else exists), never from Forge's store.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from forge_store.errors import NotFoundError, UsageError
from forge_store.records import record

if TYPE_CHECKING:
    from packaging.utils import NormalizedName
    from packaging.version import Version

    from forge_pip.install import IndexOptions
    from forge_pip.resolve.finder import Finder
    from forge_store.models import Interpreter


@record(frozen=True, slots=True)
class Latest:
    """The newest usable version of a project and the kind of its best file (pip's ``Type``)."""

    version: Version
    kind: str  # "wheel" or "sdist"


def index_options(ns: argparse.Namespace, env_prefix: object = None) -> IndexOptions:
    """The index options of a command that only reads the indexes (pip's config applied)."""
    from forge_pip.cli import pip_options
    from forge_pip.install import DEFAULT_INDEX

    config = pip_options.load_config(ns, env_prefix)  # type: ignore[arg-type]
    no_index = bool(ns.no_index or config.get_bool("no-index"))
    urls: list[str] = []
    if not no_index:
        urls = [ns.index_url or config.get_str("index-url") or DEFAULT_INDEX]
        urls += [*config.get_list("extra-index-url"), *ns.extra_index_url]
    return pip_options.index_options(
        ns,
        config,
        index_urls=urls,
        find_links=[*config.get_list("find-links"), *ns.find_links],
        trusted_hosts=[*config.get_list("trusted-host"), *ns.trusted_host],
    )


@contextmanager
def open_finder(options: IndexOptions, interpreter: Interpreter) -> Iterator[Finder]:
    """A finder over the configured indexes for ``interpreter`` (the store is not consulted)."""
    import shutil
    import tempfile
    from pathlib import Path

    from forge_pip.resolve.finder import Finder, FinderOptions
    from forge_pip.sources import EmptyStore, IndexFiles, target_python

    scratch = Path(tempfile.mkdtemp(prefix="forge-index-"))
    client = None
    try:
        from forge_store.home import ForgeHome, default_home

        client = options.client(options.cache_dir or ForgeHome(default_home()).cache)
        files = IndexFiles(client, download_dir=scratch, builder=None)
        yield Finder(FinderOptions(target=target_python(interpreter)), files, EmptyStore())
    finally:
        if client is not None:
            client.close()
        shutil.rmtree(scratch, ignore_errors=True)


def usable_versions(finder: Finder, name: NormalizedName, *, pre: bool) -> list[tuple[Version, str]]:
    """``(version, kind)`` newest first; yanked versions left out, pre-releases as pip shows them."""
    found = [iv for iv in finder.index_versions(name) if not iv.yanked]
    finals = [iv for iv in found if not iv.version.is_prerelease]
    chosen = found if pre or not finals else finals
    return [(iv.version, "wheel" if iv.files[0].is_wheel else "sdist") for iv in chosen]


def latest(finder: Finder, names: Sequence[NormalizedName], *, pre: bool) -> dict[NormalizedName, Latest]:
    out: dict[NormalizedName, Latest] = {}
    for name in names:
        versions = usable_versions(finder, name, pre=pre)
        if versions:
            out[name] = Latest(*versions[0])
    return out


def cmd_index(ns: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from forge_store import interpreters

    if ns.action != "versions":
        raise UsageError("Need an action (versions) to perform.")
    if not ns.name:
        raise UsageError("You need to specify at least one argument.")
    name = canonicalize_name(ns.name)
    interp = interpreters.current()
    if ns.python is not None or ns.env is not None:
        from forge_pip.cli.target import open_target
        from forge_store.store import Store

        with Store() as store:
            interp = open_target(ns, store).interpreter
    options = index_options(ns)
    with open_finder(options, interp) as finder:
        versions = usable_versions(finder, name, pre=bool(ns.pre))
    if not versions:
        raise NotFoundError(f"No matching distribution found for {ns.name}")
    shown = [str(v) for v, _kind in versions]
    if ns.json:
        print(json.dumps({"name": ns.name, "versions": shown, "latest": shown[0]}))
        return 0
    print(f"{ns.name} ({shown[0]})")
    print(f"Available versions: {', '.join(shown)}")
    return 0


def latest_versions(
    options: IndexOptions, interpreter: Interpreter, dists: Sequence[object], *, pre: bool
) -> dict[NormalizedName, Latest]:
    """The newest usable index version of each of ``dists`` (objects with a canonical ``name``)."""
    with open_finder(options, interpreter) as finder:
        return latest(finder, [d.name for d in dists], pre=pre)  # type: ignore[attr-defined]

"""The plan: what an install will do for each distribution, computed before any I/O.

A :class:`Plan` is a pure function of the resolution and of what the env's own site-packages
holds (:func:`make_plan`); ``--dry-run`` prints it and stops, the prepare stage fetches, builds
and ingests what it names, and one ``Store.change`` applies it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from forge_store.records import record

if TYPE_CHECKING:
    from forge_pip.models import DistFile
    from forge_pip.resolve import Resolution
    from forge_pip.sources import LocalDist


class Action(enum.Enum):
    """What happens to one distribution."""

    SATISFIED = "satisfied"
    """The env's own layer already has it: nothing to do."""
    FROM_LAYER = "from-layer"
    """A parent or the global layer provides it: nothing is linked locally."""
    LINK = "link"
    """Unpacked in the store already: link it (no download)."""
    DOWNLOAD = "download"
    """A wheel to fetch (or a local wheel file), then ingest and link."""
    BUILD = "build"
    """An sdist or a project directory to build into a wheel, then ingest and link."""
    REMOVE = "remove"
    """Unlink it (uninstall)."""

    @property
    def changes_env(self) -> bool:
        return self in (Action.LINK, Action.DOWNLOAD, Action.BUILD, Action.REMOVE)


@record(frozen=True, slots=True)
class PlanItem:
    """One distribution in a plan."""

    name: str
    version: str
    action: Action
    layer: str | None = None
    """SATISFIED / FROM_LAYER: ``"local"``, ``"parent:<env>"`` or ``"global"``."""
    entry_id: str | None = None
    """LINK: the store entry."""
    file: DistFile | None = None
    """DOWNLOAD / BUILD: the file or source to fetch or build."""
    requested: bool = False
    direct: bool = False
    editable: bool = False
    extras: tuple[str, ...] = ()
    replaces: str | None = None
    """The version in the env's own layer that this replaces (None: a new dist)."""
    replaces_unmanaged: bool = False
    """The replaced dist was not installed by Forge: its RECORD files are evicted."""
    refetch: DistFile | None = None
    """LINK: the sources' file that the entry holds, fetched instead if a concurrent gc collects
    the entry before this operation leases it (None: the store alone offered it)."""

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    def describe(self) -> str:
        """One line for ``--dry-run``."""
        what = {
            Action.SATISFIED: "already installed",
            Action.FROM_LAYER: f"provided by the {_layer_words(self.layer)}",
            Action.LINK: "link from the Forge store",
            Action.DOWNLOAD: "download" if self.file is None else _fetch_words(self.file),
            Action.BUILD: "build"
            + (" (editable)" if self.editable else "")
            + (f" from {self.file.filename}" if self.file is not None and not self.editable else ""),
            Action.REMOVE: "uninstall",
        }[self.action]
        extra = ""
        if self.replaces is not None and self.action is not Action.REMOVE:
            extra = f" (replaces {self.replaces}{', unmanaged' if self.replaces_unmanaged else ''})"
        return f"{self.spec}: {what}{extra}"


def _layer_words(layer: str | None) -> str:
    if layer is None or layer == "local":
        return "env itself"
    if layer.startswith("parent:"):
        return f"parent layer {layer.split(':', 1)[1]!r}"
    return "global layer"


def _fetch_words(file: DistFile) -> str:
    if file.url.startswith("file:"):
        return f"ingest local file {file.filename}"
    return f"download {file.filename}"


@record(frozen=True, slots=True)
class Plan:
    """Every distribution of a resolution (or an uninstall) with its action, sorted by name."""

    env: str
    items: tuple[PlanItem, ...]

    def by_action(self, *actions: Action) -> list[PlanItem]:
        return [i for i in self.items if i.action in actions]

    @property
    def installs(self) -> list[PlanItem]:
        """What will be linked into the env (LINK, DOWNLOAD, BUILD)."""
        return self.by_action(Action.LINK, Action.DOWNLOAD, Action.BUILD)

    @property
    def removes(self) -> list[PlanItem]:
        return self.by_action(Action.REMOVE)

    @property
    def is_noop(self) -> bool:
        return not any(i.action.changes_env for i in self.items)

    def render(self) -> list[str]:
        """Human lines, grouped the way ``--dry-run`` prints them."""
        lines = [f"Plan for env {self.env!r}:"]
        for item in self.items:
            lines.append(f"  {item.describe()}")
        installs = self.installs
        if installs:
            lines.append("Would install " + " ".join(f"{i.name}-{i.version}" for i in installs))
        if self.removes:
            lines.append("Would uninstall " + " ".join(f"{i.name}-{i.version}" for i in self.removes))
        if self.is_noop:
            lines.append("Nothing to do.")
        return lines

    def to_dict(self) -> dict[str, object]:
        return {
            "env": self.env,
            "items": [
                {
                    "name": i.name,
                    "version": i.version,
                    "action": i.action.value,
                    "layer": i.layer,
                    "entry_id": i.entry_id,
                    "file": i.file.url if i.file is not None else None,
                    "requested": i.requested,
                    "replaces": i.replaces,
                }
                for i in self.items
            ],
        }


def make_plan(
    env: str,
    resolution: Resolution,
    local: Mapping[str, LocalDist],
    *,
    editables: Sequence[str] = (),
) -> Plan:
    """The plan for a resolution, given the env's own dists (``sources.local_dists``)."""
    from forge_pip.resolve import Origin

    items: list[PlanItem] = []
    for name, pin in sorted(resolution.pins.items()):
        base = PlanItem(
            name,
            str(pin.version),
            Action.SATISFIED,
            requested=pin.requested,
            direct=pin.direct,
            extras=tuple(sorted(pin.extras)),
        )
        if pin.origin is Origin.LAYER:
            action = Action.SATISFIED if pin.layer == "local" else Action.FROM_LAYER
            items.append(dataclasses.replace(base, action=action, layer=pin.layer))
            continue
        here = local.get(name)
        base = dataclasses.replace(
            base,
            replaces=here.version if here is not None else None,
            replaces_unmanaged=here is not None and not here.managed,
        )
        if pin.origin is Origin.STORE:
            link = dataclasses.replace(base, action=Action.LINK, entry_id=pin.store_entry, refetch=pin.file)
            items.append(link)
            continue
        assert pin.file is not None
        editable = name in editables
        action = Action.DOWNLOAD if pin.file.is_wheel and not editable else Action.BUILD
        items.append(dataclasses.replace(base, action=action, file=pin.file, editable=editable))
    return Plan(env, tuple(items))


def removal_plan(env: str, dists: Sequence[LocalDist]) -> Plan:
    """The plan of an uninstall."""
    return Plan(
        env,
        tuple(
            PlanItem(d.name, d.version, Action.REMOVE, entry_id=d.entry_id, replaces_unmanaged=not d.managed)
            for d in sorted(dists, key=lambda d: d.name)
        ),
    )

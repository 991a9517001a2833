"""Crash recovery: intents of mutations in flight, rolled forward or back by the next lock holder.

Every mutation records an *intent* in the catalog (``intents`` table) while it holds the lock that
serialises it (``env-NAME`` for create, remove and link changes, ``ingest-SHA256`` for an
ingest, ``pyc-ID`` for bytecode added to an entry, ``store`` for gc), before it touches the
filesystem, and removes it in the catalog transaction that completes the change (or right
after cleaning up). So an intent whose lock nobody holds belongs to a dead process: flock locks
die with their process, no clock or pid is consulted. :func:`heal` runs each time Forge takes a
lock: one query when nothing is pending; otherwise each dead intent is recovered:

==========  ==========================================================================  ==========
kind        what recovery does                                                          direction
==========  ==========================================================================  ==========
change      replay the journal's step log backwards (``linker.replay_rollback``): the   back
            env matches its catalog rows again; an intent the commit marked
            ``committed`` only has its scratch dir removed                              (forward)
create      remove the staging dir, and the env dir if the catalog has no such env      back
remove      move the env dir aside, forget the env, delete the dir                      forward
ingest/pyc  remove the staging dir (an entry renamed but not recorded is replaced by    back
            the next publish, or collected by gc)
gc          move entries whose rows survived back from the trash, and reseal them       back
==========  ==========================================================================  ==========

:func:`sweep_store` (under the store lock, only when there is something to look at) drops
leases of dead holders (each holder holds ``locks/holders/TOKEN.lock`` while it lives) and
removes staging dirs, ``.forge-txn-*``, ``.forge-rm-*`` and ``.forge-tmp-*`` no live intent
owns. :func:`sweep_env` does the same for one env's ``.forge-txn-*`` under its lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import faults
from .catalog import IntentRow
from .errors import ForgeError
from .locks import try_lock
from .tokens import hostname, token

if TYPE_CHECKING:
    from .models import EnvInfo
    from .store import Store

STAGING_PREFIXES = ("ingest-", "pyc-", "pip-")  # pip-PID-*: forge_pip's scratch (downloads, builds)
ENV_LEFTOVERS = (".forge-rm-", ".forge-tmp-")
TXN_PREFIX = ".forge-txn-"


# -- recording ----------------------------------------------------------------------------------


def begin(store: Store, kind: str, lock: str, data: dict[str, object]) -> str:
    """Record an intent (committed at once); the caller holds ``lock`` and keeps it until the
    intent is finished. Returns its id."""
    intent_id = token()
    with store.catalog.transaction():
        store.catalog.add_intent(IntentRow(intent_id, kind, lock, store.holder, "started", data, time.time()))
    faults.point(f"{kind}-intent")
    return intent_id


def finish(store: Store, intent_id: str) -> None:
    """Forget an intent (its change is complete, or fully undone)."""
    with store.catalog.transaction():
        store.catalog.delete_intent(intent_id)


def abandon(store: Store, intent_id: str) -> None:
    """Forget an intent on an error path, where the catalog itself may be what failed."""
    with contextlib.suppress(Exception):
        finish(store, intent_id)


# -- healing ------------------------------------------------------------------------------------


def heal(store: Store, held: str, *, leases: bool = True) -> int:
    """Recover the intents of dead processes (called with the lock ``held`` just taken).

    An intent on ``held`` is dead (we hold its lock now); one on another lock is dead if that
    lock can be taken without waiting. Our own intents are never touched. Returns how many
    were recovered. ``leases``: also drop the leases of dead holders."""
    cat = store.catalog
    if cat.read_only:
        return 0
    if leases:
        sweep_leases(store)
    if not cat.has_intents():
        return 0
    done = 0
    pending = cat.intents()
    faults.point("heal-listed")
    for intent in pending:
        if intent.holder == store.holder:
            continue
        if intent.lock == held:
            done += _recover_if_pending(store, intent)
            continue
        with try_lock(store.home.locks / f"{intent.lock}.lock") as free:
            if free:
                # another lock's leftovers must not fail this command: left pending, they are
                # recovered by the next holder of their own lock (which does fail loudly)
                with contextlib.suppress(OSError, ForgeError):
                    done += _recover_if_pending(store, intent)
    return done


def heal_on_open(store: Store) -> None:
    """When a command opens the catalog: recover dead intents whose locks are free (one query
    when nothing is pending), so that reading commands (``forge list``, ``pip list``) and
    commands that fail before taking a lock (``uninstall`` of a name not installed) see envs as
    their catalog says. A failure here is left to the next holder of the intent's lock."""
    with contextlib.suppress(OSError, ForgeError):
        heal(store, "", leases=False)


def _recover_if_pending(store: Store, listed: IntentRow) -> int:
    # re-read under the lock: since we listed it, its holder may have finished it, or committed
    # it and died (a "started" copy would undo a committed change)
    intent = next((i for i in store.catalog.intents(listed.lock) if i.id == listed.id), None)
    if intent is None:
        return 0
    recover = _RECOVER.get(intent.kind, _drop)
    recover(store, intent)
    finish(store, intent.id)
    store.healed.append(intent)
    return 1


def _drop(store: Store, intent: IntentRow) -> None:
    """An intent of a kind this Forge does not know: nothing it can do but forget it."""


def _path(intent: IntentRow, key: str) -> Path | None:
    raw = intent.data.get(key)
    return Path(str(raw)) if raw else None


def _remove(path: Path | None) -> None:
    from .seal import remove_tree

    if path is not None and os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(path)
        else:
            os.unlink(path)


def _recover_change(store: Store, intent: IntentRow) -> None:
    from .linker import replay_rollback

    scratch = _path(intent, "scratch")
    if scratch is None or not scratch.is_dir():
        return
    if intent.state == "committed":  # the catalog has the change: only the journal is left
        _remove(scratch)
    else:
        replay_rollback(scratch)


def _recover_create(store: Store, intent: IntentRow) -> None:
    _remove(_path(intent, "staging"))
    path = _path(intent, "path")
    name = str(intent.data.get("name", ""))
    if path is not None and store.catalog.env(name) is None:
        _remove(path)  # renamed into place, never recorded: it was empty or absent before


def _recover_remove(store: Store, intent: IntentRow) -> None:
    cat = store.catalog
    name = str(intent.data.get("name", ""))
    path, trash = _path(intent, "path"), _path(intent, "trash")
    if cat.env(name) is not None and cat.children(name):
        # a child was made under it after the kill: undo the removal instead
        if trash is not None and trash.exists() and path is not None and not os.path.lexists(path):
            os.rename(trash, path)
        return
    if cat.env(name) is not None:
        if path is not None and trash is not None and path.exists() and not trash.exists():
            os.rename(path, trash)
        with cat.transaction():
            cat.delete_env(name)
    _remove(trash)


def _recover_staging(store: Store, intent: IntentRow) -> None:
    _remove(_path(intent, "staging"))


def _recover_gc(store: Store, intent: IntentRow) -> None:
    from .seal import seal

    token = str(intent.data.get("token", ""))
    trash = store.home.trash
    if not token or not trash.is_dir():
        return
    for child in trash.iterdir():
        parts = child.name.split(".")
        if len(parts) != 3 or parts[2] != token:
            continue
        rel = parts[1]
        original = store.home.store / rel
        if store.catalog.entry_by_dir(rel) is not None and not os.path.lexists(original):
            os.rename(child, original)  # its rows were never deleted: it is still an entry
            seal(original)


_RECOVER = {
    "change": _recover_change,
    "create": _recover_create,
    "remove": _recover_remove,
    "ingest": _recover_staging,
    "pyc": _recover_staging,
    "gc": _recover_gc,
}


# -- leases -------------------------------------------------------------------------------------


def holder_file(store: Store, holder: str) -> Path:
    """The lock file a lease holder holds while it lives: ``locks/holders/PID-TOKEN.lock``."""
    _host, pid, token = [*holder.rsplit(":", 2), "", "", ""][:3]
    return store.home.locks / "holders" / f"{pid}-{token}.lock"


def lease_alive(store: Store, holder: str, *, tidy: bool = True) -> bool:
    """Whether a lease's holder may still run. Another host's: always. Ours: it holds its holder
    file; a lease of older code (no holder file) falls back to whether its pid exists.
    ``tidy``: delete a dead holder's file (not for a read-only diagnosis)."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != hostname():
        return True
    if holder == store.holder:
        return True
    path = holder_file(store, holder)
    if path.exists():
        with try_lock(path) as free:
            if free and tidy:
                with contextlib.suppress(OSError):
                    path.unlink()
            return not free
    from .gc import holder_alive

    return holder_alive(holder)


# -- sweeping -----------------------------------------------------------------------------------


def sweep_leases(store: Store, *, dry_run: bool = False) -> list[str]:
    """Drop the leases of dead holders (one small query when there are none); returns them."""
    cat = store.catalog
    dead = [h for h in cat.lease_holders_all() if not lease_alive(store, h)]
    if dead and not dry_run:
        with cat.transaction():
            cat.drop_leases_of(dead)
    return dead


def _leftovers(directory: Path, prefixes: tuple[str, ...]) -> list[Path]:
    try:
        with os.scandir(directory) as it:
            return [Path(e.path) for e in it if e.name.startswith(prefixes)]
    except OSError:
        return []


def owners(store: Store) -> dict[str, IntentRow]:
    """Path -> the pending intent that owns it (staging, scratch, trash and env dirs)."""
    owned: dict[str, IntentRow] = {}
    for intent in store.catalog.intents():
        for key in ("staging", "scratch", "trash", "path"):
            raw = intent.data.get(key)
            if raw:
                owned[str(raw)] = intent
    return owned


def is_recovery_name(name: str) -> bool:
    """Whether a name is one of the dirs Forge's mutations make and their intents own."""
    return name.startswith((*STAGING_PREFIXES, TXN_PREFIX)) or _is_env_leftover(name)


def classify(store: Store, path: Path, owned: dict[str, IntentRow]) -> str:
    """What a leftover-looking dir is, the one rule ``forge doctor`` and the sweeps share:

    - ``"live"``: a pending intent owns it and its holder still holds the intent's lock;
    - ``"dead"``: a pending intent owns it and nobody holds that lock: the next command that
      takes the lock rolls it forward or back (never delete it by hand: a journal is an undo log);
    - ``"orphan"``: a dir of Forge's mutations that no intent owns (complete, or left by a Forge
      before intents): safe to delete;
    - ``"unknown"``: not a name these rules cover (the caller decides, say by age).

    ``owned``: from :func:`owners`, listed *after* the dirs were (an intent is recorded before
    its dir is made, so a dir seen first is never mistaken for an orphan)."""
    intent = owned.get(str(path))
    if intent is not None:
        if intent.holder == store.holder:
            return "live"
        with try_lock(store.home.locks / f"{intent.lock}.lock") as free:
            return "dead" if free else "live"
    if not is_recovery_name(path.name):
        return "unknown"
    m = _PID_NAME.search(path.name)  # ingest-PID-*, .NAME.forge-tmp-PID-*: a Forge without intents
    if m is not None and _pid_alive(int(m.group(1))):
        return "live"
    return "orphan"


_PID_NAME = re.compile(r"-(\d+)-[0-9a-zA-Z_]{8,}$")  # uuid hex, or tempfile.mkdtemp's suffix


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep_store(store: Store, *, dry_run: bool = False) -> list[str]:
    """Under the store lock: heal dead intents, drop dead holders' leases, remove staging and
    env leftovers no live intent owns. Returns what was (or, ``dry_run``, would be) removed:
    ``"lease HOLDER"`` or a path. Cheap when there is nothing to sweep: a directory listing of
    ``tmp/`` and ``envs/`` and two small queries."""
    cat = store.catalog
    if cat.read_only:
        return []
    out = [f"lease {h}" for h in sweep_leases(store, dry_run=dry_run)]
    if not dry_run:
        heal(store, "store")
    out.extend(_sweep_lock_files(store, dry_run=dry_run))
    # list first, then read the intents: an intent is recorded before its dir is made
    found = _leftovers(store.home.tmp, STAGING_PREFIXES)
    found += [p for p in _leftovers(store.home.envs, (".",)) if _is_env_leftover(p.name)]
    if found:
        owned = owners(store)
        for path in dict.fromkeys(found):
            if classify(store, path, owned) != "orphan":
                continue
            out.append(str(path))
            if not dry_run:
                _remove(path)
    return out


def _sweep_lock_files(store: Store, *, dry_run: bool) -> list[str]:
    """Lock files of dead processes that are deleted after use (``ingest-*``, ``pyc-*``, lease
    holders' ``holders/*``): nobody holds them, so they go. A process about to lock one that we
    delete notices (``file_lock`` checks it locked the file at the path) and starts again."""
    locks = store.home.locks
    found = _leftovers(locks, ("ingest-", "pyc-")) + _leftovers(locks / "holders", ("",))
    out: list[str] = []
    for path in found:
        with try_lock(path) as free:
            if free and path.exists():
                out.append(str(path))
                if not dry_run:
                    with contextlib.suppress(OSError):
                        path.unlink()
    return out


def _is_env_leftover(name: str) -> bool:
    return any(marker in name for marker in ENV_LEFTOVERS)


def sweep_env(store: Store, env: EnvInfo) -> None:
    """Under an env's lock: remove the env's ``.forge-txn-*`` that no pending intent owns (a
    change killed after its catalog commit leaves its scratch dir: the change is complete)."""
    found = _leftovers(env.path, (TXN_PREFIX,))
    if not found:
        return
    owned = owners(store)
    for path in found:
        if classify(store, path, owned) == "orphan":
            _remove(path)

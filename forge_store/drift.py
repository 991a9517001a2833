"""How ``forge doctor`` compares the catalog, the store and the envs on disk (see :mod:`.doctor`).

One :class:`Scan` per diagnosis: it reads the catalog once, then walks ``store/``, each env (its
directory, ``pyvenv.cfg``, launchers, and the linker's layout for its rows node by node) and the
places where dead processes leave things. It only reads; findings are :mod:`.doctor`'s types.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .doctor import (
    STALE_AGE,
    Diagnosis,
    EntryMissing,
    EntryModified,
    EntryUnknown,
    EntryUnsealed,
    EnvDirMissing,
    EnvLayoutInvalid,
    EnvMoved,
    EnvUnknown,
    Finding,
    InterpreterMissing,
    LauncherStale,
    LinkDangling,
    LinkForeign,
    LinkMissing,
    LinkWrong,
    StaleEnvTrash,
    StaleLease,
    StaleStaging,
    StaleTrash,
    StaleTxn,
    UpstreamEntryChanged,
    UpstreamEntryGone,
    VenvCfgMismatch,
)
from .errors import ForgeError
from .models import EnvInfo, EnvKind, LinkMode

if TYPE_CHECKING:
    from .catalog import EntryRow, EnvRow, IntentRow
    from .linker import Dir, Node
    from .store import Store

# -- helpers -----------------------------------------------------------------------------------------

_PID_NAME = re.compile(r"-(\d+)-[0-9a-f]{8,}$")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _holder_dead(store: Store, holder: str) -> bool:
    """A lease of a process on this host that is gone (the sweeps' rule: ``recovery.lease_alive``)."""
    from .recovery import lease_alive

    return not lease_alive(store, holder, tidy=False)


def _age(path: Path) -> float:
    try:
        return time.time() - os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _staging_stale(path: Path) -> tuple[bool, int | None]:
    m = _PID_NAME.search(path.name)
    if m is not None:
        pid = int(m.group(1))
        return not pid_alive(pid), pid
    return _age(path) > STALE_AGE, None


def is_forge_venv(path: Path) -> bool:
    try:
        text = (path / "pyvenv.cfg").read_text()
    except OSError:
        return False
    return any(line.startswith("forge = ") for line in text.splitlines())


def _cfg(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = (path / "pyvenv.cfg").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def expected_path(store: Store, row: EnvRow) -> Path | None:
    """Where an env of this FORGE_HOME lives by default (None: adopted, or created with --path)."""
    from .store import BUILD_PREFIX, GLOBAL_PREFIX

    home = store.home
    if row.kind == EnvKind.GLOBAL.value:
        return home.globals / row.abi if row.name.startswith(GLOBAL_PREFIX) else None
    if row.kind == EnvKind.BUILD.value:
        return home.root / "build-envs" / row.name[len(BUILD_PREFIX) :]
    if row.kind == EnvKind.ENV.value:
        return home.envs / row.name
    return None


def _pip_script_values(path: Path) -> tuple[str, str] | None:
    """(forge python, env python) of a ``bin/pip`` launcher, None when it is not Forge's."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("exec "):
            try:
                words = shlex.split(line)
            except ValueError:
                return None
            if len(words) >= 6 and words[2:4] == ["-m", "forge_pip"] and words[4] == "--python":
                return words[1], words[5]
    return None


# -- the diagnosis ---------------------------------------------------------------------------------


class Scan:
    def __init__(self, store: Store, verify: bool, progress: Callable[[str], None] | None) -> None:
        self.store = store
        self.home = store.home
        self.verify = verify
        self.progress = progress or (lambda _msg: None)
        self.findings: list[Finding] = []
        self.rows = 0
        self.envs_scanned = 0
        self.symlinks = 0
        self.verified = 0
        self.hashed = 0
        self._wheels: dict[str, str | None] = {}
        self.users: dict[str, tuple[str, ...]] = {}
        self.missing_entries: set[str] = set()
        self.missing_dirs: set[str] = set()
        self.missing_paths: set[str] = set()  # upstream entry dirs that are gone (their links too)
        self._owners: dict[str, IntentRow] | None = None

    def _stale(self, path: Path) -> tuple[bool, int | None]:
        """Whether a staging/journal/trash dir is a leftover: the intents decide for the dirs
        Forge's mutations make (``recovery.classify``, shared with the sweeps); other names are
        stale when the pid in their name is gone, or after an hour."""
        from . import recovery

        if self._owners is None:  # read after the dirs were listed (see classify)
            self._owners = recovery.owners(self.store)
        state = recovery.classify(self.store, path, self._owners)
        if state == "live":
            return False, None
        if state in ("dead", "orphan"):
            m = _PID_NAME.search(path.name)
            return True, int(m.group(1)) if m is not None else None
        return _staging_stale(path)

    def run(self) -> Diagnosis:
        cat = self.store.catalog
        entries = cat.all_entries()
        envs = cat.envs()
        links = cat.all_links()
        leases = cat.leases()
        self.rows = len(entries) + len(envs) + len(links) + len(leases)
        users: dict[str, list[str]] = {}
        for link in links:
            users.setdefault(link.entry_id, []).append(link.env)
        self.users = {k: tuple(sorted(v)) for k, v in users.items()}
        self._entries(entries)
        self._leftovers_home()
        known_paths: set[str] = set()
        for row in envs:
            known_paths.add(row.path)
            self.progress(f"env {row.name}")
            self._env(row, envs, known_paths)
        self._unknown_envs(known_paths)
        self._leases(leases)
        return Diagnosis(
            tuple(self.findings), self.rows, self.envs_scanned, self.symlinks, self.verified, self.hashed
        )

    # -- entries

    def wheel_for(self, entry_id: str) -> str | None:
        """A local wheel file with the entry's content, verified by sha256 against its aliases."""
        if entry_id in self._wheels:
            return self._wheels[entry_id]
        from .verify import find_wheel

        cat = self.store.catalog
        aliases = cat.aliases(entry_id)
        shas = [sha for sha, _name in aliases]
        names = {name for _sha, name in aliases}
        candidates: list[Path] = []
        files = self.home.cache / "files"
        for sha in shas:
            d = files / sha[:2] / sha
            if d.is_dir():
                candidates.extend(sorted(p for p in d.iterdir() if not p.name.startswith(".")))
            candidates.extend(Path(p) for p in cat.paths_with_sha256(sha))
        for link in cat.all_links():
            if link.entry_id == entry_id and link.direct_url and '"file://' in link.direct_url:
                import json
                from urllib.parse import unquote, urlparse

                try:
                    url = str(json.loads(link.direct_url).get("url", ""))
                except ValueError:
                    continue
                if url.startswith("file://"):
                    candidates.append(Path(unquote(urlparse(url).path)))
        built = self.home.cache / "built"
        if built.is_dir() and names:
            candidates.extend(p for p in built.rglob("*.whl") if p.name in names)
        found = find_wheel(candidates, shas)
        self._wheels[entry_id] = None if found is None else str(found)
        return self._wheels[entry_id]

    def _entries(self, entries: Sequence[EntryRow]) -> None:
        from . import interpreters
        from .seal import is_immutable
        from .verify import verify_entry

        store_dir = self.home.store
        self._upstream_entries([e for e in entries if e.dir.startswith("@")])
        entries = [e for e in entries if not e.dir.startswith("@")]
        try:
            on_disk = {n for n in os.listdir(store_dir) if not n.startswith(".")}
        except OSError:
            on_disk = set()
        known = {e.dir for e in entries}
        for name in sorted(on_disk - known):
            if (store_dir / name).is_dir() and not (store_dir / name).is_symlink():
                self.findings.append(EntryUnknown(name))
        present = [e for e in entries if e.dir in on_disk and (store_dir / e.dir).is_dir()]
        for e in entries:
            if e not in present:
                self.missing_entries.add(e.id)
                self.missing_dirs.add(e.dir)
                envs = self.users.get(e.id, ())
                wheel = self.wheel_for(e.id) if envs else None
                self.findings.append(EntryMissing(e.id, e.name, e.version, e.dir, envs, wheel))
        expect_immutable = os.geteuid() == 0 and any(is_immutable(store_dir / e.dir) for e in present)
        current_tag = interpreters.current().cache_tag
        for e in present:
            root = store_dir / e.dir
            writable, no_flag = self._seal_state(root, expect_immutable)
            if writable or no_flag:
                self.findings.append(EntryUnsealed(e.id, e.name, e.version, tuple(writable[:5]), no_flag))
            if self.verify:
                self.progress(f"verify {e.name}-{e.version}")
                problems, hashed = verify_entry(root, e.dist_info, e.pyc_tags, current_tag)
                self.verified += 1
                self.hashed += hashed
                envs = self.users.get(e.id, ())
                wheel = self.wheel_for(e.id) if problems else None
                for p in problems:
                    self.findings.append(
                        EntryModified(
                            e.id, e.name, e.version, p.path, p.problem, p.expected, p.actual, envs, wheel
                        )
                    )

    def _upstream_entries(self, entries: Sequence[EntryRow]) -> None:
        """Entries envs link from an upstream: reachable, still listed by its manifest, and with
        ``verify`` still what their RECORD says. Rows no env links are gc's to forget."""
        from .upstream import check_tree, origin_of, read_manifest

        manifests: dict[str, object] = {}
        for e in entries:
            envs = self.users.get(e.id, ())
            if not envs:
                continue
            origin = origin_of(e)
            root = origin.root if origin is not None else "(unknown)"
            path = str(origin.path) if origin is not None else e.dir
            if root not in manifests and origin is not None:
                try:
                    manifests[root] = read_manifest(Path(root))
                except OSError as exc:
                    manifests[root] = f"it is not available ({os.strerror(exc.errno) if exc.errno else exc})"
                except ForgeError as exc:
                    manifests[root] = f"its manifest cannot be read ({exc.message})"
            manifest = manifests.get(root, "its origin is not recorded")
            other = self.store.upstreams.by_id(e.id)
            elsewhere = str(other.root) if other is not None and str(other.path) != path else None
            if isinstance(manifest, str) or not os.path.isdir(path):
                reason = manifest if isinstance(manifest, str) else f"{path} is gone"
                self.missing_entries.add(e.id)
                self.missing_dirs.add(e.dir)
                self.missing_paths.add(path)
                wheel = self.wheel_for(e.id)
                self.findings.append(
                    UpstreamEntryGone(e.id, e.name, e.version, root, path, reason, envs, wheel, elsewhere)
                )
                continue
            from .upstream import Manifest

            assert isinstance(manifest, Manifest)
            listed = manifest.entries.get(e.id)
            problem: str | None = None
            if listed is None or str(listed.path) != path:
                problem = f"its manifest (generation {manifest.generation}) no longer lists it at {path}"
            elif self.verify:
                self.progress(f"verify {e.name}-{e.version} (upstream)")
                problems = check_tree(Path(path), e.dist_info, e.pyc_tags, (e.name, e.version))
                self.verified += 1
                if problems:
                    problem = f"its files differ from its RECORD ({'; '.join(problems[:3])})"
            if problem is not None:
                wheel = self.wheel_for(e.id)
                self.findings.append(
                    UpstreamEntryChanged(e.id, e.name, e.version, root, path, problem, envs, wheel, elsewhere)
                )

    @staticmethod
    def _seal_state(root: Path, expect_immutable: bool) -> tuple[list[str], bool]:
        from .seal import is_immutable

        writable: list[str] = []
        no_flag = False
        for dirpath, _dirs, files in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            if expect_immutable and not no_flag and not is_immutable(Path(dirpath)):
                no_flag = True
            try:
                if os.lstat(dirpath).st_mode & 0o222:
                    writable.append(rel)
            except OSError:
                continue
            for name in files:
                try:
                    mode = os.lstat(os.path.join(dirpath, name)).st_mode
                except OSError:
                    continue
                if mode & 0o222 and not stat.S_ISLNK(mode):
                    writable.append(f"{rel}/{name}" if rel != "." else name)
        return writable, no_flag

    # -- leftovers

    def _leftovers_home(self) -> None:
        tmp = self.home.tmp
        for child in sorted(tmp.iterdir()) if tmp.is_dir() else []:
            stale, pid = self._stale(child)
            if stale:
                self.findings.append(StaleStaging(str(child), pid))
        from .gc import DEFAULT_GRACE, _trash_time

        trash = self.home.trash  # gc's <unix time>.<dir>.<token>, or .deleting-* of a gc that died
        now = time.time()
        for child in sorted(trash.iterdir()) if trash.is_dir() else []:
            dying = child.name.startswith(".deleting-")
            age = now - (0.0 if dying else _trash_time(child))
            if age > DEFAULT_GRACE:
                self.findings.append(StaleTrash(str(child), int(age)))

    def _env_leftovers(self, parent: Path, name: str, lock_name: str | None) -> None:
        """``.NAME.forge-tmp-*`` and ``.NAME.forge-rm-*`` beside an env directory."""
        try:
            siblings = sorted(parent.iterdir())
        except OSError:
            return
        for child in siblings:
            if child.name.startswith(f".{name}.forge-tmp-"):
                stale, pid = self._stale(child)
                if stale:
                    self.findings.append(StaleStaging(str(child), pid))
            elif (
                child.name.startswith(f".{name}.forge-rm-")
                and (lock_name is None or not self._locked(lock_name))
                and self._stale(child)[0]
            ):
                self.findings.append(StaleEnvTrash(str(child)))

    def _locked(self, env_name: str) -> bool:
        from .locks import is_held

        return is_held(self.home.locks / f"env-{env_name.replace('/', '_')}.lock")

    def _leases(self, leases: Sequence[tuple[str, str]]) -> None:
        by_holder: dict[str, list[str]] = {}
        for entry_id, holder in leases:
            by_holder.setdefault(holder, []).append(entry_id)
        for holder, ids in sorted(by_holder.items()):
            if holder != self.store.holder and _holder_dead(self.store, holder):
                self.findings.append(StaleLease(holder, tuple(sorted(ids))))

    # -- envs

    def _env(self, row: EnvRow, envs: Sequence[EnvRow], known_paths: set[str]) -> None:
        path = Path(row.path)
        expected = expected_path(self.store, row)
        children = tuple(sorted(r.name for r in envs if r.parent == row.name))
        if expected is not None and expected != path and is_forge_venv(expected):
            # a FORGE_HOME moved or copied: the rows name the old place
            known_paths.add(str(expected))
            self.findings.append(EnvMoved(row.name, row.path, str(expected)))
            self._env_leftovers(expected.parent, expected.name, row.name)
            return
        self._env_leftovers(path.parent, path.name, row.name)
        if not path.is_dir():
            self.findings.append(EnvDirMissing(row.name, row.path, row.kind, children))
            return
        self.envs_scanned += 1
        from .store import _env_info

        env = _env_info(row)
        for txn in sorted(path.glob(".forge-txn-*")):
            if not self._locked(row.name) and self._stale(txn)[0]:
                self.findings.append(StaleTxn(row.name, str(txn)))
        ours = row.kind != EnvKind.ADOPTED.value
        if ours:
            self._interpreter(env)
            self._launchers(env)
        self._links(env)

    def _interpreter(self, env: EnvInfo) -> None:
        exe = env.interpreter.executable
        if not os.path.exists(exe):
            self.findings.append(InterpreterMissing(env.name, str(exe)))
            return
        cfg = _cfg(env.path)
        for key, want in (("home", os.path.dirname(str(exe))), ("executable", str(exe))):
            if key in cfg and cfg[key] != want:
                self.findings.append(VenvCfgMismatch(env.name, key, cfg[key], want))
        try:
            target: str | None = os.readlink(env.bin / "python")
        except OSError:
            target = None
        if target != str(exe):
            self.findings.append(VenvCfgMismatch(env.name, "bin/python", target, str(exe)))

    def _launchers(self, env: EnvInfo) -> None:
        from .envs import LAYERS_MODULE, PIP_SHIM
        from .pip_frontend import launcher_values

        prefix = str(env.path)
        site_rel = env.interpreter.site_packages_rel
        pip = _pip_script_values(env.bin / "pip")
        if pip is None:
            self.findings.append(LauncherStale(env.name, "bin/pip", "not Forge's pip launcher", None))
        else:
            forge_python, env_python = pip
            if not os.access(forge_python, os.X_OK):
                self.findings.append(LauncherStale(env.name, "bin/pip", "its Forge is gone", forge_python))
            elif env_python != f"{prefix}/bin/python":
                self.findings.append(LauncherStale(env.name, "bin/pip", "targets another env", env_python))
        shim = launcher_values(env.site_packages / PIP_SHIM)
        shim_rel = f"{site_rel}/{PIP_SHIM}"
        if "FORGE_PYTHON" not in shim or "ENV_PREFIX" not in shim:
            self.findings.append(LauncherStale(env.name, shim_rel, "missing or not Forge's", None))
        elif not os.access(shim["FORGE_PYTHON"], os.X_OK):
            self.findings.append(LauncherStale(env.name, shim_rel, "its Forge is gone", shim["FORGE_PYTHON"]))
        elif shim["ENV_PREFIX"] != prefix:
            self.findings.append(LauncherStale(env.name, shim_rel, "targets another env", shim["ENV_PREFIX"]))
        self._front_end(env, f"{site_rel}/pip")
        try:
            activate = (env.bin / "activate").read_text()
        except OSError:
            activate = ""
        if f"VIRTUAL_ENV={shlex.quote(prefix)}\n" not in activate:
            self.findings.append(LauncherStale(env.name, "bin/activate", "activates another path", None))
        hook = env.site_packages / f"{LAYERS_MODULE}.py"
        want = [str(p) for p in self.store.runtime_layers(env)]
        try:
            layers = _literal_layers(hook.read_text())
        except OSError:
            layers = None
        if layers != want:
            self.findings.append(
                LauncherStale(env.name, f"{site_rel}/{LAYERS_MODULE}.py", "stacks other layers", str(layers))
            )

    def _front_end(self, env: EnvInfo, rel: str) -> None:
        """The env's ``pip`` package (``python -m pip``): Forge's front end for this env, unless the
        env links the real pip wheel (``--seed pip``). Envs made before it existed lack it; envs an
        older Forge made answer for an older pip (``importlib.metadata`` and tools that check pip's
        version, such as pip-sync, see that one)."""
        from .pip_frontend import PACKAGE, PIP_VERSION, front_end_version, launcher_values

        site = env.site_packages
        version = front_end_version(site)
        if version is None:
            if not os.path.lexists(site / PACKAGE):
                self.findings.append(LauncherStale(env.name, rel, "missing (python -m pip fails)", None))
            return  # a real pip (a link Forge checks with the others)
        values = launcher_values(site / PACKAGE / "__init__.py")
        if not os.access(values.get("FORGE_PYTHON", ""), os.X_OK):
            self.findings.append(
                LauncherStale(env.name, rel, "its Forge is gone", values.get("FORGE_PYTHON"))
            )
        elif values.get("ENV_PREFIX") != str(env.path):
            self.findings.append(
                LauncherStale(env.name, rel, "targets another env", values.get("ENV_PREFIX"))
            )
        elif version != PIP_VERSION:
            self.findings.append(
                LauncherStale(
                    env.name, rel, f"answers for pip {version}, this Forge for pip {PIP_VERSION}", None
                )
            )

    def _links(self, env: EnvInfo) -> None:
        from . import linker
        from .linker import HOP

        store = self.store
        rows = store.catalog.links(env.name)
        rows = [r for r in rows if r.entry_id not in self.missing_entries]
        paths = linker.EnvPaths(env.path, env.site_packages, env.interpreter)
        try:
            specs = store._specs(rows)
            layout = linker.build_layout(paths, specs, env.link_mode, self.home.store)
        except (ForgeError, OSError) as exc:
            self.findings.append(EnvLayoutInvalid(env.name, str(getattr(exc, "message", exc))))
            return
        prefix = env.path
        if env.link_mode is LinkMode.SYMLINK and specs:
            hop = env.site_packages / HOP
            self.symlinks += 1
            try:
                target: str | None = os.readlink(hop)
            except OSError:
                target = None
            if target != str(self.home.store):
                rel = str(hop.relative_to(prefix))
                problem = "missing" if target is None else "wrong-target"
                if target is None:
                    self.findings.append(LinkMissing(env.name, rel, "(store hop)"))
                else:
                    self.findings.append(LinkWrong(env.name, rel, "(store hop)", problem))
        self._walk(env, layout.site, env.site_packages, True, top=True)
        self._walk(env, layout.prefix, prefix, False, top=False)

    def _walk(self, env: EnvInfo, node: Dir, path: Path, in_site: bool, *, top: bool) -> None:
        """Compare a layout dir with the disk; in site-packages also look at symlinks no node explains."""
        from .envs import LAYERS_MODULE, PIP_SHIM
        from .linker import HOP, Dir, EnvPaths, Gen, Link, check_node

        paths = EnvPaths(env.path, env.site_packages, env.interpreter)
        for name, child in node.children.items():
            p = path / name
            rel = str(p.relative_to(env.path))
            if isinstance(child, Link):
                self.symlinks += 1
            problem = check_node(child, p, paths, self.home.store, in_site)
            if problem is None:
                if isinstance(child, Dir):
                    self._walk(env, child, p, in_site, top=False)
                continue
            owner = _owner(child)
            if isinstance(child, Gen) and not in_site and rel.startswith("bin/"):
                self.findings.append(LauncherStale(env.name, rel, f"console script {problem}", None))
            elif problem == "missing":
                self.findings.append(LinkMissing(env.name, rel, owner))
            else:
                self.findings.append(LinkWrong(env.name, rel, owner, problem))
        if not in_site:
            return  # bin/, include/, share/: the user's and the interpreter's files live there too
        forge_files = {HOP, PIP_SHIM, f"{LAYERS_MODULE}.py", f"{LAYERS_MODULE}.pth", f"{LAYERS_MODULE}.start"}
        try:
            disk = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            return
        for entry in disk:
            if entry.name in node.children or (top and entry.name in forge_files):
                continue
            if not entry.is_symlink():
                continue
            self.symlinks += 1
            p = Path(entry.path)
            rel = str(p.relative_to(env.path))
            target = os.readlink(p)
            real = os.path.realpath(p)
            into_store = self._into_store(p, target)
            if into_store and self._entry_dir_of(target) in self.missing_dirs:
                continue  # a link of an entry that is gone: reported as entry-missing
            if any(target == m or target.startswith(m + os.sep) for m in self.missing_paths):
                continue  # a link into an upstream entry that is gone: reported as upstream-entry-gone
            if not os.path.exists(p):
                self.findings.append(LinkDangling(env.name, rel, target, into_store))
            elif into_store or real.startswith(str(self.home.store) + os.sep):
                entry_dir = None
                store_root = str(self.home.store) + os.sep
                if real.startswith(store_root):
                    entry_dir = real[len(store_root) :].split(os.sep)[0]
                self.findings.append(LinkForeign(env.name, rel, target, entry_dir))

    def _entry_dir_of(self, target: str) -> str | None:
        from .linker import HOP

        parts = target.split("/")
        if HOP in parts:
            rest = parts[parts.index(HOP) + 1 :]
            return rest[0] if rest else None
        store = str(self.home.store) + os.sep
        return target[len(store) :].split("/")[0] if target.startswith(store) else None

    def _into_store(self, path: Path, target: str) -> bool:
        from .linker import HOP

        if f"{HOP}/" in target or target.startswith(str(self.home.store) + os.sep):
            return True
        parent = os.path.realpath(path.parent)
        return os.path.normpath(os.path.join(parent, target)).startswith(str(self.home.store) + os.sep)

    def _unknown_envs(self, known_paths: set[str]) -> None:
        for base in (self.home.envs, self.home.globals, self.home.root / "build-envs"):
            try:
                children = sorted(base.iterdir())
            except OSError:
                continue
            done: set[str] = set()
            for child in children:
                if child.name.startswith("."):
                    if ".forge-tmp-" in child.name or ".forge-rm-" in child.name:
                        name = child.name[1:].split(".forge-")[0].rstrip(".")
                        if name not in done and str(base / name) not in known_paths:
                            done.add(name)
                            self._env_leftovers(base, name, None if base.name == "build-envs" else name)
                    continue
                if str(child) in known_paths or not child.is_dir():
                    continue
                if base.name == "build-envs":  # the catalog row is written before the rename
                    if _age(child) > STALE_AGE:
                        self.findings.append(StaleStaging(str(child), None))
                elif is_forge_venv(child):
                    self.findings.append(EnvUnknown(str(child)))


def _literal_layers(text: str) -> list[str] | None:
    for line in text.splitlines():
        if line.startswith("LAYERS = "):
            try:
                value = ast.literal_eval(line.partition("=")[2].strip())
            except (ValueError, SyntaxError):
                return None
            return [str(v) for v in value] if isinstance(value, list) else None
    return None


def _owner(node: Node) -> str:
    from .linker import Dir

    if isinstance(node, Dir):
        for child in node.children.values():
            owner = _owner(child)
            if owner:
                return owner
        return ""
    return node.owner

"""pip's ``install --target DIR`` / ``--prefix DIR`` / ``--root DIR``: wheels copied into a plain tree.

Such a tree is not a Forge env (no catalog row, no layers, nothing for gc to track), so nothing
in it may point into the shared store: files are *copied*, by PyPA ``installer`` exactly as pip
writes them (launchers with the interpreter's shebang, ``.data`` directories, RECORD, INSTALLER
``forge``). The mode is always ``copy`` and the CLI says so.

``--target`` follows pip: each wheel is installed into a scratch prefix, then each top-level entry
is moved into DIR; an entry DIR already has is kept (with pip's warning) unless ``upgrade``, which
replaces it. ``--prefix`` and ``--root`` write in place; a file that exists there is an error
before anything of that wheel is written.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from forge_store.errors import ForgeError, UsageError
from forge_store.records import record

LINK_MODE = "copy"


class TreeInstallError(ForgeError):
    """A wheel could not be written into the ``--target``/``--prefix``/``--root`` tree."""

    reference = "tree-install-error"


@record(frozen=True, slots=True)
class TreeScheme:
    """Where each part of a wheel goes (installer's scheme keys)."""

    purelib: Path
    platlib: Path
    headers: Path
    scripts: Path
    data: Path

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in dataclasses.asdict(self).items()}


def prefix_scheme(prefix: Path, python: str, name: str = "") -> TreeScheme:
    """The posix_prefix scheme of ``prefix`` for Python ``python`` ("3.11")."""
    site = prefix / "lib" / f"python{python}" / "site-packages"
    return TreeScheme(
        purelib=site,
        platlib=site,
        headers=prefix / "include" / f"python{python}" / name,
        scripts=prefix / "bin",
        data=prefix,
    )


def root_scheme(root: Path, base_prefix: Path, python: str, name: str = "") -> TreeScheme:
    """pip's ``--root``: the scheme of ``base_prefix`` moved under ``root``."""
    return prefix_scheme(root / base_prefix.resolve().relative_to("/"), python, name)


@record(frozen=True, slots=True)
class TreeReport:
    installed: tuple[tuple[str, str], ...]
    """``(name, version)`` of every wheel written."""
    kept: tuple[Path, ...]
    """``--target`` entries that already existed and were left alone (no ``upgrade``)."""
    mode: str = LINK_MODE


def _install_one(wheel: Path, scheme: TreeScheme, interpreter: str) -> tuple[str, str]:
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile
    from installer.utils import parse_metadata_file

    destination = SchemeDictionaryDestination(
        scheme_dict=scheme.as_dict(), interpreter=interpreter, script_kind="posix"
    )
    try:
        with WheelFile.open(wheel) as source:
            meta = parse_metadata_file(source.read_dist_info("METADATA"))
            install(source, destination, {"INSTALLER": b"forge\n", "REQUESTED": b""})
    except FileExistsError as exc:
        raise TreeInstallError(
            f"{wheel.name}: {exc.filename or exc} already exists",
            hint="uninstall what is there first, or pick an empty directory",
        ) from None
    except (OSError, ValueError) as exc:
        raise TreeInstallError(f"{wheel.name} could not be installed into the tree: {exc}") from None
    return str(meta["Name"]), str(meta["Version"])


def install_target(
    wheels: Sequence[Path], target: Path, *, python: str, interpreter: str, upgrade: bool
) -> TreeReport:
    """pip's ``--target``: scratch prefix per run, then top-level entries moved into ``target``."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"Target path exists but is not a directory, will not continue: {target}")
    target.mkdir(parents=True, exist_ok=True)
    installed: list[tuple[str, str]] = []
    kept: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="forge-target-", dir=target.parent) as scratch:
        home = Path(scratch)
        scheme = TreeScheme(
            purelib=home / "lib",
            platlib=home / "lib",
            headers=home / "include",
            scripts=home / "bin",
            data=home,
        )
        for wheel in wheels:
            installed.append(_install_one(wheel, scheme, interpreter))
        # pip moves lib/'s entries into DIR, and bin/ (if any) as DIR/bin
        moves = [p for p in sorted((home / "lib").iterdir())] if (home / "lib").is_dir() else []
        if (home / "bin").is_dir():
            moves.append(home / "bin")
        for item in moves:
            dest = target / item.name
            if dest.exists() or dest.is_symlink():
                if not upgrade:
                    kept.append(dest)
                    continue
                if dest.is_dir() and not dest.is_symlink():
                    shutil.rmtree(dest)
                else:
                    dest.unlink()
            shutil.move(str(item), str(dest))
    return TreeReport(tuple(installed), tuple(kept))


def install_scheme(wheels: Sequence[Path], scheme: TreeScheme, *, interpreter: str) -> TreeReport:
    """``--prefix`` / ``--root``: each wheel written in place."""
    return TreeReport(tuple(_install_one(w, scheme, interpreter) for w in wheels), ())

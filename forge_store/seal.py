"""Seal store entries read-only, and unseal them for gc.

Read-only modes (files 0444 keeping x bits, directories 0555) stop ordinary users, Forge's own
user included. Root ignores modes: a plain ``pip install -U`` run as root in a symlinked env
writes *through* the links into the shared entry. So directories also get the filesystem's
immutable flag where the filesystem and our privileges allow (ext4/xfs/btrfs as root): nothing
can then be created, removed or renamed inside an entry. Files are not made immutable, because
the kernel refuses hardlinks to immutable files and ``hardlink`` envs need them.

Publishing is two steps around the ``rename()`` into the store, because moving a directory to
another parent needs write permission on that directory (root does not notice):
:func:`seal_contents` before it (everything but the top directory), :func:`seal_top` after it.
Every seal ends with the top directory and every unseal starts there, so :func:`is_sealed`, which
looks only at the top, is false for any half-done state, and sealing again completes it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from collections.abc import Sequence
from pathlib import Path

_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x00000010

_immutable_supported: dict[int, bool] = {}


def _get_flags(fd: int) -> int:
    buf = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("i", 0))
    return int(struct.unpack("i", buf)[0])


def _set_immutable(path: str, on: bool) -> bool:
    """Set or clear the immutable flag on a directory; False if the filesystem/privileges say no."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        flags = _get_flags(fd)
        new = flags | _FS_IMMUTABLE_FL if on else flags & ~_FS_IMMUTABLE_FL
        if new != flags:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", new))
        return True
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.EACCES):
            return False
        raise
    finally:
        os.close(fd)


def is_immutable(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        return bool(_get_flags(fd) & _FS_IMMUTABLE_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def _dirs_bottom_up(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, _dirs, _files in os.walk(root, topdown=False):
        out.append(dirpath)
    return out


def _may_set_immutable() -> bool:
    """Setting the flag needs CAP_LINUX_IMMUTABLE: do not even try as an ordinary user."""
    return os.geteuid() == 0


def seal_contents(root: Path) -> None:
    """chmod every file under ``root`` a-w (keeping x bits) and every directory below it 0555;
    ``root`` itself stays writable so that it can still be renamed into the store. Modes that
    are already right are left alone (an immutable directory refuses even an equal chmod)."""
    for dirpath, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            if mode != mode & ~0o222 | 0o444:
                os.chmod(path, mode & ~0o222 | 0o444)
        for name in dirs:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) != 0o555:
                os.chmod(path, 0o555)


def seal_top(root: Path) -> bool:
    """After :func:`seal_contents` (and the rename): make ``root`` 0555, then every directory
    immutable where possible, ``root`` last. Returns whether the immutable flag could be set."""
    if stat.S_IMODE(os.lstat(root).st_mode) != 0o555:
        os.chmod(root, 0o555)
    return seal_dirs(root)


def seal(root: Path) -> bool:
    """Seal a tree in place (both steps); also completes a half-sealed or unsealed entry."""
    seal_contents(root)
    return seal_top(root)


def seal_dirs(root: Path) -> bool:
    """Make every directory under ``root`` immutable, ``root`` last; returns whether the flag
    could be set (never tried as an ordinary user, who cannot)."""
    if not _may_set_immutable():
        return False
    dev = os.stat(root).st_dev
    if _immutable_supported.get(dev) is False:
        return False
    ok = True
    for path in _dirs_bottom_up(root):
        if not _set_immutable(path, True):
            ok = False
            break
    _immutable_supported[dev] = ok
    return ok


def _immutable_works(near: Path) -> bool:
    """Whether the immutable flag can be set on ``near``'s filesystem (probed once per device
    with a scratch directory beside ``near``)."""
    if not _may_set_immutable():
        return False
    try:
        dev = os.stat(near.parent).st_dev
    except OSError:
        return False
    known = _immutable_supported.get(dev)
    if known is not None:
        return known
    probe = near.parent / f".seal-probe-{os.getpid()}"
    try:
        os.mkdir(probe)
    except OSError:
        return False
    try:
        ok = _set_immutable(str(probe), True)
        _set_immutable(str(probe), False)
    finally:
        os.rmdir(probe)
    _immutable_supported[dev] = ok
    return ok


def is_sealed(root: Path) -> bool:
    """Whether ``root`` is fully sealed: its top directory is read-only and, where the flag
    works (as root on ext4 and the like), immutable. False for a missing directory."""
    try:
        st = os.lstat(root)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o222:
        return False
    return is_immutable(root) or not _immutable_works(root)


def unseal(root: Path) -> None:
    """Undo :func:`seal` so the tree can be changed or deleted. Each directory is made writable
    and searchable before it is listed (so even a 0000 one is no obstacle to its owner), and
    ``root`` comes first, so that an interrupted unseal is seen by :func:`is_sealed`."""
    if not root.is_dir() or root.is_symlink():
        return
    clear_flag = _may_set_immutable()
    stack = [str(root)]
    while stack:
        path = stack.pop()
        if clear_flag:
            _set_immutable(path, False)
        os.chmod(path, 0o755)
        with os.scandir(path) as it:
            stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))


def remove_tree(root: Path) -> None:
    """Delete a (possibly sealed) tree; its owner needs no privileges for that."""
    import shutil

    if not os.path.lexists(root):
        return
    if root.is_symlink() or not root.is_dir():
        root.unlink()
        return
    unseal(root)
    shutil.rmtree(root)


def open_dirs(root: Path, rels: Sequence[str]) -> None:
    """Make ``root`` and only the directories ``rels`` below it writable (to add files to them:
    bytecode for another interpreter), nothing else: every other directory and every file of the
    sealed tree stays as it is, so the envs that use the entry meanwhile see no writable path but
    those. ``root`` comes first, so that :func:`is_sealed` sees an interrupted update (then
    :func:`seal` completes it); :func:`close_dirs` undoes it."""
    clear_flag = _may_set_immutable()
    for path in [str(root), *(os.path.join(root, rel) for rel in rels)]:
        if clear_flag:
            _set_immutable(path, False)
        if stat.S_IMODE(os.lstat(path).st_mode) != 0o755:
            os.chmod(path, 0o755)


def close_dirs(root: Path, rels: Sequence[str]) -> None:
    """Seal again what :func:`open_dirs` opened and what was created in it (list new directories
    in ``rels`` too), deepest first, ``root`` last: their files a-w, the directories 0555 and
    immutable where the flag works."""
    flag = _may_set_immutable() and _immutable_supported.get(os.stat(root).st_dev) is not False
    for rel in sorted(set(rels), key=lambda r: (-r.count("/"), r)):
        path = os.path.join(root, rel)
        with os.scandir(path) as it:
            for e in it:
                if e.is_file(follow_symlinks=False):
                    mode = stat.S_IMODE(e.stat(follow_symlinks=False).st_mode)
                    if mode != mode & ~0o222 | 0o444:
                        os.chmod(e.path, mode & ~0o222 | 0o444)
        if stat.S_IMODE(os.lstat(path).st_mode) != 0o555:
            os.chmod(path, 0o555)
        if flag:
            _set_immutable(path, True)
    os.chmod(root, 0o555)
    if flag:
        _set_immutable(str(root), True)

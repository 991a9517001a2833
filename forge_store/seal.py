"""Seal store entries read-only, and unseal them for gc.

Read-only modes stop ordinary users. Root ignores modes: a plain ``pip install -U`` run as root in
a symlinked env writes *through* the links into the shared entry. So directories also get the
filesystem's immutable flag where the filesystem and our privileges allow (ext4/xfs/btrfs as
root): nothing can then be created, removed or renamed inside an entry. Files are not made
immutable, because the kernel refuses hardlinks to immutable files and ``hardlink`` envs need them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
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


def make_read_only(root: Path) -> None:
    """chmod every file a-w (keeping x bits) and every directory 0555."""
    for dirpath, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o222 | 0o444)
        for name in dirs:
            os.chmod(os.path.join(dirpath, name), 0o555)
    os.chmod(root, 0o555)


def seal_dirs(root: Path) -> bool:
    """Make every directory under ``root`` immutable; returns whether the flag could be set."""
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


def unseal(root: Path) -> None:
    """Undo :func:`seal_dirs` and :func:`make_read_only` so the tree can be changed or deleted."""
    if not root.exists():
        return
    for dirpath, _dirs, _files in os.walk(root, topdown=True):
        _set_immutable(dirpath, False)
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, 0o755)


def remove_tree(root: Path) -> None:
    """Delete a (possibly sealed) tree."""
    import shutil

    if not os.path.lexists(root):
        return
    if root.is_symlink() or not root.is_dir():
        root.unlink()
        return
    unseal(root)
    shutil.rmtree(root)

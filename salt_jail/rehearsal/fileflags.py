"""BSD file flags played by Linux inode attributes, so a flagged file really resists removal.

The BSD flags of each file are recorded in the simulated kernel (by host path and inode number); what
Linux can enforce is set on the real inode with the ``FS_IOC_SETFLAGS`` ioctl, the one ``chattr`` uses:

* ``schg``/``uchg`` (immutable) -> ``i``: the file cannot be changed, renamed or removed;
* ``sappnd``/``uappnd`` (append-only) and ``sunlnk``/``uunlnk`` (undeletable) -> ``a``: the file
  cannot be renamed or removed.  For ``*unlnk`` this is stricter than FreeBSD (Linux then also refuses
  writes other than appends): close enough for a flag whose purpose is to make ``rm`` fail.

A directory that is the mount point of a simulated devfs, fdescfs or procfs also gets ``i``, so ``rm -rf``
fails on it while it is "mounted", as FreeBSD's rmdir fails with EBUSY.  Symbolic links, sockets, and
filesystems without these attributes keep their flags in the kernel record only.

The inode is the truth for what it carries: a file whose attributes were set by someone else -- bsdtar
restoring a ``SCHILY.fflags=schg`` record as ``i`` (libarchive's archive_write_disk_posix.c maps
``schg``/``uchg`` to ``FS_IMMUTABLE_FL``, ``sappnd``/``uappnd`` to ``FS_APPEND_FL`` and ``nodump`` to
``FS_NODUMP_FL`` on Linux), or ``chattr`` -- has those flags, whatever the record says (:func:`current`).
Linux cannot tell ``schg`` from ``uchg``: an ``i`` the record does not explain reads as ``schg``, an ``a``
as ``sappnd``.
"""

import errno
import fcntl
import os
import stat
import struct

from .simkernel import SF_APPEND, SF_IMMUTABLE, SF_NOUNLINK, UF_APPEND, UF_IMMUTABLE, UF_NODUMP, UF_NOUNLINK

_IMMUTABLE = SF_IMMUTABLE | UF_IMMUTABLE
_UNREMOVABLE = SF_APPEND | UF_APPEND | SF_NOUNLINK | UF_NOUNLINK

_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20
_FS_NODUMP_FL = 0x40
_UNSUPPORTED = (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS)

#: Filesystem types whose mount point the rehearsal makes immutable while mounted.
PSEUDO_FILESYSTEMS = ("devfs", "fdescfs", "procfs")


def linux_attributes(kernel, host_path, flags):
    """The Linux ``i``/``a`` bits the file ``host_path`` with BSD ``flags`` should carry."""
    wanted = 0
    if flags & _IMMUTABLE:
        wanted |= _FS_IMMUTABLE_FL
    if flags & _UNREMOVABLE:
        wanted |= _FS_APPEND_FL
    if flags & UF_NODUMP:
        wanted |= _FS_NODUMP_FL
    if _pseudo_mount_point(kernel, host_path):
        wanted |= _FS_IMMUTABLE_FL
    return wanted


def _pseudo_mount_point(kernel, host_path):
    return any(m["node"] == host_path and m["fstype"] in PSEUDO_FILESYSTEMS for m in kernel.mounts)


def inode_attributes(real):
    """The Linux attribute bits of the regular file or directory ``real`` (``lsattr``), or None when it has
    none (another file type, or a filesystem without them)."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None  # a symlink (ELOOP), socket or fifo
    try:
        if not (stat.S_ISREG(os.fstat(fd).st_mode) or stat.S_ISDIR(os.fstat(fd).st_mode)):
            return None
        return struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
    except OSError as error:
        if error.errno in _UNSUPPORTED:
            return None
        raise
    finally:
        os.close(fd)


def current(kernel, host_path, real, ino):
    """The BSD flags of the file ``host_path`` (inode ``ino``, at ``real``): the kernel record, brought into
    line with what the inode itself carries (see the module's docstring)."""
    flags = kernel.file_flags(host_path, ino)
    attributes = inode_attributes(real)
    if attributes is None:
        return flags
    if not _pseudo_mount_point(kernel, host_path):  # there the rehearsal's own i stands for "mounted"
        if not attributes & _FS_IMMUTABLE_FL:
            flags &= ~_IMMUTABLE
        elif not flags & _IMMUTABLE:
            flags |= SF_IMMUTABLE
    if not attributes & _FS_APPEND_FL:
        flags &= ~_UNREMOVABLE
    elif not flags & _UNREMOVABLE:
        flags |= SF_APPEND
    return flags | UF_NODUMP if attributes & _FS_NODUMP_FL else flags & ~UF_NODUMP


def sync(kernel, host_path, real):
    """Record :func:`current` flags of ``host_path`` in the kernel and return them (0 when it is gone)."""
    try:
        ino = os.lstat(real).st_ino
    except FileNotFoundError:
        return 0
    flags = current(kernel, host_path, real, ino)
    kernel.set_file_flags(host_path, ino, flags)
    return flags


def apply(kernel, host_path, real):
    """Bring the inode at ``real`` (the file ``host_path``) to the Linux attributes its flags and mounts call
    for.  Returns False when the file or its filesystem cannot carry them (the record alone then holds the
    flags); raises :class:`OSError` for other failures."""
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        return False
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return False
    wanted = linux_attributes(kernel, host_path, kernel.file_flags(host_path, st.st_ino))
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        attributes = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
        new = (attributes & ~(_FS_IMMUTABLE_FL | _FS_APPEND_FL | _FS_NODUMP_FL)) | wanted
        if new != attributes:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", new))
    except OSError as error:
        if error.errno in _UNSUPPORTED:
            return False
        raise
    finally:
        os.close(fd)
    return True


def clear_tree(top):
    """Remove the Linux ``i`` and ``a`` attributes from every file below ``top`` (test teardown)."""
    for directory, _, files in os.walk(top):
        for path in [directory, *(os.path.join(directory, name) for name in files)]:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # a symlink, socket or fifo: no attributes
            try:
                attributes = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
                if attributes & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
                    fcntl.ioctl(fd, _FS_IOC_SETFLAGS,
                                struct.pack("i", attributes & ~(_FS_IMMUTABLE_FL | _FS_APPEND_FL)))
            except OSError:
                pass  # a filesystem without these attributes
            finally:
                os.close(fd)

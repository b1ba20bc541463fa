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
"""

import errno
import fcntl
import os
import stat
import struct

from .simkernel import SF_APPEND, SF_IMMUTABLE, SF_NOUNLINK, UF_APPEND, UF_IMMUTABLE, UF_NOUNLINK

_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20
_UNSUPPORTED = (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS)

#: Filesystem types whose mount point the rehearsal makes immutable while mounted.
PSEUDO_FILESYSTEMS = ("devfs", "fdescfs", "procfs")


def linux_attributes(kernel, host_path, flags):
    """The Linux ``i``/``a`` bits the file ``host_path`` with BSD ``flags`` should carry."""
    wanted = 0
    if flags & (SF_IMMUTABLE | UF_IMMUTABLE):
        wanted |= _FS_IMMUTABLE_FL
    if flags & (SF_APPEND | UF_APPEND | SF_NOUNLINK | UF_NOUNLINK):
        wanted |= _FS_APPEND_FL
    if any(m["node"] == host_path and m["fstype"] in PSEUDO_FILESYSTEMS for m in kernel.mounts):
        wanted |= _FS_IMMUTABLE_FL
    return wanted


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
        current = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
        new = (current & ~(_FS_IMMUTABLE_FL | _FS_APPEND_FL)) | wanted
        if new != current:
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
                current = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
                if current & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
                    fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", current & ~(_FS_IMMUTABLE_FL | _FS_APPEND_FL)))
            except OSError:
                pass  # a filesystem without these attributes
            finally:
                os.close(fd)

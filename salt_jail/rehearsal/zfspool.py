"""The rehearsal host's ZFS pools: real zfs-fuse pools on files below the scratch root.

Where Debian's ``zfs-fuse`` is installed and its daemon runs, the rehearsal plays ZFS with the real thing
(DESIGN.md rule 6): the pools the pillar names (``zroot`` by default) are real pools on sparse files in
``<root>/.rehearsal/zfs/``, mounted below the scratch root (pool ``zroot`` at ``<root>/zroot``, as a FreeBSD
installer mounts it at ``/zroot``).  Pools are global to the machine, so each scratch root gets pools of its
own: the pillar's name ``zroot`` maps onto ``sjr_zroot_<random>`` (recorded in ``pools.json``), and the
``zfs``/``zpool`` stand-ins rewrite names and paths both ways (:mod:`salt_jail.rehearsal.tools.zfs`); two
rehearsals never collide, and a stand-in never reaches a pool that is not its scratch root's own.

A pool is created on the first ``zfs``/``zpool`` command of a scratch root (a FreeBSD host has its pool
from the installer; the rehearsal host gets it when first asked), and destroyed by :func:`destroy_pools`
(tests' teardown, ``make clean``, ``python -m salt_jail.rehearsal.zfspool --destroy ROOT``).
"""

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import time

#: The pools a rehearsal host has (FreeBSD's installer names its pool zroot).
DEFAULT_POOLS = ("zroot",)
#: Size of each pool's backing file (sparse: only what is written takes disk space).
POOL_SIZE = 2 << 30
#: Prefix of the real pool names (``sjr_<pool>_<random>``).
PREFIX = "sjr"
#: Where Debian's zfs-fuse installs its tools.
_CANDIDATES = ("/usr/sbin", "/sbin", "/usr/local/sbin")


class Unavailable(Exception):
    """zfs-fuse cannot be used here; the message says why (for the stand-ins and for tests' skip reasons)."""


def real_tool(name):
    """The path of the machine's real ``zfs``/``zpool`` (zfs-fuse), or raise :class:`Unavailable`."""
    for directory in _CANDIDATES:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise Unavailable(f"the rehearsal plays ZFS with Debian's zfs-fuse, and no {name} is installed here "
                      "(apt-get install zfs-fuse)")


def unavailable_reason():
    """Why the rehearsal cannot play ZFS on this machine, or None when it can."""
    try:
        zpool = real_tool("zpool")
        real_tool("zfs")
    except Unavailable as exc:
        return str(exc)
    if not os.path.exists("/dev/fuse"):
        return "zfs-fuse needs /dev/fuse, which this machine lacks"
    if os.geteuid() != 0:
        return "zfs-fuse pools can only be made by root"
    proc = subprocess.run([zpool, "list", "-H", "-o", "name"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return ("the zfs-fuse daemon does not answer (start it: zfs-fuse --pidfile /run/zfs-fuse.pid "
                f"--no-kstat-mount): {(proc.stderr or proc.stdout).strip()}")
    return None


class Pools:
    """The pool map of one scratch root: ``{pillar pool name: real pool name}``, kept in ``pools.json``."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.dir = os.path.join(scratch.dir, "zfs")
        self.file = os.path.join(self.dir, "pools.json")

    def _load(self):
        try:
            with open(self.file, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return {}

    def mapping(self):
        """``{pool: real name}`` of the pools already created (no pool is created)."""
        return {name: info["real"] for name, info in self._load().items()}

    def ensure(self, names=DEFAULT_POOLS):
        """Create the pools ``names`` where missing (real zfs-fuse pools); returns :meth:`mapping`."""
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "lock"), "a+", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            missing = [n for n in names if n not in data]
            if missing:
                zpool = real_tool("zpool")
                for name in missing:
                    real = f"{PREFIX}_{name}_{secrets.token_hex(4)}"
                    backing = os.path.join(self.dir, f"{name}.img")
                    with open(backing, "wb") as fh:
                        fh.truncate(POOL_SIZE)
                    mountpoint = self.scratch.real("/" + name)
                    proc = subprocess.run([zpool, "create", "-m", mountpoint, real, backing],
                                          capture_output=True, text=True, check=False)
                    if proc.returncode != 0:
                        os.unlink(backing)
                        raise Unavailable(f"cannot create the rehearsal pool {name} ({real}) on {backing}: "
                                          f"{(proc.stderr or proc.stdout).strip()}")
                    data[name] = {"real": real, "file": backing}
                    tmp = self.file + ".tmp"
                    with open(tmp, "w", encoding="utf-8") as fh:
                        json.dump(data, fh, indent=1, sort_keys=True)
                    os.replace(tmp, self.file)
        return {name: info["real"] for name, info in data.items()}

    def destroy(self):
        """Destroy every pool of this scratch root and remove its backing file; returns the real names."""
        data = self._load()
        if not data:
            return []
        zpool = real_tool("zpool")
        done, failed = [], []
        for name, info in data.items():
            for attempt in range(20):     # zfs-fuse answers "pool is busy" for a moment after a busy spell
                proc = subprocess.run([zpool, "destroy", "-f", info["real"]], capture_output=True, text=True,
                                      check=False)
                output = proc.stderr + proc.stdout
                if proc.returncode == 0 or "no such pool" in output or "is busy" not in output:
                    break
                time.sleep(0.05 * (attempt + 1))
            if proc.returncode != 0 and "no such pool" not in output:
                failed.append(f"{info['real']}: {output.strip()}")
                continue
            try:
                os.unlink(info["file"])
            except FileNotFoundError:
                pass
            done.append(info["real"])
        if failed:
            raise RuntimeError("cannot destroy rehearsal pools: " + "; ".join(failed))
        os.unlink(self.file)
        return done


def sync_mounts(scratch, mapping):
    """Bring the simulated kernel's mount table in line with the datasets zfs-fuse has mounted.

    ``mount -p`` on FreeBSD lists every mounted dataset (``zroot/jails/web1  /home/jail/web1  zfs  rw``);
    the zfs stand-in calls this after every command that may mount or unmount one.  Entries keep their
    order (a dataset mounted earlier stays earlier); the kernel record names datasets and mount points as
    the product sees them.
    """
    if not mapping:
        return
    zfs = real_tool("zfs")
    proc = subprocess.run([zfs, "list", "-H", "-o", "name,mountpoint,mounted", "-r", *mapping.values()],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return
    reverse = {real: name for name, real in mapping.items()}
    mounted = []
    for line in proc.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) != 3 or fields[2] != "yes" or not fields[1].startswith(scratch.root + "/"):
            continue
        pool, _, rest = fields[0].partition("/")
        name = reverse.get(pool, pool) + ("/" + rest if rest else "")
        mounted.append({"special": name, "node": fields[1][len(scratch.root):], "fstype": "zfs",
                        "readonly": False})
    with scratch.kernel() as kernel:
        keep = [m for m in kernel.mounts if m["fstype"] != "zfs" or m in mounted]
        new = [m for m in mounted if m not in keep]
        kernel.data["mounts"] = keep + new


def main(argv=None):
    """``python -m salt_jail.rehearsal.zfspool --destroy ROOT``: remove a scratch root's pools."""
    from .scratch import Scratch  # pylint: disable=import-outside-toplevel

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "--destroy":
        sys.stderr.write("usage: python -m salt_jail.rehearsal.zfspool --destroy SCRATCH_ROOT\n")
        return 64
    if not os.path.exists(os.path.join(argv[1], ".rehearsal", "zfs", "pools.json")):
        return 0
    for real in Pools(Scratch(argv[1])).destroy():
        print(f"destroyed rehearsal pool {real}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

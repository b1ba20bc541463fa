"""Benchmark: the base system into N prisoners with jailprov vs plain ``tar -xpf base.txz`` N times.

    python bench/bench_base_install.py [--n 1 5 20] [--repeat 3] [--workdir DIR]

The archive is the synthetic "realistic" release (≥ 20 000 entries, ≥ 150 MB extracted; generated once
and cached, see salt_jail/rehearsal/mirror.py).  Each timed jailprov run starts from a cache holding only
the downloaded ``base.txz`` and ``MANIFEST``, so it pays the sha256 check, the one decompression, the
member check and N extractions of the cached ``.tar``; the plain side runs the system tar on the ``.txz``
N times.  Both sides extract into fresh directories on the same file system, alternate (which side goes
first flips every repetition), and start with dirty pages flushed (``sync``).  The host is ``/`` with the
real system tar: what is measured is jailprov's own machinery, not the rehearsal stand-ins.

By default both sides work in a private tmpfs mounted for the run (and unmounted after): on a shared disk
the kernel's cost of creating ~20 000 files right after other trees were deleted varies from 0.5 s to
9 s between identical runs, which buries the difference being measured.  ``--workdir DIR`` measures on
DIR's file system instead.

Prints the medians, their ratio against the targets (N=1 within 1.15x of plain tar, N=20 under 0.5x),
and the peak RSS of this process and of its largest child (tar, xz).
"""

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from salt_jail.core import model, release  # noqa: E402
from salt_jail.core.io.host import Host  # noqa: E402

RELEASE = "14.2-RELEASE"
TARGETS = {1: ("<=", 1.15), 20: ("<", 0.5)}


def generate(workdir):
    """Build the realistic mirror in a child process, so its memory does not count as ours."""
    mirror_dir = os.path.join(workdir, "mirror")
    out = subprocess.run([sys.executable, "-m", "salt_jail.rehearsal.mirror", mirror_dir, "--size", "realistic"],
                         cwd=REPO, check=True, capture_output=True, text=True)
    return out.stdout.splitlines()[0]


def run_jailprov(release_dir, work, n):
    cfg = model.parse({
        "jail_root": os.path.join(work, "jails"), "release": RELEASE, "mirrors": [f"file://{release_dir}"],
        "cache_dir": os.path.join(work, "cache"),
        "prisoners": {f"p{i}": {"hostname": f"p{i}.example.org"} for i in range(n)},
    })
    cache = os.path.join(cfg.cache_dir, RELEASE, cfg.arch)
    os.makedirs(cache)
    for name in ("base.txz", "MANIFEST"):                  # as left by a finished download
        shutil.copyfile(os.path.join(release_dir, name), os.path.join(cache, name))
    host = Host(root="/")
    start = time.perf_counter()
    for name in cfg.prisoners:
        res = release.install_base(host, cfg, name)
        assert res.changed and not res.data["downloaded"], res.comment
    return time.perf_counter() - start


def run_plain(release_dir, work, n):
    txz = os.path.join(release_dir, "base.txz")
    start = time.perf_counter()
    for i in range(n):
        root = os.path.join(work, f"p{i}")
        os.makedirs(root)
        subprocess.run(["tar", "-xpf", txz, "-C", root], check=True, capture_output=True)
    return time.perf_counter() - start


def measure(release_dir, workdir, n, repeat):
    times = {"jailprov": [], "plain": []}
    sides = [("jailprov", run_jailprov), ("plain", run_plain)]
    for rep in range(repeat):
        for label, fn in (sides if rep % 2 == 0 else sides[::-1]):
            work = tempfile.mkdtemp(prefix=f"bench-{label}-", dir=workdir)
            os.sync()
            try:
                times[label].append(fn(release_dir, work, n))
            finally:
                shutil.rmtree(work)
    return times


def report(n, times):
    """Print one table row: medians, ratio, and the target for this N if there is one."""
    ours, plain = statistics.median(times["jailprov"]), statistics.median(times["plain"])
    ratio = ours / plain
    target = ""
    if n in TARGETS:
        op, limit = TARGETS[n]
        met = ratio <= limit if op == "<=" else ratio < limit
        target = f"{op} {limit}  {'met' if met else 'MISSED'}"
    print(f"{n:>3}  {ours:>10.2f}  {plain:>11.2f}  {ratio:>6.2f}  {target}", flush=True)


@contextlib.contextmanager
def workspace(workdir, size):
    """``(directory, description)``: ``workdir`` itself, else a tmpfs of ``size`` mounted for the run
    (falling back to /var/tmp where mounting is not permitted)."""
    if workdir:
        yield workdir, f"{workdir} ({os.path.realpath(workdir)})"
        return
    path = tempfile.mkdtemp(prefix="bench-base-install-")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        os.rmdir(path)
        yield "/var/tmp", f"/var/tmp (no tmpfs: {proc.stderr.strip()})"
        return
    try:
        yield path, f"tmpfs of {size} on {path}"
    finally:
        subprocess.run(["umount", path], check=False)
        os.rmdir(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 5, 20], help="prisoner counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and N (median reported)")
    parser.add_argument("--workdir", help="extract on this directory's file system instead of a private tmpfs")
    args = parser.parse_args(argv)

    release_dir = generate("/var/tmp")
    txz = os.path.join(release_dir, "base.txz")
    with open(os.path.join(release_dir, "MANIFEST"), encoding="ascii") as fh:
        entries = fh.read().split("\t")[2]
    print(f"archive: {txz}: {os.path.getsize(txz) / 1e6:.1f} MB compressed, {entries} entries")
    # Room for N trees of ~200 MB plus the cached .tar.
    with workspace(args.workdir, f"{(max(args.n) + 2) * 240}m") as (workdir, where):
        print(f"extracting into: {where}; medians of {args.repeat} alternating runs")
        print(f"{'N':>3}  {'jailprov s':>10}  {'plain tar s':>11}  {'ratio':>6}  target")
        for n in args.n:
            report(n, measure(release_dir, workdir, n, args.repeat))
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process (jailprov) {self_mb:.0f} MB (target < 150 MB: "
          f"{'met' if self_mb < 150 else 'MISSED'}); largest child (tar/xz) {child_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

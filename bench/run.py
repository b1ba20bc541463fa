"""Benchmarks (issue 8): the jail formula against the tutorial as a shell script and a stock-Salt SLS.

    python bench/run.py                    # the full run (`make bench`): N = 2, 10, 50; records the results
    python bench/run.py --quick            # smoke test: N = 2, 10, one repetition, records nothing
    python bench/run.py --profile --n 50   # pyinstrument profiles of the formula's runs instead of timings
    python bench/run.py --tables           # the tables of the recorded run (bench/results.json) again

Everything runs on rehearsal hosts (salt_jail/rehearsal: FreeBSD's tools played on Linux under a scratch
root) with the synthetic release of realistic shape (>= 20 000 entries, >= 150 MB extracted) served from
127.0.0.1.  The three ways of building N prisoners, each on a fresh scratch root, in the same run:

* formula  -- ``salt-call --local state.apply jail`` (states/jail);
* stock    -- ``salt-call --local state.apply stock_salt`` (bench/stock_salt: the same steps with stock states);
* tutorial -- ``sh bench/tutorial.sh`` (the tutorial's commands, one ``tar -xpf base.txz`` per prisoner).

Measured, alternating the order of the approaches every repetition, reporting medians:

1. first build of N prisoners (formula, tutorial, stock);
2. idempotent rerun (formula, stock, and Salt's floor: ``state.apply floor``, one ``test.nop``);
3. the same rerun with ``test=True``;
4. ``salt-call jailprov.list`` against the rehearsal ``jls -v --libxo json`` it runs;
5. peak RSS of every ``salt-call`` (and the CPU time of every run, see :func:`in_child`);
6. bench/scaling.png (bench/plot.py) from bench/results.json;

and, once, what the rehearsal's tar stand-in adds to an extraction (a cost FreeBSD's bsdtar does not have).
Each target of issue 8 is printed MET or MISSED; a full run rewrites the generated section of
bench/RESULTS.md, bench/results.json and bench/scaling.png.

Every salt-call uses rehearse.prepare() (rehearsal host, local mirror, minion config) and rehearse.salt_call().
After the first builds at the smallest N it checks that the three approaches built the same files.
"""

import argparse
import compileall
import copy
import dataclasses
import datetime
import hashlib
import importlib.util
import json
import os
import pathlib
import pickle
import platform
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import time

import yaml

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from salt_jail import rehearsal  # noqa: E402
from salt_jail.core.release import ARCH_PATHS  # noqa: E402
from salt_jail.rehearsal import mirror  # noqa: E402
from salt_jail.rehearse import prepare, salt_call  # noqa: E402

FULL_N = (2, 10, 50)
QUICK_N = (2, 10)
#: Extra first builds of the formula and the tutorial (the first-build target compares those two; a first
#: build writes ~230 MB per prisoner, and its time swings with the disk and the neighbours far more than a
#: rerun's), and the N from which the stock SLS (the slowest, and only compared for information) and every
#: approach at the largest N are built once.
FIRST_BUILD_EXTRA = 2
STOCK_ONCE_FROM_N = 10
ALL_ONCE_FROM_N = 50


def first_build_reps(n, repeat):
    """First builds per approach at N = n for ``repeat`` repetitions of everything else."""
    if n >= ALL_ONCE_FROM_N:
        return dict.fromkeys(APPROACHES, 1)
    target = repeat + FIRST_BUILD_EXTRA if repeat > 1 else repeat
    return {"formula": target, "tutorial": target, "stock": 1 if n >= STOCK_ONCE_FROM_N else repeat}
DEFAULT_REPEAT = 3
APPROACHES = ("formula", "tutorial", "stock")
#: The formula's install stamp: the one prisoner file the other approaches do not write.
FORMULA_ONLY = ("var/db/jailprov-base.json",)
HOST_FILES = ("etc/rc.conf", "etc/jail.conf", "etc/pw.conf")
RSS_LIMIT_MB = 150
STOCK_LISTING = "stock, no if_missing"
RESULTS_MD = BENCH / "RESULTS.md"
RESULTS_JSON = BENCH / "results.json"
MARK_START, MARK_END = "<!-- bench/run.py: start -->", "<!-- bench/run.py: end -->"


# -- pillars ---------------------------------------------------------------------------------------------

def pillar_for(n):
    """pillar.example with ``n`` prisoners: prisoner1 and prisoner2 as in the seed, the others in their
    pattern (jid i, 192.168.11.(30+i), bsd<i>.korodes.com, UIDs/GIDs 10000*(i+1) .. +9999).  prisoner1
    keeps the seed's root_password, so the password step runs at every N."""
    if not 1 <= n <= 200:
        raise ValueError(f"n must be 1..200 (one /24 of addresses), not {n}")
    data = yaml.safe_load((REPO / "pillar.example").read_text(encoding="utf-8"))
    seed = data["jailprov"]["prisoners"]
    prisoners = {}
    for i in range(1, n + 1):
        first = 10000 * (i + 1)
        prisoners[f"prisoner{i}"] = seed.get(f"prisoner{i}") or {
            "jid": i,
            "ip4": f"192.168.11.{30 + i}",
            "hostname": f"bsd{i}.korodes.com",
            "pw_range": {"uid": [first, first + 9999], "gid": [first, first + 9999]},
        }
    data["jailprov"]["prisoners"] = prisoners
    return data


def tutorial_spec(pillar):
    """The SPEC file bench/tutorial.sh reads, for ``pillar``."""
    jp = pillar["jailprov"]
    host = jp["host"]["pw_range"]
    lines = [f"host {jp['interface']} {host['uid'][0]} {host['uid'][1]} {host['gid'][0]} {host['gid'][1]}"]
    for name, p in jp["prisoners"].items():
        ip4 = p["ip4"] if isinstance(p["ip4"], str) else p["ip4"][0]
        timezone = p.get("timezone") or jp["defaults"]["timezone"]
        rng = p["pw_range"]
        lines.append(f"{name} {p['jid']} {ip4} {p['hostname']} {rng['uid'][0]} {rng['uid'][1]} "
                     f"{rng['gid'][0]} {rng['gid'][1]} {timezone} {p.get('root_password') or '-'}")
    return "\n".join(lines) + "\n"


# -- rehearsal sites -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Site:
    """One rehearsal host: scratch root, salt-call config dir, its mirror, and the stand-ins' directory."""

    root: pathlib.Path
    config: pathlib.Path
    stop_mirror: object
    release_url: str
    bindir: str
    bench_pillar: dict

    def close(self):
        self.stop_mirror()
        wipe(self.root)


def wipe(root):
    """Remove a scratch root.  Files the rehearsal marked schg carry Linux's immutable attribute, which
    rm cannot pass: rm removes everything else, then the attribute is cleared on what is left (a few
    files, instead of walking every prisoner's 20 000) and rm runs again."""
    if not root.exists():
        return
    rehearsal.unmount_all(str(root))        # thin prisoners' nullfs mounts (real read-only binds), deepest first
    argv = ["rm", "-rf", "--one-file-system", str(root)]
    if subprocess.run(argv, capture_output=True, check=False).returncode != 0:
        rehearsal.clear_file_flags(str(root))
        subprocess.run(argv, check=True)


def states_dir(workdir):
    """A file root holding the formula (jail), bench/stock_salt and bench/floor side by side."""
    top = workdir / "states"
    top.mkdir(parents=True, exist_ok=True)
    for name, target in (("jail", REPO / "states" / "jail"), ("stock_salt", BENCH / "stock_salt"),
                         ("floor", BENCH / "floor")):
        link = top / name
        if not link.is_symlink() or link.resolve() != target:
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    return top


def open_site(root, pillar, workdir, size):
    """A fresh rehearsal host at ``root`` for ``pillar`` (plus the ``bench:`` keys the stock SLS reads)."""
    wipe(root)
    root.mkdir(parents=True)
    bindir = str(root / ".rehearsal" / "bin") + "/"
    pillar = copy.deepcopy(pillar)
    pillar["bench"] = {"root": str(root), "bin": bindir}
    config, stop = prepare(root, pillar, states_dir(workdir), size=size)
    jp = pillar["jailprov"]
    # prepare() wrote the pillar with the local mirror's URL in place of the pillar's mirror
    served = yaml.safe_load((config / "pillar" / "rehearsal.sls").read_text(encoding="utf-8"))
    arch = jp.get("arch", "amd64")
    release_url = f"{served['jailprov']['mirror']}/{ARCH_PATHS[arch]}/{jp['release']}"
    return Site(root, config, stop, release_url, bindir, pillar["bench"])


# -- measuring -------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Measure:
    """One measured run: what ``fn`` returned, wall seconds, and its subprocess trees' peak RSS and CPU time."""

    result: dict
    seconds: float
    rss_mb: float
    cpu_s: float


def in_child(fn, *args):
    """Run ``fn(*args)`` in a forked child and measure it (:class:`Measure`).

    The child's ``RUSAGE_CHILDREN`` covers exactly the processes ``fn`` ran (and waited for) and their
    descendants: ``ru_maxrss`` is the largest resident set among them (salt-call itself, or a tar or
    stand-in it ran, whichever is larger) and user+system time their CPU time, which other load on the
    machine disturbs less than wall time.  Forking keeps each measurement apart: this process's own
    RUSAGE_CHILDREN only ever grows.
    """
    os.sync()   # the previous run's dirty pages are written back now, not during this measurement
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            start = time.perf_counter()
            result = fn(*args)
            elapsed = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            payload = ("ok", Measure(result, elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, which re-raises it
            payload = ("error", repr(exc))
        with os.fdopen(write_end, "wb") as out:
            pickle.dump(payload, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status != "ok":
        raise RuntimeError(f"benchmark child failed: {value}")
    return value


def apply_sls(config, sls, test=False, pillar=None):
    """``salt-call state.apply SLS`` summarised: {"rc", "states", "changed", "failed": [first lines]}.

    ``pillar``: a mapping merged over the configured pillar (``pillar=...`` on the command line)."""
    extra = (["test=True"] if test else []) + ([f"pillar={json.dumps(pillar)}"] if pillar else [])
    rc, data, raw = salt_call(config, "state.apply", sls, *extra)
    if not isinstance(data, dict):
        return {"rc": rc, "states": 0, "changed": 0, "failed": [(raw or str(data)).strip()[-400:]]}
    failed = [f"{ret.get('__id__')}: {(ret.get('comment') or '').strip().splitlines()[:1]}"
              for ret in data.values() if ret.get("result") is False]
    changed = sum(1 for ret in data.values() if ret.get("changes") or ret.get("result") is None)
    seconds = {}   # state function -> seconds spent in its states (Salt's "duration", in ms)
    for key, ret in data.items():
        fun = ".".join(key.split("_|-")[::3][:2]) if "_|-" in key else key
        seconds[fun] = seconds.get(fun, 0.0) + float(ret.get("duration") or 0) / 1000
    return {"rc": rc, "states": len(data), "changed": changed, "failed": failed, "seconds": seconds}


def call(config, *args):
    """``salt-call`` of an execution function, summarised: {"rc", "ok"}."""
    rc, data, raw = salt_call(config, *args)
    return {"rc": rc, "ok": rc == 0 and data is not None, "detail": "" if rc == 0 else raw.strip()[-400:]}


def run_tutorial(site, spec_file):
    proc = subprocess.run(["sh", str(BENCH / "tutorial.sh"), str(site.root), site.bindir, site.release_url,
                           str(spec_file)], capture_output=True, text=True, check=False)
    return {"rc": proc.returncode, "detail": proc.stderr.strip()[-400:]}


def run_jls(bindir):
    proc = subprocess.run([bindir + "jls", "-v", "--libxo", "json"], capture_output=True, text=True, check=False)
    return {"rc": proc.returncode, "ok": proc.returncode == 0, "detail": proc.stderr.strip()[-400:]}


class Recorder:
    """Wall times, CPU times and peak RSS by (table, case, N), plus the problems seen along the way."""

    def __init__(self):
        self.times = {}
        self.cpu = {}
        self.rss = {}
        self.phases = {}   # N -> [{state function: seconds, "total": wall seconds}] of the formula's first builds
        self.problems = []

    def add_phases(self, n, seconds, total):
        if seconds:
            self.phases.setdefault(n, []).append(dict(seconds, total=total))

    def add(self, table, case, n, measure, salt_call=True):
        """Record ``measure``; its peak RSS counts for the salt-call table only when ``salt_call``."""
        self.times.setdefault(table, {}).setdefault(case, {}).setdefault(n, []).append(measure.seconds)
        self.cpu.setdefault(table, {}).setdefault(case, {}).setdefault(n, []).append(measure.cpu_s)
        if salt_call:
            self.rss.setdefault(f"{table}: {case}", {}).setdefault(n, []).append(measure.rss_mb)

    def median(self, table, case, n, cpu=False):
        values = (self.cpu if cpu else self.times).get(table, {}).get(case, {}).get(n)
        return statistics.median(values) if values else None

    def problem(self, text):
        if text not in self.problems:
            self.problems.append(text)
            print(f"   !! {text}", flush=True)

    def check(self, what, result, expect_changes=None):
        """Note a failed run, or a rerun that changed something."""
        if result.get("rc") not in (0, None) or result.get("failed"):
            detail = "; ".join(result.get("failed") or [result.get("detail", "")])
            self.problem(f"{what}: exit {result.get('rc')}: {detail[:300]}")
        if expect_changes is False and result.get("changed"):
            self.problem(f"{what}: {result['changed']} state(s) would change or changed (expected none)")

    def best(self, table, case, n):
        values = self.times.get(table, {}).get(case, {}).get(n)
        return min(values) if values else None

    def to_json(self):
        return {"times": self.times, "cpu": self.cpu, "rss": self.rss, "phases": self.phases,
                "problems": self.problems}

    @classmethod
    def from_json(cls, data):
        """The recorder :meth:`to_json` wrote (JSON keeps N as a string key)."""
        rec = cls()
        for attr in ("times", "cpu"):
            setattr(rec, attr, {table: {case: {int(n): values for n, values in by_n.items()}
                                        for case, by_n in cases.items()}
                                for table, cases in data.get(attr, {}).items()})
        rec.rss = {case: {int(n): values for n, values in by_n.items()} for case, by_n in data.get("rss", {}).items()}
        rec.phases = {int(n): runs for n, runs in data.get("phases", {}).items()}
        rec.problems = list(data.get("problems", []))
        return rec


def rotated(items, k):
    k %= len(items)
    return list(items[k:]) + list(items[:k])


# -- the same prisoner files -----------------------------------------------------------------------------

def tree_signature(top):
    """{relative path: (type, mode, uid, gid, symlink target or content digest)} of everything below top."""
    signature = {}
    for directory, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    what = hashlib.file_digest(fh, "sha1").hexdigest()
            else:
                what = None
            signature[os.path.relpath(path, top)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                                     st.st_uid, st.st_gid, what)
    return signature


def compare_builds(sites, pillar, rec):
    """Check that every approach built the same prisoner files and host files as the formula."""
    print("== same files? (every prisoner tree and host file, against the formula's)", flush=True)
    jail_root = pillar["jailprov"].get("jail_root", "/home/jail").strip("/")
    reference = sites["formula"]
    for approach, site in sites.items():
        if approach == "formula":
            continue
        differences = []
        for name in pillar["jailprov"]["prisoners"]:
            want = tree_signature(reference.root / jail_root / name)
            got = tree_signature(site.root / jail_root / name)
            for rel in FORMULA_ONLY:
                want.pop(rel, None)
            differences += [f"{name}/{rel}" for rel in sorted(set(want) | set(got)) if want.get(rel) != got.get(rel)]
        for rel in HOST_FILES:
            if (reference.root / rel).read_bytes() != (site.root / rel).read_bytes():
                differences.append(f"host {rel}")
        if differences:
            rec.problem(f"{approach} built different files than the formula: {', '.join(differences[:10])}")
        else:
            print(f"   {approach}: same prisoner files (the formula also writes its install stamp "
                  f"{FORMULA_ONLY[0]}) and same host {', '.join(HOST_FILES)}", flush=True)


# -- the run ---------------------------------------------------------------------------------------------

def first_builds(n, reps, workdir, size, rec, compare):
    """Build N prisoners ``reps[approach]`` times with each approach, rotating the order; returns the sites
    the last build of each approach left (the reruns start from those)."""
    pillar = pillar_for(n)
    spec = workdir / f"tutorial-{n}.spec"
    spec.write_text(tutorial_spec(pillar), encoding="utf-8")
    sites = {}
    for rep in range(max(reps.values())):
        for approach in rotated(APPROACHES, rep):
            if rep >= reps[approach]:
                continue
            if approach in sites:
                sites.pop(approach).close()
            site = open_site(workdir / approach, pillar, workdir, size)
            sites[approach] = site
            if approach == "tutorial":
                m = in_child(run_tutorial, site, spec)
            else:
                m = in_child(apply_sls, site.config, "jail" if approach == "formula" else "stock_salt")
            rec.check(f"first build N={n} {approach}", m.result)
            rec.add("first build", approach, n, m, salt_call=approach != "tutorial")
            if approach == "formula":
                rec.add_phases(n, m.result.get("seconds"), m.seconds)
            print(f"   first build  N={n:<3} {approach:<20} {m.seconds:8.2f} s  cpu {m.cpu_s:7.2f} s  "
                  f"{m.rss_mb:5.0f} MB", flush=True)
            if approach == "tutorial" and not (compare and rep == 0):
                sites.pop("tutorial").close()   # no rerun for a shell script: free the disk now
        if compare and rep == 0:
            compare_builds(sites, pillar, rec)
            sites.pop("tutorial").close()
    return sites


def untar(argv, target):
    """Run the tar command line ``argv`` (which extracts into ``target``) after creating ``target``."""
    target.mkdir(parents=True)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return {"rc": proc.returncode, "detail": proc.stderr.strip()[-400:]}


def bsdtar_as_tar(workdir):
    """Put the host's bsdtar first on PATH as ``tar``, for the baselines: the stock SLS's archive.extracted
    and the untar row run ``tar`` from PATH, the tutorial script bsdtar itself, and the formula's tar
    stand-in runs bsdtar -- FreeBSD's tar on every side.  Returns the tar the baselines get."""
    found = shutil.which("bsdtar")
    if found is None:
        return shutil.which("tar")
    bindir = workdir / "bsdtar-as-tar"
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "tar"
    if not link.is_symlink() or os.readlink(link) != found:
        link.unlink(missing_ok=True)
        link.symlink_to(found)
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    return found


def stand_in_overhead(site, repeat, rec):
    """What the rehearsal's tar stand-in adds to one extraction of the formula's cached ``.tar``.

    The formula extracts through the stand-in, which runs bsdtar (FreeBSD's tar; Debian's libarchive-tools)
    confined to the scratch root, flags restored by bsdtar itself; the baselines run the same bsdtar
    directly (:func:`bsdtar_as_tar`).  What is left is the stand-in's start-up and confinement, a
    rehearsal-only cost the formula pays once per prisoner."""
    cached = next(site.root.glob("var/cache/jailprov/*/*/base.tar"), None)
    if cached is None:
        rec.problem("no cached base.tar under the formula's cache dir: stand-in overhead not measured")
        return
    scratch = site.root / "tmp" / "bench-untar"
    ways = {   # name -> (command line up to -C, whether it takes host paths)
        "stand-in tar": ([site.bindir + "tar", "-xpf", "/" + str(cached.relative_to(site.root)), "-C"], True),
        "host tar": (["tar", "-xpf", str(cached), "-C"], False),
    }
    for rep in range(repeat):
        for way in rotated(tuple(ways), rep):
            prefix, host_paths = ways[way]
            target = scratch / f"{way.replace(' ', '-')}-{rep}"
            m = in_child(untar, [*prefix, "/" + str(target.relative_to(site.root)) if host_paths else str(target)],
                         target)
            rec.check(f"untar {way}", m.result)
            rec.add("untar", way, 1, m, salt_call=False)
            print(f"   untar        {way:<20} {m.seconds:8.2f} s  cpu {m.cpu_s:7.2f} s", flush=True)
    wipe(scratch)


def reruns(n, sites, repeat, rec, listing_variant):
    """Idempotent reruns and test=True runs (formula, stock, floor), then jailprov.list against jls.

    ``listing_variant``: also rerun the stock SLS without ``if_missing`` (archive.extracted's default,
    which lists the whole archive every run to see whether anything is missing), once: it only shows why
    the stock SLS sets ``if_missing``."""
    formula, stock = sites["formula"], sites["stock"]
    cases = {
        "formula": (formula.config, "jail", None),
        "stock": (stock.config, "stock_salt", None),
        "floor": (formula.config, "floor", None),
    }
    variant = {STOCK_LISTING: (stock.config, "stock_salt", dict(stock.bench_pillar, list_archive=True))}
    for table, test in (("rerun", False), ("test=True", True)):
        for rep in range(repeat):
            table_cases = {**cases, **(variant if listing_variant and not test and rep == 0 else {})}
            for case in rotated(tuple(table_cases), rep):
                config, sls, pillar = table_cases[case]
                m = in_child(apply_sls, config, sls, test, pillar and {"bench": pillar})
                rec.check(f"{table} N={n} {case}", m.result, expect_changes=False)
                rec.add(table, case, n, m)
                print(f"   {table:<12} N={n:<3} {case:<20} {m.seconds:8.2f} s  cpu {m.cpu_s:7.2f} s  "
                      f"{m.rss_mb:5.0f} MB", flush=True)
    listing = {
        "jls": lambda: in_child(run_jls, formula.bindir),
        "salt-call test.true": lambda: in_child(call, formula.config, "test.true"),
        "salt-call cmd.run jls": lambda: in_child(call, formula.config, "cmd.run_all",
                                                  f"{formula.bindir}jls -v --libxo json"),
        "salt-call jailprov.list": lambda: in_child(call, formula.config, "jailprov.list"),
    }
    for rep in range(repeat):
        for case in rotated(tuple(listing), rep):
            m = listing[case]()
            rec.check(f"list N={n} {case}", m.result)
            rec.add("list", case, n, m, salt_call=case.startswith("salt-call"))
            print(f"   list         N={n:<3} {case:<24} {m.seconds:8.3f} s  cpu {m.cpu_s:7.3f} s", flush=True)


def profile(n, workdir, size):
    """The formula's first build, rerun and test=True run of N prisoners under pyinstrument (text reports)."""
    if importlib.util.find_spec("pyinstrument") is None:
        print("--profile needs pyinstrument: pip install pyinstrument (or the bench extra)")
        return 1
    salt_call_script = shutil.which("salt-call", path=os.path.dirname(sys.executable))
    out_dir = workdir / "profiles"
    out_dir.mkdir(exist_ok=True)
    site = open_site(workdir / "formula", pillar_for(n), workdir, size)
    try:
        for label, args in (("first-build", ()), ("rerun", ()), ("test", ("test=True",))):
            out = out_dir / f"formula-N{n}-{label}.txt"
            subprocess.run([sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(out), salt_call_script,
                            "--local", "-c", str(site.config), "-l", "quiet", "state.apply", "jail", *args],
                           stdout=subprocess.DEVNULL, check=False)
            print(f"   {label}: {out}", flush=True)
    finally:
        site.close()
    return 0


# -- reporting -------------------------------------------------------------------------------------------

def _fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def _verdict(ok):
    return "MET" if ok else "MISSED"


def _slope(points):
    """Least-squares slope of [(n, y)] (y per prisoner)."""
    if len(points) < 2:
        return None
    mean_n = statistics.fmean(n for n, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    den = sum((n - mean_n) ** 2 for n, _ in points)
    return sum((n - mean_n) * (y - mean_y) for n, y in points) / den if den else None


def _growth(points):
    """How the cost above the floor grows with N: least-squares ms per prisoner and the per-step slopes."""
    slope = _slope(points)
    if slope is None:
        return ""
    steps = [(y2 - y1) / (n2 - n1) for (n1, y1), (n2, y2) in zip(points, points[1:])]
    if len(steps) < 2:
        shape = "linearity needs three N"
    else:   # the last step's cost per prisoner may not exceed the first's by half (5 ms of slack for noise)
        shape = "linear" if steps[-1] <= 1.5 * max(steps[0], 0.005) else "SUPERLINEAR"
    return f"{slope * 1000:.0f} ms per prisoner (per step: {', '.join(f'{s * 1000:.0f}' for s in steps)}; {shape})"


def report(rec, ns):
    """The tables and the target verdicts, as lines of text."""
    out = []
    med = rec.median

    out.append("First build (s, median; cpu = CPU time of the process tree, formula/tutorial; best = fastest run of each)")
    out.append(f"{'N':>4} {'formula':>9} {'tutorial':>9} {'stock':>9} {'f/tutorial':>11} {'f/stock':>8} "
               f"{'cpu f/t':>8} {'best f/t':>9}  target")
    for n in ns:
        f, t, s = (med("first build", a, n) for a in ("formula", "tutorial", "stock"))
        cf, ct = (med("first build", a, n, cpu=True) for a in ("formula", "tutorial"))
        bf, bt = (rec.best("first build", a, n) for a in ("formula", "tutorial"))
        ratio_t = f / t if f and t else None
        ratio_s = f / s if f and s else None
        ratio_cpu = cf / ct if cf and ct else None
        ratio_best = bf / bt if bf and bt else None
        if ratio_t is None:
            target = ""
        elif n <= 2:
            target = f"<= 1.3x tutorial: {_verdict(ratio_t <= 1.3)}"
        else:
            target = f"< 1.0x tutorial: {_verdict(ratio_t < 1.0)}"
        runs = len(rec.times.get("first build", {}).get("formula", {}).get(n, []))
        out.append(f"{n:>4} {_fmt(f):>9} {_fmt(t):>9} {_fmt(s):>9} {_fmt(ratio_t):>11} {_fmt(ratio_s):>8} "
                   f"{_fmt(ratio_cpu):>8} {_fmt(ratio_best):>9}  {target}  ({runs} run{'s' if runs != 1 else ''})")

    stand_in, host_tar = (med("untar", way, 1) for way in ("stand-in tar", "host tar"))
    if stand_in is not None and host_tar is not None:
        extra = stand_in - host_tar
        out.append(f"     rehearsal-only cost: the tar stand-in takes {stand_in:.2f} s per extraction of the cached "
                   f".tar, the host's tar {host_tar:.2f} s:")
        out.append(f"     the formula pays {extra:.2f} s per prisoner that bsdtar on FreeBSD would not; without it, "
                   "formula/tutorial would be "
                   + ", ".join(f"{(f - n * extra) / t:.2f} at N={n}" for n in ns
                               if (f := med("first build", "formula", n)) and (t := med("first build", "tutorial", n))))

    for n in ns:
        runs = rec.phases.get(n)
        if not runs:
            continue
        def part(*funs, runs=runs):
            return statistics.median(sum(r.get(f, 0.0) for f in funs) for r in runs)
        release, base = part("jailprov.release_fetched"), part("jailprov.base")
        states = statistics.median(sum(v for k, v in r.items() if k != "total") for r in runs)
        total = statistics.median(r["total"] for r in runs)
        spread = ", ".join(f"{r['total']:.0f}" for r in runs)
        out.append(f"     formula N={n}, where the time goes (s, medians of Salt's state durations): release "
                   f"{release:.1f}, base installs {base:.1f} ({base / n:.2f} per prisoner), other states "
                   f"{states - release - base:.1f}, outside the states {total - states:.1f}; runs: {spread} s")

    for table in ("rerun", "test=True"):
        out.append("")
        out.append(f"{'Idempotent rerun' if table == 'rerun' else 'test=True run (nothing to change)'} "
                   "(s, median; above = above Salt's floor, one test.nop; cpu = CPU time of the salt-call tree)")
        out.append(f"{'N':>4} {'floor':>6} {'formula':>8} {'stock':>6} {'f above':>8} {'s above':>8} {'ratio':>6} "
                   f"{'cpu f above':>12} {'s above':>8} {'ratio':>6}  target (f above <= s above; aim 0.8x)")
        above = {"formula": [], "stock": []}
        above_cpu = {"formula": [], "stock": []}
        for n in ns:
            fl, f, s = (med(table, c, n) for c in ("floor", "formula", "stock"))
            cfl, cf, cs = (med(table, c, n, cpu=True) for c in ("floor", "formula", "stock"))
            if None in (fl, f, s):
                continue
            fa, sa, cfa, csa = f - fl, s - fl, cf - cfl, cs - cfl
            above["formula"].append((n, fa))
            above["stock"].append((n, sa))
            above_cpu["formula"].append((n, cfa))
            above_cpu["stock"].append((n, csa))
            ratio = fa / sa if sa > 0 else None
            ratio_cpu = cfa / csa if csa > 0 else None
            verdict = _verdict(fa <= sa) + (" (aim 0.8x met)" if ratio is not None and ratio <= 0.8 else "")
            out.append(f"{n:>4} {fl:>6.2f} {f:>8.2f} {s:>6.2f} {fa:>8.2f} {sa:>8.2f} {_fmt(ratio):>6} "
                       f"{cfa:>12.2f} {csa:>8.2f} {_fmt(ratio_cpu):>6}  {verdict}")
        for n, values in sorted(rec.times.get(table, {}).get(STOCK_LISTING, {}).items()):
            fl = med(table, "floor", n)
            out.append(f"     stock without if_missing (archive.extracted's default: lists the archive every run): "
                       f"{statistics.median(values):.2f} s at N={n}"
                       + (f", {statistics.median(values) - fl:.2f} s above the floor" if fl is not None else ""))
        for case in above:
            line = _growth(above[case])
            if line:
                out.append(f"     {case}: {line}; cpu {_growth(above_cpu[case])}")

    out.append("")
    out.append("jailprov.list against jls (s, median)")
    out.append(f"{'N':>4} {'jls':>7} {'test.true':>10} {'cmd.run jls':>12} {'jailprov.list':>14} "
               f"{'list-floor':>11}  target (list above salt-call's floor within jls + 0.3 s)")
    for n in ns:
        jls, floor, cmd, lst = (med("list", c, n) for c in ("jls", "salt-call test.true", "salt-call cmd.run jls",
                                                               "salt-call jailprov.list"))
        if None in (jls, floor, lst):
            continue
        own = lst - floor
        out.append(f"{n:>4} {jls:>7.3f} {floor:>10.3f} {_fmt(cmd, 3):>12} {lst:>14.3f} {own:>11.3f}  "
                   f"{_verdict(own <= jls + 0.3)}")

    out.append("")
    out.append("Peak RSS of the salt-call process tree (MB, max over runs)")
    out.append(f"{'case':<34}" + "".join(f"{'N=' + str(n):>8}" for n in ns) + f"  target (< {RSS_LIMIT_MB} MB)")
    for case in sorted(rec.rss):
        peaks = [max(rec.rss[case][n]) if n in rec.rss[case] else None for n in ns]
        seen = [p for p in peaks if p is not None]
        out.append(f"{case:<34}" + "".join(f"{_fmt(p, 0):>8}" for p in peaks)
                   + f"  {_verdict(max(seen) < RSS_LIMIT_MB) if seen else ''}")

    if rec.problems:
        out.append("")
        out.append("Problems seen during the run (timings of failed runs are still in the tables):")
        out += [f"  - {p}" for p in rec.problems]
    return out


def source_tree():
    """The commit measured, and whether the working tree had changes on top of it."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return (head or "unknown") + (" with uncommitted changes" if dirty else "")


def record(lines, rec, meta, command):
    """Write bench/results.json, bench/scaling.png and the generated section of bench/RESULTS.md."""
    RESULTS_JSON.write_text(json.dumps({"meta": meta, **rec.to_json()}, indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
    plot = subprocess.run([sys.executable, str(BENCH / "plot.py")], capture_output=True, text=True, check=False)
    print((plot.stdout + plot.stderr).strip())
    section = [MARK_START, "", f"Run of {meta['date']} on {meta['machine']} ({meta['duration_min']:.1f} min, "
               f"load average {meta['loadavg_before']} before it), source tree {meta['tree']}:", "",
               "```sh", command, "```", "", "```text", *lines, "```", "", MARK_END]
    text = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    head, _, rest = text.partition(MARK_START)
    _, _, tail = rest.partition(MARK_END)
    RESULTS_MD.write_text(head + "\n".join(section) + tail, encoding="utf-8")
    print(f"recorded: {RESULTS_MD.relative_to(REPO)}, {RESULTS_JSON.relative_to(REPO)}")


def tables_again(do_record):
    """The tables of the recorded run (bench/results.json) as the current report() prints them."""
    data = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    meta = data.pop("meta")
    rec = Recorder.from_json(data)
    lines = report(rec, meta["ns"])
    print("\n".join(lines))
    if do_record:
        record(lines, rec, meta, meta.get("command", "make bench"))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: N = 2, 10, one repetition, no record")
    parser.add_argument("--n", type=int, nargs="+", help="prisoner counts (default 2 10 50)")
    parser.add_argument("--repeat", type=int, help=f"repetitions per measurement (default {DEFAULT_REPEAT}; "
                        "N=50 first builds: 1)")
    parser.add_argument("--size", choices=mirror.SIZES, default="realistic", help="synthetic release size")
    parser.add_argument("--workdir", type=pathlib.Path, default=pathlib.Path("/var/tmp/salt_jail-bench"),
                        help="where the scratch roots go (emptied as the run goes)")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                        help="write bench/RESULTS.md, results.json, scaling.png (default: on, except --quick)")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing: profile the formula's runs at each N with pyinstrument")
    parser.add_argument("--tables", action="store_true",
                        help="print the tables of bench/results.json again (with --record: rewrite RESULTS.md's "
                             "generated section from it) instead of running anything")
    args = parser.parse_args(argv)
    if args.tables:
        return tables_again(args.record)
    ns = tuple(args.n or (QUICK_N if args.quick else FULL_N))
    repeat = args.repeat or (1 if args.quick else DEFAULT_REPEAT)
    do_record = (not args.quick) if args.record is None else args.record

    started = time.monotonic()
    # Byte-compile salt_jail as pip does for an installed package: an editable install under
    # PYTHONDONTWRITEBYTECODE=1 (set on this machine) would otherwise compile it again in every salt-call and
    # every rehearsal stand-in, a cost Salt's own (compiled) modules, and so the stock SLS, do not pay.
    compileall.compile_dir(str(REPO / "salt_jail"), quiet=1)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"== baselines' tar: {bsdtar_as_tar(workdir)}", flush=True)
    print(f"== synthetic {args.size} release (generated once, cached in {mirror.default_cache_dir()})", flush=True)
    release_dir = pathlib.Path(mirror.make_release(str(workdir / "mirror"), size=args.size))
    manifest = (release_dir / "MANIFEST").read_text(encoding="ascii").split("\t")
    print(f"   base.txz: {(release_dir / 'base.txz').stat().st_size / 1e6:.0f} MB compressed, {manifest[2]} entries",
          flush=True)

    if args.profile:
        return max(profile(n, workdir, args.size) for n in ns)

    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"   !! load average {load:.1f} before the run: other work on this machine will inflate the timings",
              flush=True)
    rec = Recorder()
    for n in ns:
        reps = first_build_reps(n, repeat)
        print(f"\n== N = {n}: first builds: {', '.join(f'{a} {k}' for a, k in reps.items())}; then {repeat} of each "
              "rerun", flush=True)
        sites = first_builds(n, reps, workdir, args.size, rec, compare=(n == ns[0]))
        try:
            if n == ns[0]:
                stand_in_overhead(sites["formula"], repeat, rec)
            reruns(n, sites, repeat, rec, listing_variant=(n == ns[0]))
        finally:
            for site in sites.values():
                site.close()

    lines = report(rec, ns)
    import bench_thin  # pylint: disable=import-outside-toplevel  (issue 17's rows: bench/bench_thin.py)
    lines += [""] + bench_thin.rows(ns, workdir, args.size)
    print("\n" + "\n".join(lines))
    duration = (time.monotonic() - started) / 60
    print(f"\n== {duration:.1f} min")
    if do_record:
        meta = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python "
                       f"{platform.python_version()}",
            "duration_min": duration, "ns": list(ns), "repeat": repeat, "size": args.size,
            "loadavg_before": round(load, 2), "tree": source_tree(),
            "first_build_repeat": {n: first_build_reps(n, repeat) for n in ns},
        }
        given = " ".join(argv if argv is not None else sys.argv[1:])
        command = f".venv/bin/python bench/run.py {given}" if given else "make bench    # = .venv/bin/python bench/run.py"
        meta["command"] = command
        record(lines, rec, meta, command)
    return 1 if rec.problems else 0


if __name__ == "__main__":
    sys.exit(main())

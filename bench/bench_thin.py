"""Benchmarks of issue 17: thin prisoners' first build against thick ones, the tutorial script and Bastille's thin
create (bench/bastille_thin.sh), their idempotent rerun, and the disk a thin prisoner takes.

    python bench/bench_thin.py                 # N = 2, 10, 50 (what `make bench` runs after bench/run.py's rows)
    python bench/bench_thin.py --n 2 10        # only those N
    python bench/bench_thin.py --n 2 10 --no-thick-from 50   # leave out thick builds from N = 50 (minutes each)

Same machinery as bench/run.py (rehearsal hosts, the synthetic release of realistic shape served from 127.0.0.1,
every measured command in a forked child, ``in_child``), in the same run:

* thin     -- ``salt-call --local state.apply jail`` with ``defaults: {type: thin}``;
* thick    -- the same with thick prisoners (the seed);
* tutorial -- ``sh bench/tutorial.sh`` (one ``tar -xpf base.txz`` per prisoner);
* bastille -- ``sh bench/bastille_thin.sh`` (the commands Bastille's create.sh runs per thin jail, lines cited there);
* floor    -- ``state.apply floor`` (one ``test.nop``): Salt's own cost, subtracted from the formula's times.

Targets (issue 17), printed MET or MISSED:
1. a thin prisoner's first build, per prisoner above the floor, <= 1/20 of a thick one's at N = 10;
2. the formula's thin first build above the floor <= 1.0x the Bastille-equivalent script at N >= 10;
3. the idempotent rerun of N thin prisoners <= that of N thick ones (N = 50 in the issue; every N measured).
And the disk a thin prisoner's writable part takes (du, mount points excluded) against a thick prisoner's.
"""

import argparse
import copy
import os
import pathlib
import subprocess
import sys
import time

BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: sites, pillars, measuring)

from salt_jail.rehearsal import mirror, nullfs  # noqa: E402

FULL_N = (2, 10, 50)
APPROACHES = ("thin", "thick", "tutorial", "bastille")


def thin_pillar(n):
    pillar = bench.pillar_for(n)
    pillar["jailprov"]["defaults"]["type"] = "thin"
    return pillar


def run_bastille(site, spec_file):
    proc = subprocess.run(["sh", str(BENCH / "bastille_thin.sh"), str(site.root), site.bindir, site.release_url,
                           str(spec_file)], capture_output=True, text=True, check=False)
    return {"rc": proc.returncode, "detail": proc.stderr.strip()[-400:]}


def du_kib(top):
    """Disk used below ``top`` (st_blocks), not descending into mount points: what `du -x` would say if a bind
    mount were another file system."""
    mounts = set(nullfs.mounted_below(str(top))) - {os.path.realpath(top)}
    total, seen = 0, set()
    for directory, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(directory, d) not in mounts]
        for name in files + dirs:
            st = os.lstat(os.path.join(directory, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total // 1024


def measure(n, approach, workdir, size, spec):
    pillar = thin_pillar(n) if approach == "thin" else bench.pillar_for(n)
    site = bench.open_site(workdir / f"thin-bench-{approach}", pillar, workdir, size)
    if approach == "tutorial":
        m = bench.in_child(bench.run_tutorial, site, spec)
    elif approach == "bastille":
        m = bench.in_child(run_bastille, site, spec)
    else:
        m = bench.in_child(bench.apply_sls, site.config, "jail")
    ok = m.result.get("rc") == 0 and not m.result.get("failed")
    if not ok:
        print(f"   !! {approach} N={n}: {m.result.get('failed') or m.result.get('detail')}", flush=True)
    return site, m, ok


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/bench_thin.py", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=list(FULL_N))
    parser.add_argument("--size", choices=mirror.SIZES, default="realistic")
    parser.add_argument("--workdir", type=pathlib.Path, default=pathlib.Path("/var/tmp/salt_jail-bench"))
    parser.add_argument("--no-thick-from", type=int, default=None,
                        help="skip thick and tutorial first builds from this N on (they write ~230 MB a prisoner)")
    args = parser.parse_args(argv)
    lines = rows(args.n, args.workdir.resolve(), args.size, args.no_thick_from)
    print("\n" + "\n".join(lines))
    return 0


def rows(ns, workdir, size, no_thick_from=None):
    """Measure every N of ``ns``; returns the printed table's lines (also printed as it goes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    mirror.make_release(str(workdir / "mirror"), size=size)
    results = {}
    started = time.monotonic()
    for n in ns:
        spec = workdir / f"thin-bench-{n}.spec"
        spec.write_text(bench.tutorial_spec(bench.pillar_for(n)), encoding="utf-8")
        res = results[n] = {}
        for approach in APPROACHES:
            if no_thick_from is not None and n >= no_thick_from and approach in ("thick", "tutorial"):
                continue
            site, m, ok = measure(n, approach, workdir, size, spec)
            res[approach] = m.seconds if ok else None
            print(f"   thin bench  N={n:<3} first build {approach:<9} {m.seconds:8.2f} s  cpu {m.cpu_s:7.2f} s",
                  flush=True)
            if approach in ("thin", "thick") and ok:
                floor = bench.in_child(bench.apply_sls, site.config, "floor")
                rerun = bench.in_child(bench.apply_sls, site.config, "jail")
                res[f"{approach} floor"] = floor.seconds
                res[f"{approach} rerun"] = rerun.seconds if not rerun.result.get("changed") else None
                root = site.root / "home" / "jail" / "prisoner2"
                res[f"{approach} du"] = du_kib(root)
                print(f"   thin bench  N={n:<3} rerun {approach:<5} {rerun.seconds:6.2f} s  floor {floor.seconds:5.2f} s  "
                      f"du prisoner2 {res[f'{approach} du']} KiB", flush=True)
            site.close()
    return report(results, time.monotonic() - started)


def _v(ok):
    return "MET" if ok else "MISSED"


def report(results, seconds):
    out = ["Thin prisoners (issue 17): first build, s (above = minus Salt's floor, one test.nop; per = per prisoner)",
           "   N   floor    thin   thick  tutorial  bastille  thin above/N  thick above/N   thin/thick per  "
           "thin above/bastille  thin above/tutorial"]
    verdicts = []
    for n, res in sorted(results.items()):
        floor = res.get("thin floor") or res.get("thick floor") or 0.0
        thin, thick, tut, bas = (res.get(a) for a in APPROACHES)
        thin_per = (thin - floor) / n if thin is not None else None
        thick_per = (thick - floor) / n if thick is not None else None
        ratio = thin_per / thick_per if thin_per is not None and thick_per else None
        vs_bastille = (thin - floor) / bas if thin is not None and bas else None
        vs_tutorial = (thin - floor) / tut if thin is not None and tut else None
        out.append(f"{n:>4} {floor:7.2f} {_f(thin):>7} {_f(thick):>7} {_f(tut):>9} {_f(bas):>9} {_f(thin_per, 3):>13} "
                   f"{_f(thick_per, 3):>14} {_f(ratio, 3):>16} {_f(vs_bastille):>20} {_f(vs_tutorial):>20}")
        if n == 10 and ratio is not None:
            verdicts.append(f"thin first build per prisoner <= 1/20 of thick at N = 10: {ratio:.3f} "
                            f"(1/{1 / ratio:.0f}) {_v(ratio <= 1 / 20)}")
        if n >= 10 and vs_bastille is not None:
            verdicts.append(f"thin first build above the floor <= 1.0x Bastille's thin create at N = {n}: "
                            f"{vs_bastille:.2f}x {_v(vs_bastille <= 1.0)}")
    out.append("Idempotent rerun, s (above = minus the floor)   and disk of one prisoner (prisoner2), KiB")
    out.append("   N  thin rerun  thick rerun  thin above  thick above   thin du  thick du")
    for n, res in sorted(results.items()):
        floor = res.get("thin floor") or 0.0
        tr, kr = res.get("thin rerun"), res.get("thick rerun")
        kfloor = res.get("thick floor") or floor
        out.append(f"{n:>4} {_f(tr):>11} {_f(kr):>12} {_f(tr - floor if tr else None):>11} "
                   f"{_f(kr - kfloor if kr else None):>12} {res.get('thin du', '-'):>9} {res.get('thick du', '-'):>9}")
        if tr is not None and kr is not None:
            verdicts.append(f"rerun of {n} thin prisoners <= {n} thick ones: {tr:.2f} s against {kr:.2f} s "
                            f"{_v(tr <= kr)}" + ("" if n == 50 else " (the issue's target is N = 50)"))
    out += ["Targets:"] + [f"  {v}" for v in verdicts] + [f"(thin rows: {seconds / 60:.1f} min)"]
    return out


def _f(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())

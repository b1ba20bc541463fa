"""Benchmark of issue 14 (deliverable 7): the cost of a state does not grow with the pillar's size.

    python bench/bench_state_cost.py                    # N = 100, 1000 (alone: `make bench` does not run it)
    python bench/bench_state_cost.py --n 20 100         # other N
    python bench/bench_state_cost.py --profile --n 100  # a cProfile of the formula's run instead (top functions)

On a fresh rehearsal host (bench/run.py's sites, a *small* synthetic release: nothing is built) it times
``salt-call --local state.apply jail test=True`` for N prisoners: every prisoner's states run their test mode
(each predicts a change), so the run costs what its states cost, without any extraction.  Beside it, two floors:

* floor      -- ``state.apply floor`` (one ``test.nop``): salt-call's start-up, loader, pillar and top;
* nop chain  -- ``state.apply nopchain``: as many ``test.nop`` states as the formula has, chained by ``require``
                per prisoner as the formula chains its steps: what Salt's state compiler itself costs for
                that many states, whatever the states do.

Target (issue 14): the formula's run above Salt's floor, at the largest N over the smallest, is at most the ratio
of the prisoner counts (1000 prisoners cost at most 10x what 100 cost): what the jailprov states cost is linear.
Salt's floor for a run of that many states is the nop chain (Salt's own state engine is not linear: its ratio is
printed too), so the verdict is on the formula minus the nop chain; the ratio above the one-state floor is printed
beside it.  Measured in CPU time (salt-call and everything it ran), which a machine busy with other work disturbs
far less than wall time.
"""

import argparse
import pathlib
import pstats
import subprocess
import sys
import tempfile

BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: sites, measuring)

FULL_N = (100, 1000)
#: States a thick prisoner of the seed has in the formula (its steps, jail.conf, running, restart_pending): the
#: nop chain's length.
STEPS_PER_PRISONER = 15


def pillar_for(n):
    """pillar.example with ``n`` prisoners (any n up to 60 000): prisoner1 and prisoner2 as in the seed, the
    others jid i, 10.(i / 250).(i % 250 + 1).1, bsd<i>.korodes.com, UIDs/GIDs 100000 + 1000*i .. +999."""
    data = bench.pillar_for(2)
    prisoners = data["jailprov"]["prisoners"]
    for i in range(3, n + 1):
        first = 100000 + 1000 * i
        prisoners[f"prisoner{i}"] = {
            "jid": i,
            "ip4": f"10.{i // 250}.{i % 250 + 1}.1",
            "hostname": f"bsd{i}.korodes.com",
            "pw_range": {"uid": [first, first + 999], "gid": [first, first + 999]},
        }
    for name in list(prisoners)[n:]:
        del prisoners[name]
    return data


def write_nopchain(states, n):
    """``states/nopchain/init.sls``: n prisoners' worth of test.nop states, each requiring the previous one of its
    prisoner (the formula's shape), the first of each requiring one common state (its pillar validation)."""
    top = states / "nopchain"
    top.mkdir(exist_ok=True)
    lines = ["nop-valid:", "  test.nop"]
    for i in range(1, n + 1):
        for step in range(STEPS_PER_PRISONER):
            prev = f"nop-{i}-{step - 1}" if step else "nop-valid"
            lines += [f"nop-{i}-{step}:", "  test.nop:", "    - require:", f"      - test: {prev}"]
    (top / "init.sls").write_text("\n".join(lines) + "\n", encoding="utf-8")


def open_site(n, workdir):
    site = bench.open_site(workdir / f"state-cost-{n}", pillar_for(n), workdir, "small")
    write_nopchain(bench.states_dir(workdir), n)
    return site


def measure(ns, workdir, repeat):
    """{case: {n: median seconds}} for the formula's test run and both floors."""
    rec = bench.Recorder()
    for n in ns:
        site = open_site(n, workdir)
        try:
            for rep in range(repeat):
                for case, sls, test in (("formula test=True", "jail", True), ("floor", "floor", False),
                                        ("nop chain", "nopchain", False)):
                    got = bench.in_child(bench.apply_sls, site.config, sls, test)
                    if case == "formula test=True":
                        bench_ok = got.result.get("rc") in (0, None) and not got.result.get("failed")
                        if not bench_ok:
                            rec.problem(f"{case} N={n}: {got.result.get('failed') or got.result.get('rc')}")
                        if got.result.get("states", 0) < n * STEPS_PER_PRISONER:
                            rec.problem(f"{case} N={n}: only {got.result.get('states')} states ran")
                    rec.add("state cost", case, n, got)
                    print(f"   N={n:5d} {case:18s} {got.seconds:8.2f} s wall {got.cpu_s:8.2f} s cpu "
                          f"({got.result.get('states')} states)", flush=True)
        finally:
            site.close()
    return rec


def rows(rec, ns):
    """The printed table and the verdict, on CPU time (salt-call and everything it ran: what a busy machine
    disturbs far less than wall time); wall time beside it."""
    def cpu(case, n):
        return rec.median("state cost", case, n, cpu=True)

    lines = ["State cost (issue 14, deliverable 7): salt-call --local state.apply jail test=True on a fresh host, "
             "median CPU seconds (wall in brackets)",
             f"{'N':>6} {'formula':>16} {'floor':>14} {'nop chain':>16} {'formula-floor':>14} {'per prisoner':>13}"]
    above = {}
    for n in ns:
        above[n] = cpu("formula test=True", n) - cpu("floor", n)
        cells = [f"{cpu(case, n):7.2f} ({rec.median('state cost', case, n):6.1f})"
                 for case in ("formula test=True", "floor", "nop chain")]
        lines.append(f"{n:>6} {cells[0]:>16} {cells[1]:>14} {cells[2]:>16} {above[n]:>14.2f} "
                     f"{above[n] / n * 1000:>10.1f} ms")
    lo, hi = min(ns), max(ns)
    if lo != hi:
        ratio = above[hi] / above[lo]
        chain_ratio = ((cpu("nop chain", hi) - cpu("floor", hi)) / (cpu("nop chain", lo) - cpu("floor", lo)))
        ours = {n: cpu("formula test=True", n) - cpu("nop chain", n) for n in (lo, hi)}
        lines.append(f"N={hi} over N={lo}, above Salt's cost of as many states (the nop chain): {ours[hi] / ours[lo]:.1f}x "
                     f"(target <= {hi / lo:.0f}x) {bench._verdict(ours[hi] / ours[lo] <= hi / lo)}; "
                     f"{ours[lo] / lo * 1000:.1f} and {ours[hi] / hi * 1000:.1f} ms per prisoner")
        lines.append(f"N={hi} over N={lo}, above the one-state floor: {ratio:.1f}x, of which Salt's own nop chain "
                     f"grows {chain_ratio:.1f}x (its state engine is not linear: a ratio above {hi / lo:.0f}x here is "
                     "Salt's share)")
    lines += [f"   !! {p}" for p in rec.problems]
    return lines


def profile(n, workdir, top):
    """Run the formula's test run at N = n under cProfile and print the ``top`` functions by cumulative time."""
    site = open_site(n, workdir)
    try:
        out = pathlib.Path(tempfile.mkdtemp(prefix="bench-C-")) / "state-cost.prof"
        code = ("import cProfile, sys; import salt.scripts; sys.argv = ['salt-call'] + sys.argv[1:]; "
                f"cProfile.run('salt.scripts.salt_call()', {str(out)!r})")
        cmd = [sys.executable, "-c", code, "--local", "-c", str(site.config), "--out=quiet", "-l", "quiet",
               "state.apply", "jail", "test=True"]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        stats = pstats.Stats(str(out))
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        print(f"profile: {out}")
    finally:
        site.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/bench_state_cost.py", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=list(FULL_N), help="prisoner counts (default 100 1000)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per measurement (default 1)")
    parser.add_argument("--workdir", type=pathlib.Path, default=pathlib.Path("/var/tmp/salt_jail-bench"))
    parser.add_argument("--profile", action="store_true", help="cProfile the formula's run instead of timing it")
    parser.add_argument("--top", type=int, default=40, help="with --profile: functions shown")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.profile:
        for n in args.n:
            profile(n, workdir, args.top)
        return 0
    ns = tuple(sorted(args.n))
    rec = measure(ns, workdir, args.repeat)
    print("\n" + "\n".join(rows(rec, ns)))
    return 1 if rec.problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Draw bench/scaling.png from bench/results.json (written by bench/run.py): time against N prisoners.

    python bench/plot.py [results.json] [scaling.png]

Left: first build (formula, tutorial shell script, stock-Salt SLS).  Right: idempotent rerun (formula,
stock-Salt SLS, and Salt's floor: one test.nop).  Points are medians; needs matplotlib (the ``bench`` extra).
"""

import importlib.util
import json
import pathlib
import statistics
import sys

BENCH = pathlib.Path(__file__).resolve().parent

PANELS = (
    ("first build", "First build", ("formula", "tutorial", "stock")),
    ("rerun", "Idempotent rerun (nothing to change)", ("formula", "stock", "floor")),
)
LABELS = {
    "formula": "jail formula (state.apply jail)",
    "tutorial": "tutorial as a shell script",
    "stock": "stock-Salt SLS",
    "floor": "Salt's floor (one test.nop)",
}
STYLES = {"formula": ("o-", "tab:blue"), "tutorial": ("s--", "tab:orange"), "stock": ("^-.", "tab:green"),
          "floor": ("x:", "tab:gray")}


def medians(times, table, case):
    """[(n, median seconds)] sorted by n; JSON keys are strings."""
    runs = times.get(table, {}).get(case, {})
    return sorted((int(n), statistics.median(values)) for n, values in runs.items() if values)


def plot(results, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (table, title, cases) in zip(axes, PANELS):
        for case in cases:
            points = medians(results["times"], table, case)
            if points:
                style, color = STYLES[case]
                ax.plot([n for n, _ in points], [s for _, s in points], style, color=color, label=LABELS[case])
        ax.set_title(title)
        ax.set_xlabel("prisoners (N)")
        ax.set_ylabel("seconds (median)")
        ax.set_ylim(bottom=0)
        ax.set_xticks(results.get("meta", {}).get("ns", []))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    meta = results.get("meta", {})
    fig.suptitle(f"salt_jail on a rehearsal host, {meta.get('size', '')} synthetic release, {meta.get('date', '')}",
                 fontsize="medium")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    source = pathlib.Path(argv[0]) if argv else BENCH / "results.json"
    out = pathlib.Path(argv[1]) if len(argv) > 1 else BENCH / "scaling.png"
    if importlib.util.find_spec("matplotlib") is None:
        print("plot.py: matplotlib is not installed (pip install -e '.[bench]'); no picture drawn")
        return 1
    plot(json.loads(source.read_text(encoding="utf-8")), out)
    print(f"plot.py: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

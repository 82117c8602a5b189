"""Paired comparisons of predictors from ``coexec bench --compare`` runs (BENCHMARKS.md).

    python scripts/compare_table.py RUN_DIR [RUN_DIR ...] [--wide]

Each RUN_DIR holds ``<suite>/bench.csv`` files of benches run with ``--compare NAME=DIR``:
every variant's plan was confirmed in the same rounds as the main plan, so per layer the
variants differ only by their choice. Per suite group (scripts/thread_choice.py's groups)
and run, the table gives each planner's efficiency (T_oracle / T_plan, geometric mean over
layers, in %), its layers > 2 % slower than T_single, how many layers it planned unlike the
main planner, and its time over the main plan's (geometric mean of T_variant / T_main) with
a 95 % bootstrap interval over layers (paired: the same layers resampled for both).
``--wide``: one row per suite group and run, a column per planner (efficiency, and T /
T_main with its interval). ``--totals``: also the groups "never seen" (every suite outside
the development ones) and "all", per run. ``--tuned``: measure-and-pick over the main
planner's shortlist (``t_tuned_us``) as one more planner.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_choice import group  # noqa: E402

#: bootstrap resamples of the paired ratio's interval
BOOT = 2000


def variants(table: pd.DataFrame) -> list[str]:
    """Names of the compared variants of a bench table (its ``same_plan_<name>`` columns)."""
    return [c[len("same_plan_"):] for c in table.columns if c.startswith("same_plan_")]


def paired_ratio(t_var: np.ndarray, t_main: np.ndarray, seed: int = 0
                 ) -> tuple[float, float, float]:
    """Geometric mean of t_var / t_main and its 95 % bootstrap interval over layers."""
    lr = np.log(t_var / t_main)
    rng = np.random.default_rng(seed)
    boots = lr[rng.integers(0, len(lr), (BOOT, len(lr)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(np.exp(lr.mean())), float(np.exp(lo)), float(np.exp(hi))


def load_runs(dirs: list[str], totals: bool = False, tuned: bool = False) -> pd.DataFrame:
    frames = []
    for d in dirs:
        for f in sorted(Path(d).glob("*/bench.csv")):
            frames.append(pd.read_csv(f).assign(run=d, suite=f.parent.name))
    if not frames:
        raise SystemExit(f"no <suite>/bench.csv under {', '.join(dirs)}")
    df = pd.concat(frames, ignore_index=True)
    df["group"] = df["suite"].map(group)
    df = df[df["confirmed"].astype(bool)]
    if tuned and "t_tuned_us" in df:  # measure-and-pick, as a compared planner (its picks
        # are named unlike plans: every layer counts as planned unlike main)
        df = df.assign(t_plan_tuned_us=df["t_tuned_us"], same_plan_tuned=False)
    if totals:
        seen = df[df["group"] != "development"].assign(group="never seen")
        df = pd.concat([df, seen, df.assign(group="all")], ignore_index=True)
    return df


def rows(df: pd.DataFrame, wide: bool = False) -> list[str]:
    names = variants(df)
    out = []
    for (grp, run), d in df.groupby(["group", "run"], sort=False):
        here = [n for n in names if d[f"t_plan_{n}_us"].notna().any()]  # this run's variants
        ok = np.isfinite(d["t_plan_us"].to_numpy())
        for n in here:
            ok &= np.isfinite(d[f"t_plan_{n}_us"].to_numpy())
        d = d[ok]
        t_single, t_oracle, t_main = (d[c].to_numpy() for c in
                                      ("t_single_us", "t_oracle_us", "t_plan_us"))
        cells = []
        for n in ["main", *names]:
            if n != "main" and n not in here:
                cells.append("-")
                continue
            t = t_main if n == "main" else d[f"t_plan_{n}_us"].to_numpy()
            eff = 100 * float(np.exp(np.mean(np.log(t_oracle / t))))
            slower = int((t > 1.02 * t_single).sum())
            if n == "main":
                differ, ratio = "", ""
            else:
                g, lo, hi = paired_ratio(t, t_main)
                differ = str(int((~d[f"same_plan_{n}"].astype(bool)).sum()))
                ratio = f"{g:.3f} [{lo:.3f}, {hi:.3f}]"
            cells.append(f"{eff:.1f} %" + (f"; {ratio}" if ratio else ""))
            out.append(f"| {grp} | {run} | {len(d)} | {n} | {eff:.1f} % | {slower} | "
                       f"{differ} | {ratio} |")
        if wide:
            out = out[:len(out) - len(here) - 1]
            out.append(f"| {grp} | {run} | {len(d)} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("--wide", action="store_true", help="a column per planner")
    ap.add_argument("--totals", action="store_true",
                    help="also the never-seen suites together, and all suites")
    ap.add_argument("--tuned", action="store_true",
                    help="measure-and-pick over main's shortlist as one more planner")
    args = ap.parse_args()
    df = load_runs(args.runs, args.totals, args.tuned)
    if args.wide:
        names = ["main", *variants(df)]
        print("| suites | run | layers | " + " | ".join(
            f"{n}: efficiency; T / T_main [95 %]" if n != "main" else "main: efficiency"
            for n in names) + " |")
        print("|---|---|---:|" + "---|" * len(names))
    else:
        print("| suites | run | layers | planner | efficiency | layers > 2 % slower than "
              "T_single | layers planned unlike main | T / T_main (geomean, 95 % interval) |")
        print("|---|---|---:|---|---:|---:|---:|---|")
    print("\n".join(rows(df, args.wide)))


if __name__ == "__main__":
    main()

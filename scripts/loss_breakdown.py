"""Where co-execution efficiency goes: each layer's loss -log(efficiency) of ``coexec bench``
runs, by what the plan and the oracle were (CPU only, GPU only, split), the CPU thread
counts of CPU-only plans against the oracle's, how much of the loss recurs (layers that
lose in every run: a plan's systematic error, not one run's noise), and how well a layer's
best thread count can be known at all (picked from the other runs' confirmation rounds).

    python scripts/loss_breakdown.py RUN_DIR [RUN_DIR ...] [--suites never-seen|all|S1,S2]

A RUN_DIR holds ``<suite>/bench.csv`` (and ``<suite>/confirm/``) of one bench run. The loss
shares add up to 1 over the layers of every run given; counts are per run (mean). The
noise ceiling: per layer with CPU-only confirmations in at least three runs, each run's
thread count is picked by the other runs' geometric-mean time (thread counts measured in
both), and scored by that run's time over its fastest; what no predictor of a layer's
thread profile can beat on these rounds. A development guide, not a bench result.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_replay import rounds  # noqa: E402
from thread_choice import DEV  # noqa: E402


def ratio_kind(ratio: float) -> str:
    """"cpu", "gpu" or "split" of a plan's GPU share (bench.csv's ``oracle_ratio``)."""
    return "cpu" if ratio == 0 else "gpu" if ratio == 1 else "split"


def cpu_threads(desc: pd.Series) -> pd.Series:
    """BLAS thread count of CPU-only plan descriptions (NaN for others)."""
    return desc.str.extract(r"threads=(\d+)")[0].astype(float)


def chosen_suites(spec: str, runs: list[Path]) -> set[str] | None:
    """The suites a ``--suites`` value names: None for "all", the runs' suites outside
    the development ones for "never-seen", else the comma-separated names."""
    if spec == "all":
        return None
    if spec == "never-seen":
        return {p.parent.name for run in runs for p in run.glob("*/bench.csv")} - DEV
    return set(spec.split(","))


def benches(runs: list[Path], suites: set[str] | None) -> pd.DataFrame:
    frames = []
    for run in runs:
        for f in sorted(run.glob("*/bench.csv")):
            if suites is None or f.parent.name in suites:
                frames.append(pd.read_csv(f).assign(suite=f.parent.name, run=str(run)))
    if not frames:
        raise SystemExit(f"no <suite>/bench.csv of the chosen suites under {runs}")
    d = pd.concat(frames, ignore_index=True)
    d["oracle_kind"] = d["oracle_ratio"].map(ratio_kind)  # plan_kind: the bench's own
    d["loss"] = -np.log(np.minimum(d["efficiency"], 1.0))
    return d


def by_kind(d: pd.DataFrame) -> pd.DataFrame:
    """Per (plan kind, oracle kind): layers per run, share of the loss, layers < 98 %."""
    n_runs = d["run"].nunique()
    g = d.groupby(["plan_kind", "oracle_kind"]).agg(
        layers=("loss", "size"), loss_share=("loss", "sum"),
        below_98=("efficiency", lambda e: int((e < 0.98).sum())), worst=("efficiency", "min"))
    g["layers"] /= n_runs
    g["below_98"] /= n_runs
    g["loss_share"] /= d["loss"].sum()
    return g


def thread_confusion(d: pd.DataFrame) -> pd.DataFrame:
    """CPU-only plans whose oracle is CPU only: (plan threads, oracle threads) -> layers per
    run and share of the whole loss."""
    c = d[(d["plan_kind"] == "cpu") & (d["oracle_kind"] == "cpu")]
    c = c.assign(plan_threads=cpu_threads(c["plan"]), oracle_threads=cpu_threads(c["oracle_config"]))
    g = c.groupby(["plan_threads", "oracle_threads"]).agg(layers=("loss", "size"),
                                                          loss_share=("loss", "sum"))
    g["layers"] /= d["run"].nunique()
    g["loss_share"] /= d["loss"].sum()
    return g[g["loss_share"] > 0].sort_values("loss_share", ascending=False)


def recurrent(d: pd.DataFrame, threshold: float = 0.01) -> pd.DataFrame:
    """Per plan kind, the layers (benched in every run) whose loss exceeds ``threshold`` in
    every run: layers, and their share of the whole loss (runs of the same plans lose
    there again and again: a plan's systematic error, not one run's noise)."""
    n_runs = d["run"].nunique()
    per = d.groupby(["suite", "layer"]).agg(runs=("run", "nunique"), low=("loss", "min"),
                                             loss=("loss", "sum"), kind=("plan_kind", "first"))
    rec = per[(per["runs"] == n_runs) & (per["low"] > threshold)]
    g = rec.groupby("kind").agg(layers=("loss", "size"), loss_share=("loss", "sum"))
    g.loc["all"] = [len(rec), rec["loss"].sum()]
    g["loss_share"] /= d["loss"].sum()
    return g


def thread_ceiling(runs: list[Path], suites: set[str] | None) -> tuple[float, float, int]:
    """(geomean time over the run's best, share within 2 %, picks) of thread counts picked
    by the other runs (see the module docstring)."""
    try:
        g = rounds([str(run) for run in runs])
    except ValueError:  # no confirmation round at all
        return float("nan"), float("nan"), 0
    g = g[(g["backend"] == "cpu") & (g["split_n"].fillna(0).astype(int) == 0)]
    if suites is not None:
        g = g[g["suite"].isin(list(suites))]
    if g.empty:
        return float("nan"), float("nan"), 0
    t = np.log(g.groupby(["suite", "layer", "src", "threads"])["total_us"].median()
               .unstack("threads"))
    out = []
    for _key, g in t.groupby(level=[0, 1]):
        for i in range(len(g)):
            this, rest = g.iloc[i], g.drop(g.index[i]).mean()
            ok = this.notna() & rest.notna()
            if len(g) >= 3 and ok.sum() >= 3:
                out.append(np.exp(this[rest[ok].idxmin()] - this[ok].min()))
    r = np.array(out)
    if not len(r):
        return float("nan"), float("nan"), 0
    return float(np.exp(np.log(r).mean())), float((r <= 1.02).mean()), len(r)


def run_args(doc: str) -> tuple[list[Path], set[str] | None]:
    """The command line of a script over bench runs: (RUN_DIRs, ``chosen_suites`` of
    --suites); ``doc``: the script's docstring (its first line describes it)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    ap.add_argument("--suites", default="never-seen",
                    help="never-seen (default), all, or a comma-separated list")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    return args.runs, chosen_suites(args.suites, args.runs)


def main() -> None:
    runs, suites = run_args(__doc__)
    d = benches(runs, suites)
    n_runs = d["run"].nunique()
    eff = np.exp(-d["loss"].mean())
    print(f"{n_runs} runs, {len(d) / n_runs:.0f} layers per run, efficiency {100 * eff:.1f} % "
          "(geometric mean over every layer of every run)")
    split = d[d["plan_kind"] == "split"]
    print(f"split plans chosen: {len(split)} of {len(d)} layer benches, "
          f"{int((split['t_plan_us'] > split['t_single_us']).sum())} of them slower than "
          f"T_single")
    print("\nloss by plan kind against the oracle's kind (layers per run):")
    print(by_kind(d).round(3).to_string())
    print("\nCPU-only plans of CPU-only oracles, by thread counts (share of the whole loss):")
    print(thread_confusion(d).round(3).to_string())
    if n_runs > 1:
        print(f"\nlayers losing > 1 % in every one of the {n_runs} runs, by plan kind (the "
              "plan's first run), and their share of the whole loss:")
        print(recurrent(d).round(3).to_string())
    ceil, within, n = thread_ceiling(runs, suites)
    print(f"\nthread count picked from the other runs' rounds: {ceil:.3f} x the run's fastest "
          f"(geomean), {100 * within:.0f} % within 2 %, {n} picks")


if __name__ == "__main__":
    main()

"""Bounds on a bench's efficiency from both sides of the oracle's selection noise.

    python scripts/oracle_noise.py RUN_DIR [RUN_DIR ...] [--suites never-seen|all|S1,S2]

A RUN_DIR holds ``<suite>/bench.csv`` and ``<suite>/confirm/`` of one ``coexec bench`` run.
Per layer, the bench's T_oracle is the minimum over the finalists' medians of one set of
rounds. A minimum over noisy medians is biased low (the winner's curse): a plan that is the
true best still loses to a near-tied finalist by noise alone, so the bench's efficiency
T_oracle / T_plan is biased LOW. An oracle configuration chosen on other timings than the
ones that score it has no such bias, but it is not always the true best, and a slower
reference makes the plan look better: that efficiency is biased HIGH. The true efficiency
(against the best finalist) lies between the two, in expectation.

Runs whose bench.csv has the bench's own split-half check (``efficiency_split_half``:
the oracle chosen on the even confirmation rounds and timed on the odd ones, and the other
way round; ``planner.bench.split_half``) get it printed first, run by run, next to the
bench's efficiency and both ways' layers more than 2 % slower than T_single; that needs one
run only.

With two or more runs of the same layers (their finalists overlap; with the same planner,
the same plans), each layer's oracle is also chosen in the other runs (the lowest geometric
mean over them, among the finalists every run timed) and timed in this run. Printed per
suite group and overall, then run by run: the bench's efficiency and this held-out one
(geometric means over layers and runs; a layer may exceed 1), and the layers per run more
than 2 % slower than T_single both ways (T_single: the best single-device finalist, chosen
in the run itself or in the others). Other runs met other host states, where another
configuration may be fastest: the wider (higher) bound of the two. A diagnostic of the
metric's noise, not a bench result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.suites import suite_layers
from latpred.planner.oracle import load_grid, plan_of_row

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loss_breakdown import benches, run_args  # noqa: E402
from thread_choice import group  # noqa: E402


def layer_times(run: Path, suite: str) -> pd.DataFrame:
    """(layer, plan description, single-device?, median total_us) of a run's confirmation
    rounds of one suite (ok rows)."""
    g = load_grid(run / suite / "confirm")
    g = g[g["status"] == "ok"]
    layers = {name: layer for name, _count, layer in suite_layers(suite)}
    desc = [plan_of_row(layers[r["layer"]], r).describe() for r in g.to_dict("records")]
    return pd.DataFrame({"layer": g["layer"].to_numpy(), "desc": desc,
                         "single": g["backend"].isin(["cpu", "gpu"]).to_numpy(),
                         "us": g["total_us"].to_numpy(np.float64)})


def held_out(runs: list[Path], suites: set[str] | None) -> pd.DataFrame:
    """One row per (run, suite, layer): the bench's efficiency and slowdown against
    T_single, and the held-out ones (see the module docstring)."""
    d = benches(runs, suites)
    out = []
    for suite, rows in d.groupby("suite"):
        times = {}
        for run in runs:
            if (run / suite / "confirm").is_dir():
                t = layer_times(run, suite)
                times[str(run)] = {k: v.groupby("desc")["us"].median().to_dict() | {
                    "_single": set(v.loc[v["single"], "desc"])} for k, v in t.groupby("layer")}
        for r in rows.to_dict("records"):
            here = times.get(r["run"], {}).get(r["layer"])
            others = [times[o][r["layer"]] for o in times if o != r["run"]
                      and r["layer"] in times[o]]
            if here is None or not others or r["plan"] not in here:
                continue
            common = [k for k in here if k != "_single" and all(k in o for o in others)]
            if not common:
                continue
            score = {k: np.mean([np.log(o[k]) for o in others]) for k in common}
            best = min(common, key=score.get)
            singles = [k for k in common if k in here["_single"]]
            best_single = min(singles, key=score.get) if singles else None
            t_plan = here[r["plan"]]
            out.append({
                "run": r["run"], "suite": suite, "layer": r["layer"],
                "efficiency": r["efficiency"], "held_out": here[best] / t_plan,
                "slower": bool(r["slower_than_single"]),
                "slower_held_out": best_single is not None
                and t_plan > 1.02 * here[best_single]})
    return pd.DataFrame(out)


def gm(v: pd.Series) -> str:
    """Geometric mean of ratios, in %."""
    return f"{100 * np.exp(np.log(v).mean()):.2f} %"


def main() -> None:
    runs, suites = run_args(__doc__)
    d = benches(runs, suites)
    if "efficiency_split_half" in d:
        print("| run | layers | efficiency (bench) | split-half | > 2 % slower than T_single "
              "(bench) | split-half |\n|---|---:|---:|---:|---:|---:|")
        for run, v in d.groupby("run"):
            v = v[np.isfinite(v["efficiency_split_half"])]
            if len(v):
                print(f"| {run} | {len(v)} | {gm(v['efficiency'])} | "
                      f"{gm(v['efficiency_split_half'])} | {int(v['slower_than_single'].sum())}"
                      f" | {int((v['plan_vs_single_split_half'] > 1.02).sum())} |")
        print()
    if len(runs) < 2:
        return
    h = held_out(runs, suites)
    if h.empty:
        raise SystemExit("no layer with its plan timed in two runs")
    n_runs = h["run"].nunique()
    h["group"] = h["suite"].map(group)
    print("| suites | layers per run | efficiency (bench) | held-out oracle | "
          "> 2 % slower than T_single per run (bench) | held out |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, v in [*h.groupby("group"), ("all", h)]:
        print(f"| {name} | {len(v) / n_runs:.0f} | {gm(v['efficiency'])} | "
              f"{gm(v['held_out'])} | {v['slower'].sum() / n_runs:.1f} | "
              f"{v['slower_held_out'].sum() / n_runs:.1f} |")
    print("\n| run | layers | efficiency (bench) | held-out oracle |\n|---|---:|---:|---:|")
    for run, v in h.groupby("run"):
        print(f"| {run} | {len(v)} | {gm(v['efficiency'])} | {gm(v['held_out'])} |")


if __name__ == "__main__":
    main()

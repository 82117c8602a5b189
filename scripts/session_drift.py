"""How much the co-execution measurements move from one session to the next on a host.

    python scripts/session_drift.py [--grids datasets/h100/coexec]
        [--runs datasets/h100/coexec/session5]

Every bench run re-measures its finalists (``confirm/``: each layer's best CPU-only, best
GPU-only, best split and the plans) with the same configuration keys as the oracle grids
of an earlier session (``<grids>/<suite>/grid``). Per run and side (backend: cpu, gpu,
coexec), this prints the rows' change against the grid, confirmed / grid - 1, in %: the
median (a shift of the whole side, which a per-session calibration could remove) and the
quartiles (what moves layer by layer, which it could not). A development diagnostic, no
device needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.store import load


def ok_times(path: Path) -> pd.DataFrame:
    """config_key, backend, total_us of a dataset's "ok" rows."""
    df = load(path)
    return df.loc[df["status"] == "ok", ["config_key", "backend", "total_us"]]


def drift_table(grids: Path, runs: Path) -> pd.DataFrame:
    """One row per (run, backend): rows matched, median and quartiles of confirmed / grid
    - 1 (%), and the CPU-over-GPU median shift (%) repeated on each of a run's rows."""
    grid = pd.concat([ok_times(g) for g in sorted(grids.glob("*/grid"))])
    grid = grid.groupby("config_key")["total_us"].median()
    out = []
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        confirms = sorted(run.glob("*/confirm"))
        if not confirms:
            continue
        c = pd.concat([ok_times(p) for p in confirms])
        c = c[c["config_key"].isin(grid.index)]
        c["change"] = np.log(c["total_us"].to_numpy() / grid[c["config_key"]].to_numpy())
        for backend, g in c.groupby("backend"):
            q = np.expm1(np.quantile(g["change"], [0.25, 0.5, 0.75])) * 100
            out.append({"run": run.name, "backend": backend, "rows": len(g),
                        "median_pct": q[1], "q25_pct": q[0], "q75_pct": q[2]})
    table = pd.DataFrame(out)
    med = table.pivot(index="run", columns="backend", values="median_pct")
    cpu_vs_gpu = ((1 + med["cpu"] / 100) / (1 + med["gpu"] / 100) - 1) * 100
    table["cpu_vs_gpu_pct"] = table["run"].map(cpu_vs_gpu)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", default="datasets/h100/coexec", type=Path)
    ap.add_argument("--runs", default="datasets/h100/coexec/session5", type=Path)
    args = ap.parse_args()
    table = drift_table(args.grids, args.runs)
    print(table.to_string(index=False, float_format=lambda v: f"{v:+.1f}"))


if __name__ == "__main__":
    main()

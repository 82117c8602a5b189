"""How a host's CPU thread profile moved between two bench runs of the same layers.

    python scripts/thread_drift.py RUN RUN_REF [--bins 100,300,1000]

RUN and RUN_REF each hold ``<suite>/confirm/`` (``coexec bench`` output, as committed under
``datasets/h100/coexec``). For every (suite, layer, thread count) whose CPU-only plan both
runs confirmed, the ratio of RUN's median time to RUN_REF's; printed as the median ratio
per thread count, by the layer's time in RUN_REF (us bins), and how often the two runs'
fastest thread counts agree over the layers both timed at every one of their common counts.
A development diagnostic (no device needed): a ratio that grows with the thread count means
the many-thread plans slowed down on RUN's host.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.datasets.store import load

from latpred.errors import bad_value

KEYS = ["suite", "layer", "threads"]


def cpu_medians(run: Path) -> pd.Series:
    """Median total_us of the ok CPU-only (numpy/BLAS) rows of a run's confirmation rounds,
    indexed by (suite, layer, threads)."""
    parts = sorted(run.glob("*/confirm"))
    if not parts:
        raise bad_value("run", str(run), "holds no <suite>/confirm/ dataset")
    df = pd.concat([load(p) for p in parts], ignore_index=True)
    cpu = df[(df["status"] == "ok") & (df["impl"] == "blas")]
    return cpu.groupby(KEYS)["total_us"].median()


def drift(run: Path, ref: Path, edges: list[float]) -> tuple[pd.DataFrame, float, int]:
    """(median ratio run / ref per size bin (rows) and thread count (columns), the share of
    layers whose fastest common thread count is the same in both, those layers' count)."""
    both = pd.concat({"run": cpu_medians(run), "ref": cpu_medians(ref)},
                     axis=1).dropna().reset_index()
    if both.empty:
        raise bad_value("run", str(run), f"shares no confirmed CPU row with {ref}")
    both["ratio"] = both["run"] / both["ref"]
    both["ref_us"] = pd.cut(both["ref"], edges)
    table = both.pivot_table(index="ref_us", columns="threads", values="ratio",
                             aggfunc="median", observed=True)
    fastest = both.groupby(["suite", "layer"]).apply(
        lambda g: (int(g["threads"].iloc[int(np.argmin(g["run"].to_numpy()))]),
                   int(g["threads"].iloc[int(np.argmin(g["ref"].to_numpy()))])),
        include_groups=False)
    return table, float(np.mean([a == b for a, b in fastest])), len(fastest)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("ref", type=Path)
    ap.add_argument("--bins", default="100,300,1000", help="us edges of the size bins")
    args = ap.parse_args(argv)
    edges = [0.0, *(float(v) for v in args.bins.split(",")), np.inf]
    table, same, layers = drift(args.run, args.ref, edges)
    print(f"median time ratio {args.run} / {args.ref} per thread count, by the layer's time "
          f"in the reference:")
    print(table.round(3).to_string())
    print(f"fastest thread count the same in both runs: {same:.0%} of {layers} layers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

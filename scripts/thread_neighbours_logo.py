"""Thread-count neighbours (``planner.thread_prior``), scored leave one suite group out on the
committed runtime rows: no device needed.

    python scripts/thread_neighbours_logo.py [--models DIR] [--below-us 150]

The single-device CPU rows of every committed grid and confirmation round
(``thread_choice.runtime_inputs``: per layer shape and thread count, the geometric median).
For each suite group (``thread_choice.group``), ``ThreadNeighbours.fit`` on the other groups'
rows; each shape of the group with all five of the benches' thread counts is then ranked as
the planner ranks CPU-only plans: the CPU predictor times sync.json's factors per thread
count, and with the neighbours' factor. Score: the measured time of the pick over the
measured best, geometric mean per group, over the shapes whose fastest time is below
``--below-us`` (the layers a CPU-only plan wins; default 150 us) and over all. A development
guide (grid rows are single quick timings), not a bench result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.planner.bench import geomean
from latpred.planner.calibrate import cached_layer
from latpred.planner.thread_prior import ThreadNeighbours

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_choice import cpu_factors, group, runtime_inputs, shape_keys  # noqa: E402

COUNTS = (4, 8, 12, 15, 16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="datasets/h100/models/v3gpurel")
    ap.add_argument("--below-us", type=float, default=150.0)
    args = ap.parse_args()
    loaded, _paths, rows, _frames = runtime_inputs([args.models], None, "cpu_us")
    preds, _gpu, _cpu, sync = loaded[args.models]
    X = rows.X.reset_index(drop=True)
    memo: dict = {}
    layers = [cached_layer(r, memo) for r in X.to_dict("records")]
    threads = X["threads"].astype(int).to_numpy()
    df = pd.DataFrame({"shape": shape_keys(X), "threads": threads, "y": rows.y_us,
                       "grp": [group(s) for s in rows.suite]})
    df["base"] = preds.models["cpu_us"].predict(X) * cpu_factors(
        sync, threads, X["flops"].to_numpy(np.float64))
    df["nb"] = np.nan
    for g in df["grp"].unique():
        out = (df["grp"] != g).to_numpy()
        nb = ThreadNeighbours.fit([layers[i] for i in np.flatnonzero(out)], threads[out],
                                  rows.y_us[out], COUNTS)
        for i in np.flatnonzero(~out):
            df.loc[i, "nb"] = df.loc[i, "base"] * np.exp(nb.log_factor(layers[i],
                                                                       threads[i:i + 1])[0])
    scores = []
    for _s, d in df.groupby("shape", sort=False):
        if set(d["threads"]) < set(COUNTS):
            continue
        y = d["y"].to_numpy()
        scores.append((d["grp"].iloc[0], y.min() < args.below_us,
                       y[np.argmin(d["base"].to_numpy())] / y.min(),
                       y[np.argmin(d["nb"].to_numpy())] / y.min()))
    s = pd.DataFrame(scores, columns=["group", "small", "base", "nb"])
    gm = {"shapes": ("base", "size"), "predictor x factors": ("base", geomean),
          "with the neighbours": ("nb", geomean)}
    for label, part in ((f"fastest below {args.below_us:g} us", s[s["small"]]), ("all", s)):
        print(f"shapes {label}: measured pick / best (geometric mean)")
        t = part.groupby("group").agg(**gm)
        t.loc["all groups"] = [len(part), geomean(part["base"]), geomean(part["nb"])]
        print(t.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()

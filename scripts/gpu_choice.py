"""How well GPU predictors pick a GPU-only configuration, scored on runtime measurements.

    python scripts/gpu_choice.py --models DIR [--models DIR2 ...] [--grid PATH ...]

The GPU-only rows of the committed co-execution grids and confirmation rounds
(``planner.calibrate.runtime_rows``: per layer shape and configuration, implementation x
parameters x work-group x memory mode) are the runtime's own timings of the configurations
the benches tried. Per layer shape with at least ``--min-configs`` of them, each models
directory picks the configuration it scores fastest, as the planner scores a GPU-only plan:
the GPU predictor plus the runtime's overhead of that memory mode at the layer's activations
(``SyncModel.single_us``); "(predictor alone)" leaves the overhead out. The score is the
measured wall time of the pick (mean over the rounds that timed it) over the measured best,
by suite group as in ``thread_choice.py`` (geometric mean, and the share within 2 %). A
development guide (grid rows are single quick timings), not a bench result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from latpred.planner.calibrate import layer_sizes
from latpred.planner.split import activation_mib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_choice import (  # noqa: E402
    add_runtime_args,
    group,
    print_scores,
    runtime_inputs,
    shape_keys,
    summarise,
)


def score(df: pd.DataFrame, col: str, min_configs: int) -> pd.DataFrame:
    """Per suite group: shapes, geometric-mean measured pick / best of ``col``, share within
    2 %."""
    out = []
    for _key, d in df.groupby("shape", sort=False):
        if len(d) < min_configs:
            continue
        y = d["wall_us"].to_numpy()
        out.append((group(d["suite"].iloc[0]), y[np.argmin(d[col].to_numpy())] / y.min()))
    return summarise(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_runtime_args(ap)
    ap.add_argument("--min-configs", type=int, default=5,
                    help="score shapes with at least this many timed configurations")
    args = ap.parse_args()
    loaded, paths, rows, _frames = runtime_inputs(args.models, args.grid, "gpu_total_us")
    X = rows.X
    df = pd.DataFrame({"suite": rows.suite, "wall_us": rows.wall("mean"),
                       "shape": shape_keys(X)})
    mib = layer_sizes(X, activation_mib)
    modes = X["mem_mode"].astype(str).to_numpy()
    cols = []
    for d in args.models:
        preds, _g, _c, sync = loaded[d]
        pred = preds.models["gpu_total_us"].predict(X)
        df[f"{d} (predictor alone)"] = pred
        df[d] = pred + sync.single_us(modes, mib)
        cols += [d, f"{d} (predictor alone)"]
    print(f"{len(df)} runtime GPU-only rows from {len(paths)} datasets")
    print_scores("models", [(c, score(df, c, args.min_configs)) for c in cols])


if __name__ == "__main__":
    main()

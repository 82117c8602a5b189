"""How much each GPU memory mode loses, by the activations a layer moves, on runtime rounds.

    python scripts/mode_regret.py [DIR ...]     # default: datasets/h100/coexec

For every (confirmation round, layer, GPU kernel configuration) timed GPU-only in two or
more memory modes, each mode's wall time over the fastest mode's of that round; per band of
``split.activation_mib`` and mode: rows, geometric mean and 90th percentile of that ratio.
A mode that is fast in most rounds and far slower in a few (the H100 host's buffer mode at
8-16 MiB) shows a low median but a high p90: the case for fitting overheads on the rounds'
mean (``coexec calibrate --rounds mean``). No predictor is involved.
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
from paired_replay import rounds  # noqa: E402

KEY = ["src", "suite", "layer", "impl", "gpu_params", "local_size"]
BANDS = [0, 1, 4, 8, 16, 64]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", default=["datasets/h100/coexec"])
    args = ap.parse_args()
    d = rounds(args.dirs)
    d = d[(d["backend"] == "gpu") & (d["total_us"] > 0)]
    d = d[d.groupby(KEY)["mem_mode"].transform("nunique") >= 2].reset_index(drop=True)
    d["mib"] = layer_sizes(d, activation_mib)
    d["ratio"] = d["total_us"] / d.groupby(KEY)["total_us"].transform("min")
    d["MiB"] = pd.cut(d["mib"], BANDS)
    t = d.groupby(["MiB", "mem_mode"], observed=True)["ratio"].agg(
        rows="size", geomean=lambda v: float(np.exp(np.log(v).mean())),
        p90=lambda v: float(np.quantile(v, 0.9)))
    print(f"{d['src'].nunique()} confirmation datasets, {len(d)} GPU-only rows timed in 2+ modes")
    print("| activation MiB | memory mode | rows | time / fastest mode's (geomean) | p90 |")
    print("|---|---|---:|---:|---:|")
    for (band, mode), r in t.iterrows():
        print(f"| {band} | {mode} | {int(r.rows)} | {r.geomean:.3f} | {r.p90:.3f} |")


if __name__ == "__main__":
    main()

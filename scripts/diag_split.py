"""Where a co-executed split loses its time: one split plan timed co-executed, its GPU part
alone and its CPU part alone (the runtime's sides), interleaved rounds, the medians of
every timing field the runtime reports.

    python scripts/diag_split.py                    # vgg16 features.0, 32 of 64 channels on the GPU
    python scripts/diag_split.py --threads 15 --mode buffer --mode map

``--device pocl --small`` runs the flow on a tiny layer (a dry run anywhere). Prints one
JSON line per (memory mode, side); times in us.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from latpred.planner.runtime import CoexecRun, CpuConfig, GpuConfig, Plan
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.devices import select_device
from latpred.profiler.problems import ConvLayer

FIELDS = ("total_us", "cpu_us", "cpu_start_us", "gpu_total_us", "kernel_us", "dispatch_us",
          "transfer_in_us", "transfer_out_us", "merge_us", "sync_us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="nvidia")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--threads", type=int, default=15)
    ap.add_argument("--mode", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    dev = OpenCLDevice(select_device(args.device, kind="GPU"))
    layer = ConvLayer(1, 3, 8, 16, 16, 3, 3, 1, 1) if args.small else \
        ConvLayer(1, 3, 64, 224, 224, 3, 3, 1, 1)
    n = layer.out_channels
    impl, params = "conv_winograd", {"WPTM": 4, "WPTN": 4, "gemm": "gemm_vec4"}
    threads = min(args.threads, os.cpu_count() or 1)
    arrays = layer.arrays(np.random.default_rng(0))
    for mode in args.mode or ["buffer", "map"]:
        plan = Plan(n // 2, n, GpuConfig(impl, params, None, mode), CpuConfig(threads))
        runs = {side: CoexecRun(layer, arrays, plan, dev, sides=side)
                for side in ("both", "gpu", "cpu")}
        try:
            for run in runs.values():
                run.run_once()
            runs["both"].check()
            got: dict[str, list[dict]] = {side: [] for side in runs}
            for _ in range(args.rounds):
                for side, run in runs.items():
                    run.run_once()
                    got[side].append(run.run_once())
        finally:
            for run in runs.values():
                run.release()
        for side, res in got.items():
            row = {"mode": mode, "side": side, "threads": threads}
            row.update({f: round(float(np.median([r[f] for r in res])), 1) for f in FIELDS})
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

"""What reading a run's profiling counters costs on a GPU, next to the run's wall time.

    python scripts/counter_cost.py [--device nvidia] [--runs 60]

One 64-channel 3x3 conv on a 28x28 map (batch 1), GPU only, buffer mode, run by the
co-execution runtime with a direct, an im2col and a Winograd kernel (1, 2 and 4 launches).
Per kernel: the median over the last ``runs - 10`` runs of the runtime's wall time
(``CoexecRun.run_once``'s ``total_us``), of the GPU part's ``total_us``, and of the host time
``OpenCLRun.event_timings`` takes to read the launches' counters, which the runtime reads
after its clock stops (BENCHMARKS.md section 5, session 36: until then every GPU plan's wall
time carried them). A bench script: it prints a table and asserts nothing about the times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from latpred.planner.runtime import CoexecRun, GpuConfig, Plan
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.devices import select_device
from latpred.profiler.kernels import get
from latpred.profiler.problems import ConvLayer

#: (implementation, the GEMM its params use, or None for the first params)
KERNELS = (("conv_direct", None), ("conv_im2col", "gemm_regblock"),
           ("conv_winograd", "gemm_regblock"))
WARMUP = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="OpenCL device (`latpred devices`)")
    ap.add_argument("--runs", type=int, default=60, help=f"runs per kernel (> {WARMUP})")
    args = ap.parse_args()
    if args.runs <= WARMUP:
        ap.error(f"--runs must be > {WARMUP}, got {args.runs}")
    dev = OpenCLDevice(select_device(args.device, "GPU"))
    rng = np.random.default_rng(0)
    layer = ConvLayer(1, 64, 64, 28, 28, 3, 3, padding=1)
    print(f"{layer} on {dev.name}, GPU only, buffer mode, median of {args.runs - WARMUP} runs")
    print("| kernel | launches | run wall, us | GPU part total_us | reading the counters, us |")
    print("|---|---:|---:|---:|---:|")
    for name, gemm in KERNELS:
        impl = get(name)
        space = impl.params_space()
        params = next((p for p in space if p.get("gemm") == gemm), space[0])
        local = impl.local_sizes(layer, params, dev.limits)[0]
        plan = Plan(64, 64, GpuConfig(name, params, local, "buffer"), None)
        with CoexecRun(layer, layer.arrays(rng), plan, dev) as run:
            gpu = run._gpu_run
            walls, parts, reads = [], [], []
            for _ in range(args.runs):
                res = run.run_once()
                walls.append(res["total_us"])
                parts.append(res["gpu_total_us"])
                gpu.start()
                host = gpu.finish()
                t = time.perf_counter()
                gpu.event_timings(host)
                reads.append((time.perf_counter() - t) * 1e6)
        print(f"| {name} | {res['n_kernels']} | {np.median(walls[WARMUP:]):.1f} | "
              f"{np.median(parts[WARMUP:]):.1f} | {np.median(reads[WARMUP:]):.1f} |")


if __name__ == "__main__":
    main()

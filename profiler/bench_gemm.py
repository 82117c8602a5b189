"""Benchmark: the best GFLOP/s of our OpenCL GEMMs next to cuBLAS FP32 on the same GPU.

    python -m latpred.profiler.bench_gemm --device nvidia --sizes 1024 4096 [--json OUT]

For each size N it sweeps every GEMM implementation x params x local size on an N x N x N
problem in the forward (x . W^T) and plain (A . B) layouts, measures the median kernel time
(event END - START), and prints GFLOP/s = 2 N^3 / time. cuBLAS is timed through
torch.matmul with TF32 off (CUDA events, median of 20 after 3 warm-ups) when torch with
CUDA is importable. Prints a table; timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import numpy as np
from latpred.profiler.backends.opencl import ConfigError, OpenCLDevice, OpenCLRun
from latpred.profiler.devices import select_device
from latpred.profiler.harness import TimingPolicy, measure
from latpred.profiler.kernels import implementations
from latpred.profiler.kernels.base import local_size_str
from latpred.profiler.problems import GemmProblem

log = logging.getLogger(__name__)


def cublas_gflops(n: int, repeats: int = 20) -> float | None:
    """cuBLAS FP32 (TF32 off) GFLOP/s for an n^3 GEMM via torch, or None without CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    a = torch.rand(n, n, device="cuda", dtype=torch.float32)
    b = torch.rand(n, n, device="cuda", dtype=torch.float32)
    for _ in range(3):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        torch.matmul(a, b)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) * 1e-3)
    return 2 * n**3 / float(np.median(times)) / 1e9


def sweep_size(dev: OpenCLDevice, n: int, layout: str, max_run_s: float) -> list[dict]:
    """Every legal GEMM configuration on an n^3 problem; GFLOP/s of the median kernel time."""
    prob = GemmProblem(n, n, n, trans_a=False, trans_b=(layout == "forward"))
    arrays = prob.arrays(np.random.default_rng(0))
    ref = None
    rows, shared = [], {}
    policy = TimingPolicy(warmup=1, min_repeats=3, max_repeats=10, max_seconds=max_run_s)
    for impl in implementations("gemm"):
        if impl.name == "gemm_naive" and n > 2048:
            continue  # minutes per configuration, and never the best
        for params in impl.params_space():
            if impl.shape_reason(prob, params):
                continue
            for local in impl.local_sizes(prob, params, dev.limits):
                try:
                    run = OpenCLRun(dev, impl, prob, params, local, "buffer", arrays, shared=shared)
                except ConfigError as err:
                    log.info("%s %s: %s", impl.name, params, err)
                    continue
                try:
                    first = run.run_once()
                    if ref is None:
                        ref = prob.reference(arrays)
                    ok = float(np.max(np.abs(run.output() - ref))) <= prob.tolerance()
                    stats = measure(run.run_once, policy, first=first)
                finally:
                    run.release()
                rows.append({"n": n, "layout": layout, "impl": impl.name, "params": params,
                             "local_size": local_size_str(local), "correct": ok,
                             "kernel_us": stats["kernel_us"],
                             "gflops": 2 * n**3 / (stats["kernel_us"] * 1e-6) / 1e9})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--layouts", nargs="+", default=["forward", "plain"])
    ap.add_argument("--max-run-s", type=float, default=0.5)
    ap.add_argument("--json", default=None, help="write all rows and the summary here")
    args = ap.parse_args(argv)
    dev = OpenCLDevice(select_device(args.device))
    summary, allrows = [], []
    for n in args.sizes:
        cub = cublas_gflops(n)
        for layout in args.layouts:
            rows = [r for r in sweep_size(dev, n, layout, args.max_run_s) if r["correct"]]
            allrows += rows
            best = max(rows, key=lambda r: r["gflops"])
            per_impl = {}
            for r in rows:
                if r["gflops"] > per_impl.get(r["impl"], {"gflops": 0})["gflops"]:
                    per_impl[r["impl"]] = r
            summary.append({"n": n, "layout": layout, "best": best, "cublas_gflops": cub,
                            "per_impl": per_impl})
    print(f"device: {dev.platform_name}: {dev.name}")
    print(f"{'N':>6} {'layout':>8} {'impl':>14} {'GFLOP/s':>9} {'cuBLAS':>9} {'% cuBLAS':>9}  config")
    for s in summary:
        for name, r in sorted(s["per_impl"].items(), key=lambda kv: -kv[1]["gflops"]):
            cub = s["cublas_gflops"]
            pct = f"{100 * r['gflops'] / cub:8.1f}%" if cub else "      n/a"
            print(f"{s['n']:>6} {s['layout']:>8} {name:>14} {r['gflops']:9.0f} "
                  f"{(cub or float('nan')):9.0f} {pct}  {json.dumps(r['params'])} {r['local_size']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": dev.name, "summary": summary, "rows": allrows}, fh, indent=1,
                      default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

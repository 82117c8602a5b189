"""Does the CPU profiler time one-token linear layers with their weights in the cache?

The profiler times a configuration in a hot loop (``BlasRun.run_once`` back to back), so a
weight that fits the last-level cache stays there. A decoder's layers each bring their own
weights, and the co-execution bench interleaves plans, so there the weights come from
memory. Per shape (m x n x k, forward), this times the same ``BlasRun`` three ways at
``--threads``: ``hot`` back to back; ``cold`` with ``--evict-mib`` MiB written between calls
(outside the timed region); ``idle`` with the thread asleep between calls for as long as that
write takes (the BLAS threads idle as long, the cache kept: what ``cold`` owes to waking
them rather than to the cache).

    python scripts/diag_cpu_cache.py                    # the default decode shapes, 16 threads
    python scripts/diag_cpu_cache.py --shape 1x2560x2560 --threads 16 --threads 8
    python scripts/diag_cpu_cache.py --quick            # tiny shapes, a dry run anywhere

Prints one JSON line per (shape, threads): the weight's MiB, the medians of ``hot_us``,
``cold_us`` and ``idle_us`` over ``--repeats`` calls each, and the weight bandwidth (GB/s)
of the first two.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from latpred.profiler.backends.blas import BlasRun
from latpred.profiler.problems import LinearLayer

from latpred.errors import LatpredError, bad_value

#: one-token layers of decoders (m x n x k): TinyLlama's q_proj (16 MiB of weight), Phi-2's
#: q_proj (25 MiB), Llama-3.2-3B's q_proj (36 MiB), its gate_proj (96 MiB), and a small one
DEFAULT_SHAPES = ("1x1024x1024", "1x2048x2048", "1x2560x2560", "1x3072x3072", "1x8192x3072")
QUICK_SHAPES = ("1x64x64", "1x128x96")


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"MxNxK"`` -> (m, n, k), each a positive integer."""
    try:
        m, n, k = (int(v) for v in text.split("x"))
    except ValueError:
        raise bad_value("shape", text, "must be MxNxK, e.g. 1x2560x2560") from None
    if min(m, n, k) < 1:
        raise bad_value("shape", text, "sizes must be positive")
    return m, n, k


def time_shape(m: int, n: int, k: int, threads: int, repeats: int, evict: np.ndarray
               ) -> dict[str, float]:
    """Median hot, cold and idle times (us) of one forward linear layer on ``threads``
    threads; ``evict``: the buffer written between the cold calls."""
    problem = LinearLayer(m, n, k).gemm()
    run = BlasRun(problem, problem.arrays(np.random.default_rng(0)), threads)
    try:
        for _ in range(3):
            run.run_once()
        hot = [run.run_once()["kernel_us"] for _ in range(repeats)]
        cold, pause = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            evict += 1.0  # every cache line of the buffer written
            pause.append(time.perf_counter() - t)
            cold.append(run.run_once()["kernel_us"])
        idle = []
        for s in pause:
            time.sleep(s)
            idle.append(run.run_once()["kernel_us"])
    finally:
        run.release()
    mib = n * k * 4 / 2**20
    hot_us, cold_us = float(np.median(hot)), float(np.median(cold))
    return {"shape": f"{m}x{n}x{k}", "threads": threads, "weight_mib": round(mib, 2),
            "hot_us": round(hot_us, 1), "cold_us": round(cold_us, 1),
            "idle_us": round(float(np.median(idle)), 1),
            "hot_gbps": round(mib * 2**20 / hot_us / 1e3, 1),
            "cold_gbps": round(mib * 2**20 / cold_us / 1e3, 1)}


def main() -> None:
    try:
        run(sys.argv[1:])
    except LatpredError as err:
        sys.exit(f"error: {err}")


def run(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", help="MxNxK (repeatable)")
    ap.add_argument("--threads", type=int, action="append", help="BLAS threads (repeatable)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--evict-mib", type=int, default=512)
    ap.add_argument("--quick", action="store_true", help="tiny shapes, 1 thread, 4 MiB")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        raise bad_value("repeats", args.repeats, "must be >= 1")
    if args.evict_mib < 1:
        raise bad_value("evict-mib", args.evict_mib, "must be >= 1")
    shapes = args.shape or (QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    threads = args.threads or ([1] if args.quick else [16])
    evict = np.zeros((4 if args.quick else args.evict_mib) * 2**18, np.float32)
    t0 = time.perf_counter()
    for text in shapes:
        m, n, k = parse_shape(text)
        for t in threads:
            if t < 1:
                raise bad_value("threads", t, "must be >= 1")
            print(json.dumps(time_shape(m, n, k, t, args.repeats, evict)), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

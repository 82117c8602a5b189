"""How many threads a BLAS GEMM call really uses, and how it splits the output.

numpy's wheels ship OpenBLAS. A level-3 call with ``t`` threads allowed does not always run
on ``t`` threads. Two rules decide (OpenBLAS ``interface/gemm.c`` and
``driver/level3/level3_thread.c``, 0.3 series):

1. The thread count is capped at ``m * n * k / 262144`` (``SMP_THRESHOLD_MIN`` 65536 x
   ``GEMM_MULTITHREAD_THRESHOLD`` 4); 1 thread below that.
2. The output is split into an ``nt_m x nt_n`` grid. ``nt_m`` starts at the cap and is
   halved until every row block has at least ``SWITCH_RATIO`` rows (1 if ``m < 2 x
   SWITCH_RATIO``). ``nt_n`` is ``ceil(n / (SWITCH_RATIO x nt_m))``, at most ``cap //
   nt_m``.

Threads allowed are therefore not threads used. densenet121's last-block 1x1 convs (49
output pixels, 128 channels, k = 992) get the same 2 x 4 grid at 8 and 16 threads and the
same 3 x 3 grid at 12 and 15 (SWITCH_RATIO 16); on the H100 host's Xeon they took 72 / 73
us and 92 / 92 us (BENCHMARKS.md section 5, session 9). A model that sees only the allowed
count has to learn such steps shape by shape; the grid carries them to shapes never
profiled.

``SWITCH_RATIO`` depends on the build target (16 or 32 on recent x86 targets), so callers
compute both. OpenBLAS is column-major: numpy's row-major ``C (M x N) = A (M x K) B (K x
N)`` reaches it as ``C^T = B^T A^T``, i.e. OpenBLAS's ``m`` is the GEMM's N (output
features of a linear layer, output pixels of a conv) and its ``n`` is the GEMM's M. With
another BLAS library, or an OpenBLAS release that refines the rule, the same numbers are a
proxy of the split: the model learns how they map to time.
"""

from __future__ import annotations

import numpy as np

#: OpenBLAS's minimum work per thread: SMP_THRESHOLD_MIN (65536) x GEMM_MULTITHREAD_THRESHOLD (4)
MIN_WORK_PER_THREAD = 65536.0 * 4.0
#: the SWITCH_RATIO values of the x86 build targets numpy's wheels use
SWITCH_RATIOS = (16, 32)


def thread_grid(m: np.ndarray, n: np.ndarray, k: np.ndarray, threads: np.ndarray,
                switch_ratio: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenBLAS's thread grid ``(nt_m, nt_n)`` of GEMM calls, each int64 (rows,).

    Args:
        m, n, k: OpenBLAS's (column-major) GEMM dimensions per call, arrays (rows,) >= 1.
        threads: threads allowed (threadpoolctl's limit), array (rows,) >= 1.
        switch_ratio: OpenBLAS's SWITCH_RATIO of the build target.
    """
    m = np.maximum(np.asarray(m, np.float64), 1.0)
    n = np.maximum(np.asarray(n, np.float64), 1.0)
    t = np.maximum(np.asarray(threads, np.float64), 1.0)
    work = m * n * np.maximum(np.asarray(k, np.float64), 1.0)
    cap = np.where(work <= MIN_WORK_PER_THREAD, 1.0,
                   np.minimum(t, np.maximum(np.floor(work / MIN_WORK_PER_THREAD), 1.0)))
    sr = float(switch_ratio)
    nt_m = np.where(m < 2 * sr, 1.0, cap)
    while True:  # halve until every row block has SWITCH_RATIO rows (at most log2(cap) steps)
        halve = (nt_m > 1) & (m < nt_m * sr)
        if not halve.any():
            break
        nt_m = np.where(halve, np.floor(nt_m / 2), nt_m)
    nt_n = np.where(n < sr * nt_m, 1.0, np.ceil(n / (sr * nt_m)))
    nt_n = np.maximum(np.where(nt_m * nt_n > cap, np.floor(cap / nt_m), nt_n), 1.0)
    return nt_m.astype(np.int64), nt_n.astype(np.int64)


def blas_thread_features(gemm_m: np.ndarray, gemm_n: np.ndarray, gemm_k: np.ndarray,
                         threads: np.ndarray) -> list[np.ndarray]:
    """Per SWITCH_RATIO in ``SWITCH_RATIOS``: threads used, their share of the threads
    allowed, log2 output rows and log2 output columns per thread (OpenBLAS's m and n), each
    float64 (rows,). The GEMM's (M, N, K) per call as ``features.core`` defines them."""
    t = np.maximum(threads, 1.0)
    out = []
    for sr in SWITCH_RATIOS:
        nt_m, nt_n = thread_grid(gemm_n, gemm_m, gemm_k, t, sr)
        used = (nt_m * nt_n).astype(np.float64)
        out += [used, used / t, np.log2(np.maximum(gemm_n, 1.0) / nt_m),
                np.log2(np.maximum(gemm_m, 1.0) / nt_n)]
    return out


__all__ = ["MIN_WORK_PER_THREAD", "SWITCH_RATIOS", "blas_thread_features", "thread_grid"]

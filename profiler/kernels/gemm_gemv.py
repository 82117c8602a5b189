"""GEMV for M == 1 (batch-1 linear layers): C (1 x N) = a (1 x K) . op(B) (K x N).

One work-group of L work-items (L a power of two, 32..256) computes COLS output columns:
L / COLS work-items per column each sum a strided share of K, then a tree reduction in
local memory combines them. The work-item -> (column, K share) map follows B's layout so
global reads are coalesced: with ``trans_b`` (B stored N x K, the forward pass of a linear
layer) neighbouring work-items take neighbouring k of one column; otherwise they take
neighbouring columns of one row of B. Any local size from ``local_sizes`` works with one
program (the reduction reads ``get_local_size``). The module is named ``gemm_*`` so the
kernel registry discovers it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from latpred.profiler.kernels.base import (
    DeviceLimits,
    Implementation,
    Launch,
    LocalSize,
    fits_device,
    param_int,
)
from latpred.profiler.kernels.gemm_common import OPERAND_MACROS, defines, gemm_args

MAX_LOCAL = 256  # the local reduction array holds this many floats

SOURCE = r"""
#define MAX_LOCAL 256
__kernel void gemm(const int M, const int N, const int K,
                   __global const float* restrict A, const int lda, const int strideA,
                   __global const float* restrict B, const int ldb, const int strideB,
                   __global float* restrict C, const int ldc, const int strideC)
{
    __local float red[MAX_LOCAL];
    const int L = get_local_size(0);          /* power of two, multiple of COLS */
    const int t = get_local_id(0);
    const int kt = L / COLS;                  /* work-items per column */
#if TRANS_B
    const int tc = t / kt, tk = t % kt;       /* neighbours share a column: read along k */
#else
    const int tc = t % COLS, tk = t / COLS;   /* neighbours share a row of B: read along n */
#endif
    const int j = get_group_id(0) * COLS + tc;
    const int b = get_global_id(2);
    A += b * strideA; B += b * strideB; C += b * strideC;

    float acc0 = 0.0f, acc1 = 0.0f;
    if (j < N) {
        int l = tk;
        for (; l + kt < K; l += 2 * kt) {
            acc0 = fma(AE(0, l), BE(l, j), acc0);
            acc1 = fma(AE(0, l + kt), BE(l + kt, j), acc1);
        }
        if (l < K) acc0 = fma(AE(0, l), BE(l, j), acc0);
    }
    red[tc * kt + tk] = acc0 + acc1;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = kt / 2; s > 0; s >>= 1) {
        if (tk < s) red[tc * kt + tk] += red[tc * kt + tk + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (tk == 0 && j < N) C[j] = red[tc * kt];
}
"""


class Gemv(Implementation):
    """Matrix-vector product for M == 1: a work-group reduces K for COLS columns."""

    name: ClassVar[str] = "gemv"
    op: ClassVar[str] = "gemm"
    space: ClassVar[dict[str, list]] = {"COLS": [1, 4, 16]}
    local_candidates: ClassVar[tuple[int, ...]] = (32, 64, 128, 256)

    def shape_reason(self, problem: Any, params: dict) -> str | None:
        if problem.M != 1:
            return f"gemv computes a single row of C: needs M == 1, got M={problem.M}"
        return None

    def source(self, problem: Any, params: dict) -> str:
        return defines(problem, params) + OPERAND_MACROS + SOURCE

    def local_sizes(self, problem: Any, params: dict, limits: DeviceLimits) -> list[LocalSize]:
        cols = int(params["COLS"])
        out: list[LocalSize] = []
        for size in self.local_candidates:
            local = (size, 1, 1)
            if (size % cols == 0 and fits_device(local, limits)
                    and self.local_mem_bytes(params, local) <= limits.local_mem_bytes):
                out.append(local)
        return out

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        # element-wise for array-valued local sizes (``if_else``): the geometry of many rows
        if local is None or np.any((local[0] > MAX_LOCAL) | (local[0] & (local[0] - 1) != 0)):
            raise ValueError(f"gemv needs a power-of-two local size <= {MAX_LOCAL}, got {local}")
        cols = param_int(params["COLS"])
        groups = -(-problem.N // cols)
        gsize = (groups * local[0], 1, problem.batch)
        return [Launch("gemm", gsize, (local[0], 1, 1), gemm_args(problem))]

    def local_mem_bytes(self, params: dict, local: LocalSize) -> int:
        return MAX_LOCAL * 4

    def work_per_item(self, problem: Any, params: dict) -> int:
        return 1

    def tile_multiples(self, params: dict) -> dict[str, int]:
        return {"N": param_int(params["COLS"])}

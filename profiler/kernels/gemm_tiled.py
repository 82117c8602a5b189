"""Local-memory tiled GEMM: square TS x TS tiles of A and B staged in local memory.

Work-group (TS, TS, 1) computes one TS x TS tile of C, one output per work-item
(myGEMM kernel 2 style). Tiles past the matrix edges are zero-padded on load, so any
M, N, K is legal. Loads are coalesced for every layout: a transposed operand is read
with the work-item axes swapped and stored transposed into its (padded) local tile.
"""

from __future__ import annotations

from typing import Any, ClassVar

from latpred.profiler.kernels.base import (
    DeviceLimits,
    Implementation,
    Launch,
    LocalSize,
    param_int,
    round_up,
)
from latpred.profiler.kernels.gemm_common import OPERAND_MACROS, defines, gemm_args

SOURCE = r"""
/* Asub[r][l]: A tile, row r (of C), depth l; Bsub[l][c]: B tile, depth l, column c (of C).
   Rows are padded by one float against bank conflicts on transposed stores. */
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void gemm(const int M, const int N, const int K,
          __global const float* restrict A, const int lda, const int strideA,
          __global const float* restrict B, const int ldb, const int strideB,
          __global float* restrict C, const int ldc, const int strideC)
{
    __local float Asub[TS][TS + 1];
    __local float Bsub[TS][TS + 1];
    const int lx = get_local_id(0);          /* column within the tile */
    const int ly = get_local_id(1);          /* row within the tile */
    const int row0 = get_group_id(1) * TS;
    const int col0 = get_group_id(0) * TS;
    const int b = get_global_id(2);
    A += b * strideA; B += b * strideB; C += b * strideC;

    float acc = 0.0f;
    for (int t = 0; t < K; t += TS) {
#if TRANS_A   /* A stored K x M: consecutive lx read consecutive rows i */
        { const int i = row0 + lx, l = t + ly;
          Asub[lx][ly] = (i < M && l < K) ? AE(i, l) : 0.0f; }
#else         /* consecutive lx read consecutive depths l */
        { const int i = row0 + ly, l = t + lx;
          Asub[ly][lx] = (i < M && l < K) ? AE(i, l) : 0.0f; }
#endif
#if TRANS_B   /* B stored N x K: consecutive lx read consecutive depths l */
        { const int j = col0 + ly, l = t + lx;
          Bsub[lx][ly] = (j < N && l < K) ? BE(l, j) : 0.0f; }
#else
        { const int j = col0 + lx, l = t + ly;
          Bsub[ly][lx] = (j < N && l < K) ? BE(l, j) : 0.0f; }
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
        for (int l = 0; l < TS; ++l)
            acc = fma(Asub[ly][l], Bsub[l][lx], acc);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int i = row0 + ly, j = col0 + lx;
    if (i < M && j < N)
        C[i * ldc + j] = acc;
}
"""


class GemmTiled(Implementation):
    """Square local-memory tiles, one output per work-item; local size (TS, TS, 1)."""

    name: ClassVar[str] = "gemm_tiled"
    op: ClassVar[str] = "gemm"
    space: ClassVar[dict[str, list]] = {"TS": [8, 16, 32]}

    def source(self, problem: Any, params: dict) -> str:
        return defines(problem, params) + OPERAND_MACROS + SOURCE

    def local_sizes(self, problem: Any, params: dict, limits: DeviceLimits) -> list[LocalSize]:
        ts = int(params["TS"])
        return self.fixed_local((ts, ts, 1), params, limits)

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        ts = param_int(params["TS"])
        gsize = (round_up(problem.N, ts), round_up(problem.M, ts), problem.batch)
        return [Launch("gemm", gsize, (ts, ts, 1), gemm_args(problem))]

    def local_mem_bytes(self, params: dict, local: LocalSize) -> int:
        ts = param_int(params["TS"])
        return 2 * ts * (ts + 1) * 4

    def work_per_item(self, problem: Any, params: dict) -> int:
        return 1

    def tile_multiples(self, params: dict) -> dict[str, int]:
        ts = param_int(params["TS"])
        return {"M": ts, "N": ts, "K": ts}

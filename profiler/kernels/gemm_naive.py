"""Naive GEMM: one work-item per output element, any local size (the baseline kernel)."""

from __future__ import annotations

from typing import Any, ClassVar

from latpred.profiler.kernels.base import (
    Implementation,
    Launch,
    LocalSize,
    round_up,
)
from latpred.profiler.kernels.gemm_common import OPERAND_MACROS, defines, gemm_args

SOURCE = r"""
__kernel void gemm(const int M, const int N, const int K,
                   __global const float* restrict A, const int lda, const int strideA,
                   __global const float* restrict B, const int ldb, const int strideB,
                   __global float* restrict C, const int ldc, const int strideC)
{
    const int j = get_global_id(0);   /* column of C */
    const int i = get_global_id(1);   /* row of C */
    const int b = get_global_id(2);
    if (i >= M || j >= N) return;
    A += b * strideA; B += b * strideB; C += b * strideC;
    float acc = 0.0f;
    for (int l = 0; l < K; ++l)
        acc = fma(AE(i, l), BE(l, j), acc);
    C[i * ldc + j] = acc;
}
"""


class GemmNaive(Implementation):
    name: ClassVar[str] = "gemm_naive"
    op: ClassVar[str] = "gemm"
    space: ClassVar[dict[str, list]] = {}
    free_local_size: ClassVar[bool] = True
    local_candidates: ClassVar[tuple[tuple[int, ...], ...]] = (
        (8, 8), (16, 4), (16, 8), (16, 16), (32, 1), (32, 4), (32, 8), (64, 1), (64, 4),
        (128, 1), (256, 1), (32, 16), (32, 32),
    )

    def source(self, problem: Any, params: dict) -> str:
        return defines(problem, params) + OPERAND_MACROS + SOURCE

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        if local is None:
            gsize = (problem.N, problem.M, problem.batch)
        else:
            gsize = (round_up(problem.N, local[0]), round_up(problem.M, local[1]), problem.batch)
        return [Launch("gemm", gsize, local, gemm_args(problem))]

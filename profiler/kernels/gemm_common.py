"""Shared pieces of the GEMM implementations: the kernel signature and the operand macros.

Every GEMM kernel has the same signature, BLAS style, and computes for batch b = get_global_id(2)
(or the implementation's batch axis):

    C[b] (M x N, leading dim ldc) = op(A[b]) (M x K) . op(B[b]) (K x N)

    __kernel void gemm(const int M, const int N, const int K,
                       __global const float* A, const int lda, const int strideA,
                       __global const float* B, const int ldb, const int strideB,
                       __global float* C, const int ldc, const int strideC)

``TRANS_A`` (A stored K x M) and ``TRANS_B`` (B stored N x K) are compile-time defines.
Leading dimensions let a co-execution split write a column block of C in place.
"""

from __future__ import annotations

from typing import Any

from latpred.profiler.kernels.base import Buf, Scalar, if_else

OPERAND_MACROS = r"""
#if TRANS_A
#define AE(i, l) A[(l) * lda + (i)]
#else
#define AE(i, l) A[(i) * lda + (l)]
#endif
#if TRANS_B
#define BE(l, j) B[(j) * ldb + (l)]
#else
#define BE(l, j) B[(l) * ldb + (j)]
#endif
"""

#: OpenCL helper of the float4 kernels: an edge-safe store of 4 outputs of one row
STORE4_EDGE = r"""
/* store 4 consecutive outputs row[j..j+3], the ones past column N dropped */
inline void store4_edge(const float4 v, __global float* row, const int j, const int N)
{
    if (j + 3 < N) {
        vstore4(v, 0, row + j);
    } else {
        if (j < N) row[j] = v.s0;
        if (j + 1 < N) row[j + 1] = v.s1;
        if (j + 2 < N) row[j + 2] = v.s2;
    }
}
"""


def defines(problem: Any, params: dict) -> str:
    """``#define`` lines for the layout flags and the implementation's parameters."""
    lines = [f"#define TRANS_A {int(problem.trans_a)}", f"#define TRANS_B {int(problem.trans_b)}"]
    lines += [f"#define {k} {int(v)}" for k, v in sorted(params.items())]
    return "\n".join(lines) + "\n"


def gemm_args(problem: Any, lda: int | None = None, ldb: int | None = None,
              ldc: int | None = None) -> tuple:
    """The uniform GEMM argument tuple for a dense problem (overridable leading dims)."""
    lda = problem.lda if lda is None else lda
    ldb = problem.ldb if ldb is None else ldb
    ldc = problem.ldc if ldc is None else ldc
    b = problem.batch > 1
    sa = if_else(b, problem.M * problem.K, 0)
    sb = if_else(b, problem.K * problem.N, 0)
    sc = if_else(b, problem.M * problem.N, 0)
    return (
        Scalar(problem.M), Scalar(problem.N), Scalar(problem.K),
        Buf("A"), Scalar(lda), Scalar(sa),
        Buf("B"), Scalar(ldb), Scalar(sb),
        Buf("C"), Scalar(ldc), Scalar(sc),
    )

"""float4 register-blocked GEMM without local memory (mobile-GPU / CPU style).

Each work-item computes a WPTM x WPTN block of C as WPTM/4 x WPTN/4 blocks of 4 x 4, held
in float4 registers (one float4 per row of 4 columns). K advances 4 at a time: every
operand is read as aligned float4 runs along its contiguous axis (A along K, or along M
when transposed; B along N, or along K when transposed) and a transposed 4 x 4 block is
turned in registers, so the multiply is 16 float4 fma per 4 x 4 x 4 block pair. The block
grid is strided over the work-items (block = id + r * global size) so neighbouring
work-items read neighbouring float4 runs. No local memory, so any local size is legal.

Layout rule (``shape_reason``): float4 loads need 16-byte aligned rows, so both leading
dimensions (``lda``, ``ldb``; the contiguous dimension of each dense operand) must be
multiples of 4. Runs past M/N/K are zero-filled (partial runs load element-wise), so any
M, N, K is legal otherwise. C is written with vstore4 (element alignment only), so
``ldc`` is free.
"""

from __future__ import annotations

from typing import Any, ClassVar

from latpred.profiler.kernels.base import (
    Implementation,
    Launch,
    LocalSize,
    param_int,
    round_up,
)
from latpred.profiler.kernels.gemm_common import STORE4_EDGE, defines, gemm_args

SOURCE = r"""
#define VM (WPTM / 4)      /* 4-row blocks per work-item */
#define VN (WPTN / 4)      /* 4-column blocks per work-item */

/* p[c..c+3], zero past n. c is a multiple of 4 and p 16-byte aligned, so a full run is
   one aligned float4 load; a partial run (at the edge) loads element-wise. */
inline float4 quad(__global const float* p, const int c, const int n)
{
    if (c + 4 <= n) return *(__global const float4*)(p + c);
    float4 v = (float4)(0.0f);
    if (c < n) v.s0 = p[c];
    if (c + 1 < n) v.s1 = p[c + 1];
    if (c + 2 < n) v.s2 = p[c + 2];
    return v;
}

#define TRANSPOSE4(o, t) \
    o[0] = (float4)(t[0].s0, t[1].s0, t[2].s0, t[3].s0); \
    o[1] = (float4)(t[0].s1, t[1].s1, t[2].s1, t[3].s1); \
    o[2] = (float4)(t[0].s2, t[1].s2, t[2].s2, t[3].s2); \
    o[3] = (float4)(t[0].s3, t[1].s3, t[2].s3, t[3].s3);

__kernel void gemm(const int M, const int N, const int K,
                   __global const float* restrict A, const int lda, const int strideA,
                   __global const float* restrict B, const int ldb, const int strideB,
                   __global float* restrict C, const int ldc, const int strideC)
{
    const int gx = get_global_id(0), gy = get_global_id(1), b = get_global_id(2);
    const int G0 = get_global_size(0), G1 = get_global_size(1);
    if (gx * 4 >= N || gy * 4 >= M) return;   /* no barriers: early exit is safe */
    A += b * strideA; B += b * strideB; C += b * strideC;

    float4 acc[VM][4][VN];
#pragma unroll
    for (int vm = 0; vm < VM; ++vm)
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
            for (int vn = 0; vn < VN; ++vn) acc[vm][r][vn] = (float4)(0.0f);

    for (int l0 = 0; l0 < K; l0 += 4) {
        float4 a[VM][4];   /* a[vm][r] = A(i0 + r, l0 .. l0+3) */
        float4 bq[VN][4];  /* bq[vn][q] = B(l0 + q, j0 .. j0+3) */
#pragma unroll
        for (int vm = 0; vm < VM; ++vm) {
            const int i0 = (gy + vm * G1) * 4;
#if TRANS_A   /* A stored K x M: runs along M, then transpose */
            float4 t[4];
#pragma unroll
            for (int q = 0; q < 4; ++q)
                t[q] = (l0 + q < K) ? quad(A + (l0 + q) * lda, i0, M) : (float4)(0.0f);
            TRANSPOSE4(a[vm], t)
#else         /* runs along K; rows past M are clamped (never stored) */
#pragma unroll
            for (int r = 0; r < 4; ++r)
                a[vm][r] = quad(A + min(i0 + r, M - 1) * lda, l0, K);
#endif
        }
#pragma unroll
        for (int vn = 0; vn < VN; ++vn) {
            const int j0 = (gx + vn * G0) * 4;
#if TRANS_B   /* B stored N x K: runs along K, then transpose */
            float4 t[4];
#pragma unroll
            for (int c = 0; c < 4; ++c)
                t[c] = quad(B + min(j0 + c, N - 1) * ldb, l0, K);
            TRANSPOSE4(bq[vn], t)
#else
#pragma unroll
            for (int q = 0; q < 4; ++q)
                bq[vn][q] = (l0 + q < K) ? quad(B + (l0 + q) * ldb, j0, N) : (float4)(0.0f);
#endif
        }
#pragma unroll
        for (int vm = 0; vm < VM; ++vm)
#pragma unroll
            for (int r = 0; r < 4; ++r)
#pragma unroll
                for (int vn = 0; vn < VN; ++vn) {
                    float4 c = acc[vm][r][vn];
                    c = fma((float4)(a[vm][r].s0), bq[vn][0], c);
                    c = fma((float4)(a[vm][r].s1), bq[vn][1], c);
                    c = fma((float4)(a[vm][r].s2), bq[vn][2], c);
                    c = fma((float4)(a[vm][r].s3), bq[vn][3], c);
                    acc[vm][r][vn] = c;
                }
    }

#pragma unroll
    for (int vm = 0; vm < VM; ++vm)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            const int i = (gy + vm * G1) * 4 + r;
            if (i >= M) continue;
            __global float* crow = C + i * ldc;
#pragma unroll
            for (int vn = 0; vn < VN; ++vn) {
                const int j = (gx + vn * G0) * 4;
                store4_edge(acc[vm][r][vn], crow, j, N);
            }
        }
}
"""


class GemmVec4(Implementation):
    """float4 register blocks (WPTM x WPTN per work-item), no local memory, any local size."""

    name: ClassVar[str] = "gemm_vec4"
    op: ClassVar[str] = "gemm"
    space: ClassVar[dict[str, list]] = {"WPTM": [4, 8], "WPTN": [4, 8]}
    free_local_size: ClassVar[bool] = True
    local_candidates: ClassVar[tuple[tuple[int, ...], ...]] = (
        (4, 4), (8, 8), (16, 4), (4, 16), (16, 8), (16, 16), (32, 4), (32, 8), (64, 1),
    )

    def shape_reason(self, problem: Any, params: dict) -> str | None:
        bad = [f"{name}={ld}" for name, ld in (("lda", problem.lda), ("ldb", problem.ldb))
               if ld % 4]
        if bad:
            return ("gemm_vec4 loads aligned float4 rows: lda and ldb (the contiguous "
                    f"dimension of A and B) must be multiples of 4, got {', '.join(bad)}")
        return None

    def source(self, problem: Any, params: dict) -> str:
        return defines(problem, params) + STORE4_EDGE + SOURCE

    def _items(self, problem: Any, params: dict) -> tuple[int, int]:
        """Work-items needed along N and M (before rounding to the local size)."""
        vm, vn = param_int(params["WPTM"]) // 4, param_int(params["WPTN"]) // 4
        return -(-problem.N // (4 * vn)), -(-problem.M // (4 * vm))

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        nx, ny = self._items(problem, params)
        if local is None:
            gsize = (nx, ny, problem.batch)
        else:
            gsize = (round_up(nx, local[0]), round_up(ny, local[1]), problem.batch)
        return [Launch("gemm", gsize, local, gemm_args(problem))]

    def work_per_item(self, problem: Any, params: dict) -> int:
        return param_int(params["WPTM"]) * param_int(params["WPTN"])

    def tile_multiples(self, params: dict) -> dict[str, int]:
        return {"M": param_int(params["WPTM"]), "N": param_int(params["WPTN"]), "K": 4}

"""2-D register-blocked GEMM (myGEMM kernels 6/7, CLBlast xgemm style): the fast kernel.

A work-group of (TSN/WPTN, TSM/WPTM) work-items computes a TSM x TSN tile of C; each
work-item accumulates WPTM x WPTN outputs in registers. K advances in TSK-deep slabs of A
(TSM x TSK) and B (TSK x TSN) staged k-major in local memory, double buffered: the next
slab is fetched from global memory into registers while the current one is multiplied,
so there is one barrier per slab. A work-item's outputs are float4 runs: rows
``vm*RTSM*4 + ly*4 + 0..3`` and columns ``vn*RTSN*4 + lx*4 + 0..3``, so every local read is
one aligned float4 (a broadcast for A, consecutive for B), and C is written in float4 runs.
Local rows are padded by 4 floats (keeps float4 alignment, spreads transposed stores over
the banks). Global loads are coalesced along each operand's contiguous axis for every
layout. Edges: rows/columns past M/N are clamped on load (their results are never
stored); depths past K load as zero. Any M, N, K is legal.

Measured on an H100 through NVIDIA's OpenCL (driver 580, kernel time, best config of the
space, vs cuBLAS FP32 with TF32 off): 1024^3 about 100% of cuBLAS (26 TFLOP/s, 128x64x16
tiles) in the NN, NT and TN layouts; 4096^3 70% NN, 65% NT, 74% TN (33-37 TFLOP/s,
128x128x8 or 128x64x8 tiles).
"""

from __future__ import annotations

from typing import Any, ClassVar

from latpred.profiler.kernels.base import (
    DeviceLimits,
    Implementation,
    Launch,
    LocalSize,
    param_int,
)
from latpred.profiler.kernels.gemm_common import OPERAND_MACROS, STORE4_EDGE, defines, gemm_args

PAD = 4  # floats of padding per local row (a multiple of 4 keeps float4 alignment)

SOURCE = r"""
#define RTSM (TSM / WPTM)               /* work-items along M (local dim 1) */
#define RTSN (TSN / WPTN)               /* work-items along N (local dim 0) */
#define NTHR (RTSM * RTSN)
#define PAD 4
#define LDAS (TSM + PAD)                /* local row pitch of the A slab (floats) */
#define LDBS (TSN + PAD)
#define LPTA ((TSM * TSK) / NTHR)       /* A-slab elements each work-item loads */
#define LPTB ((TSN * TSK) / NTHR)
#define VM (WPTM / 4)
#define VN (WPTN / 4)
#define ASLAB (TSK * LDAS)              /* floats in one A buffer */
#define BSLAB (TSK * LDBS)

/* Fetch the slab starting at depth t into registers ra/rb. Element e of a slab maps to
   (m or n, k) so that consecutive work-items read consecutive addresses. */
#if TRANS_A   /* A stored K x M: contiguous along m */
#define A_MK(e, m, k) const int m = (e) % TSM, k = (e) / TSM
#else
#define A_MK(e, m, k) const int k = (e) % TSK, m = (e) / TSK
#endif
#if TRANS_B   /* B stored N x K: contiguous along k */
#define B_NK(e, n, k) const int k = (e) % TSK, n = (e) / TSK
#else
#define B_NK(e, n, k) const int n = (e) % TSN, k = (e) / TSN
#endif

#define FETCH(t) \
    _Pragma("unroll") for (int p = 0; p < LPTA; ++p) { \
        A_MK(tid + p * NTHR, m, k); \
        const int i = min(offM + m, M - 1), l = (t) + k; \
        ra[p] = (l < K) ? AE(i, l) : 0.0f; \
    } \
    _Pragma("unroll") for (int p = 0; p < LPTB; ++p) { \
        B_NK(tid + p * NTHR, n, k); \
        const int j = min(offN + n, N - 1), l = (t) + k; \
        rb[p] = (l < K) ? BE(l, j) : 0.0f; \
    }

#define STORE(buf) \
    _Pragma("unroll") for (int p = 0; p < LPTA; ++p) { \
        A_MK(tid + p * NTHR, m, k); \
        Al[(buf) * ASLAB + k * LDAS + m] = ra[p]; \
    } \
    _Pragma("unroll") for (int p = 0; p < LPTB; ++p) { \
        B_NK(tid + p * NTHR, n, k); \
        Bl[(buf) * BSLAB + k * LDBS + n] = rb[p]; \
    }

__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
void gemm(const int M, const int N, const int K,
          __global const float* restrict A, const int lda, const int strideA,
          __global const float* restrict B, const int ldb, const int strideB,
          __global float* restrict C, const int ldc, const int strideC)
{
    __local float4 Al4[2 * ASLAB / 4];   /* [buf][k][m], float4-aligned */
    __local float4 Bl4[2 * BSLAB / 4];   /* [buf][k][n] */
    __local float* Al = (__local float*)Al4;
    __local float* Bl = (__local float*)Bl4;

    const int lx = get_local_id(0), ly = get_local_id(1);
    const int tid = ly * RTSN + lx;
    const int offM = get_group_id(1) * TSM;
    const int offN = get_group_id(0) * TSN;
    const int b = get_global_id(2);
    A += b * strideA; B += b * strideB; C += b * strideC;

    float ra[LPTA], rb[LPTB];
    float4 acc[WPTM][VN];
#pragma unroll
    for (int r = 0; r < WPTM; ++r)
#pragma unroll
        for (int v = 0; v < VN; ++v)
            acc[r][v] = (float4)(0.0f);

    const int nslab = (K + TSK - 1) / TSK;
    FETCH(0)
    STORE(0)
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = 0; s < nslab; ++s) {
        const int cur = s & 1;
        const int more = s + 1 < nslab;          /* uniform over the work-group */
        if (more) { FETCH((s + 1) * TSK) }
        __local const float4* a4 = Al4 + cur * (ASLAB / 4) + ly;
        __local const float4* b4 = Bl4 + cur * (BSLAB / 4) + lx;
#pragma unroll
        for (int k = 0; k < TSK; ++k) {
            float4 av[VM], bv[VN];
#pragma unroll
            for (int vm = 0; vm < VM; ++vm) av[vm] = a4[k * (LDAS / 4) + vm * RTSM];
#pragma unroll
            for (int vn = 0; vn < VN; ++vn) bv[vn] = b4[k * (LDBS / 4) + vn * RTSN];
#pragma unroll
            for (int vm = 0; vm < VM; ++vm) {
#pragma unroll
                for (int vn = 0; vn < VN; ++vn) {
                    acc[vm * 4 + 0][vn] = fma((float4)(av[vm].s0), bv[vn], acc[vm * 4 + 0][vn]);
                    acc[vm * 4 + 1][vn] = fma((float4)(av[vm].s1), bv[vn], acc[vm * 4 + 1][vn]);
                    acc[vm * 4 + 2][vn] = fma((float4)(av[vm].s2), bv[vn], acc[vm * 4 + 2][vn]);
                    acc[vm * 4 + 3][vn] = fma((float4)(av[vm].s3), bv[vn], acc[vm * 4 + 3][vn]);
                }
            }
        }
        /* buffer cur^1 was last read in slab s-1, before the previous barrier */
        if (more) { STORE(cur ^ 1) }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

#pragma unroll
    for (int vm = 0; vm < VM; ++vm) {
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            const int i = offM + vm * RTSM * 4 + ly * 4 + r;
            if (i >= M) continue;
            __global float* crow = C + i * ldc;
#pragma unroll
            for (int vn = 0; vn < VN; ++vn) {
                const int j = offN + vn * RTSN * 4 + lx * 4;
                store4_edge(acc[vm * 4 + r][vn], crow, j, N);
            }
        }
    }
}
"""


class GemmRegBlock(Implementation):
    """Register-blocked GEMM: TSM x TSN x TSK slabs, WPTM x WPTN outputs per work-item."""

    name: ClassVar[str] = "gemm_regblock"
    op: ClassVar[str] = "gemm"
    space: ClassVar[dict[str, list]] = {
        "TSM": [32, 64, 128],
        "TSN": [32, 64, 128],
        "TSK": [8, 16],
        "WPTM": [4, 8],
        "WPTN": [4, 8],
    }

    def params_rule(self, params: dict) -> bool:
        """Square 8x8 or 16x16 work-groups; tiles square, or 64x128 / 128x64 (12 combos).

        Kept: the configurations that were fastest on an H100 (NVIDIA OpenCL) at 1024^3
        and 4096^3 plus small ones for small shapes and CPUs. TSK=32 with 8x8 outputs per
        work-item spills registers there; larger TSK trades local memory for nothing.
        """
        tsm, tsn, tsk = int(params["TSM"]), int(params["TSN"]), int(params["TSK"])
        wptm, wptn = int(params["WPTM"]), int(params["WPTN"])
        if tsm % wptm or tsn % wptn or wptm % 4 or wptn % 4:
            return False
        rtsm, rtsn = tsm // wptm, tsn // wptn
        nthr = rtsm * rtsn
        if (tsm * tsk) % nthr or (tsn * tsk) % nthr:
            return False
        return rtsm == rtsn and rtsm in (8, 16) and (tsm == tsn or min(tsm, tsn) >= 64)

    def source(self, problem: Any, params: dict) -> str:
        return defines(problem, params) + OPERAND_MACROS + STORE4_EDGE + SOURCE

    @staticmethod
    def _local(params: dict) -> tuple[int, int, int]:
        return (param_int(params["TSN"]) // param_int(params["WPTN"]),
                param_int(params["TSM"]) // param_int(params["WPTM"]), 1)

    def local_sizes(self, problem: Any, params: dict, limits: DeviceLimits) -> list[LocalSize]:
        return self.fixed_local(self._local(params), params, limits)

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        tsm, tsn = param_int(params["TSM"]), param_int(params["TSN"])
        lx, ly, _ = self._local(params)
        gsize = (-(-problem.N // tsn) * lx, -(-problem.M // tsm) * ly, problem.batch)
        return [Launch("gemm", gsize, (lx, ly, 1), gemm_args(problem))]

    def local_mem_bytes(self, params: dict, local: LocalSize) -> int:
        tsm, tsn, tsk = (param_int(params[k]) for k in ("TSM", "TSN", "TSK"))
        return 2 * tsk * ((tsm + PAD) + (tsn + PAD)) * 4

    def work_per_item(self, problem: Any, params: dict) -> int:
        return param_int(params["WPTM"]) * param_int(params["WPTN"])

    def tile_multiples(self, params: dict) -> dict[str, int]:
        return {d: param_int(params[f"TS{d}"]) for d in ("M", "N", "K")}

"""im2col + GEMM convolution: two launches, the GEMM taken from the GEMM kernel library.

Launch 1 ("im2col") unrolls the input into ``cols`` (batch, C*KH*KW, OH*OW): row
k = (c, i, j), column n = (oh, ow), zeros where the window hits the padding. Launch 2
("gemm") runs the chosen library GEMM, per group and image:

    y[b, g] (O/G x OH*OW) = w[g] (O/G x C/G*KH*KW) . cols[b, g] (C/G*KH*KW x OH*OW)

batched over images (weights shared, stride 0) when groups == 1, or over groups when
batch == 1 (a single batch stride cannot step both; groups > 1 with batch > 1 is refused).
Params: ``{"gemm": <GEMM implementation>, **<its params>}``.
"""

from __future__ import annotations

from typing import ClassVar

from latpred.profiler.kernels.base import Buf, Launch, if_else, round_up
from latpred.profiler.kernels.conv_common import (
    AUX_LOCAL,
    CONV_SIZE_ARGS,
    GemmBinding,
    GemmConv,
    conv_size_args,
    gemm_problem,
)
from latpred.profiler.problems import ConvLayer

SOURCE = r"""
/* cols (B, C*KH*KW, OH*OW); grid (n over OH*OW, k over C*KH*KW, b) */
__kernel void conv_im2col(""" + CONV_SIZE_ARGS + r""",
    __global const float* restrict x, __global float* restrict cols)
{
    const int n = get_global_id(0);
    const int k = get_global_id(1);
    const int b = get_global_id(2);
    const int npix = OH * OW;
    if (n >= npix) return;
    const int khw = KH * KW;
    const int c = k / khw;
    const int r = k - c * khw;
    const int i = r / KW, j = r - (r / KW) * KW;
    const int oh = n / OW, ow = n - (n / OW) * OW;
    const int ih = oh * S - P + i * D, iw = ow * S - P + j * D;
    const float v = (ih >= 0 && ih < H && iw >= 0 && iw < W)
        ? x[(((size_t)b * C + c) * H + ih) * W + iw] : 0.0f;
    cols[((size_t)b * C * khw + k) * npix + n] = v;
}
"""


class ConvIm2col(GemmConv):
    """im2col then a library GEMM (labels "im2col", "gemm")."""

    name: ClassVar[str] = "conv_im2col"

    def conv_reason(self, problem: ConvLayer) -> str | None:
        if problem.groups > 1 and problem.batch > 1:
            return "im2col with groups > 1 needs batch 1 (one GEMM batch stride per launch)"
        return None

    def binding(self, p: ConvLayer) -> GemmBinding:
        g = p.groups
        m = p.out_channels // g
        n = p.out_h * p.out_w
        k = p.in_channels // g * p.kernel_h * p.kernel_w
        # groups 1: batch over images, weights shared; else (batch 1) batch over groups
        one = g == 1
        gp = gemm_problem(m, n, k, batch=if_else(one, p.batch, g))
        return GemmBinding(gp, "w", "cols", "y", if_else(one, 0, m * k), k * n, m * n)

    def conv_source(self) -> str:
        return SOURCE

    def pre_launches(self, p: ConvLayer) -> list[Launch]:
        gsize = (round_up(p.out_h * p.out_w, AUX_LOCAL),
                 p.in_channels * p.kernel_h * p.kernel_w, p.batch)
        args = (*conv_size_args(p), Buf("x"), Buf("cols"))
        return [Launch("conv_im2col", gsize, (AUX_LOCAL, 1, 1), args, "im2col")]

    def conv_scratch(self, p: ConvLayer) -> dict[str, int]:
        return {"cols": p.batch * p.in_channels * p.kernel_h * p.kernel_w * p.out_h * p.out_w}

"""Depthwise / grouped direct convolution (groups > 1), tiled along output rows.

One work-item computes TILE_W consecutive output pixels of one output row x TILE_O output
channels of one group (a channel multiplier O/G > 1 shares the input loads) for one image.
Rows whose input row falls in the padding are skipped whole. Any kernel size, stride,
padding and dilation; C/G input channels per group are looped over (depthwise: 1).
Grid: dim0 = tiles along out_w, dim1 = out_h, dim2 = batch x groups x channel tiles.
"""

from __future__ import annotations

from typing import Any, ClassVar

from latpred.profiler.kernels.base import (
    Buf,
    Implementation,
    Launch,
    LocalSize,
    round_up,
)
from latpred.profiler.kernels.conv_common import (
    CONV_SIZE_ARGS,
    conv_reason,
    conv_size_args,
    param_defines,
    tile_o_reason,
)
from latpred.profiler.problems import ConvLayer

SOURCE = r"""
__kernel void conv_depthwise(""" + CONV_SIZE_ARGS + r""",
    __global const float* restrict x,   /* (B, C, H, W) */
    __global const float* restrict w,   /* (O, C/G, KH, KW) */
    __global float* restrict y)         /* (B, O, OH, OW) */
{
    const int tx = get_global_id(0);
    const int oh = get_global_id(1);
    const int z = get_global_id(2);
    const int cg = C / G, og = O / G;
    const int n_ot = (og + TILE_O - 1) / TILE_O;
    const int ow0 = tx * TILE_W;
    if (ow0 >= OW || oh >= OH) return;
    const int bg = z / n_ot;
    const int o0 = (z - bg * n_ot) * TILE_O;      /* first output channel, within the group */
    const int b = bg / G, g = bg - (bg / G) * G;

    const int khw = KH * KW;
    int woff[TILE_O];
    for (int u = 0; u < TILE_O; ++u)
        woff[u] = (g * og + min(o0 + u, og - 1)) * cg * khw;
    int iw0[TILE_W];
    for (int t = 0; t < TILE_W; ++t)
        iw0[t] = min(ow0 + t, OW - 1) * S - P;   /* clamp: tail pixels are computed, not stored */

    float acc[TILE_O][TILE_W];
    for (int u = 0; u < TILE_O; ++u)
        for (int t = 0; t < TILE_W; ++t)
            acc[u][t] = 0.0f;

    const __global float* xc = x + ((size_t)b * C + (size_t)g * cg) * H * W;
    for (int c = 0; c < cg; ++c, xc += H * W) {
        for (int i = 0; i < KH; ++i) {
            const int ih = oh * S - P + i * D;
            if (ih < 0 || ih >= H) continue;
            const __global float* row = xc + ih * W;
            for (int j = 0; j < KW; ++j) {
                float xv[TILE_W];
                for (int t = 0; t < TILE_W; ++t) {
                    const int iw = iw0[t] + j * D;
                    xv[t] = (iw >= 0 && iw < W) ? row[iw] : 0.0f;
                }
                const int k = (c * KH + i) * KW + j;
                for (int u = 0; u < TILE_O; ++u) {
                    const float wv = w[woff[u] + k];
                    for (int t = 0; t < TILE_W; ++t)
                        acc[u][t] = fma(wv, xv[t], acc[u][t]);
                }
            }
        }
    }
    for (int u = 0; u < TILE_O; ++u) {
        if (o0 + u >= og) break;
        __global float* yo = y + (((size_t)b * O + g * og + o0 + u) * OH + oh) * OW + ow0;
        for (int t = 0; t < TILE_W; ++t)
            if (ow0 + t < OW) yo[t] = acc[u][t];
    }
}
"""


class ConvDepthwise(Implementation):
    """Grouped/depthwise conv2d; params TILE_W (pixels along a row), TILE_O (channels)."""

    name: ClassVar[str] = "conv_depthwise"
    op: ClassVar[str] = "conv2d"
    space: ClassVar[dict[str, list]] = {"TILE_W": [1, 2, 4, 8], "TILE_O": [1, 2, 4]}
    free_local_size: ClassVar[bool] = True
    local_candidates: ClassVar[tuple[tuple[int, ...], ...]] = (
        (8, 1), (16, 1), (32, 1), (4, 4), (8, 4), (16, 4), (8, 8), (4, 16), (16, 16),
    )

    def shape_reason(self, problem: Any, params: dict) -> str | None:
        reason = conv_reason(problem)
        if reason:
            return reason
        if problem.groups == 1:
            return "depthwise/grouped kernel needs groups > 1 (use conv_direct for groups 1)"
        return tile_o_reason(problem, params)

    def source(self, problem: Any, params: dict) -> str:
        return param_defines(params) + SOURCE

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        p: ConvLayer = problem
        og = p.out_channels // p.groups
        gx, gy = -(-p.out_w // params["TILE_W"]), p.out_h
        gz = p.batch * p.groups * -(-og // params["TILE_O"])
        if local is not None:
            gx, gy = round_up(gx, local[0]), round_up(gy, local[1])
        args = (*conv_size_args(p), Buf("x"), Buf("w"), Buf("y"))
        return [Launch("conv_depthwise", (gx, gy, gz), local, args, "conv")]

    def work_per_item(self, problem: Any, params: dict) -> int:
        return params["TILE_W"] * params["TILE_O"]

    def tile_multiples(self, params: dict) -> dict[str, int]:
        return {"O": params["TILE_O"], "OW": params["TILE_W"]}

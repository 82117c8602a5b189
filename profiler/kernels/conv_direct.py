"""Direct convolution, register-tiled over output channels x output pixels.

One work-item computes TILE_O output channels (of one group) x TILE_P consecutive output
pixels (row-major over out_h x out_w) of one image, accumulating in registers: each input
value loaded feeds TILE_O FMAs and each weight TILE_P FMAs. Any stride, padding, dilation
and groups. Grid: dim0 = pixel tiles, dim1 = groups x channel tiles, dim2 = batch.
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
__kernel void conv_direct(""" + CONV_SIZE_ARGS + r""",
    __global const float* restrict x,   /* (B, C, H, W) */
    __global const float* restrict w,   /* (O, C/G, KH, KW) */
    __global float* restrict y)         /* (B, O, OH, OW) */
{
    const int pt = get_global_id(0);
    const int ct = get_global_id(1);
    const int b = get_global_id(2);
    const int cg = C / G, og = O / G;
    const int n_ot = (og + TILE_O - 1) / TILE_O;
    const int npix = OH * OW;
    const int p0 = pt * TILE_P;
    if (p0 >= npix || ct >= G * n_ot) return;
    const int g = ct / n_ot;
    const int o0 = (ct - g * n_ot) * TILE_O;      /* first output channel, within the group */

    int ih0[TILE_P], iw0[TILE_P];
    for (int t = 0; t < TILE_P; ++t) {
        const int p = min(p0 + t, npix - 1);       /* clamp: tail pixels are computed, not stored */
        const int oh = p / OW;
        ih0[t] = oh * S - P;
        iw0[t] = (p - oh * OW) * S - P;
    }
    const int wstride = cg * KH * KW;
    int woff[TILE_O];
    for (int u = 0; u < TILE_O; ++u)
        woff[u] = (g * og + min(o0 + u, og - 1)) * wstride;

    float acc[TILE_O][TILE_P];
    for (int u = 0; u < TILE_O; ++u)
        for (int t = 0; t < TILE_P; ++t)
            acc[u][t] = 0.0f;

    const __global float* xc = x + ((size_t)b * C + (size_t)g * cg) * H * W;
    for (int c = 0; c < cg; ++c, xc += H * W) {
        for (int i = 0; i < KH; ++i) {
            for (int j = 0; j < KW; ++j) {
                float xv[TILE_P];
                for (int t = 0; t < TILE_P; ++t) {
                    const int ih = ih0[t] + i * D, iw = iw0[t] + j * D;
                    xv[t] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xc[ih * W + iw] : 0.0f;
                }
                const int k = (c * KH + i) * KW + j;
                for (int u = 0; u < TILE_O; ++u) {
                    const float wv = w[woff[u] + k];
                    for (int t = 0; t < TILE_P; ++t)
                        acc[u][t] = fma(wv, xv[t], acc[u][t]);
                }
            }
        }
    }
    for (int u = 0; u < TILE_O; ++u) {
        if (o0 + u >= og) break;
        __global float* yo = y + ((size_t)b * O + g * og + o0 + u) * npix + p0;
        for (int t = 0; t < TILE_P; ++t)
            if (p0 + t < npix) yo[t] = acc[u][t];
    }
}
"""


class ConvDirect(Implementation):
    """Direct conv2d; params TILE_O (output channels per item), TILE_P (pixels per item)."""

    name: ClassVar[str] = "conv_direct"
    op: ClassVar[str] = "conv2d"
    space: ClassVar[dict[str, list]] = {"TILE_O": [1, 2, 4, 8], "TILE_P": [1, 2, 4]}
    free_local_size: ClassVar[bool] = True
    local_candidates: ClassVar[tuple[tuple[int, ...], ...]] = (
        (16, 1), (32, 1), (64, 1), (128, 1), (8, 4), (16, 4), (8, 8), (32, 4), (16, 16),
    )

    def shape_reason(self, problem: Any, params: dict) -> str | None:
        return conv_reason(problem) or tile_o_reason(problem, params)

    def source(self, problem: Any, params: dict) -> str:
        return param_defines(params) + SOURCE

    def _grid(self, p: ConvLayer, params: dict) -> tuple[int, int, int]:
        og = p.out_channels // p.groups
        n_pt = -(-p.out_h * p.out_w // params["TILE_P"])
        n_ct = p.groups * -(-og // params["TILE_O"])
        return n_pt, n_ct, p.batch

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        gx, gy, gz = self._grid(problem, params)
        if local is not None:
            gx, gy = round_up(gx, local[0]), round_up(gy, local[1])
        args = (*conv_size_args(problem), Buf("x"), Buf("w"), Buf("y"))
        return [Launch("conv_direct", (gx, gy, gz), local, args, "conv")]

    def work_per_item(self, problem: Any, params: dict) -> int:
        return params["TILE_O"] * params["TILE_P"]

    def tile_multiples(self, params: dict) -> dict[str, int]:
        return {"O": params["TILE_O"], "P": params["TILE_P"]}

"""Winograd F(2x2, 3x3) convolution for 3x3, stride 1, dilation 1, groups 1 layers.

The output is cut into T = B * ceil(OH/2) * ceil(OW/2) tiles of 2x2; each needs a 4x4 input
tile (any padding; out-of-image reads are zeros). The GEMM's K (channels C) and N (tiles T)
are zero-padded to multiples of 4 (Cp, Tp) so that aligned vector GEMMs take every layer.
Launches:

1. "weight_transform": U[xi, o, c] = (G g G^T)[xi] for every 3x3 filter g (16 x O x Cp).
   Weights are resident in a deployment, so this is a one-time cost there; it is a separate
   launch so the per-launch breakdown can leave it out.
2. "input_transform":  V[xi, c, t] = (B^T d B)[xi] for every 4x4 input tile d (16 x Cp x Tp).
3. "gemm": 16 library GEMMs, M[xi] (O x Tp) = U[xi] (O x Cp) . V[xi] (Cp x Tp), batch 16.
4. "output_transform": y tile (2x2) = A^T M[:, o, t] A, clipped at odd output edges.

Params: ``{"gemm": <GEMM implementation>, **<its params>}``.
"""

from __future__ import annotations

from typing import ClassVar

from latpred.profiler.kernels.base import Buf, Launch, Scalar, round_up
from latpred.profiler.kernels.conv_common import AUX_LOCAL, GemmBinding, GemmConv, gemm_problem
from latpred.profiler.problems import ConvLayer

SOURCE = r"""
/* U (16, O, Cp) from w (O, C, 3, 3), zero for c >= C; one work-item per (o, c) */
__kernel void conv_wino_weights(const int O, const int C, const int Cp,
    __global const float* restrict w, __global float* restrict U)
{
    const int oc = get_global_id(0);
    if (oc >= O * Cp) return;
    const int o = oc / Cp, c = oc - (oc / Cp) * Cp;
    const bool valid = c < C;
    const __global float* g = w + ((size_t)o * C + (valid ? c : 0)) * 9;
    float t[4][3];                                /* G g */
    for (int j = 0; j < 3; ++j) {
        const float g0 = valid ? g[j] : 0.0f;
        const float g1 = valid ? g[3 + j] : 0.0f;
        const float g2 = valid ? g[6 + j] : 0.0f;
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
    }
    const size_t plane = (size_t)O * Cp;
    for (int i = 0; i < 4; ++i) {                 /* (G g) G^T */
        const float a = t[i][0], b = t[i][1], c = t[i][2];
        U[(i * 4 + 0) * plane + oc] = a;
        U[(i * 4 + 1) * plane + oc] = 0.5f * (a + b + c);
        U[(i * 4 + 2) * plane + oc] = 0.5f * (a - b + c);
        U[(i * 4 + 3) * plane + oc] = c;
    }
}

/* V (16, Cp, Tp) from x (B, C, H, W), zero for c >= C or t >= T; grid (tile t, channel c) */
__kernel void conv_wino_input(const int C, const int H, const int W, const int P,
    const int TH, const int TW, const int T, const int Cp, const int Tp,
    __global const float* restrict x, __global float* restrict V)
{
    const int t = get_global_id(0);
    const int c = get_global_id(1);
    if (t >= Tp) return;
    const bool valid = t < T && c < C;
    const int tv = valid ? t : 0, cv = valid ? c : 0;
    const int b = tv / (TH * TW);
    const int r = tv - b * TH * TW;
    const int ty = r / TW, tx = r - (r / TW) * TW;
    const int h0 = 2 * ty - P, w0 = 2 * tx - P;
    const __global float* xc = x + ((size_t)b * C + cv) * H * W;
    float d[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            const int ih = h0 + i, iw = w0 + j;
            d[i][j] = (valid && ih >= 0 && ih < H && iw >= 0 && iw < W) ? xc[ih * W + iw] : 0.0f;
        }
    float s[4][4];                                /* B^T d */
    for (int j = 0; j < 4; ++j) {
        s[0][j] = d[0][j] - d[2][j];
        s[1][j] = d[1][j] + d[2][j];
        s[2][j] = d[2][j] - d[1][j];
        s[3][j] = d[1][j] - d[3][j];
    }
    const size_t plane = (size_t)Cp * Tp;
    __global float* v = V + (size_t)c * Tp + t;
    for (int i = 0; i < 4; ++i) {                 /* (B^T d) B */
        v[(i * 4 + 0) * plane] = s[i][0] - s[i][2];
        v[(i * 4 + 1) * plane] = s[i][1] + s[i][2];
        v[(i * 4 + 2) * plane] = s[i][2] - s[i][1];
        v[(i * 4 + 3) * plane] = s[i][1] - s[i][3];
    }
}

/* y (B, O, OH, OW) from M (16, O, Tp); grid (tile t < T, output channel o) */
__kernel void conv_wino_output(const int O, const int OH, const int OW,
    const int TH, const int TW, const int T, const int Tp,
    __global const float* restrict M, __global float* restrict y)
{
    const int t = get_global_id(0);
    const int o = get_global_id(1);
    if (t >= T) return;
    const int b = t / (TH * TW);
    const int r = t - b * TH * TW;
    const int ty = r / TW, tx = r - (r / TW) * TW;
    const size_t plane = (size_t)O * Tp;
    const __global float* m = M + (size_t)o * Tp + t;
    float s[2][4];                                /* A^T m */
    for (int j = 0; j < 4; ++j) {
        const float m0 = m[(0 + j) * plane], m1 = m[(4 + j) * plane];
        const float m2 = m[(8 + j) * plane], m3 = m[(12 + j) * plane];
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
    }
    __global float* yo = y + ((size_t)b * O + o) * OH * OW;
    for (int i = 0; i < 2; ++i) {                 /* (A^T m) A */
        const int oh = 2 * ty + i;
        if (oh >= OH) break;
        const float y0 = s[i][0] + s[i][1] + s[i][2];
        const float y1 = s[i][1] - s[i][2] - s[i][3];
        const int ow = 2 * tx;
        yo[oh * OW + ow] = y0;
        if (ow + 1 < OW) yo[oh * OW + ow + 1] = y1;
    }
}
"""


#: the GEMM's N (tiles) and K (channels) are padded to this multiple (zeros), so that
#: vector GEMMs with aligned rows can take any layer
PAD = 4


def _tiles(p: ConvLayer) -> tuple[int, int, int]:
    """(tiles along h, tiles along w, all tiles incl. batch)."""
    th, tw = -(-p.out_h // 2), -(-p.out_w // 2)
    return th, tw, p.batch * th * tw


def _padded(p: ConvLayer) -> tuple[int, int]:
    """(channels padded, tiles padded): the GEMM's K and N."""
    return round_up(p.in_channels, PAD), round_up(_tiles(p)[2], PAD)


class ConvWinograd(GemmConv):
    """Winograd F(2x2,3x3): weight/input transforms, 16 batched library GEMMs, output transform."""

    name: ClassVar[str] = "conv_winograd"

    def conv_reason(self, p: ConvLayer) -> str | None:
        if (p.kernel_h, p.kernel_w, p.stride, p.dilation, p.groups) != (3, 3, 1, 1, 1):
            return "winograd needs 3x3 stride 1 dilation 1 groups 1"
        return None

    def binding(self, p: ConvLayer) -> GemmBinding:
        o, (cp, tp) = p.out_channels, _padded(p)
        return GemmBinding(gemm_problem(o, tp, cp, batch=16), "wino_U", "wino_V", "wino_M",
                           o * cp, cp * tp, o * tp)

    def conv_source(self) -> str:
        return SOURCE

    def pre_launches(self, p: ConvLayer) -> list[Launch]:
        o, c = p.out_channels, p.in_channels
        th, tw, t = _tiles(p)
        cp, tp = _padded(p)
        loc = (AUX_LOCAL, 1, 1)
        return [
            Launch("conv_wino_weights", (round_up(o * cp, AUX_LOCAL), 1, 1), loc,
                   (Scalar(o), Scalar(c), Scalar(cp), Buf("w"), Buf("wino_U")),
                   "weight_transform"),
            Launch("conv_wino_input", (round_up(tp, AUX_LOCAL), cp, 1), loc,
                   (*(Scalar(v) for v in (c, p.height, p.width, p.padding, th, tw, t, cp, tp)),
                    Buf("x"), Buf("wino_V")), "input_transform"),
        ]

    def post_launches(self, p: ConvLayer) -> list[Launch]:
        th, tw, t = _tiles(p)
        tp = _padded(p)[1]
        o = p.out_channels
        return [
            Launch("conv_wino_output", (round_up(t, AUX_LOCAL), o, 1), (AUX_LOCAL, 1, 1),
                   (*(Scalar(v) for v in (o, p.out_h, p.out_w, th, tw, t, tp)),
                    Buf("wino_M"), Buf("y")), "output_transform"),
        ]

    def conv_scratch(self, p: ConvLayer) -> dict[str, int]:
        o, (cp, tp) = p.out_channels, _padded(p)
        return {"wino_U": 16 * o * cp, "wino_V": 16 * cp * tp, "wino_M": 16 * o * tp}

"""1x1 convolution (stride 1, padding 0, groups 1) as one library GEMM, no im2col.

Per image b: y[b] (O x H*W) = w (O x C) . x[b] (C x H*W); the GEMM is batched over images
with the weights shared (A stride 0). One launch ("gemm").
Params: ``{"gemm": <GEMM implementation>, **<its params>}``.
"""

from __future__ import annotations

from typing import ClassVar

from latpred.profiler.kernels.conv_common import GemmBinding, GemmConv, gemm_problem
from latpred.profiler.problems import ConvLayer


class Conv1x1(GemmConv):
    """Pointwise conv2d as a GEMM on the NCHW tensors in place."""

    name: ClassVar[str] = "conv_1x1"

    def conv_reason(self, p: ConvLayer) -> str | None:
        if (p.kernel_h, p.kernel_w, p.stride, p.padding, p.groups) != (1, 1, 1, 0, 1):
            return "conv_1x1 needs a 1x1 kernel, stride 1, padding 0, groups 1"
        return None

    def binding(self, p: ConvLayer) -> GemmBinding:
        m, n, k = p.out_channels, p.height * p.width, p.in_channels
        return GemmBinding(gemm_problem(m, n, k, batch=p.batch), "w", "x", "y", 0, k * n, m * n)

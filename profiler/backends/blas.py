"""The numpy / BLAS CPU backend: GEMM and im2col + GEMM conv with a chosen thread count.

Conv scratch (padded input, columns) lives in a ConvWorkspace allocated once per run, as
in an inference engine; 1x1 stride-1 layers multiply the input directly.

Thread counts are set with threadpoolctl around each run (BLAS releases the GIL, so a
co-execution runtime can run this in a Python thread beside an OpenCL launch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from latpred.profiler.problems import ConvLayer, GemmProblem, im2col_view
from threadpoolctl import ThreadpoolController, threadpool_info


def blas_info() -> dict[str, Any]:
    """The BLAS libraries numpy uses (threadpoolctl's view): name, version, threading layer."""
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return {"blas": "unknown", "blas_version": "", "blas_threads": 0}
    p = pools[0]
    return {
        "blas": p.get("internal_api", "unknown"),
        "blas_version": p.get("version") or "",
        "blas_threading": p.get("threading_layer", ""),
        "blas_threads": int(p.get("num_threads", 0)),
    }


def gemm_into(problem: GemmProblem, arrays: dict[str, np.ndarray], out: np.ndarray) -> None:
    """out (M x N, or batch x M x N) = op(A) . op(B) with numpy's BLAS."""
    a, b = arrays["A"], arrays["B"]
    if problem.trans_a:
        a = np.swapaxes(a, -1, -2)
    if problem.trans_b:
        b = np.swapaxes(b, -1, -2)
    np.matmul(a, b, out=out)


class ConvWorkspace:
    """The scratch of im2col + GEMM conv, allocated once per layer as an inference engine's
    workspace: the zero-padded input (border written once) and the column matrix
    (batch, C, kh, kw, out_h, out_w) float32. A 1x1 stride-1 unpadded layer needs neither:
    its input already is the GEMM operand (batch, groups, C/g, H*W).

    Allocating them per call (``im2col``) costs page faults on every run, which on a busy
    host can cost more than the GEMM (measured on the H100 host: up to 2.5x on 1x1 layers).
    """

    def __init__(self, layer: ConvLayer, dtype: Any = np.float32):
        self.layer = layer
        p, kh, kw = layer.padding, layer.kernel_h, layer.kernel_w
        b, c, h, w = layer.batch, layer.in_channels, layer.height, layer.width
        self.direct = kh == 1 and kw == 1 and layer.stride == 1 and p == 0
        self.padded = np.zeros((b, c, h + 2 * p, w + 2 * p), dtype) if p and not self.direct \
            else None
        self.cols = None if self.direct else \
            np.empty((b, c, kh, kw, layer.out_h, layer.out_w), dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of scratch held (0 for the 1x1 direct case)."""
        return sum(a.nbytes for a in (self.padded, self.cols) if a is not None)

    def columns(self, x: np.ndarray) -> np.ndarray:
        """x (batch, C, H, W) -> columns (batch, groups, C/g*kh*kw, out_h*out_w)."""
        lay = self.layer
        b, c, g = lay.batch, lay.in_channels, lay.groups
        if self.direct:
            return np.ascontiguousarray(x).reshape(b, g, c // g, lay.height * lay.width)
        p = lay.padding
        xp = x
        if self.padded is not None:
            self.padded[:, :, p:p + lay.height, p:p + lay.width] = x
            xp = self.padded
        np.copyto(self.cols, im2col_view(xp, lay))
        return self.cols.reshape(b, g, (c // g) * lay.kernel_h * lay.kernel_w,
                                 lay.out_h * lay.out_w)


def conv_into(layer: ConvLayer, arrays: dict[str, np.ndarray], out: np.ndarray,
              work: ConvWorkspace | None = None) -> None:
    """out (batch, O, out_h, out_w) = conv2d(x, w) via im2col + BLAS GEMM per group, in
    ``work``'s scratch (a fresh one if None: allocations on every call)."""
    x = arrays["x"]
    cols = (work or ConvWorkspace(layer, x.dtype)).columns(x)
    g = layer.groups
    w = arrays["w"].reshape(g, layer.out_channels // g, -1)
    y = out.reshape(layer.batch, g, layer.out_channels // g, layer.out_h * layer.out_w)
    np.matmul(w[None], cols, out=y)


def compute_into(problem: Any, arrays: dict[str, np.ndarray], out: np.ndarray,
                 work: ConvWorkspace | None = None) -> None:
    """Compute a GemmProblem or ConvLayer into ``out`` with numpy's BLAS (conv: in
    ``work``'s scratch)."""
    if isinstance(problem, ConvLayer):
        conv_into(problem, arrays, out, work)
    else:
        gemm_into(problem, arrays, out)


_CONTROLLER: ThreadpoolController | None = None


def controller() -> ThreadpoolController:
    """One ThreadpoolController per process (building one scans every loaded library)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@dataclass
class BlasRun:
    """One problem bound to its arrays, run with numpy / BLAS on ``threads`` threads.

    ``run_once`` returns timings in us: ``total_us`` (= ``kernel_us``: there is no dispatch
    or transfer on the host). The BLAS thread limit holds from construction to ``release``.
    """

    problem: Any
    arrays: dict[str, np.ndarray]
    threads: int
    _out: np.ndarray = field(init=False)
    _limiter: Any = field(init=False, default=None)
    _work: ConvWorkspace | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        out_name = next(n for n, r in self.problem.roles if r == "out")
        self._out = self.arrays[out_name]
        if isinstance(self.problem, ConvLayer):
            self._work = ConvWorkspace(self.problem, self.arrays["x"].dtype)
        self._limiter = controller().limit(limits=self.threads, user_api="blas")

    def run_once(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        compute_into(self.problem, self.arrays, self._out, self._work)
        us = (time.perf_counter() - t0) * 1e6
        return {
            "kernel_us": us, "dispatch_us": 0.0, "queued_submit_us": 0.0, "submit_start_us": 0.0,
            "n_kernels": 1, "kernel_breakdown_us": [us], "transfer_in_us": 0.0,
            "transfer_out_us": 0.0, "total_us": us,
        }

    def output(self) -> np.ndarray:
        return self._out

    def release(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

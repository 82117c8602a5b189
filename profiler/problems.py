"""What to compute, independent of how: GEMM problems (linear layers) and conv2d problems.

A problem names its arrays, says which are activations (``in``), resident weights
(``weight``) or the result (``out``), makes random inputs and computes the numpy reference.
All arrays are float32, C-contiguous.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

from latpred.errors import bad_value

PASSES = ("forward", "backward_input", "backward_weight")


def _positive(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise bad_value(name, value, "must be a positive integer")
    return int(value)


def _unchecked(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the frozen dataclass ``cls`` built without ``__post_init__`` (no
    validation), missing fields at their defaults."""
    obj = object.__new__(cls)
    for f in fields(cls):
        if f.name in values:
            val = values[f.name]
        elif f.default is not MISSING:
            val = f.default
        else:
            raise TypeError(f"{cls.__name__}.unchecked() needs {f.name}")
        object.__setattr__(obj, f.name, val)
    return obj


@dataclass(frozen=True)
class GemmProblem:
    """C = op(A) . op(B), batched: C[b] (M x N) = A[b] (M x K) . B[b] (K x N).

    Storage: A is M x K row-major, or K x M when ``trans_a``; B is K x N, or N x K when
    ``trans_b``; C is M x N. ``batch`` GEMMs with strides ``stride_*`` (0 = shared operand).
    ``roles`` says which operand is an activation (``in``), a resident weight (``weight``)
    or the output (``out``).
    """

    M: int
    N: int
    K: int
    trans_a: bool = False
    trans_b: bool = False
    batch: int = 1
    roles: tuple[tuple[str, str], ...] = (("A", "in"), ("B", "weight"), ("C", "out"))

    def __post_init__(self) -> None:
        for name in ("M", "N", "K", "batch"):
            _positive(name, getattr(self, name))

    @classmethod
    def unchecked(cls, **values: Any) -> GemmProblem:
        """A problem whose sizes may be numpy arrays (the launch geometry of many shapes in
        one call, ``latpred.features.geometry``): not validated, never run."""
        return _unchecked(cls, values)

    # leading dimensions and batch strides of the dense storage, in elements
    @property
    def lda(self) -> int:
        return self.M if self.trans_a else self.K

    @property
    def ldb(self) -> int:
        return self.K if self.trans_b else self.N

    @property
    def ldc(self) -> int:
        return self.N

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Array shapes: dict name -> shape (batch dim first when batch > 1)."""
        a = (self.K, self.M) if self.trans_a else (self.M, self.K)
        b = (self.N, self.K) if self.trans_b else (self.K, self.N)
        c = (self.M, self.N)
        if self.batch > 1:
            return {"A": (self.batch, *a), "B": (self.batch, *b), "C": (self.batch, *c)}
        return {"A": a, "B": b, "C": c}

    def arrays(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Random inputs (uniform in [-1, 1)) and a zeroed output."""
        shp = self.shapes()
        out = {n: rng.uniform(-1, 1, shp[n]).astype(np.float32) for n in ("A", "B")}
        out["C"] = np.zeros(shp["C"], np.float32)
        return out

    def reference(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """numpy reference of C, float32 with float64 accumulation."""
        a = arrays["A"].astype(np.float64)
        b = arrays["B"].astype(np.float64)
        if self.trans_a:
            a = np.swapaxes(a, -1, -2)
        if self.trans_b:
            b = np.swapaxes(b, -1, -2)
        return np.matmul(a, b).astype(np.float32)

    def tolerance(self) -> float:
        """Absolute tolerance for |C - ref| with inputs in [-1, 1): grows with sqrt(K)."""
        return 1e-4 * max(1.0, float(np.sqrt(self.K))) * 4

    @property
    def flops(self) -> int:
        return 2 * self.M * self.N * self.K * self.batch


@dataclass(frozen=True)
class LinearLayer:
    """A linear (fully connected) layer y = x . W^T with x: m x k, W: n x k, y: m x n."""

    m: int
    n: int
    k: int
    pass_: str = "forward"

    def __post_init__(self) -> None:
        for name in ("m", "n", "k"):
            _positive(name, getattr(self, name))
        if self.pass_ not in PASSES:
            raise bad_value("pass", self.pass_, f"must be one of {', '.join(PASSES)}")

    @property
    def flops(self) -> int:
        """2 m n k: the same for every pass."""
        return 2 * self.m * self.n * self.k

    def gemm(self) -> GemmProblem:
        """The GEMM this pass computes.

        forward:          y  = x . W^T   -> M=m, N=n, K=k, B=W stored n x k (trans_b)
        backward_input:   dX = dY . W    -> M=m, N=k, K=n, B=W stored n x k
        backward_weight:  dW = dY^T . X  -> M=n, N=k, K=m, A=dY stored m x n (trans_a)
        """
        m, n, k = self.m, self.n, self.k
        if self.pass_ == "forward":
            return GemmProblem(m, n, k, trans_a=False, trans_b=True)
        if self.pass_ == "backward_input":
            return GemmProblem(m, k, n, trans_a=False, trans_b=False)
        return GemmProblem(
            n, k, m, trans_a=True, trans_b=False, roles=(("A", "in"), ("B", "in"), ("C", "out"))
        )

    def shape_dict(self) -> dict[str, int | str]:
        return {"m": self.m, "n": self.n, "k": self.k, "pass": self.pass_}


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution, NCHW float32: x (batch, C, H, W) * w (O, C/groups, kh, kw) -> y.

    ``stride``, ``padding`` and ``dilation`` are symmetric (same in h and w).
    """

    batch: int
    in_channels: int
    out_channels: int
    height: int
    width: int
    kernel_h: int
    kernel_w: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    pass_: str = field(default="forward")

    def __post_init__(self) -> None:
        for name in (
            "batch", "in_channels", "out_channels", "height", "width",
            "kernel_h", "kernel_w", "stride", "dilation", "groups",
        ):
            _positive(name, getattr(self, name))
        if not isinstance(self.padding, (int, np.integer)) or self.padding < 0:
            raise bad_value("padding", self.padding, "must be an integer >= 0")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise bad_value("groups", self.groups, "must divide in_channels and out_channels")
        if self.pass_ != "forward":
            raise bad_value("pass", self.pass_, "conv2d supports only 'forward'")
        if self.out_h <= 0 or self.out_w <= 0:
            raise bad_value("kernel_h", self.kernel_h, "kernel larger than the padded input")

    @classmethod
    def unchecked(cls, **values: Any) -> ConvLayer:
        """A layer whose sizes may be numpy arrays (the launch geometry of many shapes in
        one call, ``latpred.features.geometry``): not validated, never run."""
        return _unchecked(cls, values)

    @property
    def out_h(self) -> int:
        return (self.height + 2 * self.padding - self.dilation * (self.kernel_h - 1) - 1) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.width + 2 * self.padding - self.dilation * (self.kernel_w - 1) - 1) // self.stride + 1

    @property
    def is_depthwise(self) -> bool:
        return self.groups == self.in_channels and self.groups > 1

    @property
    def flops(self) -> int:
        cin_g = self.in_channels // self.groups
        return 2 * self.batch * self.out_channels * self.out_h * self.out_w * cin_g * self.kernel_h * self.kernel_w

    roles = (("x", "in"), ("w", "weight"), ("y", "out"))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "x": (self.batch, self.in_channels, self.height, self.width),
            "w": (self.out_channels, self.in_channels // self.groups, self.kernel_h, self.kernel_w),
            "y": (self.batch, self.out_channels, self.out_h, self.out_w),
        }

    def arrays(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        shp = self.shapes()
        out = {n: rng.uniform(-1, 1, shp[n]).astype(np.float32) for n in ("x", "w")}
        out["y"] = np.zeros(shp["y"], np.float32)
        return out

    def reference(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """numpy reference (float64 im2col + GEMM), shape (batch, O, out_h, out_w)."""
        g = self.groups
        cols = im2col(arrays["x"].astype(np.float64), self)  # (b, g, C/g*kh*kw, oh*ow)
        w = arrays["w"].astype(np.float64).reshape(g, self.out_channels // g, -1)
        y = np.matmul(w[None], cols)  # (b, g, O/g, oh*ow)
        return y.reshape(self.batch, self.out_channels, self.out_h, self.out_w).astype(np.float32)

    def tolerance(self) -> float:
        red = (self.in_channels // self.groups) * self.kernel_h * self.kernel_w
        return 1e-4 * max(1.0, float(np.sqrt(red))) * 4

    def shape_dict(self) -> dict[str, int | str]:
        d = {k: getattr(self, k) for k in (
            "batch", "in_channels", "out_channels", "height", "width", "kernel_h", "kernel_w",
            "stride", "padding", "dilation", "groups")}
        d.update(out_h=self.out_h, out_w=self.out_w, pass_="forward")
        d["pass"] = d.pop("pass_")
        return d


def im2col_view(xp: np.ndarray, layer: ConvLayer) -> np.ndarray:
    """The already padded input xp (batch, C, H + 2p, W + 2p) seen as columns
    (batch, C, kh, kw, out_h, out_w): a read-only strided view, no copy."""
    s, d = layer.stride, layer.dilation
    sb, sc, sh, sw = xp.strides
    shape = (xp.shape[0], xp.shape[1], layer.kernel_h, layer.kernel_w, layer.out_h, layer.out_w)
    return np.lib.stride_tricks.as_strided(
        xp, shape, (sb, sc, sh * d, sw * d, sh * s, sw * s), writeable=False)


def im2col(x: np.ndarray, layer: ConvLayer) -> np.ndarray:
    """x (batch, C, H, W) -> columns (batch, groups, C/g*kh*kw, out_h*out_w), a strided copy."""
    p = layer.padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
    b, c = x.shape[:2]
    g = layer.groups
    return np.ascontiguousarray(im2col_view(xp, layer)).reshape(
        b, g, (c // g) * layer.kernel_h * layer.kernel_w, layer.out_h * layer.out_w)


def as_dict(obj) -> dict:
    return asdict(obj)

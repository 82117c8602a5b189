"""Split geometry: which part of a layer each device computes and the arrays that part needs.

A co-executed layer is split along its output features: the GEMM's N (columns of C; for a
linear layer the output features of the pass: ``n`` forward, ``k`` for both backward
passes) or a convolution's output channels. The GPU computes ``[0, split_n)``, the CPU
``[split_n, N)``. A grouped convolution splits on whole groups (``split_n`` a multiple of
``out_channels / groups``; depthwise: any ``split_n``).

A ``Part`` binds one device's share to arrays:

- weights are split once, as an inference engine would (contiguous per device);
- activations are shared: the full input, or the input channels of the part's groups
  (a view when contiguous, else a staging array refreshed before each run);
- the output goes straight into the part's block of the full output where the layout
  allows (a strided block for numpy/BLAS, a contiguous block or the whole output with
  ``ldc = N`` "in place" for OpenCL), else into a staging array that is merged after.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from latpred.profiler.problems import ConvLayer, GemmProblem, LinearLayer

from latpred.errors import bad_value


@dataclass(frozen=True)
class StridedGemm(GemmProblem):
    """A GemmProblem whose operands live inside larger row-major arrays.

    ``lda_`` / ``ldb_`` / ``ldc_`` override the dense leading dimensions (0 = dense), e.g.
    ``ldc_ = N_full`` lets a kernel write a column block of a wider C in place.
    """

    lda_: int = 0
    ldb_: int = 0
    ldc_: int = 0

    @property
    def lda(self) -> int:
        return self.lda_ or super().lda

    @property
    def ldb(self) -> int:
        return self.ldb_ or super().ldb

    @property
    def ldc(self) -> int:
        return self.ldc_ or super().ldc


Layer = LinearLayer | ConvLayer


def as_problem(obj: Any) -> GemmProblem | ConvLayer:
    """The problem a layer computes (LinearLayer -> its GEMM; problems pass through)."""
    if isinstance(obj, LinearLayer):
        return obj.gemm()
    if isinstance(obj, (GemmProblem, ConvLayer)):
        return obj
    raise bad_value("layer", type(obj).__name__, "needs a LinearLayer, GemmProblem or ConvLayer")


def split_extent(problem: Any) -> int:
    """N: the number of output features/channels the split divides (GEMM N, conv O)."""
    problem = as_problem(problem)
    return problem.out_channels if isinstance(problem, ConvLayer) else problem.N


def split_granule(problem: Any) -> int:
    """``split_n`` must be a multiple of this: output channels per group for grouped convs."""
    problem = as_problem(problem)
    if isinstance(problem, ConvLayer) and problem.groups > 1:
        return problem.out_channels // problem.groups
    return 1


def check_split(problem: Any, split_n: int) -> int:
    """Validate ``split_n`` for ``problem``; returns it as int or raises LatpredError."""
    n_total = split_extent(problem)
    if isinstance(split_n, bool) or not isinstance(split_n, (int, np.integer)):
        raise bad_value("split_n", split_n, "must be an integer")
    if not 0 <= split_n <= n_total:
        raise bad_value("split_n", int(split_n), f"must be in [0, {n_total}]")
    g = split_granule(problem)
    if split_n % g:
        raise bad_value("split_n", int(split_n),
                        f"must be a multiple of {g} (output channels per group)")
    return int(split_n)


def ratio_to_split(problem: Any, ratio: float) -> int:
    """GPU share ``ratio`` in [0, 1] -> ``split_n`` (rounded to the group granule)."""
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise bad_value("ratio", ratio, "must be a number in [0, 1]") from None
    if not 0.0 <= r <= 1.0 or math.isnan(r):
        raise bad_value("ratio", ratio, "must be in [0, 1] (the GPU's share of the outputs)")
    g = split_granule(problem)
    n = split_extent(problem)
    return int(min(n, round(r * n / g) * g))


def split_points(n_total: int, steps: int, align: int = 1) -> list[int]:
    """The split grid: ratios i/steps (i = 0..steps) snapped to multiples of ``align``.

    0 (CPU only) and ``n_total`` (GPU only) are always included; inner points that snap
    to 0 or ``n_total`` collapse into them. Returns sorted unique ``split_n`` values.
    """
    if steps < 1:
        raise bad_value("steps", steps, "must be >= 1")
    align = max(1, int(align))
    pts = {0, n_total}
    for i in range(1, steps):
        s = int(round(n_total * i / steps / align)) * align
        if 0 < s < n_total:
            pts.add(s)
    return sorted(pts)


@lru_cache(maxsize=4096)
def _tile_multiples(impl_name: str, params_json: str) -> dict[str, int]:
    import json

    from latpred.profiler.kernels import get

    try:
        return dict(get(impl_name).tile_multiples(json.loads(params_json)))
    except Exception:  # a kernel without tiles, or params it cannot read
        return {}


@lru_cache(maxsize=4096)
def _conv_split_dim(impl_name: str, problem: ConvLayer) -> str | None:
    """Which tile key holds a conv's output channels: "O", or the GEMM dimension ("M" /
    "N") the output channels map to in a GEMM-based conv; None if unknown."""
    from latpred.profiler.kernels import get

    impl = get(impl_name)
    if not hasattr(impl, "binding"):
        return "O"
    try:
        gp = impl.binding(problem).problem
    except Exception:
        return None
    og = problem.out_channels // problem.groups
    return "M" if gp.M == og else "N" if gp.N == og else None


def split_align(impl_name: str, params: dict | str, problem: Any) -> int:
    """The split alignment of one GPU configuration: its tile/vector width along the
    split dimension (``tile_multiples`` "N" for GEMMs; "O", or the GEMM dimension that
    holds the output channels, for convs), times the group granule."""
    import json

    pj = params if isinstance(params, str) else json.dumps(params, sort_keys=True)
    return split_aligns([(impl_name, pj)], problem)[0]


def split_aligns(keys: Sequence[tuple[str, str]], problem: Any) -> list[int]:
    """``split_align`` of each (implementation, params JSON) of ``keys`` on one problem
    (its granule and each implementation's split dimension looked up once)."""
    if not isinstance(problem, ConvLayer):
        return [max(1, int(_tile_multiples(impl, pj).get("N", 1))) for impl, pj in keys]
    granule = split_granule(problem)
    dims: dict[str, str | None] = {}
    out = []
    for impl, pj in keys:
        tm = _tile_multiples(impl, pj)
        if impl not in dims:
            dims[impl] = _conv_split_dim(impl, problem)
        dim = dims[impl]
        a = int(tm.get(dim, tm.get("O", 1)) if dim else 1)
        out.append(math.lcm(max(1, a), granule))
    return out


# -- sub-problems ---------------------------------------------------------------------------
def sub_problem(problem: Any, lo: int, hi: int) -> GemmProblem | ConvLayer:
    """The problem computing output features ``[lo, hi)`` of ``problem`` (dense storage)."""
    problem = as_problem(problem)
    if isinstance(problem, ConvLayer):
        if problem.groups == 1:
            return dataclasses.replace(problem, out_channels=hi - lo)
        og = problem.out_channels // problem.groups
        cg = problem.in_channels // problem.groups
        ng = (hi - lo) // og
        return dataclasses.replace(problem, in_channels=ng * cg, out_channels=hi - lo, groups=ng)
    fields = {f.name: getattr(problem, f.name) for f in dataclasses.fields(GemmProblem)}
    fields["N"] = hi - lo
    return GemmProblem(**fields)


def sub_layer(layer: Layer, lo: int, hi: int) -> Layer:
    """The layer (predictor rows use layer shapes) whose computation is ``[lo, hi)``."""
    if isinstance(layer, ConvLayer):
        return sub_problem(layer, lo, hi)  # type: ignore[return-value]
    width = hi - lo
    if layer.pass_ == "forward":
        return dataclasses.replace(layer, n=width)
    return dataclasses.replace(layer, k=width)  # backward passes: output features = k


def layer_extent(layer: Layer) -> int:
    """N of a layer (see ``split_extent``)."""
    return split_extent(layer)


def layer_flops(layer: Layer) -> float:
    """FLOPs of the whole layer (a linear pass: its GEMM's)."""
    return float(layer.flops if isinstance(layer, ConvLayer) else layer.gemm().flops)


def gpu_block_bytes(layer: Layer, s: int) -> int:
    """Bytes of the GPU's output block of split ``s`` (its first ``s`` output features:
    what the sync moves or maps)."""
    if isinstance(layer, ConvLayer):
        return 4 * layer.batch * s * layer.out_h * layer.out_w
    return 4 * layer.gemm().M * s


def activation_mib(layer: Layer) -> float:
    """MiB of activations a GPU-only plan moves between host and GPU (weights are placed
    once): the conv's input and output, or the GEMM's A (M x K) and C (M x N) of a linear
    pass. The size the runtime's own overhead around a GPU-only plan grows with
    (``SyncModel.single_by_mib``)."""
    if isinstance(layer, ConvLayer):
        elems = layer.batch * (layer.in_channels * layer.height * layer.width
                               + layer.out_channels * layer.out_h * layer.out_w)
    else:
        g = layer.gemm()
        elems = g.M * (g.K + g.N)
    return 4.0 * elems / 2**20


def part_activation_mib(layer: Layer, out_features: np.ndarray | float) -> np.ndarray:
    """MiB of activations the GPU part of a split moves (float64, like ``out_features``): the
    layer's whole input (``activation_mib`` less its output) and the part's output block of
    ``out_features`` output features / channels."""
    per_feature_mib = gpu_block_bytes(layer, 1) / 2**20
    return activation_mib(layer) \
        + (np.asarray(out_features, float) - layer_extent(layer)) * per_feature_mib


# -- parts --------------------------------------------------------------------------------
@dataclass
class Part:
    """One device's share of a layer: output features ``[lo, hi)``.

    Attributes:
        problem: what the device computes (a StridedGemm when it reads or writes inside
            larger arrays).
        arrays: the arrays to bind (name -> float32 ndarray), weights already split.
        out_name: name of the output array.
        out_block: the part's block inside the full output (where the result must land).
        staged: ``arrays[out_name]`` is a staging array: copy it into ``out_block`` after.
        in_place: ``arrays[out_name]`` is the *full* output and the part writes its block
            of it directly (OpenCL, ``ldc = N`` or a channel prefix).
        refresh: (staging, source view) pairs to copy before each run (activations that
            are not contiguous in the full input).
    """

    lo: int
    hi: int
    problem: Any
    arrays: dict[str, np.ndarray]
    out_name: str
    out_block: np.ndarray
    staged: bool = False
    in_place: bool = False
    refresh: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def prepare(self) -> None:
        """Copy non-contiguous activations into their staging arrays (before a run)."""
        for dst, src in self.refresh:
            np.copyto(dst, src)

    def merge(self) -> None:
        """Copy a staged result into the part's block of the full output (after a run)."""
        if self.staged:
            np.copyto(self.out_block, self.arrays[self.out_name])

    def out_bytes(self) -> int:
        return int(self.out_block.nbytes)


def out_name(problem: Any) -> str:
    return next(n for n, r in as_problem(problem).roles if r == "out")


def can_write_in_place(problem: Any, lo: int) -> bool:
    """True if an OpenCL part starting at ``lo`` can write into the full output directly
    (GEMM: column block 0 with ``ldc = N``; conv: a channel prefix of a batch-1 output)."""
    problem = as_problem(problem)
    if lo != 0:
        return False
    if isinstance(problem, ConvLayer):
        return problem.batch == 1
    return problem.batch == 1


def make_part(problem: Any, arrays: dict[str, np.ndarray], lo: int, hi: int, *,
              target: str, out_full: np.ndarray | None = None,
              in_place: bool = False) -> Part:
    """Bind output features ``[lo, hi)`` of ``problem`` to arrays for one device.

    Args:
        problem: GemmProblem (batch 1) or ConvLayer (or a LinearLayer).
        arrays: the full layer's arrays (``problem.arrays(rng)`` layout).
        lo, hi: the part, 0 <= lo < hi <= N.
        target: "numpy" (reads strided views, writes strided blocks) or "opencl" (needs
            contiguous host arrays).
        out_full: where the full result lives (default ``arrays[out]``); e.g. the SVM view
            of an in-place GPU output.
        in_place: OpenCL only: bind the full output and write the block in place (see
            ``can_write_in_place``).
    """
    problem = as_problem(problem)
    name = out_name(problem)
    out_full = arrays[name] if out_full is None else out_full
    if target not in ("numpy", "opencl"):
        raise bad_value("target", target, "must be numpy or opencl")
    if in_place and (target != "opencl" or not can_write_in_place(problem, lo)):
        raise bad_value("in_place", in_place, "only for an OpenCL part starting at 0 "
                        "(and batch-1 convs)")
    if isinstance(problem, ConvLayer):
        return _conv_part(problem, arrays, lo, hi, target, out_full, in_place, name)
    if problem.batch != 1:
        raise bad_value("batch", problem.batch, "co-execution splits batch-1 GEMMs only")
    return _gemm_part(problem, arrays, lo, hi, target, out_full, in_place, name)


def _gemm_lds(p: GemmProblem, lo: int, target: str, in_place: bool) -> tuple[int, int]:
    """(ldb, ldc) overrides of an OpenCL/numpy GEMM part (0 = dense)."""
    reads_b_in_place = (not p.trans_b and dict(p.roles)["B"] != "weight"
                        and target == "opencl" and lo == 0)
    return (p.N if reads_b_in_place else 0), (p.N if in_place else 0)


def part_problem(problem: Any, lo: int, hi: int, target: str = "opencl",
                 in_place: bool = False) -> GemmProblem | ConvLayer:
    """The problem a part computes, exactly as ``make_part`` binds it (a StridedGemm when
    it reads or writes inside the full arrays): what legality checks must look at."""
    problem = as_problem(problem)
    if isinstance(problem, ConvLayer):
        return sub_problem(problem, lo, hi)
    ldb, ldc = _gemm_lds(problem, lo, target, in_place)
    p = problem
    return StridedGemm(p.M, hi - lo, p.K, p.trans_a, p.trans_b, 1, p.roles, 0, ldb, ldc)


def _gemm_part(p: GemmProblem, arrays: dict[str, np.ndarray], lo: int, hi: int, target: str,
               out_full: np.ndarray, in_place: bool, name: str) -> Part:
    roles = dict(p.roles)
    refresh: list[tuple[np.ndarray, np.ndarray]] = []
    ldb, ldc = _gemm_lds(p, lo, target, in_place)
    a = arrays["A"]
    b_full = arrays["B"]
    if p.trans_b:  # B stored N x K: rows lo..hi, contiguous
        b = b_full[lo:hi]
    else:  # B stored K x N: a column block
        view = b_full[:, lo:hi]
        if roles["B"] == "weight":
            b = np.ascontiguousarray(view)  # split once, like an inference engine
        elif target == "numpy":
            b = view
        elif ldb:
            b = b_full  # read the column block in place (ldb = N)
        else:
            b = np.empty(view.shape, np.float32)
            refresh.append((b, view))
    block = out_full[:, lo:hi]
    staged = False
    if in_place:
        c = out_full  # write the column block in place (ldc = N)
    elif target == "numpy" or block.flags.c_contiguous:
        c = block
    else:
        c, staged = np.empty(block.shape, np.float32), True
    sub = StridedGemm(p.M, hi - lo, p.K, p.trans_a, p.trans_b, 1, p.roles, 0, ldb, ldc)
    return Part(lo, hi, sub, {"A": a, "B": b, name: c}, name, block, staged, in_place, refresh)


def _conv_part(p: ConvLayer, arrays: dict[str, np.ndarray], lo: int, hi: int, target: str,
               out_full: np.ndarray, in_place: bool, name: str) -> Part:
    sub = sub_problem(p, lo, hi)
    refresh: list[tuple[np.ndarray, np.ndarray]] = []
    x = arrays["x"]
    if p.groups > 1:
        og, cg = p.out_channels // p.groups, p.in_channels // p.groups
        view = x[:, (lo // og) * cg:(hi // og) * cg]
        if target == "numpy" or view.flags.c_contiguous:
            x = view
        else:
            x = np.empty(view.shape, np.float32)
            refresh.append((x, view))
    w = arrays["w"][lo:hi]  # contiguous: output channels are the outer weight dim
    block = out_full[:, lo:hi]
    staged = False
    if in_place:
        y = out_full  # batch 1: the part's channels are a prefix of the output
    elif block.flags.c_contiguous:
        y = block
    else:
        y, staged = np.empty(block.shape, np.float32), True
    return Part(lo, hi, sub, {"x": x, "w": w, name: y}, name, block, staged, in_place, refresh)


def numpy_compute(part: Part, work: Any = None) -> None:
    """Compute a numpy-target part with numpy/BLAS (threads as currently limited); conv
    parts use ``work`` (a ``blas.ConvWorkspace`` of ``part.problem``) as scratch."""
    from latpred.profiler.backends.blas import conv_into, gemm_into

    out = part.arrays[part.out_name]
    if isinstance(part.problem, ConvLayer):
        conv_into(part.problem, part.arrays, out, work)
    else:
        gemm_into(part.problem, part.arrays, out)

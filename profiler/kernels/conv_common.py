"""Shared pieces of the conv2d implementations (no implementation lives here).

``GemmConv`` is the base of the convolutions that reduce to the GEMM kernel library
(im2col + GEMM, 1x1 as GEMM, Winograd's 16 GEMMs). Their parameters are
``{"gemm": <GEMM implementation name>, **<that implementation's parameters>}``; the GEMM
source is taken from the library, its kernel renamed ``gemm`` -> ``conv_gemm``, and its
launches re-bound to the conv's buffers (operands A/B/C and batch strides).

Their size arithmetic (``binding``, ``pre_launches``, ``post_launches``, ``conv_scratch``)
also works on a ConvLayer whose sizes are numpy arrays (``ConvLayer.unchecked``): it uses
``round_up``, ``//``, ``*``, ``base.if_else`` and ``gemm_problem`` instead of ``if`` on a
size, so ``latpred.features.geometry`` gets the geometry of many shapes in one call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from latpred.profiler.kernels.base import (
    Buf,
    DeviceLimits,
    Implementation,
    Launch,
    LocalSize,
    Scalar,
)
from latpred.profiler.problems import ConvLayer, GemmProblem

from latpred.errors import bad_value

#: local size (1-D) of the auxiliary launches (im2col, Winograd transforms); every OpenCL
#: device we target allows work-groups of 64.
AUX_LOCAL = 64

#: the conv2d kernels' common size arguments (all int32), in signature order
CONV_SIZE_ARGS = r"""const int B, const int C, const int H, const int W,
    const int O, const int OH, const int OW, const int KH, const int KW,
    const int S, const int P, const int D, const int G"""

#: GEMM kernel name inside a conv program
GEMM_KERNEL = "conv_gemm"


def conv_size_args(p: ConvLayer) -> tuple[Scalar, ...]:
    """Scalars matching ``CONV_SIZE_ARGS`` for a layer."""
    return tuple(Scalar(v) for v in (
        p.batch, p.in_channels, p.height, p.width, p.out_channels, p.out_h, p.out_w,
        p.kernel_h, p.kernel_w, p.stride, p.padding, p.dilation, p.groups,
    ))


def param_defines(params: dict) -> str:
    """``#define NAME value`` lines for integer parameters."""
    return "".join(f"#define {k} {int(v)}\n" for k, v in sorted(params.items()))


def conv_reason(problem: Any) -> str | None:
    """A reason if ``problem`` is not a forward ConvLayer."""
    if not isinstance(problem, ConvLayer):
        return f"needs a ConvLayer, got {type(problem).__name__}"
    return None


def tile_o_reason(problem: ConvLayer, params: dict) -> str | None:
    """Refuse a TILE_O larger than the output channels per group (only duplicate work)."""
    og = problem.out_channels // problem.groups
    if params.get("TILE_O", 1) > og:
        return f"TILE_O={params['TILE_O']} exceeds the {og} output channels per group"
    return None


def gemm_problem(m: Any, n: Any, k: Any, batch: Any) -> GemmProblem:
    """``GemmProblem(m, n, k, batch=batch)`` (NN layout), validated for plain sizes; for
    array-valued sizes (geometry of many layers at once) an unvalidated one."""
    if any(isinstance(v, np.ndarray) for v in (m, n, k, batch)):
        return GemmProblem.unchecked(M=m, N=n, K=k, batch=batch)
    return GemmProblem(m, n, k, batch=batch)


@dataclass(frozen=True)
class GemmBinding:
    """How one conv step maps onto a library GEMM.

    ``problem`` gives M, N, K and the batch count with dense leading dimensions; ``a``/``b``/
    ``c`` name the buffers bound to the GEMM's A/B/C; ``stride_*`` are the batch strides in
    elements (0 = operand shared by every batch entry). Sizes and strides are numpy arrays
    for an array-valued layer.
    """

    problem: GemmProblem
    a: str
    b: str
    c: str
    stride_a: Any
    stride_b: Any
    stride_c: Any


def gemm_choices(per_impl: int = 2) -> list[dict]:
    """``{"gemm": name, **params}`` for every GEMM implementation and its first parameter combos.

    Read from the library at call time, so GEMM kernels added later join automatically.
    """
    from latpred.profiler.kernels import implementations

    out = []
    for impl in sorted(implementations("gemm"), key=lambda i: i.name):
        for p in impl.params_space()[:per_impl]:
            out.append({"gemm": impl.name, **p})
    return out


def split_gemm_params(params: dict) -> tuple[Implementation, dict]:
    """The GEMM implementation named by ``params["gemm"]`` and its own parameters."""
    if "gemm" not in params:
        raise bad_value("params", params, "needs a 'gemm' entry naming a GEMM implementation")
    name = params["gemm"]
    if not isinstance(name, str):
        raise bad_value("gemm", name, "must name a GEMM implementation")
    impl = _gemm_impl(name)
    return impl, {k: v for k, v in params.items() if k != "gemm"}


@functools.lru_cache(maxsize=64)
def _gemm_impl(name: str) -> Implementation:
    """The GEMM implementation called ``name`` (memoised: the registry does not change
    within a process)."""
    from latpred.profiler.kernels import get

    impl = get(name)
    if impl.op != "gemm":
        raise bad_value("gemm", name, "is not a GEMM implementation")
    return impl


def bind_gemm_launches(impl: Implementation, gparams: dict, bind: GemmBinding,
                       local: LocalSize) -> list[Launch]:
    """The GEMM implementation's launches for ``bind.problem``, re-bound to the conv buffers.

    Kernel ``gemm`` becomes ``conv_gemm``; buffers A/B/C become ``bind.a/b/c`` and any other
    (GEMM scratch) buffer ``gemm_<name>``; the uniform signature's batch strides are replaced
    by ``bind.stride_*``.
    """
    names = {"A": bind.a, "B": bind.b, "C": bind.c}
    out = []
    for ln in impl.launches(bind.problem, gparams, local):
        args = [Buf(names.get(a.name, f"gemm_{a.name}")) if isinstance(a, Buf) else a
                for a in ln.args]
        kernel = GEMM_KERNEL if ln.kernel == "gemm" else ln.kernel
        if ln.kernel == "gemm":
            if len(args) != 12 or [ln.args[i] for i in (3, 6, 9)] != [Buf("A"), Buf("B"), Buf("C")]:
                raise bad_value("gemm", impl.name, "launch does not use the uniform GEMM signature")
            args[5], args[8], args[11] = (
                Scalar(bind.stride_a), Scalar(bind.stride_b), Scalar(bind.stride_c))
        label = ln.label or "gemm"
        if not label.startswith("gemm"):
            label = f"gemm_{label}"
        out.append(Launch(kernel, ln.global_size, ln.local_size, tuple(args), label))
    return out


def gemm_program(impl: Implementation, gparams: dict, gp: GemmProblem) -> str:
    """The GEMM source with its kernel renamed to ``conv_gemm`` (append after the conv code)."""
    return f"\n#define gemm {GEMM_KERNEL}\n" + impl.source(gp, gparams) + "\n#undef gemm\n"


@functools.lru_cache(maxsize=4096)
def _cached_binding(impl: GemmConv, problem: ConvLayer) -> GemmBinding:
    return impl.binding(problem)


class GemmConv(Implementation):
    """Base of convolutions computed (mostly) by one batched library GEMM.

    Subclasses implement ``conv_reason`` (their own shape rule), ``binding`` (the GEMM),
    ``conv_source`` (their auxiliary kernels, prefixed ``conv_``) and ``pre_launches`` /
    ``post_launches`` / ``conv_scratch``.
    """

    op: ClassVar[str] = "conv2d"
    #: the GEMM choice is read from the library (see ``params_space``); no static space
    space: ClassVar[dict[str, list]] = {}
    #: parameter combinations taken from each GEMM implementation
    gemm_combos: ClassVar[int] = 2
    #: (problem, its binding) of the last problem that is not a plain layer
    _last_bound: tuple[Any, GemmBinding] | None = None

    def params_space(self) -> list[dict]:
        """For each GEMM implementation, its first ``gemm_combos`` parameter combinations."""
        return [p for p in gemm_choices(self.gemm_combos) if self.params_rule(p)]

    def params_rule(self, params: dict) -> bool:
        try:
            impl, gparams = split_gemm_params(params)
        except Exception:
            return False
        if set(gparams) != set(impl.space):
            return False
        return all(gparams[k] in v for k, v in impl.space.items()) and impl.params_rule(gparams)

    # -- what subclasses provide ---------------------------------------------------------
    def conv_reason(self, problem: ConvLayer) -> str | None:
        return None

    def binding(self, problem: ConvLayer) -> GemmBinding:
        raise NotImplementedError

    def conv_source(self) -> str:
        return ""

    def pre_launches(self, problem: ConvLayer) -> list[Launch]:
        return []

    def post_launches(self, problem: ConvLayer) -> list[Launch]:
        return []

    def conv_scratch(self, problem: ConvLayer) -> dict[str, int]:
        return {}

    def _bound(self, problem: ConvLayer) -> GemmBinding:
        """``binding(problem)``: every method of the contract needs it, and building its
        GemmProblem validates every field, so it is memoised for plain layers (a
        ConvLayer of Python ints); for other problems (array-valued: the geometry of many
        layers at once, numpy-typed) the last one's binding is kept (by identity)."""
        last = self._last_bound  # the same array-valued problem, asked again
        if last is not None and last[0] is problem:
            return last[1]
        if type(problem) is ConvLayer and all(
                type(v) is int or type(v) is str for v in vars(problem).values()):
            return _cached_binding(self, problem)
        bound = self.binding(problem)
        self._last_bound = (problem, bound)
        return bound

    # -- the contract ----------------------------------------------------------------------
    def shape_reason(self, problem: Any, params: dict) -> str | None:
        reason = conv_reason(problem) or self.conv_reason(problem)
        if reason:
            return reason
        impl, gparams = split_gemm_params(params)
        g_reason = impl.shape_reason(self._bound(problem).problem, gparams)
        if g_reason and not g_reason.startswith(impl.name):
            g_reason = f"{impl.name}: {g_reason}"
        return g_reason or None

    def source(self, problem: Any, params: dict) -> str:
        impl, gparams = split_gemm_params(params)
        return self.conv_source() + gemm_program(impl, gparams, self._bound(problem).problem)

    def local_sizes(self, problem: Any, params: dict, limits: DeviceLimits) -> list[LocalSize]:
        """The GEMM's legal local sizes (the auxiliary launches use ``AUX_LOCAL``)."""
        if limits.max_work_group_size < AUX_LOCAL or limits.max_work_item_sizes[0] < AUX_LOCAL:
            return []
        impl, gparams = split_gemm_params(params)
        return impl.local_sizes(self._bound(problem).problem, gparams, limits)

    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        impl, gparams = split_gemm_params(params)
        gemm = bind_gemm_launches(impl, gparams, self._bound(problem), local)
        return self.pre_launches(problem) + gemm + self.post_launches(problem)

    def scratch(self, problem: Any, params: dict) -> dict[str, int]:
        impl, gparams = split_gemm_params(params)
        out = dict(self.conv_scratch(problem))
        for name, n in impl.scratch(self._bound(problem).problem, gparams).items():
            out[f"gemm_{name}"] = n
        return out

    def local_mem_bytes(self, params: dict, local: LocalSize) -> int:
        impl, gparams = split_gemm_params(params)
        return impl.local_mem_bytes(gparams, local)

    def work_per_item(self, problem: Any, params: dict) -> int:
        impl, gparams = split_gemm_params(params)
        return impl.work_per_item(self._bound(problem).problem, gparams)

    def tile_multiples(self, params: dict) -> dict[str, int]:
        impl, gparams = split_gemm_params(params)
        return impl.tile_multiples(gparams)

"""The kernel-implementation contract.

An implementation lives in one module with: its OpenCL source, its tunable compile-time
parameters as plain data (``space``, Kernel Tuner style), its legality rules (shape and
work-group), the launches it makes, and (through the problem) its numpy reference.
The executor and the harness never ask which implementation they hold.
"""

from __future__ import annotations

import functools
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class DeviceLimits:
    """What the legality rules need to know of an OpenCL device."""

    max_work_group_size: int
    max_work_item_sizes: tuple[int, ...]
    local_mem_bytes: int
    compute_units: int = 1
    preferred_vector_width_float: int = 1

    @classmethod
    def from_cl(cls, dev: Any) -> DeviceLimits:
        import pyopencl as cl

        return cls(
            max_work_group_size=int(dev.max_work_group_size),
            max_work_item_sizes=tuple(int(s) for s in dev.max_work_item_sizes),
            local_mem_bytes=int(dev.local_mem_size),
            compute_units=int(dev.max_compute_units),
            preferred_vector_width_float=int(
                dev.get_info(cl.device_info.PREFERRED_VECTOR_WIDTH_FLOAT)
            ),
        )


@dataclass(frozen=True)
class Scalar:
    """A scalar kernel argument: ``int32`` (default) or ``float32``."""

    value: int | float
    dtype: str = "int32"

    def as_numpy(self) -> np.generic:
        return np.dtype(self.dtype).type(self.value)


@dataclass(frozen=True)
class Buf:
    """A buffer kernel argument by name (a problem array or a scratch buffer)."""

    name: str


@dataclass(frozen=True)
class Launch:
    """One kernel launch. ``local_size`` None lets the driver choose (NULL local size)."""

    kernel: str
    global_size: tuple[int, ...]
    local_size: tuple[int, ...] | None
    args: tuple[Buf | Scalar, ...]
    label: str = ""  # for the per-launch breakdown, defaults to the kernel name


LocalSize = tuple[int, ...] | None


def round_up(x: int, multiple: int) -> int:
    """Smallest multiple of ``multiple`` that is >= x."""
    return -(-x // multiple) * multiple


def if_else(cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b``, element-wise when ``cond`` is a numpy array.

    Size arithmetic of the launch contract (``launches``, ``scratch``, ``work_per_item``)
    must also work on problems whose sizes are numpy arrays (``round_up``, ``//``, ``*`` do;
    an ``if`` on a size does not): ``latpred.features.geometry`` evaluates many shapes in
    one call that way.
    """
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    return a if cond else b


def param_int(value: Any) -> Any:
    """``int(value)`` of a parameter; a numpy array (that parameter of many rows, see
    ``if_else``) as it is, so the size arithmetic stays element-wise."""
    return value if isinstance(value, np.ndarray) else int(value)


def local_size_str(local: LocalSize) -> str:
    """``(16, 8)`` -> ``"16x8"``; None -> ``"driver"``."""
    return "driver" if local is None else "x".join(str(v) for v in local)


def parse_local_size(text: str) -> LocalSize:
    if text == "driver":
        return None
    return tuple(int(v) for v in text.split("x"))


def spread_local_sizes(local_sizes: Sequence[LocalSize], k: int | None) -> list[LocalSize]:
    """At most ``k`` of ``local_sizes``, spread evenly over the list (the first, e.g. None,
    the driver's choice, always kept; None ``k``: all). The profiler's sweep
    (``--max-local-sizes``) and the planner's candidates take the same ones."""
    if k is None or len(local_sizes) <= k:
        return list(local_sizes)
    step = (len(local_sizes) - 1) / max(k - 1, 1)
    return [local_sizes[round(i * step)] for i in range(k)]


def fits_device(local: LocalSize, limits: DeviceLimits) -> bool:
    """True if a local size respects the device's work-group and work-item limits."""
    if local is None:
        return True
    if math.prod(local) > limits.max_work_group_size:
        return False
    return all(v <= lim for v, lim in zip(local, limits.max_work_item_sizes))


@functools.lru_cache(maxsize=256)
def _free_local_sizes(candidates: tuple[tuple[int, ...], ...], max_work_group_size: int,
                      max_work_item_sizes: tuple[int, ...]) -> tuple[LocalSize, ...]:
    """None (the driver's choice) and every candidate (a, b) that fits, as (a, b, 1): it
    depends only on the limits ``fits_device`` reads, so it is memoised on them."""
    limits = DeviceLimits(max_work_group_size, max_work_item_sizes, 0)
    return (None, *((a, b, 1) for a, b in candidates if fits_device((a, b, 1), limits)))


class Implementation(ABC):
    """Base class of every OpenCL kernel implementation.

    Subclasses set ``name``, ``op`` ("gemm" or "conv2d"), ``space`` (dict of compile-time
    parameter name -> list of values) and implement the abstract methods. The size
    arithmetic of ``launches``, ``scratch``, ``work_per_item`` and ``local_mem_bytes``
    should also work when the problem's sizes, the integer parameters (read with
    ``param_int``, not ``int``) and the local size hold numpy arrays (see ``if_else``): the
    feature code then gets the geometry of many rows in one call (else it falls back to one
    call per parameter combination, local size or row).
    """

    name: ClassVar[str]
    op: ClassVar[str]
    space: ClassVar[dict[str, list]] = {}
    #: True if the launches accept any local size (then the sweep tries several + driver).
    free_local_size: ClassVar[bool] = False
    #: candidate local sizes for free-local-size kernels (filtered by the device limits)
    local_candidates: ClassVar[tuple[tuple[int, ...], ...]] = ()

    def params_space(self) -> list[dict]:
        """Every combination of ``space`` that ``params_rule`` accepts (plain dicts)."""
        keys = list(self.space)
        combos = [dict(zip(keys, vals)) for vals in itertools.product(*self.space.values())]
        return [p for p in combos if self.params_rule(p)]

    def params_rule(self, params: dict) -> bool:
        """Static restriction on the parameter combination (independent of shape/device)."""
        return True

    def shape_reason(self, problem: Any, params: dict) -> str | None:
        """Why this implementation cannot take this problem, or None if it can."""
        return None

    @abstractmethod
    def source(self, problem: Any, params: dict) -> str:
        """OpenCL C source for this problem's layout and these parameters (defines included).

        Problems that differ only in sizes must give the same source (program cache).
        """

    def local_sizes(self, problem: Any, params: dict, limits: DeviceLimits) -> list[LocalSize]:
        """Legal local sizes on this device for this problem (never empty if legal).

        Default, for kernels with ``free_local_size``: the driver's choice (None) and every
        ``local_candidates`` entry (a, b) that fits the device, as (a, b, 1). Kernels whose
        work-group is fixed by their parameters override this.
        """
        if not self.free_local_size:
            raise NotImplementedError(f"{type(self).__name__} must define local_sizes")
        return list(_free_local_sizes(tuple(self.local_candidates),
                                      int(limits.max_work_group_size),
                                      tuple(limits.max_work_item_sizes)))

    @abstractmethod
    def launches(self, problem: Any, params: dict, local: LocalSize) -> list[Launch]:
        """The launches, in order, that compute the problem's output."""

    def local_mem_bytes(self, params: dict, local: LocalSize) -> int:
        """Local memory one work-group uses (bytes), for the legality rule and features."""
        return 0

    def fixed_local(self, local: tuple[int, int, int], params: dict,
                    limits: DeviceLimits) -> list[LocalSize]:
        """The legality rule of a kernel whose parameters fix its work-group: ``[local]`` if
        it fits the device's work-group limits and local memory, else ``[]``."""
        if not fits_device(local, limits):
            return []
        if self.local_mem_bytes(params, local) > limits.local_mem_bytes:
            return []
        return [local]

    def scratch(self, problem: Any, params: dict) -> dict[str, int]:
        """Scratch buffers: name -> number of float32 elements."""
        return {}

    def work_per_item(self, problem: Any, params: dict) -> int:
        """Output elements computed by one work-item (for features)."""
        return 1

    def tile_multiples(self, params: dict) -> dict[str, int]:
        """The tile multiple each problem dimension is padded to, e.g. {"M": 64, "N": 64}."""
        return {}

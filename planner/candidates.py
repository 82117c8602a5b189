"""Candidate configurations and the frames the predictors see: built in this one place.

``CandidateSpace`` enumerates the legal configurations of a layer on the GPU and on the
CPU with the same rules as ``models.candidates.candidate_configs`` (and the same
columns), but memoises what does not depend on the shape (parameter spaces) and returns
plain tuples: the planner crosses them with split points and memory modes itself.

``FrameBuilder`` collects prediction rows as (configuration id, shape id) pairs and builds
one DataFrame per predictor call from small tables (categorical strings, nullable
ints), so a whole network's candidates become one frame in a few milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from latpred.models.candidates import (
    CANDIDATE_COLUMNS,
    device_limits,
    device_mem_modes,
    layer_problem,
    layer_shape_row,
)
from latpred.profiler.kernels.base import local_size_str
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import bad_value

Layer = LinearLayer | ConvLayer

#: configuration columns (string) and the threads column
CONFIG_STR_COLS = ("backend", "device", "platform", "impl", "params", "local_size", "mem_mode")
SHAPE_STR_COLS = ("op", "pass")
INT_COLS = tuple(c for c in CANDIDATE_COLUMNS
                 if c not in CONFIG_STR_COLS and c not in SHAPE_STR_COLS and c != "threads")


@dataclass(frozen=True)
class KernelConfig:
    """One OpenCL configuration without memory mode: implementation, params JSON, local."""

    impl: str
    params: str
    local_size: str


class CandidateSpace:
    """Legal configurations of layers on a GPU and a CPU (see module docstring).

    Args:
        gpu_info / cpu_info: device metadata dicts (``profiler.devices`` formats).
        mem_modes: GPU memory modes (default: all the GPU supports).
        impls: restrict GPU implementations.
        cpu_threads: CPU thread counts (default 1..cores, or 1..compute units for PoCL).
        max_local_sizes: at most this many local sizes per implementation x params
            (spread evenly, like ``candidate_configs``).
    """

    def __init__(self, gpu_info: dict[str, Any], cpu_info: dict[str, Any],
                 mem_modes: Sequence[str] | None = None, impls: Sequence[str] | None = None,
                 cpu_threads: Sequence[int] | None = None, max_local_sizes: int | None = None):
        from latpred.profiler.kernels import implementations

        self.gpu_info, self.cpu_info = gpu_info, cpu_info
        self.gpu_limits = device_limits(gpu_info)
        supported = device_mem_modes(gpu_info)
        if mem_modes:
            for m in mem_modes:
                if m not in supported:
                    raise bad_value("mem_mode", m, f"not supported by {gpu_info.get('name')} "
                                    f"(supports {', '.join(supported)})")
        self.mem_modes = list(mem_modes) if mem_modes else supported
        self.impls = impls
        self.max_local_sizes = max_local_sizes
        self._kernels = {op: [i for i in implementations(op) if impls is None or i.name in impls]
                         for op in ("gemm", "conv2d")}
        if impls is not None and not any(self._kernels.values()):
            raise bad_value("impl", list(impls), "no implementation of that name")
        self._spaces = {i.name: [(p, json.dumps(p, sort_keys=True)) for p in i.params_space()]
                        for ks in self._kernels.values() for i in ks}
        self.cpu_is_blas = cpu_info.get("platform") == "numpy"
        if self.cpu_is_blas:
            cores = int(cpu_info.get("cpu_cores") or cpu_info.get("compute_units") or 1)
            self.cpu_limits = None
        else:
            cores = int(cpu_info.get("compute_units") or 1)
            self.cpu_limits = device_limits(cpu_info)
        self.cpu_threads = [int(t) for t in (cpu_threads or range(1, cores + 1))]
        if min(self.cpu_threads) < 1:
            raise bad_value("threads", list(self.cpu_threads), "must be positive")
        self._gpu_cache: dict[Layer, list[KernelConfig]] = {}

    def _kernel_configs(self, layer: Layer, limits: Any, max_locals: int | None
                        ) -> list[KernelConfig]:
        problem = layer_problem(layer)
        op = "conv2d" if isinstance(layer, ConvLayer) else "gemm"
        out = []
        for impl in self._kernels[op]:
            for params, ptxt in self._spaces[impl.name]:
                if impl.shape_reason(problem, params):
                    continue
                locals_ = impl.local_sizes(problem, params, limits)
                if max_locals is not None and len(locals_) > max_locals:
                    step = (len(locals_) - 1) / max(max_locals - 1, 1)
                    locals_ = [locals_[round(i * step)] for i in range(max_locals)]
                out += [KernelConfig(impl.name, ptxt, local_size_str(lo)) for lo in locals_]
        return out

    def gpu_configs(self, layer: Layer) -> list[KernelConfig]:
        """Legal GPU kernel configurations of the full layer (memory modes: ``mem_modes``);
        memoised per layer shape."""
        out = self._gpu_cache.get(layer)
        if out is None:
            if len(self._gpu_cache) > 1024:
                self._gpu_cache.clear()
            out = self._gpu_cache[layer] = self._kernel_configs(layer, self.gpu_limits,
                                                                self.max_local_sizes)
        return out

    def cpu_configs(self, layer: Layer) -> list[tuple[KernelConfig, int]]:
        """CPU configurations: ("blas", "{}", "") per thread count, or PoCL kernel
        configurations per sub-device size."""
        if self.cpu_is_blas:
            return [(KernelConfig("blas", "{}", ""), t) for t in self.cpu_threads]
        kcs = self._kernel_configs(layer, self.cpu_limits, self.max_local_sizes or 2)
        return [(kc, t) for t in self.cpu_threads for kc in kcs]


_DTYPES: dict[tuple[str, ...], pd.CategoricalDtype] = {}


def _cat_dtype(cats: tuple[str, ...]) -> pd.CategoricalDtype:
    """A CategoricalDtype per category tuple, memoised (building one validates the
    categories, which costs far more than the codes)."""
    dt = _DTYPES.get(cats)
    if dt is None:
        if len(_DTYPES) > 4096:
            _DTYPES.clear()
        dt = _DTYPES[cats] = pd.CategoricalDtype(list(cats))
    return dt


class FrameBuilder:
    """Accumulates prediction rows as (config id, shape id) and builds their DataFrame."""

    def __init__(self) -> None:
        self._configs: list[tuple] = []
        self._config_ids: dict[tuple, int] = {}
        self._shapes: list[dict[str, Any]] = []
        self._shape_ids: dict[Any, int] = {}

    def config_id(self, backend: str, device: str, platform: str, kc: KernelConfig,
                  threads: int | None, mem_mode: str) -> int:
        key = (backend, device, platform, kc.impl, kc.params, kc.local_size, mem_mode, threads)
        i = self._config_ids.get(key)
        if i is None:
            i = self._config_ids[key] = len(self._configs)
            self._configs.append(key)
        return i

    def shape_id(self, layer: Layer) -> int:
        i = self._shape_ids.get(layer)
        if i is None:
            i = self._shape_ids[layer] = len(self._shapes)
            row = layer_shape_row(layer)
            row["flops"] = layer.flops if isinstance(layer, ConvLayer) else layer.gemm().flops
            self._shapes.append(row)
        return i

    def split_shape_id(self, layer: Layer, width: int) -> int:
        """Shape id of the part of ``layer`` computing ``width`` output features (see
        ``split.sub_layer``), derived arithmetically from the layer's row (cached)."""
        key = (layer, width)
        i = self._shape_ids.get(key)
        if i is None:
            full = self._shapes[self.shape_id(layer)]
            row = dict(full)
            if isinstance(layer, ConvLayer):
                n_total = layer.out_channels
                if layer.groups > 1:
                    og = layer.out_channels // layer.groups
                    cg = layer.in_channels // layer.groups
                    row.update(in_channels=(width // og) * cg, groups=width // og)
                row["out_channels"] = width
            else:
                n_total = layer.n if layer.pass_ == "forward" else layer.k
                row["n" if layer.pass_ == "forward" else "k"] = width
            row["flops"] = full["flops"] // n_total * width
            i = self._shape_ids[key] = len(self._shapes)
            self._shapes.append(row)
        return i

    def frame(self, config_ids: np.ndarray, shape_ids: np.ndarray) -> pd.DataFrame:
        """The rows as a DataFrame with CANDIDATE_COLUMNS (nullable Int64; strings as
        categoricals, missing as "")."""
        n = len(config_ids)
        cols: dict[str, Any] = {}
        conf = list(zip(*self._configs)) if self._configs else [()] * 8
        conf_cols = dict(zip((*CONFIG_STR_COLS, "threads"), conf))

        def strings(values: Sequence[Any], ids: np.ndarray) -> Any:
            # categorical: codes from the small table, no per-row string work
            keys = ["" if v is None else str(v) for v in values]
            cats = tuple(sorted(set(keys)))
            code = {c: i for i, c in enumerate(cats)}
            per_entry = np.array([code[k] for k in keys], np.int64)
            return pd.Categorical.from_codes(per_entry[ids] if n else per_entry[:0],
                                             dtype=_cat_dtype(cats))

        def ints(values: Sequence[Any], ids: np.ndarray) -> Any:
            v = np.array([0 if x is None else int(x) for x in values], np.int64)
            m = np.array([x is None for x in values], bool)
            return pd.arrays.IntegerArray(v[ids] if n else v[:0], m[ids] if n else m[:0])

        for c in CANDIDATE_COLUMNS:
            if c in CONFIG_STR_COLS:
                cols[c] = strings(conf_cols[c], config_ids)
            elif c == "threads":
                cols[c] = ints(conf_cols[c], config_ids)
            elif c in SHAPE_STR_COLS:
                cols[c] = strings([s.get(c) for s in self._shapes], shape_ids)
            else:
                cols[c] = ints([s.get(c) for s in self._shapes], shape_ids)
        return pd.DataFrame(cols, copy=False)

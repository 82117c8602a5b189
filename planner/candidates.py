"""Candidate configurations and the frames the predictors see: built in this one place.

``CandidateSpace`` enumerates the legal configurations of a layer on the GPU and on the
CPU with the same rules as ``models.candidates.candidate_configs`` (and the same
columns), but memoises what does not depend on the shape (parameter spaces) and returns
plain tuples: the planner crosses them with split points and memory modes itself.

``FrameBuilder`` collects prediction rows as (configuration id, shape id) pairs and builds
one DataFrame per predictor call from small integer tables (dictionary-encoded strings,
nullable ints), so a whole network's candidates become one frame in a few milliseconds.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from latpred.datasets.schema import CONFIG_COLUMNS
from latpred.models.candidates import (
    CANDIDATE_COLUMNS,
    device_limits,
    device_mem_modes,
    layer_problem,
    layer_shape_row,
)
from latpred.profiler.kernels.base import local_size_str, spread_local_sizes
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import bad_value

Layer = LinearLayer | ConvLayer

#: configuration columns (string; the threads column apart)
CONFIG_STR_COLS = CONFIG_COLUMNS
SHAPE_STR_COLS = ("op", "pass")
INT_COLS = tuple(c for c in CANDIDATE_COLUMNS
                 if c not in CONFIG_STR_COLS and c not in SHAPE_STR_COLS and c != "threads")
#: column -> position in a shape's table row (string codes first, then INT_COLS)
_SHAPE_POS = {c: len(SHAPE_STR_COLS) + j for j, c in enumerate(INT_COLS)}


@dataclass(frozen=True)
class KernelConfig:
    """One OpenCL configuration without memory mode: implementation, params JSON, local."""

    impl: str
    params: str
    local_size: str


#: the CPU configuration of a numpy/BLAS CPU (one row per thread count)
BLAS_CONFIG = KernelConfig("blas", "{}", "")


def device_key(info: dict[str, Any]) -> tuple[str, str]:
    """(name, platform) of a device's metadata dict: how prediction rows name the device."""
    return str(info.get("name", "")), str(info.get("platform", ""))


@functools.lru_cache(maxsize=65536)
def _configs(impl: str, params: str, locals_: tuple) -> tuple[KernelConfig, ...]:
    """The KernelConfigs of one implementation x params over its local sizes (memoised:
    the layers of a network ask for the same few, so each string is built once)."""
    return tuple(KernelConfig(impl, params, local_size_str(lo)) for lo in locals_)


class CandidateSpace:
    """Legal configurations of layers on a GPU and a CPU (see module docstring).

    Args:
        gpu_info / cpu_info: device metadata dicts (``profiler.devices`` formats).
        mem_modes: GPU memory modes (default: all the GPU supports).
        impls: restrict GPU implementations.
        cpu_threads: CPU thread counts (default 1..cores, or 1..compute units for PoCL).
        max_local_sizes: at most this many local sizes per implementation x params
            (spread evenly, like ``candidate_configs``).
        work_group_limits: {(impl, params JSON): most work-items per work-group} the GPU's
            compiler allows those kernels (``Predictors.work_group_limits``); their local
            sizes above it are dropped after the spread, so the space stays within what a
            profiler sweep with the same ``max_local_sizes`` timed.
    """

    def __init__(self, gpu_info: dict[str, Any], cpu_info: dict[str, Any],
                 mem_modes: Sequence[str] | None = None, impls: Sequence[str] | None = None,
                 cpu_threads: Sequence[int] | None = None, max_local_sizes: int | None = None,
                 work_group_limits: Mapping[tuple[str, str], int] | None = None):
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
        self.work_group_limits = dict(work_group_limits or {})
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

    def _kernel_configs(self, layer: Layer, limits: Any, max_locals: int | None,
                        wg_limits: Mapping[tuple[str, str], int] | None = None
                        ) -> list[KernelConfig]:
        problem = layer_problem(layer)
        op = "conv2d" if isinstance(layer, ConvLayer) else "gemm"
        out = []
        for impl in self._kernels[op]:
            for params, ptxt in self._spaces[impl.name]:
                if impl.shape_reason(problem, params):
                    continue
                locals_ = impl.local_sizes(problem, params, limits)
                locals_ = spread_local_sizes(locals_, max_locals)
                cap = wg_limits.get((impl.name, ptxt)) if wg_limits else None
                if cap is not None:  # None: the driver's choice, always within the limit
                    locals_ = [lo for lo in locals_ if lo is None or math.prod(lo) <= cap]
                out += _configs(impl.name, ptxt, tuple(locals_))
        return out

    def gpu_configs(self, layer: Layer) -> list[KernelConfig]:
        """Legal GPU kernel configurations of the full layer (memory modes: ``mem_modes``);
        memoised per layer shape."""
        out = self._gpu_cache.get(layer)
        if out is None:
            if len(self._gpu_cache) > 1024:
                self._gpu_cache.clear()
            out = self._gpu_cache[layer] = self._kernel_configs(
                layer, self.gpu_limits, self.max_local_sizes, self.work_group_limits)
        return out

    def cpu_configs(self, layer: Layer) -> list[tuple[KernelConfig, int]]:
        """CPU configurations: ("blas", "{}", "") per thread count, or PoCL kernel
        configurations per sub-device size."""
        if self.cpu_is_blas:
            return [(BLAS_CONFIG, t) for t in self.cpu_threads]
        kcs = self._kernel_configs(layer, self.cpu_limits, self.max_local_sizes or 2)
        return [(kc, t) for t in self.cpu_threads for kc in kcs]


class FrameBuilder:
    """Accumulates prediction rows as (config id, shape id) and builds their DataFrame.

    Every string value is interned once per column when its configuration or shape is
    added, so a frame is built from integer tables: a dictionary-encoded (pyarrow) column
    per string column, holding only the values its rows use, and a nullable Int64 column
    per integer column. ``columns`` gives the same rows as a column mapping (no DataFrame)
    for predictors that take one.
    """

    def __init__(self) -> None:
        self._config_ids: dict[tuple, int] = {}
        self._shape_ids: dict[Any, int] = {}
        # string column -> value -> code, and the values by code
        self._codes: dict[str, dict[str, int]] = {c: {} for c in (*CONFIG_STR_COLS,
                                                                     *SHAPE_STR_COLS)}
        self._values: dict[str, list[str]] = {c: [] for c in self._codes}
        # per configuration / shape: string codes, then integers (None: missing)
        self._cfg_rows: list[tuple[int | None, ...]] = []
        self._shape_rows: list[tuple[int | None, ...]] = []
        self._tables: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._dictionaries: dict[tuple[str, bytes], pa.Array] = {}
        self._cat_dtypes: dict[str, pd.CategoricalDtype] = {}

    def _intern(self, col: str, value: Any) -> int:
        text = "" if value is None else str(value)
        codes = self._codes[col]
        i = codes.get(text)
        if i is None:
            i = codes[text] = len(codes)
            self._values[col].append(text)
        return i

    def config_id(self, backend: str, device: str, platform: str, kc: KernelConfig,
                  threads: int | None, mem_mode: str) -> int:
        key = (backend, device, platform, kc.impl, kc.params, kc.local_size, mem_mode, threads)
        i = self._config_ids.get(key)
        if i is None:
            i = self._config_ids[key] = len(self._cfg_rows)
            self._cfg_rows.append((*(self._intern(c, v) for c, v in zip(CONFIG_STR_COLS, key)),
                                   None if threads is None else int(threads)))
        return i

    def cpu_config_id(self, device: tuple[str, str], kc: KernelConfig, threads: int) -> int:
        """``config_id`` of a CPU row of ``device`` (``device_key``): BLAS on host memory,
        PoCL kernels on buffers."""
        return self.config_id("cpu", *device, kc, threads,
                              "host" if kc.impl == "blas" else "buffer")

    def _add_shape(self, row: dict[str, Any]) -> int:
        self._shape_rows.append((*(self._intern(c, row.get(c)) for c in SHAPE_STR_COLS),
                                 *(None if row.get(c) is None else int(row[c])
                                   for c in INT_COLS)))
        return len(self._shape_rows) - 1

    def shape_id(self, layer: Layer) -> int:
        i = self._shape_ids.get(layer)
        if i is None:
            row = layer_shape_row(layer)
            row["flops"] = layer.flops if isinstance(layer, ConvLayer) else layer.gemm().flops
            i = self._shape_ids[layer] = self._add_shape(row)
        return i

    def split_shape_id(self, layer: Layer, width: int) -> int:
        """Shape id of the part of ``layer`` computing ``width`` output features (see
        ``split.sub_layer``), derived arithmetically from the layer's row (cached)."""
        return int(self.split_shape_ids(layer, (width,))[0])

    def split_shape_ids(self, layer: Layer, widths: Sequence[int] | np.ndarray) -> np.ndarray:
        """``split_shape_id`` of each of ``widths``, int64 (len(widths),): the layer is
        looked up once (hashing a layer costs more than the rest of a known width)."""
        base = self.shape_id(layer)
        ids = self._shape_ids
        out = np.empty(len(widths), np.int64)
        for j, width in enumerate(np.asarray(widths, np.int64).tolist()):
            key = (base, width)
            i = ids.get(key)
            if i is None:
                i = ids[key] = self._add_split_shape(layer, base, width)
            out[j] = i
        return out

    def _add_split_shape(self, layer: Layer, base: int, width: int) -> int:
        """A new shape row: the whole layer's table row (``base``; its strings are interned
        already) with the columns a split changes replaced."""
        values = list(self._shape_rows[base])
        if isinstance(layer, ConvLayer):
            n_total = layer.out_channels
            new = {"out_channels": width}
            if layer.groups > 1:
                og = layer.out_channels // layer.groups
                cg = layer.in_channels // layer.groups
                new.update(in_channels=(width // og) * cg, groups=width // og)
        else:
            n_total = layer.n if layer.pass_ == "forward" else layer.k
            new = {"n" if layer.pass_ == "forward" else "k": width}
        new["flops"] = values[_SHAPE_POS["flops"]] // n_total * width
        for c, v in new.items():
            values[_SHAPE_POS[c]] = int(v)
        self._shape_rows.append(tuple(values))
        return len(self._shape_rows) - 1

    @property
    def size(self) -> int:
        """Configurations + shapes held (a long-lived builder is cleared past a limit)."""
        return len(self._cfg_rows) + len(self._shape_rows)

    def _table(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, missing) of the configuration or shape table as (rows, columns) arrays;
        rows added since the last frame are appended."""
        rows = self._cfg_rows if which == "cfg" else self._shape_rows
        n_cols = len(CONFIG_STR_COLS) + 1 if which == "cfg" else \
            len(SHAPE_STR_COLS) + len(INT_COLS)
        n_done, values, missing = self._tables.get(
            which, (0, np.zeros((0, n_cols), np.int64), np.zeros((0, n_cols), bool)))
        if n_done != len(rows):
            obj = np.array(rows[n_done:], dtype=object).reshape(len(rows) - n_done, n_cols)
            miss = obj == None  # noqa: E711 - elementwise
            values = np.concatenate([values, np.where(miss, 0, obj).astype(np.int64)])
            missing = np.concatenate([missing, miss])
            self._tables[which] = (len(rows), values, missing)
        return values, missing

    def _strings(self, col: str, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """A dictionary-encoded string column of only the values ``codes`` use."""
        values = self._values[col]
        used = np.zeros(len(values), bool)
        used[codes] = True
        key = (col, used.tobytes())
        dictionary = self._dictionaries.get(key)
        if dictionary is None:
            if len(self._dictionaries) > 1024:
                self._dictionaries.clear()
            dictionary = self._dictionaries[key] = pa.array(
                [values[i] for i in np.flatnonzero(used)], pa.string())
        remap = np.cumsum(used, dtype=np.int32) - 1
        return pd.arrays.ArrowExtensionArray(
            pa.DictionaryArray.from_arrays(pa.array(remap[codes], pa.int32()), dictionary))

    def _gather(self, config_ids: np.ndarray, shape_ids: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(values, missing) of the rows' configurations, then of their shapes: arrays of
        shape (rows, columns of the table)."""
        cv, cm = self._table("cfg")
        sv, sm = self._table("shape")
        config_ids = np.asarray(config_ids, np.int64)
        shape_ids = np.asarray(shape_ids, np.int64)
        return cv[config_ids], cm[config_ids], sv[shape_ids], sm[shape_ids]

    def frame(self, config_ids: np.ndarray, shape_ids: np.ndarray) -> pd.DataFrame:
        """The rows as a DataFrame with CANDIDATE_COLUMNS (nullable Int64; strings
        dictionary-encoded, missing as "")."""
        cv, cm, sv, sm = self._gather(config_ids, shape_ids)
        n_sstr = len(SHAPE_STR_COLS)
        cols: dict[str, Any] = {}
        for c in CANDIDATE_COLUMNS:
            if c in CONFIG_STR_COLS:
                cols[c] = self._strings(c, cv[:, CONFIG_STR_COLS.index(c)])
            elif c == "threads":
                j = len(CONFIG_STR_COLS)
                cols[c] = pd.arrays.IntegerArray(cv[:, j].copy(), cm[:, j].copy())
            elif c in SHAPE_STR_COLS:
                cols[c] = self._strings(c, sv[:, SHAPE_STR_COLS.index(c)])
            else:
                j = n_sstr + INT_COLS.index(c)
                cols[c] = pd.arrays.IntegerArray(sv[:, j].copy(), sm[:, j].copy())
        return _frame_of(cols, len(config_ids))

    def columns(self, config_ids: np.ndarray, shape_ids: np.ndarray) -> dict[str, Any]:
        """The rows of ``frame`` as a column mapping (``features.Configs``), cheaper to
        build: integers as float64 arrays (NaN: missing), strings as pandas Categoricals
        ("" for missing), in CANDIDATE_COLUMNS order."""
        cv, cm, sv, sm = self._gather(config_ids, shape_ids)
        n_sstr = len(SHAPE_STR_COLS)
        nums = np.hstack([cv[:, -1:], sv[:, n_sstr:]]).astype(np.float64)
        nums[np.hstack([cm[:, -1:], sm[:, n_sstr:]])] = np.nan
        nums = np.ascontiguousarray(nums.T)  # a contiguous row per column
        num_cols = ("threads", *INT_COLS)
        cols: dict[str, Any] = {}
        for c in CANDIDATE_COLUMNS:
            if c in CONFIG_STR_COLS:
                cols[c] = self._categorical(c, cv[:, CONFIG_STR_COLS.index(c)])
            elif c in SHAPE_STR_COLS:
                cols[c] = self._categorical(c, sv[:, SHAPE_STR_COLS.index(c)])
            else:
                cols[c] = nums[num_cols.index(c)]
        return cols

    def _categorical(self, col: str, codes: np.ndarray) -> pd.Categorical:
        """A Categorical string column: the codes, and as categories every value interned in
        the column so far (the features keep those the rows use)."""
        values = self._values[col]
        dtype = self._cat_dtypes.get(col)
        if dtype is None or len(dtype.categories) != len(values):
            dtype = self._cat_dtypes[col] = pd.CategoricalDtype(pd.Index(values, dtype=object))
        return pd.Categorical.from_codes(codes, dtype=dtype)


@functools.lru_cache(maxsize=8)
def _columns_index(names: tuple[str, ...]) -> pd.Index:
    """The (immutable, shareable) column index of a frame."""
    return pd.Index(list(names))


def _frame_of(cols: dict[str, Any], n: int) -> pd.DataFrame:
    """A DataFrame of ready, equal-length column arrays; pandas' array constructor skips
    the dict path's per-column checks (~40 % of a frame), the public one is the fallback."""
    from_arrays = getattr(pd.DataFrame, "_from_arrays", None)
    if from_arrays is not None:
        try:
            return from_arrays(list(cols.values()), columns=_columns_index(tuple(cols)),
                               index=pd.RangeIndex(n), verify_integrity=False)
        except TypeError:  # pragma: no cover - another pandas signature
            pass
    return pd.DataFrame(cols, copy=False)

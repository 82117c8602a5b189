"""The co-execution planner: choose, from predictions alone, how to run a layer.

For a layer, a CPU-GPU device pair and loaded predictors, the candidate plans are

- GPU share ``split_n`` on a grid: ratios i/steps snapped to each GPU configuration's
  tile/vector width along the split dimension (``split.split_align``), plus 0 and N;
- GPU configuration: implementation x parameters x work-group x memory mode (sync);
- CPU configuration: thread count (numpy/BLAS; PoCL sub-devices if the CPU device is one);
- CPU only (``split_n = 0``) and GPU only (``split_n = N``) included.

Predicted time of a split plan: ``(max(CPU(N - s) x f_cpu, GPU(s) x f_gpu) + sync(mode, GPU
block bytes)) x f_split(mode)`` (f_cpu, f_gpu: the parts' measured slowdown beside each
other, ``SyncModel.interference``; f_split: the runtime's measured split plans over that
prediction, ``SyncModel.split_factor``, 1 where not fitted), GPU = kernel + dispatch +
transfer (component predictors) or the end-to-end predictor;
single-device plans add the runtime's own overhead instead (``SyncModel.single``). The
best split is taken only if it beats the best single-device plan by more than ``margin``
(relative); ``risk="p90"`` scores every plan with the upper ends of the prediction
intervals instead of the point predictions.

Every predictor is called on whole batches (``plan_layers``: a network at once): once per
batch, or twice with the two-stage pruning (``PlannerOptions.prune_top_k``, see Planner).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from latpred.planner.candidates import CandidateSpace, FrameBuilder, KernelConfig, device_key
from latpred.planner.predictors import CPU_TARGET, GPU_COMPONENTS, GPU_TOTAL, Predictors
from latpred.planner.runtime import CpuConfig, GpuConfig, Plan
from latpred.planner.split import (
    Layer,
    activation_mib,
    as_problem,
    can_write_in_place,
    gpu_block_bytes,
    layer_extent,
    layer_flops,
    part_activation_mib,
    part_problem,
    split_aligns,
    split_granule,
    split_points,
)
from latpred.planner.sync import SyncModel
from latpred.profiler.kernels.base import parse_local_size

from latpred.errors import bad_value

log = logging.getLogger(__name__)

RISKS = ("none", "p90")
#: configurations + shapes a Planner's FrameBuilder keeps between calls before a reset
_MAX_FRAME_ROWS = 200_000
#: predictions a Planner keeps between calls (all targets) before it forgets them
_MAX_MEMO_ROWS = 2_000_000
#: CPU stage 1 runs only when the batch would otherwise predict more CPU rows than this (a
#: predict call costs ~1 ms whatever its size; one layer has ~16 thread counts x ~17 splits)
CPU_PRUNE_MIN_ROWS = 2_000


@dataclass(frozen=True)
class PlannerOptions:
    """Knobs of the planner.

    Attributes:
        steps: split-ratio grid steps (ratios i/steps, snapped per GPU configuration).
        margin: a split must be predicted faster than ``(1 - margin)`` x the best
            single-device plan (0.03 = 3 %).
        risk: "none" (point predictions) or "p90" (upper ends of prediction intervals).
        gpu_model: "auto" (components if all three exist, else total), "components" or
            "total".
        cpu_threads: CPU thread counts (default: the candidate enumeration's, 1..cores).
        mem_modes: GPU memory modes / sync mechanisms (default: all the GPU supports).
        impls: restrict GPU implementations.
        max_local_sizes: at most this many work-group sizes per implementation x params.
        prune_top_k: two-stage planning: keep the k fastest GPU configurations at each
            anchor split ratio (``anchors``), then predict those on the whole grid.
            None: one exhaustive stage (every configuration x every split).
        anchors: GPU shares (split ratios) of the first stage.
        cpu_top_k: likewise for the CPU: keep the k fastest CPU configurations (thread
            counts) at each of ``cpu_anchors`` (CPU shares), None: every one. Only for
            batches with more than CPU_PRUNE_MIN_ROWS CPU rows (a network, not a layer).
        cpu_anchors: CPU shares of the CPU's first stage.
        coexec_max_threads: most CPU threads of a split plan (default: cores - 1, leaving
            a core to the host thread that feeds and waits for the GPU; CPU-only plans may
            use every core). On the H100 host, 16 BLAS threads beside the GPU's host
            thread ran several times slower than 15.
        shortlist: plans per layer to hand to a measurement (``planner.tune``): the chosen
            plan first, then alternatives (1: the plan alone). The alternatives are
            spread out: the best CPU-only and GPU-only plans always (a measurement sees
            both devices), then the best split and the next best by prediction within
            ``shortlist_tol`` of the best, CPU-only thread counts more than
            ``thread_gap`` apart (relative).
        shortlist_tol: alternatives' predicted time is at most (1 + tol) x the best's.
        thread_gap: CPU-only alternatives differ from each other by more than this share of
            the larger thread count (0.05: 16 and 15 threads, not 32 and 31; 0.2: 16 and
            12, not 16 and 15). On the H100 host, 15 vs 16 threads moved a layer by 2-5 %.
    """

    steps: int = 16
    margin: float = 0.03
    risk: str = "none"
    gpu_model: str = "auto"
    cpu_threads: tuple[int, ...] | None = None
    mem_modes: tuple[str, ...] | None = None
    impls: tuple[str, ...] | None = None
    max_local_sizes: int | None = None
    prune_top_k: int | None = 4
    anchors: tuple[float, ...] = (1.0,)
    cpu_top_k: int | None = 2
    cpu_anchors: tuple[float, ...] = (1.0, 0.25)
    coexec_max_threads: int | None = None
    shortlist: int = 1
    shortlist_tol: float = 0.5
    thread_gap: float = 0.05

    def validate(self) -> PlannerOptions:
        if not isinstance(self.steps, int) or self.steps < 1:
            raise bad_value("steps", self.steps, "must be a positive integer")
        if not 0.0 <= self.margin < 1.0:
            raise bad_value("margin", self.margin, "must be in [0, 1) (a fraction, 0.03 = 3%)")
        if self.risk not in RISKS:
            raise bad_value("risk", self.risk, f"must be one of {', '.join(RISKS)}")
        if self.prune_top_k is not None and self.prune_top_k < 1:
            raise bad_value("prune_top_k", self.prune_top_k, "must be >= 1 (or None)")
        if not self.anchors or not all(0.0 < r <= 1.0 for r in self.anchors):
            raise bad_value("anchors", self.anchors, "ratios must be in (0, 1]")
        if self.cpu_top_k is not None and self.cpu_top_k < 1:
            raise bad_value("cpu_top_k", self.cpu_top_k, "must be >= 1 (or None)")
        if not self.cpu_anchors or not all(0.0 < r <= 1.0 for r in self.cpu_anchors):
            raise bad_value("cpu_anchors", self.cpu_anchors, "ratios must be in (0, 1]")
        if not isinstance(self.shortlist, int) or self.shortlist < 1:
            raise bad_value("shortlist", self.shortlist, "must be an integer >= 1")
        if self.shortlist_tol < 0:
            raise bad_value("shortlist_tol", self.shortlist_tol, "must be >= 0")
        if not 0.0 <= self.thread_gap < 1.0:
            raise bad_value("thread_gap", self.thread_gap, "must be in [0, 1)")
        return self


@dataclass
class PlanChoice:
    """The planner's decision for one layer (times predicted, us)."""

    name: str
    count: int
    layer: Layer
    plan: Plan
    plan_us: float
    cpu_us: float
    gpu_us: float
    sync_us: float
    single: Plan
    single_us: float
    best_split: Plan | None
    best_split_us: float
    risk_us: float = math.nan
    reason: str = ""
    n_candidates: int = 0
    #: the shortlist (``PlannerOptions.shortlist``): (plan, predicted us), the plan first
    shortlist: list[tuple[Plan, float]] = field(default_factory=list)

    @property
    def predicted_speedup(self) -> float:
        """Best single-device time / chosen plan time (predicted)."""
        return self.single_us / self.plan_us if self.plan_us > 0 else math.nan

    def as_row(self) -> dict[str, Any]:
        """A flat record (``runtime.plan_from_row`` rebuilds the plan from it)."""
        p = self.plan
        row: dict[str, Any] = {
            "layer": self.name, "count": self.count, "kind": p.kind,
            "split_n": p.split_n, "n_total": p.n_total, "ratio": round(p.ratio, 4),
            "plan_us": self.plan_us, "cpu_us": self.cpu_us, "gpu_us": self.gpu_us,
            "sync_us": self.sync_us, "single_kind": self.single.kind,
            "single_us": self.single_us, "best_split_us": self.best_split_us,
            "risk_us": self.risk_us, "predicted_speedup": self.predicted_speedup,
            "reason": self.reason, "n_candidates": self.n_candidates,
        }
        row.update(_plan_fields(p))
        row.update({f"single_{k}": v for k, v in _plan_fields(self.single).items()})
        return row


def _plan_fields(p: Plan) -> dict[str, Any]:
    g, c = p.gpu, p.cpu
    return {
        "split_n": p.split_n,
        "gpu_impl": g.impl if g else "",
        "gpu_params": json.dumps(g.params, sort_keys=True) if g else "",
        "gpu_local_size": g.local_size if g else "",
        "mem_mode": g.mem_mode if g else "",
        "threads": c.threads if c else None,
        "cpu_engine": c.engine if c else "",
        "cpu_impl": c.impl if c else "",
        "cpu_params": json.dumps(c.params, sort_keys=True) if c else "",
        "cpu_local_size": ("" if c is None or c.engine == "blas"
                           else ("driver" if c.local is None else "x".join(map(str, c.local)))),
    }


@dataclass
class _LayerCands:
    """One layer's candidates: GPU options (configuration x memory mode x split), CPU rows
    (configuration x split), and which prediction rows they read."""

    name: str
    count: int
    layer: Layer
    n_total: int
    gpu_cfgs: list[KernelConfig]
    cpu_cfgs: list[tuple[KernelConfig, int]]
    modes: list[str]
    g_cfg: np.ndarray       # option -> gpu_cfgs index
    g_mode: np.ndarray      # option -> memory mode (index into modes)
    g_split: np.ndarray     # option -> split_n (GPU computes [0, split_n))
    g_krows: np.ndarray     # option -> row of the kernel frame (config, reference mode, s)
    g_xrows: np.ndarray     # option -> row of the mode frame (reference config, mode, s)
    g_xref: np.ndarray      # option -> row of the mode frame (reference config, ref mode, s)
    c_cfg: np.ndarray       # CPU row -> cpu_cfgs index
    c_split: np.ndarray     # CPU row -> split_n (the CPU computes [split_n, N))
    c_rows: np.ndarray      # CPU row -> row of the CPU frame


#: a layer's stage-1 rows (``Planner._anchor_points``): config ids (p,), shape ids (p,), per
#: anchor each configuration's point (index into p), each configuration's split grid
_AnchorRows = tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]


class _Rows:
    """Prediction rows of one frame for a batch of layers: (config id, shape id)."""

    def __init__(self) -> None:
        self.cfg: list[np.ndarray] = []
        self.shape: list[np.ndarray] = []
        self.n = 0

    def add(self, cfg_ids: np.ndarray, shape_ids: np.ndarray) -> np.ndarray:
        """Append rows; returns their indices in the batch frame."""
        self.cfg.append(np.asarray(cfg_ids, np.int64))
        self.shape.append(np.asarray(shape_ids, np.int64))
        idx = np.arange(self.n, self.n + len(self.cfg[-1]))
        self.n += len(self.cfg[-1])
        return idx

    def keys(self) -> np.ndarray:
        """One int64 key per row: config id << 32 | shape id."""
        if not self.n:
            return np.zeros(0, np.int64)
        return (np.concatenate(self.cfg) << 32) | np.concatenate(self.shape)


class _Predictions:
    """Predictions memoised per (target, bound) by row, for the calls of one Planner.

    A prediction depends on its row alone (configuration and shape: ``features`` are
    row-wise), so a row is predicted once: rows repeated in a batch (the reference
    configuration's memory-mode rows), from an earlier stage or from an earlier call (a
    layer planned again) are read back. Rows are ``fb``'s ids, so the memo lives as long
    as ``fb`` (and the predictors). The rows
    still missing from the requests of one ``many`` call are predicted together: one
    column mapping and one feature pass for all of them when the predictors take columns
    (``Predictors.takes_columns``), else a frame per request (shared by requests of the
    same rows).
    """

    def __init__(self, predictors: Predictors, fb: FrameBuilder) -> None:
        self._predictors = predictors
        self._fb = fb
        self._known: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._last: tuple[bytes, pd.DataFrame] | None = None

    def serves(self, predictors: Predictors, fb: FrameBuilder) -> bool:
        """Whether this memo holds predictions of ``predictors`` on ``fb``'s rows."""
        return self._predictors is predictors and self._fb is fb

    @property
    def size(self) -> int:
        """Rows memoised, all targets."""
        return sum(len(k) for k, _v in self._known.values())

    def __call__(self, target: str, rows: _Rows, hi: bool = False) -> np.ndarray:
        """Point predictions (``hi``: upper interval ends) of ``rows``, in row order."""
        return self.many([(target, rows, hi)])[0]

    def many(self, requests: Sequence[tuple[str, _Rows, bool]]) -> list[np.ndarray]:
        """``self(target, rows, hi)`` of each request (one per (target, hi)), the missing
        rows predicted at once."""
        looked = [self._lookup(target, rows, hi) for target, rows, hi in requests]
        todo = [(i, uniq[~hit]) for i, (uniq, _inv, _vals, hit) in enumerate(looked)
                if not hit.all()]
        new = self._predict([(requests[i][0], requests[i][2], miss) for i, miss in todo])
        for (i, miss), values in zip(todo, new):
            target, _rows, hi = requests[i]
            _uniq, _inv, vals, hit = looked[i]
            vals[~hit] = values
            known_k, known_v = self._known.get((target, hi), (np.zeros(0, np.int64),
                                                              np.zeros(0)))
            at = np.searchsorted(known_k, miss)  # both sorted, disjoint: merge
            self._known[(target, hi)] = (np.insert(known_k, at, miss),
                                         np.insert(known_v, at, values))
        return [vals[inv] for _uniq, inv, vals, _hit in looked]

    def _lookup(self, target: str, rows: _Rows, hi: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(unique keys, row -> unique key, their values (known ones filled in), known) of
        ``rows``."""
        uniq, inv = np.unique(rows.keys(), return_inverse=True)
        known_k, known_v = self._known.get((target, hi), (np.zeros(0, np.int64), np.zeros(0)))
        if len(known_k):
            pos = np.minimum(np.searchsorted(known_k, uniq), len(known_k) - 1)
            hit = known_k[pos] == uniq
        else:
            pos, hit = np.zeros(len(uniq), np.int64), np.zeros(len(uniq), bool)
        vals = np.empty(len(uniq))
        vals[hit] = known_v[pos[hit]]
        return uniq, inv.reshape(-1), vals, hit

    def _predict(self, requests: list[tuple[str, bool, np.ndarray]]) -> list[np.ndarray]:
        """Predictions of (target, hi, sorted unique keys) requests."""
        if not requests:
            return []
        if self._predictors.takes_columns({target for target, _hi, _k in requests}):
            keys = np.unique(np.concatenate([k for _t, _hi, k in requests]))
            cols = self._fb.columns(keys >> 32, keys & 0xFFFFFFFF)
            return self._predictors.predict_columns(
                [(target, hi, None if len(k) == len(keys) else np.searchsorted(keys, k))
                 for target, hi, k in requests], cols)
        return [self._predictors.predict_hi(target, self._frame(k)) if hi
                else self._predictors.predict(target, self._frame(k))
                for target, hi, k in requests]

    def _frame(self, keys: np.ndarray) -> pd.DataFrame:
        """The frame of ``keys`` (the last one is kept: targets sharing rows share it)."""
        tag = keys.tobytes()
        if self._last is None or self._last[0] != tag:
            self._last = (tag, self._fb.frame(keys >> 32, keys & 0xFFFFFFFF))
        return self._last[1]


def _reorder(v: np.ndarray, factor: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``v`` (n,) with its ``rows`` (bool mask) times ``factor`` (n,), rescaled so that
    their smallest finite value is unchanged: the rows reordered, their best kept."""
    out = v.copy()
    new = v[rows] * factor[rows]
    ok_old, ok_new = np.isfinite(v[rows]), np.isfinite(new)
    if ok_old.any() and ok_new.any():
        out[rows] = new * (v[rows][ok_old].min() / new[ok_new].min())
    return out


class Planner:
    """Plans layers for one CPU-GPU pair from predictions.

    GPU time of an option (configuration c, memory mode m, split s) is predicted as
    ``kernel(c, s) + dispatch(c, s) + transfer(c0, m, s)`` with component predictors, or
    ``total(c, ref, s) + total(c0, m, s) - total(c0, ref, s)`` with the end-to-end one,
    where ``ref`` is the reference memory mode (buffer) and ``c0`` the configuration
    predicted fastest in the first stage: a memory mode moves transfers, not the kernel
    (the profiler's sweep makes the same assumption), so modes cost rows per split, not
    per configuration.

    A Planner keeps, between calls, its candidate enumeration, split grids, the interned
    configuration rows of its frames and the predictions of those rows (so it is not
    thread-safe): planning a layer again (after ``sync`` changed, or in the next
    inference) predicts nothing already predicted, and decides anew. The memo is
    tied to the ``predictors`` object: assign new Predictors to predict anew.

    With ``options.prune_top_k`` (default), a first batch predicts every configuration at
    a few anchor splits and keeps, per anchor, the ``prune_top_k`` fastest and the fastest
    of each split grid; the second batch predicts the kept ones on their whole split grid
    (two predict calls per GPU predictor for any number of layers). ``prune_top_k=None``:
    one exhaustive batch, every configuration x memory mode x split predicted as is.

    Args:
        predictors: loaded Predictors.
        gpu_info: the GPU's metadata dict (``profiler.devices.cl_device_info`` format).
        cpu_info: the CPU's metadata dict (``profiler.devices.cpu_info``; or a PoCL CPU
            device's ``cl_device_info`` for OpenCL CPU plans).
        sync: co-execution overhead model.
        options: PlannerOptions.
    """

    def __init__(self, predictors: Predictors, gpu_info: dict[str, Any],
                 cpu_info: dict[str, Any], sync: SyncModel | None = None,
                 options: PlannerOptions | None = None):
        self.predictors = predictors
        self.gpu_info = gpu_info
        self.cpu_info = cpu_info
        self.sync = sync or SyncModel()
        self.options = o = (options or PlannerOptions()).validate()
        self.gpu_mode = predictors.gpu_mode(o.gpu_model)
        self.space = CandidateSpace(gpu_info, cpu_info, o.mem_modes, o.impls, o.cpu_threads,
                                    o.max_local_sizes, predictors.work_group_limits())
        modes = self.space.mem_modes
        self.ref_mode = "buffer" if "buffer" in modes else modes[0]
        cores = int(cpu_info.get("cpu_cores") or cpu_info.get("compute_units") or 1)
        self.coexec_max_threads = o.coexec_max_threads or max(1, cores - 1)
        self._gpu_dev, self._cpu_dev = device_key(gpu_info), device_key(cpu_info)
        # rows of every call: configurations recur from call to call (not thread-safe)
        self._fb = FrameBuilder()
        self._align_cache: dict[Layer, dict[tuple[str, str], int]] = {}
        self._grid_cache: dict[tuple[int, int], np.ndarray] = {}
        # layer -> (its configurations, stage-1 rows): ids of self._fb's rows
        self._anchor_cache: dict[Layer, tuple[list[KernelConfig], _AnchorRows]] = {}
        self._pred = _Predictions(predictors, self._fb)  # predictions of self._fb's rows

    # -- candidates ------------------------------------------------------------------------
    def _grid(self, layer: Layer, cfgs: list[KernelConfig]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
        """Each configuration on its own aligned split grid (no 0).

        Returns (cfg_of, split_of, grid_of_cfg, grids, offset): the (configuration, split)
        pairs, which grid each configuration uses, the grids, and each configuration's
        first pair index."""
        n_total = layer_extent(layer)
        aligns = self._aligns(layer)
        by_align: dict[int, int] = {}
        grids: list[np.ndarray] = []
        keys = [(kc.impl, kc.params) for kc in cfgs]
        uniq = list(dict.fromkeys(keys))  # each (implementation, params) once, in order
        todo = [key for key in uniq if key not in aligns]
        if todo:
            aligns.update(zip(todo, split_aligns(todo, as_problem(layer))))
        grid_of_key: dict[tuple[str, str], int] = {}
        for key in uniq:
            a = aligns[key]
            g = by_align.get(a)
            if g is None:
                g = by_align[a] = len(grids)
                grids.append(self._split_grid(n_total, a))
            grid_of_key[key] = g
        grid_of_cfg = np.fromiter(map(grid_of_key.__getitem__, keys), np.int64, len(keys))
        if not cfgs:
            empty = np.zeros(0, np.int64)
            return empty, empty, grid_of_cfg, grids, empty
        glens = np.array([len(g) for g in grids], np.int64)
        lens = glens[grid_of_cfg]
        offset = np.cumsum(lens) - lens
        cfg_of = np.repeat(np.arange(len(cfgs)), lens)
        # split_of[p] = grids[grid_of_cfg[c]][p - offset[c]] for the pair's configuration c
        gstart = np.cumsum(glens) - glens
        split_of = np.concatenate(grids)[gstart[grid_of_cfg][cfg_of]
                                         + np.arange(len(cfg_of)) - offset[cfg_of]]
        return cfg_of, split_of, grid_of_cfg, grids, offset

    def _aligns(self, layer: Layer) -> dict[tuple[str, str], int]:
        """The layer's memo of split alignments by (implementation, params JSON)."""
        out = self._align_cache.get(layer)
        if out is None:
            if len(self._align_cache) > 1024:
                self._align_cache.clear()
            out = self._align_cache[layer] = {}
        return out

    def _split_grid(self, n_total: int, align: int) -> np.ndarray:
        """``split_points`` without 0 (memoised)."""
        key = (n_total, align)
        g = self._grid_cache.get(key)
        if g is None:
            if len(self._grid_cache) > 4096:
                self._grid_cache.clear()
            g = self._grid_cache[key] = np.array(
                split_points(n_total, self.options.steps, align)[1:], np.int64)
        return g

    def _kernel_rows(self, layer: Layer, cfgs: list[KernelConfig], cfg_of: np.ndarray,
                     split_of: np.ndarray, fb: FrameBuilder, rows: _Rows,
                     mode: str | None = None) -> np.ndarray:
        """Rows (configuration, memory mode (default: reference), split) of the GPU frame."""
        gdev, gplat = self._gpu_dev
        mode = mode or self.ref_mode
        cid = np.array([fb.config_id("gpu", gdev, gplat, kc, None, mode) for kc in cfgs],
                       np.int64)
        uniq, inv = np.unique(split_of, return_inverse=True)
        shape = fb.split_shape_ids(layer, uniq)[inv.reshape(-1)]
        return rows.add(cid[cfg_of] if len(cfg_of) else cid[:0], shape)

    def _prune(self, items: list[tuple[str, int, Layer]], all_cfgs: list[list[KernelConfig]],
               fb: FrameBuilder, pred: _Predictions) -> list[list[KernelConfig]]:
        """Stage 1: keep, per anchor split, the top-k configurations by predicted GPU time
        (each configuration at its grid point nearest the anchor), and the best one of each
        split grid (alignment)."""
        k = self.options.prune_top_k
        rows = _Rows()
        spans = []
        for (_n, _c, layer), cfgs in zip(items, all_cfgs):
            if len(cfgs) <= k * len(self.options.anchors):
                spans.append(None)  # nothing to gain: keep every configuration
                continue
            cfg_ids, shape_ids, near, grid_of_cfg = self._anchor_points(layer, cfgs, fb)
            idx = rows.add(cfg_ids, shape_ids)
            spans.append(([idx[nr] for nr in near], grid_of_cfg))
        if not rows.n:
            return all_cfgs
        if self.gpu_mode == "total":
            t = pred(GPU_TOTAL, rows)
        else:
            kernel, dispatch = pred.many([(GPU_COMPONENTS[0], rows, False),
                                          (GPU_COMPONENTS[1], rows, False)])
            t = kernel + dispatch
        out = []
        for span, cfgs in zip(spans, all_cfgs):
            if span is None:
                out.append(cfgs)
                continue
            anchor_rows, grid_of_cfg = span
            kept: set[int] = set()
            rank = np.empty(len(cfgs), np.int64)  # position at the first anchor: best first
            rank[np.argsort(t[anchor_rows[0]], kind="stable")] = np.arange(len(cfgs))
            for r in anchor_rows:  # r[c] = stage-1 row of configuration c at this anchor
                order = np.argsort(t[r], kind="stable")
                kept.update(order[:k].tolist())
                # and the best of every split grid: a finer grid may balance better
                first = np.unique(grid_of_cfg[order], return_index=True)[1]
                kept.update(order[first].tolist())
            out.append([cfgs[c] for c in sorted(kept, key=lambda c: rank[c])])
        return out

    def _anchor_points(self, layer: Layer, cfgs: list[KernelConfig], fb: FrameBuilder
                       ) -> _AnchorRows:
        """Stage-1 rows of a layer's configurations ``cfgs`` (``space.gpu_configs``, which
        are memoised per layer, so this is too): each configuration at its grid point nearest
        each anchor (see ``_AnchorRows``)."""
        memo = self._anchor_cache.get(layer)
        if memo is not None and memo[0] is cfgs:
            return memo[1]
        n_total = layer_extent(layer)
        cfg_of, split_of, grid_of_cfg, grids, offset = self._grid(layer, cfgs)
        near = []
        for r in self.options.anchors:  # per configuration, its point nearest r * N
            j = np.array([int(np.argmin(np.abs(g - r * n_total))) for g in grids], np.int64)
            near.append(offset + j[grid_of_cfg] if len(cfgs) else np.zeros(0, np.int64))
        pts = np.unique(np.concatenate(near)) if near and len(cfg_of) else np.zeros(0, int)
        scratch = _Rows()
        self._kernel_rows(layer, cfgs, cfg_of[pts], split_of[pts], fb, scratch)
        out = (scratch.cfg[0], scratch.shape[0], [np.searchsorted(pts, nr) for nr in near],
               grid_of_cfg)
        if len(self._anchor_cache) > 1024:
            self._anchor_cache.clear()
        self._anchor_cache[layer] = (cfgs, out)
        return out

    def _prune_cpu(self, items: list[tuple[str, int, Layer]],
                   all_cfgs: list[list[tuple[KernelConfig, int]]], fb: FrameBuilder,
                   pred: _Predictions) -> list[list[tuple[KernelConfig, int]]]:
        """CPU stage 1: keep the ``cpu_top_k`` fastest CPU configurations at each CPU
        share in ``cpu_anchors``, ranked as ``_decide`` ranks them: at the whole layer (a
        CPU-only plan) with the runtime's factors per thread count
        (``SyncModel.cpu_factor``), elsewhere (a split's CPU part) as predicted."""
        k, anchors = self.options.cpu_top_k, self.options.cpu_anchors
        rows = _Rows()
        spans = []
        for (_n, _c, layer), cfgs in zip(items, all_cfgs):
            if len(cfgs) <= k:
                spans.append(None)
                continue
            n_total = layer_extent(layer)
            g = split_granule(layer)
            ccid = np.array([fb.cpu_config_id(self._cpu_dev, kc, t) for kc, t in cfgs],
                            np.int64)
            widths = sorted({max(g, int(round(r * n_total / g)) * g) for r in anchors})
            sids = fb.split_shape_ids(layer, widths)
            idx = rows.add(np.tile(ccid, len(widths)), np.repeat(sids, len(cfgs)))
            tcs = np.array([tc for _kc, tc in cfgs], np.int64)
            fac = self.sync.cpu_factor(tcs, layer_flops(layer)) \
                * self.sync.cpu_neighbour_factor(tcs, layer)  # a ranking: level irrelevant
            scale = np.where(np.array(widths)[:, None] >= n_total, fac[None, :], 1.0)
            spans.append((idx.reshape(len(widths), len(cfgs)), scale))
        if not rows.n:
            return all_cfgs
        t = pred(CPU_TARGET, rows)
        out = []
        for span, cfgs in zip(spans, all_cfgs):
            if span is None:
                out.append(cfgs)
                continue
            idx, scale = span
            score = t[idx] * scale
            kept: set[int] = set()
            for r in score:
                kept.update(np.argsort(r, kind="stable")[:k].tolist())
            if self.options.shortlist > 1:  # CPU-only alternatives: spread thread counts
                order = np.argsort(score[-1], kind="stable")  # widest share: the layer
                kept.update(spread_threads(order, [tc for _kc, tc in cfgs],
                                           self.options.shortlist, self.options.thread_gap))
            out.append([cfgs[c] for c in sorted(kept)])
        return out

    def _build(self, name: str, count: int, layer: Layer, gpu_cfgs: list[KernelConfig],
               cpu_cfgs: list[tuple[KernelConfig, int]], fb: FrameBuilder,
               rows: dict[str, _Rows], factor: bool) -> _LayerCands:
        """Stage 2: every option of the kept configurations, and the CPU rows. ``factor``:
        memory modes through the reference configuration ``gpu_cfgs[0]`` (see Planner)."""
        n_total = layer_extent(layer)
        modes = list(self.space.mem_modes)
        gdev, gplat = self._gpu_dev
        cfg_of, split_of = self._grid(layer, gpu_cfgs)[:2]
        n_pairs, n_modes = len(cfg_of), len(modes)
        g_cfg = np.tile(cfg_of, n_modes)
        g_split = np.tile(split_of, n_modes)
        g_mode = np.repeat(np.arange(n_modes), n_pairs)
        xs = np.unique(split_of)
        if not factor or not n_pairs:
            # every (configuration, mode, split) predicted as it is
            g_krows = np.concatenate([
                self._kernel_rows(layer, gpu_cfgs, cfg_of, split_of, fb, rows["gpu"], m)
                for m in modes]) if n_pairs else np.zeros(0, np.int64)
            g_xrows = g_xref = g_krows
        else:
            k_rows = self._kernel_rows(layer, gpu_cfgs, cfg_of, split_of, fb, rows["gpu"],
                                       self.ref_mode)
            g_krows = np.tile(k_rows, n_modes)
            # memory-mode rows: reference configuration gpu_cfgs[0] x mode x split
            xcid = np.array([fb.config_id("gpu", gdev, gplat, gpu_cfgs[0], None, m)
                             for m in modes], np.int64)
            xsid = fb.split_shape_ids(layer, xs)
            x_rows = rows["gpu"].add(np.repeat(xcid, len(xs)), np.tile(xsid, n_modes))
            x_rows = x_rows.reshape(n_modes, len(xs))
            x_pos = np.tile(np.searchsorted(xs, split_of), n_modes)
            g_xrows = x_rows[np.repeat(np.arange(n_modes), n_pairs), x_pos]
            g_xref = x_rows[modes.index(self.ref_mode), x_pos]
        # CPU rows: every split a GPU option uses, plus 0 (CPU only); width N - s
        c_splits = np.array(sorted(set(xs.tolist()) - {n_total} | {0}), np.int64)
        ccid = np.array([fb.cpu_config_id(self._cpu_dev, kc, t) for kc, t in cpu_cfgs],
                        np.int64)
        c_cfg = np.tile(np.arange(len(cpu_cfgs)), len(c_splits))
        c_split = np.repeat(c_splits, len(cpu_cfgs))
        c_sid = fb.split_shape_ids(layer, n_total - c_splits)
        c_rows = rows["cpu"].add(ccid[c_cfg] if len(c_cfg) else ccid[:0],
                                 np.repeat(c_sid, len(cpu_cfgs)))
        return _LayerCands(name, count, layer, n_total, gpu_cfgs, cpu_cfgs, modes, g_cfg,
                           g_mode, g_split, g_krows, g_xrows, g_xref, c_cfg, c_split, c_rows)

    # -- planning --------------------------------------------------------------------------
    def plan_layer(self, layer: Layer, name: str = "", count: int = 1) -> PlanChoice:
        """Plan one layer."""
        return self.plan_layers([(name, count, layer)])[0]

    def plan_layers(self, items: list[tuple[str, int, Layer]]) -> list[PlanChoice]:
        """Plan layers given as (name, count, layer): every predictor is called once (twice
        with pruning) for the whole batch."""
        if self._fb.size > _MAX_FRAME_ROWS or self._pred.size > _MAX_MEMO_ROWS:
            self._fb = FrameBuilder()
            self._anchor_cache.clear()
        fb = self._fb
        if not self._pred.serves(self.predictors, fb):
            self._pred = _Predictions(self.predictors, fb)
        pred = self._pred
        all_cfgs = [self.space.gpu_configs(layer) for _n, _c, layer in items]
        if self.options.prune_top_k is not None:
            all_cfgs = self._prune(items, all_cfgs, fb, pred)
        cpu_cfgs = [self.space.cpu_configs(layer) for _n, _c, layer in items]
        cpu_rows = sum(len(c) for c in cpu_cfgs) * (self.options.steps + 1)
        if self.options.cpu_top_k is not None and cpu_rows > CPU_PRUNE_MIN_ROWS:
            cpu_cfgs = self._prune_cpu(items, cpu_cfgs, fb, pred)
        rows = {"gpu": _Rows(), "cpu": _Rows()}
        factor = self.options.prune_top_k is not None
        cands = [self._build(n, c, lay, cfgs, ccfgs, fb, rows, factor)
                 for (n, c, lay), cfgs, ccfgs in zip(items, all_cfgs, cpu_cfgs)]
        risk = self.options.risk == "p90"
        # every predictor at once: CPU rows, and GPU rows (kernel rows (configuration, ref
        # mode, s) and mode rows (c0, m, s) in one set)
        gpu_targets = (GPU_TOTAL,) if self.gpu_mode == "total" else GPU_COMPONENTS
        wanted = [(target, which, hi) for target, which in
                  [(CPU_TARGET, "cpu"), *((t, "gpu") for t in gpu_targets)]
                  for hi in ((False, True) if risk else (False,))]
        got = dict(zip([(target, hi) for target, _w, hi in wanted],
                       pred.many([(target, rows[which], hi) for target, which, hi in wanted])))

        def run(target: str) -> tuple[np.ndarray, np.ndarray]:
            return got[(target, False)], got[(target, risk)]

        c_pt, c_hi = run(CPU_TARGET)
        if self.gpu_mode == "total":
            k_pt, k_hi = run(GPU_TOTAL)
            x_pt, x_hi = k_pt, k_hi
        else:
            k_pt, k_hi = run(GPU_COMPONENTS[0])
            d_pt, d_hi = run(GPU_COMPONENTS[1])
            k_pt, k_hi = k_pt + d_pt, k_hi + d_hi
            x_pt, x_hi = run(GPU_COMPONENTS[2])
        out = []
        for lc in cands:
            gp, gh = k_pt[lc.g_krows] + x_pt[lc.g_xrows], k_hi[lc.g_krows] + x_hi[lc.g_xrows]
            if self.gpu_mode == "total":  # the reference mode is inside total(c, ref, s)
                gp, gh = gp - x_pt[lc.g_xref], gh - x_hi[lc.g_xref]
            out.append(self._decide(lc, c_pt[lc.c_rows], c_hi[lc.c_rows], gp, gh))
        return out

    def _decide(self, lc: _LayerCands, c_pt: np.ndarray, c_hi: np.ndarray, g_pt: np.ndarray,
                g_hi: np.ndarray) -> PlanChoice:
        o = self.options
        risk = o.risk == "p90"
        n = lc.n_total
        c_pt, c_hi, g_pt, g_hi = (np.maximum(v, 0.0) for v in (c_pt, c_hi, g_pt, g_hi))
        cfg_threads = np.array([t for _kc, t in lc.cpu_cfgs], np.int64)
        threads = cfg_threads[lc.c_cfg] if len(lc.c_cfg) else np.zeros(0, np.int64)
        # the runtime's own overhead around a CPU-only run (split plans: inside sync), and
        # its thread counts reordered as the runtime's rounds measured them (where fitted)
        fac = self.sync.cpu_factor(cfg_threads, layer_flops(lc.layer))[lc.c_cfg] \
            if len(lc.c_cfg) else np.ones(0)
        alone = lc.c_split == 0
        fac = np.where(alone, fac, 1.0)
        c_off = np.where(alone, float(self.sync.single_us("cpu")[0]), 0.0)
        c_pt, c_hi = c_pt * fac, c_hi * fac
        if self.sync.cpu_neighbours is not None and alone.any():
            # thread counts reordered by the measured neighbours' profiles; the best
            # CPU-only plan keeps its time (the CPU's level against the GPU is the
            # predictors')
            nf = self.sync.cpu_neighbour_factor(cfg_threads, lc.layer)[lc.c_cfg]
            c_pt, c_hi = (_reorder(v, nf, alone) for v in (c_pt, c_hi))
        c_pt, c_hi = c_pt + c_off, c_hi + c_off
        # best CPU configuration per split (by the score in use)
        c_score = c_hi if risk else c_pt
        # co-execution leaves a core to the host thread that drives the GPU
        limit = self.coexec_max_threads
        c_score = np.where((lc.c_split == 0) | (threads <= limit), c_score, np.inf)
        order = np.lexsort((c_score, lc.c_split))
        first = np.ones(len(order), bool)
        first[1:] = lc.c_split[order][1:] != lc.c_split[order][:-1]
        best_j = order[first]                    # row of the best CPU config per split
        best_j = best_j[np.isfinite(c_score[best_j])]
        best_s = lc.c_split[best_j]              # sorted splits
        n_cands = len(c_pt) + len(g_pt)
        # GPU options: split or GPU-only
        s_arr = lc.g_split
        is_split = s_arr < n
        out_bytes = s_arr * float(gpu_block_bytes(lc.layer, 1))
        # the overhead models per memory mode, then per option (lc.g_mode: mode indices)
        modes = np.array(lc.modes, dtype=object)
        m = lc.g_mode
        base, per_mib = self.sync.sync_line(lc.modes)
        mib = activation_mib(lc.layer)
        sync = np.where(is_split, base[m] + per_mib[m] * out_bytes / 2**20,
                        self.sync.single_us(modes, mib)[m])
        if self.sync.split_floor == "single" and is_split.any():
            # a split's GPU part moves the layer's input and its output block: it pays at
            # least what a GPU-only plan moving as much pays
            part = part_activation_mib(lc.layer, s_arr[is_split])
            floor = self.sync.single_us(modes[m[is_split]], part)
            sync[is_split] = np.maximum(sync[is_split], floor)
        g_pt, g_hi, sync = self._mode_ratios(lc, is_split, mib, g_pt, g_hi, sync)
        pos = np.minimum(np.searchsorted(best_s, s_arr), max(len(best_s) - 1, 0))
        found = (best_s[pos] == s_arr) if len(best_s) else np.zeros(len(s_arr), bool)
        cj = np.where(found, best_j[pos] if len(best_j) else 0, -1)
        c_at_pt = np.where(is_split, c_pt[np.maximum(cj, 0)] if len(c_pt) else 0.0, 0.0)
        c_at_hi = np.where(is_split, c_hi[np.maximum(cj, 0)] if len(c_hi) else 0.0, 0.0)
        valid = ~is_split | (cj >= 0)
        # the two parts of a split slow each other down (measured per memory mode)
        fg, fc = self.sync.slowdown(modes)
        fg, fc = np.where(is_split, fg[m], 1.0), np.where(is_split, fc[m], 1.0)
        g_pt, g_hi = g_pt * fg, g_hi * fg
        c_at_pt, c_at_hi = c_at_pt * fc, c_at_hi * fc
        # split plans as the runtime's measured ones relate to their prediction (per mode)
        sf = np.where(is_split, self.sync.split_scale(modes)[m], 1.0)
        t_pt = (np.maximum(g_pt, c_at_pt) + sync) * sf
        t_hi = (np.maximum(g_hi, c_at_hi) + sync) * sf
        score = np.where(valid, t_hi if risk else t_pt, np.inf)
        # CPU only
        j0 = int(best_j[0]) if len(best_s) and best_s[0] == 0 else None
        cpu_only_score = (c_score[j0] if j0 is not None else np.inf)
        # best single-device plan (CPU only vs GPU only), legal
        gpu_only = np.flatnonzero(~is_split)
        gi = self._first_legal(lc, gpu_only[np.argsort(score[gpu_only], kind="stable")])
        single_is_cpu = gi is None or cpu_only_score <= score[gi]
        if single_is_cpu and j0 is None:
            raise bad_value("layer", lc.name or str(lc.layer), "no legal CPU or GPU plan")
        if single_is_cpu:
            single = Plan(0, n, None, self._cpu_cfg(lc, j0))
            single_score, single_pt = cpu_only_score, float(c_pt[j0])
            single_parts = (float(c_pt[j0]), 0.0, 0.0)
        else:
            single = Plan(n, n, self._gpu_cfg(lc, gi), None)
            single_score, single_pt = float(score[gi]), float(t_pt[gi])
            single_parts = (0.0, float(g_pt[gi]), float(sync[gi]))
        # best split
        split_idx = np.flatnonzero(is_split & valid)
        si = self._first_legal(lc, split_idx[np.argsort(score[split_idx], kind="stable")])
        best_split, split_us = None, math.nan
        if si is not None:
            s = int(s_arr[si])
            best_split = Plan(s, n, self._gpu_cfg(lc, si), self._cpu_cfg(lc, cj[si]))
            split_us = float(t_pt[si])
        take_split = si is not None and score[si] < single_score * (1.0 - o.margin)
        if take_split:
            plan, plan_us, risk_us = best_split, split_us, float(t_hi[si])
            parts = (float(c_at_pt[si]), float(g_pt[si]), float(sync[si]))
            gain = 1.0 - score[si] / single_score
            reason = f"split predicted {100 * gain:.1f}% faster than {single.kind} only"
        else:
            plan, plan_us = single, single_pt
            risk_us = float(c_hi[j0]) if single_is_cpu else float(t_hi[gi])
            parts = single_parts
            if si is None:
                reason = "no legal split"
            else:
                gain = 1.0 - score[si] / single_score
                reason = (f"best split predicted {100 * gain:.1f}% faster, below the "
                          f"{100 * o.margin:.1f}% margin" if gain > 0 else
                          f"best split predicted {-100 * gain:.1f}% slower")
        choice = PlanChoice(lc.name, lc.count, lc.layer, plan, plan_us, parts[0], parts[1],
                            parts[2], single, single_pt, best_split, split_us,
                            risk_us if risk else math.nan, reason, n_cands)
        choice.shortlist = [(plan, plan_us)]
        if o.shortlist > 1:
            best = min(single_score, float(score[si]) if si is not None else math.inf)
            c_only = np.flatnonzero((lc.c_split == 0) & np.isfinite(c_score))
            c_only = c_only[np.argsort(c_score[c_only], kind="stable")]
            c_only = c_only[spread_threads(np.arange(len(c_only)),
                                           [lc.cpu_cfgs[int(lc.c_cfg[j])][1] for j in c_only],
                                           o.shortlist, o.thread_gap)]
            cands = [(float(c_score[j]), "cpu", Plan(0, n, None, self._cpu_cfg(lc, j)),
                      float(c_pt[j])) for j in c_only]
            g_order = gpu_only[np.argsort(score[gpu_only], kind="stable")]
            # GPU-only options are legal as enumerated (_first_legal checks split parts only)
            cands += [(float(score[i]), "gpu", Plan(n, n, self._gpu_cfg(lc, i), None),
                       float(t_pt[i]))
                      for i in g_order[np.isfinite(score[g_order])][:o.shortlist]]
            if best_split is not None:
                cands.append((float(score[si]), "split", best_split, split_us))
            choice.shortlist = pick_shortlist(plan, plan_us, cands, o.shortlist,
                                              best * (1.0 + o.shortlist_tol))
        return choice

    # -- helpers ---------------------------------------------------------------------------
    def _mode_ratios(self, lc: _LayerCands, is_split: np.ndarray, mib: float,
                     g_pt: np.ndarray, g_hi: np.ndarray, sync: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GPU time and overhead (us, each (options,)) of the GPU-only options whose memory
        mode has a paired ratio curve (``SyncModel.ratio_by_mib``): those of the option of
        the same configuration in the reference mode times the ratio, blended with their
        own by the curve's weight (``SyncModel.mode_ratio``); the rest unchanged. Options
        are laid out as ``len(lc.modes)`` blocks of the same (configuration, split) pairs
        (``_build``)."""
        ref = self.sync.ratio_ref
        if not self.sync.ratio_by_mib or ref not in lc.modes or not len(lc.g_mode):
            return g_pt, g_hi, sync
        ratio, weight = self.sync.mode_ratio(np.array(lc.modes, dtype=object), mib)
        ratio, w = ratio[lc.g_mode], weight[lc.g_mode]
        use = ~is_split & np.isfinite(ratio) & (w > 0) & (lc.g_mode != lc.modes.index(ref))
        if not use.any():
            return g_pt, g_hi, sync
        n_pairs = len(lc.g_mode) // len(lc.modes)
        at = lc.modes.index(ref) * n_pairs + np.arange(len(lc.g_mode)) % n_pairs

        def blend(v: np.ndarray) -> np.ndarray:
            return np.where(use, w * v[at] * ratio + (1 - w) * v, v)

        new_pt, new_hi, new_sync = blend(g_pt), blend(g_hi), blend(sync)
        # relative: the ratios reorder the GPU-only plans; the best one keeps the level the
        # predictor gave it against the CPU
        alone = ~is_split
        old_best, new_best = np.min((g_pt + sync)[alone]), np.min((new_pt + new_sync)[alone])
        scale = np.where(alone, old_best / new_best, 1.0) if new_best > 0 else 1.0
        return new_pt * scale, new_hi * scale, new_sync * scale

    def _first_legal(self, lc: _LayerCands, order: np.ndarray) -> int | None:
        """The first GPU option in ``order`` whose configuration is legal for its part
        (configurations are enumerated on the full layer; parts are checked lazily)."""
        from latpred.profiler.kernels import get

        problem = as_problem(lc.layer)
        for i in order:
            kc = lc.gpu_cfgs[int(lc.g_cfg[i])]
            s = int(lc.g_split[i])
            if s == lc.n_total:
                return int(i)
            impl = get(kc.impl)
            params = json.loads(kc.params)
            mode = lc.modes[int(lc.g_mode[i])]
            sub = part_problem(problem, 0, s, "opencl",
                               mode == "svm_fine" and can_write_in_place(problem, 0))
            if impl.shape_reason(sub, params):
                continue
            local = parse_local_size(kc.local_size)
            if local not in impl.local_sizes(sub, params, self.space.gpu_limits):
                continue
            return int(i)
        return None

    def _gpu_cfg(self, lc: _LayerCands, i: int) -> GpuConfig:
        kc = lc.gpu_cfgs[int(lc.g_cfg[i])]
        return GpuConfig(kc.impl, json.loads(kc.params), parse_local_size(kc.local_size),
                         lc.modes[int(lc.g_mode[i])])

    def _cpu_cfg(self, lc: _LayerCands, j: int) -> CpuConfig:
        kc, threads = lc.cpu_cfgs[int(lc.c_cfg[j])]
        if kc.impl == "blas":
            return CpuConfig(threads)
        return CpuConfig(threads, "opencl", kc.impl, json.loads(kc.params),
                         parse_local_size(kc.local_size))


# -- helpers ---------------------------------------------------------------------------------
def spread_threads(order: np.ndarray, threads: list[int], k: int, gap: float) -> list[int]:
    """The first ``k`` entries of ``order`` (indices into ``threads``, best first) whose
    thread counts differ from every one taken before by more than ``gap`` x the larger."""
    taken: list[int] = []
    for i in order:
        t = threads[int(i)]
        if all(abs(t - threads[j]) > gap * max(t, threads[j]) for j in taken):
            taken.append(int(i))
            if len(taken) == k:
                break
    return taken


def pick_shortlist(plan: Plan, plan_us: float, cands: list[tuple[float, str, Plan, float]],
                   k: int, limit: float) -> list[tuple[Plan, float]]:
    """``k`` plans (with predicted us): ``plan`` first, then the best candidate of each
    other single-device kind ("cpu", "gpu": whatever its score, so that a measurement
    always sees both devices), then the best split and the rest by score, those scoring
    above ``limit`` dropped. ``cands``: (score, kind, plan, predicted us)."""
    out = [(plan, plan_us)]
    seen = {plan.describe()}
    ranked = sorted(cands, key=lambda c: c[0])
    kinds = {plan.kind}
    firsts = []
    for c in ranked:
        if c[1] not in kinds and (c[1] in ("cpu", "gpu") or c[0] <= limit):
            kinds.add(c[1])
            firsts.append(c)
    ok = [c for c in ranked if c[0] <= limit]
    for c in firsts + ok:
        if len(out) >= k:
            break
        d = c[2].describe()
        if d not in seen:
            seen.add(d)
            out.append((c[2], c[3]))
    return out


def choices_frame(choices: list[PlanChoice]) -> pd.DataFrame:
    """One row per layer (PlanChoice.as_row)."""
    return pd.DataFrame([c.as_row() for c in choices])


def network_summary(choices: list[PlanChoice]) -> dict[str, float]:
    """Count-weighted predicted totals (us) of the chosen and the single-device plans."""
    plan = sum(c.count * c.plan_us for c in choices)
    single = sum(c.count * c.single_us for c in choices)
    return {"plan_us": plan, "single_us": single,
            "predicted_speedup": single / plan if plan > 0 else math.nan,
            "layers": len(choices), "split_layers": sum(c.plan.kind == "split" for c in choices)}

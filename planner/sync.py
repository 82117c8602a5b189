"""Co-execution overhead per synchronisation mechanism, measured on small layers.

For each memory mode the GPU supports, three linear layers with little compute (GPU output
blocks of 128 B, 64 KiB and 8 MiB) are split in half and run three ways: co-executed, GPU
part alone, CPU part alone. The overhead is

    sync_us = T(co-executed) - max(T(GPU part alone), T(CPU part alone))

(thread hand-off, waiting, merging the GPU block), fitted as ``base_us + per_mib_us *
(GPU block output MiB)`` through the points (least squares). The planner adds it to every
split plan. Single-device plans get the runtime's own overhead around the part the
predictors model (``measure_single``: GPU-only runs per memory mode, and a CPU-only run);
split plans' parts their measured slowdown beside each other (``measure_interference``).

Stored as ``sync.json`` next to the models::

    {"version": 1,
     "pairs": {"<gpu device> | <cpu device>": {
         "gpu": "<gpu device>", "cpu": "<cpu device>", "cpu_threads": 1, "measured": "...",
         "modes": {"buffer": {"base_us": 41.0, "per_mib_us": 95.0, "points": [...]}, ...},
         "single": {"cpu": 2.0, "buffer": 40.0, ...}}}}
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from latpred.models.extrapolation import fade_share
from latpred.planner.measure import TimingPolicy, measure_run
from latpred.planner.runtime import CoexecRun, CpuConfig, GpuConfig, Plan
from latpred.planner.split import sub_problem
from latpred.planner.thread_prior import ThreadNeighbours
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.problems import LinearLayer

from latpred.errors import bad_value

log = logging.getLogger(__name__)

SYNC_FILE = "sync.json"
#: the layers the split overhead is measured on, split in half: GPU block outputs of 128 B,
#: 64 KiB and 8 MiB (two tiny ones and one whose output block is as large as a big conv's:
#: on the H100 host the buffer-mode overhead of 4-16 MiB blocks was 2.5-9x the tiny layers',
#: which a fit through 128 B and 64 KiB alone put at 0 us/MiB), little compute each
SYNC_LAYERS = (LinearLayer(1, 64, 32), LinearLayer(64, 512, 16), LinearLayer(2048, 2048, 16))
#: the layers of the single-device overhead (``measure_single``): the tiny ones
SINGLE_LAYERS = SYNC_LAYERS[:2]
#: the layer of the interference measurement (``measure_interference``): split in half, a
#: CPU part busy for ~0.5-1 ms on a server CPU (1 GFLOP) next to a GPU part that moves an
#: 8 MiB output block
INTERFERENCE_LAYER = LinearLayer(2048, 2048, 256)
#: overhead assumed when no measurement exists for a mode (us)
DEFAULT_SYNC_US = 50.0
#: doublings of activations beyond the last knot of a GPU-only overhead curve over which it
#: fades to the memory mode's constant (``SyncModel.single_by_mib``)
CURVE_FADE_DOUBLINGS = 1.0
#: where those curves start to fade: "longest" (each held flat from its last knot up to the
#: last knot of the longest curve, then all fade together) or "own" (each past its own last
#: knot; ``SyncModel.curve_fade_from``)
CURVE_FADE_FROM = ("longest", "own")
#: what a curve does between its last knot and where it fades: "flat" (held at its last
#: value) or "proportional" (its last value grows with the activations moved, us x MiB /
#: last knot's MiB; ``SyncModel.curve_beyond``)
CURVE_BEYOND = ("flat", "proportional")
#: what a split plan's overhead is at least: "none" (its sync line alone) or "single" (the
#: GPU-only overhead of the activations its GPU part moves; ``SyncModel.split_floor``)
SPLIT_FLOOR = ("none", "single")


def pair_key(gpu_name: str, cpu_name: str) -> str:
    return f"{gpu_name} | {cpu_name}"


def measure_sync(gpu_dev: OpenCLDevice, cpu_threads: int = 1, modes: list[str] | None = None,
                 policy: TimingPolicy | None = None, impl: str = "gemm_naive",
                 rounds: int = 3, seed: int = 0,
                 interference_layer: LinearLayer | None = INTERFERENCE_LAYER) -> dict[str, Any]:
    """Measure the co-execution overhead of each memory mode on ``gpu_dev`` (see module).

    Args:
        gpu_dev: the GPU.
        cpu_threads: BLAS threads of the CPU part.
        modes: memory modes (default: all the device supports).
        policy: timing policy (default: the harness default).
        impl: the GPU kernel of the layers (any legal one; the overhead is what counts).
        rounds: interleaved measurement rounds per point (median taken).
        interference_layer: the layer of ``measure_interference`` (None: not measured).

    Returns:
        the pair entry of ``sync.json`` (``modes`` -> ``base_us``, ``per_mib_us``, points;
        ``single``; ``interference``).
    """
    from latpred.profiler.devices import cpu_info
    from latpred.profiler.kernels import get

    policy = policy or TimingPolicy()
    modes = modes or list(gpu_dev.mem_modes)
    for m in modes:
        if m not in gpu_dev.mem_modes:
            raise bad_value("mem_mode", m, f"not supported by {gpu_dev.name}")
    kernel = get(impl)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for mode in modes:
        points = []
        for layer in SYNC_LAYERS:
            prob = layer.gemm()
            s = prob.N // 2
            plan = Plan(s, prob.N, _gpu_config(kernel, prob, s, mode, gpu_dev),
                        CpuConfig(cpu_threads))
            arrays = prob.arrays(rng)
            stats = _measure_interleaved(prob, arrays, _sides(plan), gpu_dev, policy, rounds)
            times = {k: _median(v, "total_us") for k, v in stats.items()}
            sync_us = max(0.0, times["both"] - max(times["gpu"], times["cpu"]))
            points.append({"layer": f"m={layer.m} n={layer.n} k={layer.k}",
                           "gpu_out_bytes": 4 * prob.M * s, "coexec_us": times["both"],
                           "gpu_us": times["gpu"], "cpu_us": times["cpu"], "sync_us": sync_us})
        out[mode] = _fit(points)
        log.info("sync %s: base %.1f us + %.1f us/MiB", mode, out[mode]["base_us"],
                 out[mode]["per_mib_us"])
    single = measure_single(gpu_dev, cpu_threads, modes, policy, impl, rounds, seed)
    entry = {"gpu": gpu_dev.name, "gpu_platform": gpu_dev.platform_name,
             "cpu": cpu_info()["name"], "cpu_threads": cpu_threads,
             "measured": time.strftime("%Y-%m-%dT%H:%M:%S"), "modes": out, "single": single}
    if interference_layer is not None:
        entry["interference"] = measure_interference(gpu_dev, cpu_threads, modes, policy, impl,
                                                     rounds, seed, interference_layer)
    return entry


def measure_interference(gpu_dev: OpenCLDevice, cpu_threads: int = 1,
                         modes: list[str] | None = None, policy: TimingPolicy | None = None,
                         impl: str = "gemm_naive", rounds: int = 3, seed: int = 0,
                         layer: LinearLayer = INTERFERENCE_LAYER) -> dict[str, dict[str, Any]]:
    """How much the two parts of a split slow each other down, per memory mode: ``layer``
    split in half, run co-executed, GPU part alone and CPU part alone (interleaved rounds);
    ``gpu`` = GPU part's end-to-end time co-executed / alone, ``cpu`` = CPU part's compute
    time co-executed / alone (medians; at least 1). On the H100 host a buffer-mode GPU part
    doubled beside 15 BLAS threads (its pageable copies go through driver threads that
    compete with BLAS for the cores) while map mode held up."""
    from latpred.profiler.kernels import get

    policy = policy or TimingPolicy()
    modes = modes or list(gpu_dev.mem_modes)
    kernel = get(impl)
    rng = np.random.default_rng(seed)
    prob = layer.gemm()
    s = prob.N // 2
    arrays = prob.arrays(rng)
    out: dict[str, dict[str, Any]] = {}
    for mode in modes:
        plan = Plan(s, prob.N, _gpu_config(kernel, prob, s, mode, gpu_dev),
                    CpuConfig(cpu_threads))
        stats = _measure_interleaved(prob, arrays, _sides(plan), gpu_dev, policy, rounds)
        g_co, g_alone = (_median(stats[k], "gpu_total_us") for k in ("both", "gpu"))
        c_co, c_alone = (_median(stats[k], "cpu_us") for k in ("both", "cpu"))
        out[mode] = {"gpu": round(max(1.0, g_co / g_alone), 4),
                     "cpu": round(max(1.0, c_co / c_alone), 4),
                     "layer": f"m={layer.m} n={layer.n} k={layer.k}",
                     "gpu_alone_us": g_alone, "gpu_coexec_us": g_co,
                     "cpu_alone_us": c_alone, "cpu_coexec_us": c_co}
        log.info("interference %s: GPU part x%.2f, CPU part x%.2f", mode, out[mode]["gpu"],
                 out[mode]["cpu"])
    return out


def measure_single(gpu_dev: OpenCLDevice, cpu_threads: int = 1, modes: list[str] | None = None,
                   policy: TimingPolicy | None = None, impl: str = "gemm_naive",
                   rounds: int = 3, seed: int = 0) -> dict[str, float]:
    """The runtime's own overhead around single-device plans, on the tiny layers: per
    memory mode, the median over layers and rounds of (wall time of a GPU-only CoexecRun -
    its GPU part's end-to-end time, which is what the GPU predictor learns), and for "cpu"
    of (wall time of a CPU-only run - its BLAS call). Returns {"cpu": us, mode: us, ...}."""
    from latpred.profiler.kernels import get

    policy = policy or TimingPolicy()
    modes = modes or list(gpu_dev.mem_modes)
    kernel = get(impl)
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {"cpu": [], **{m: [] for m in modes}}
    for layer in SINGLE_LAYERS:
        prob = layer.gemm()
        n = prob.N
        arrays = prob.arrays(rng)
        runs = {m: (Plan(n, n, _gpu_config(kernel, prob, n, m, gpu_dev), None), "both")
                for m in modes}
        runs["cpu"] = (Plan(0, n, None, CpuConfig(cpu_threads)), "both")
        stats = _measure_interleaved(prob, arrays, runs, gpu_dev, policy, rounds)
        for side, sts in stats.items():
            inner = "cpu_us" if side == "cpu" else "gpu_total_us"
            diffs[side] += [max(0.0, float(st["total_us"]) - float(st[inner])) for st in sts]
    out = {side: round(float(np.median(v)), 3) for side, v in diffs.items()}
    log.info("single-device runtime overhead (us): %s", out)
    return out


def _gpu_config(kernel: Any, prob: Any, s: int, mode: str, gpu_dev: OpenCLDevice) -> GpuConfig:
    """``kernel`` with its first parameters and first legal work-group on the GPU block
    ``[0, s)`` of GEMM ``prob``, in memory mode ``mode``."""
    params = (kernel.params_space() or [{}])[0]
    local = kernel.local_sizes(sub_problem(prob, 0, s), params, gpu_dev.limits)[0]
    return GpuConfig(kernel.name, params, local, mode)


def _sides(plan: Plan) -> dict[str, tuple[Plan, str]]:
    """A split plan run co-executed, its GPU part alone and its CPU part alone."""
    return {sides: (plan, sides) for sides in ("both", "gpu", "cpu")}


def _measure_interleaved(prob: Any, arrays: dict[str, np.ndarray],
                         plans: dict[str, tuple[Plan, str]], gpu_dev: OpenCLDevice,
                         policy: TimingPolicy, rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Build a CoexecRun of ``prob`` per key of ``plans`` (key -> (plan, sides)), then time
    each one (checked first) in ``rounds`` interleaved rounds, so that drift hits all
    alike; release them. Returns key -> the rounds' ``measure_run`` stats."""
    runs: dict[str, CoexecRun] = {}
    stats: dict[str, list[dict[str, Any]]] = {k: [] for k in plans}
    try:
        for k, (plan, sides) in plans.items():
            runs[k] = CoexecRun(prob, arrays, plan, gpu_dev, sides=sides)
        for _ in range(rounds):
            for k, run in runs.items():
                first = run.run_once()
                run.check()
                stats[k].append(measure_run(run.run_once, policy, first=first))
    finally:
        for run in runs.values():
            run.release()
    return stats


def _median(stats: list[dict[str, Any]], key: str) -> float:
    return float(np.median([st[key] for st in stats]))


def _fit(points: list[dict[str, Any]]) -> dict[str, Any]:
    """``base_us + per_mib_us * MiB`` through the points: least squares, both terms >= 0
    (a negative slope becomes 0 and the base the mean)."""
    x = np.array([p["gpu_out_bytes"] / 2**20 for p in points])
    y = np.array([p["sync_us"] for p in points])
    if len(points) >= 2 and np.ptp(x) > 0:
        slope, base = (float(v) for v in np.polyfit(x, y, 1))
        if slope < 0:
            slope, base = 0.0, float(np.mean(y))
        base = max(0.0, base)
    else:
        slope, base = 0.0, float(np.mean(y))
    return {"base_us": round(base, 3), "per_mib_us": round(slope, 3), "points": points}


def save_sync(models_dir: str | os.PathLike, entry: dict[str, Any]) -> Path:
    """Merge one pair entry into ``models_dir/sync.json`` (atomic write); returns the path."""
    path = Path(models_dir) / SYNC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {"version": 1, "pairs": {}}
    data.setdefault("pairs", {})[pair_key(entry["gpu"], entry["cpu"])] = entry
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
    return path


@dataclass
class SyncModel:
    """Predicted co-execution overhead: ``base_us + per_mib_us * GPU block MiB`` per mode
    for split plans, and the runtime's own overhead around a single-device plan
    (``single``: "cpu" and each GPU memory mode -> us; 0 where not measured).

    The predictors learn the profiler's times (one OpenCL run, or one BLAS call); the
    runtime that executes a plan adds its own work around them (staging the GPU part's
    arrays, waiting, the result in place): on the H100 host ~20-45 us per GPU-only run by
    memory mode and ~2 us per CPU-only run, enough to pick the wrong device or memory mode
    on small layers when left out. ``interference``: how much a split's two parts slow each
    other down (``measure_interference``), factors on their predicted times.
    """

    modes: dict[str, tuple[float, float]] = field(default_factory=dict)
    default_us: float = DEFAULT_SYNC_US
    source: str = "default"
    single: dict[str, float] = field(default_factory=dict)
    #: memory mode -> (GPU part, CPU part) slowdown when co-executed (1.0 where not measured)
    interference: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: memory mode -> (MiB knots, us): the GPU-only overhead as a function of the
    #: activations moved (``split.activation_mib``), interpolated in log MiB, flat below
    #: the first knot; refitted on runtime rows (``calibrate.mode_overheads``). Overrides
    #: ``single`` for that mode where the layer's MiB is known. Beyond the last knot (of
    #: the longest curve: ``curve_fade_from``) it fades to the mode's constant (``single``)
    #: over ``curve_fade_doublings``: the curve
    #: corrects the GPU predictor on the layers it was fitted on, and its last knot (one
    #: layer's gap, e.g. +3.5 ms at 24.5 MiB in buffer mode on the H100 host, where map's
    #: curve ends at 12.25 MiB with +0.5 ms) would otherwise decide the memory mode of
    #: every larger layer.
    single_by_mib: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict)
    #: BLAS threads -> (FLOP knots, factors): the runtime's time of a CPU-only plan over
    #: the CPU predictor's, as a function of the layer's FLOPs (interpolated in log FLOPs
    #: and log factor, flat beyond the ends); refitted on runtime rows
    #: (``calibrate.cpu_thread_factors``); applied relative to the thread counts' mean
    #: (``cpu_factor``).
    cpu_by_threads: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict)
    #: memory mode -> the runtime's time of split plans over their predicted time
    #: (``max(GPU part, CPU part) + sync``), refitted on measured split plans
    #: (``calibrate.split_factors``); 1.0 where not fitted (``split_scale``)
    split_factor: dict[str, float] = field(default_factory=dict)
    #: doublings past a ``single_by_mib`` curve's last knot over which it fades to the
    #: mode's constant (``inf``: held flat, as before session 32)
    curve_fade_doublings: float = CURVE_FADE_DOUBLINGS
    #: where the ``single_by_mib`` curves start to fade (sync.json ``curve_fade_from``):
    #: "longest" (default since session 40), every curve held flat from its last knot up
    #: to the last knot of the longest one, and all fading together past it; "own" (the
    #: planner of sessions 32-39), past each curve's own last knot. The curves choose
    #: between memory modes, so they are compared at one size: with "own", a mode whose
    #: curve ends early (map at 3.35 MiB on the H100 host, buffer at 12.25 MiB) falls back
    #: to its constant where the other still carries its measured size term, and wins the
    #: layers in between whatever the rounds said (map ran 1.06-1.46x slower than buffer
    #: there; BENCHMARKS.md section 5, session 40).
    curve_fade_from: str = "longest"
    #: a ``single_by_mib`` curve past its last knot, before and while it fades (sync.json
    #: ``curve_beyond``): "flat" (held at its last value, the planner of sessions 32-41)
    #: or "proportional" (its last value, if positive, times MiB / the last knot's MiB: a
    #: mode's overhead is a copy or a mapping of the activations, so it grows with them).
    #: On the H100 host map's curve ends at 3.35 MiB (+95 us) and buffer's at 12.25 MiB
    #: (+276 us); held flat, map's won GPU-only plans of 6-16 MiB that ran 1.3-1.7x slower
    #: mapped than in buffers (BENCHMARKS.md section 5, session 42).
    curve_beyond: str = "flat"
    #: a split plan's overhead at least (sync.json ``split_floor``): "none" (its sync line,
    #: measured on small layers, as before session 43) or "single" (at least
    #: ``single_us`` of its GPU part's activations, ``split.part_activation_mib``: the
    #: part moves its input and output block as a GPU-only plan of that size would, and the
    #: GPU predictor misses the same share of it; on the H100 host, with curves refitted to
    #: +0.4-0.7 ms at 8-11 MiB, a 62 %-GPU split of an 11 MiB layer otherwise looked 0.6 ms
    #: cheaper than its GPU-only plan and ran 1.8x slower)
    split_floor: str = "none"
    #: memory mode -> (MiB knots, log ratios): a GPU-only plan's wall time in that mode over
    #: the same kernel configuration's in ``ratio_ref`` (buffer), as the runtime's rounds
    #: timed them in pairs, by the activations moved (``split.activation_mib``),
    #: interpolated in log MiB, flat below the first knot (``calibrate.mode_ratios``).
    #: Where a mode has one, the planner scores its GPU-only plans as the reference mode's
    #: plan of the same configuration times the ratio (``mode_ratio``), instead of the GPU
    #: predictor's own mode term plus ``single_us``: the predictors learn memory modes from
    #: few profiler rows, and the pairs time them side by side on real layers. Past the
    #: last knot the planner's score fades back to the predictor's over
    #: ``curve_fade_doublings``.
    ratio_by_mib: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict)
    #: the memory mode ``ratio_by_mib`` is relative to
    ratio_ref: str = "buffer"
    #: the runtime's thread-count profiles of measured layers (sync.json
    #: ``cpu_thread_neighbours``, ``thread_prior.ThreadNeighbours``): where present,
    #: ``cpu_neighbour_factor`` reorders a layer's CPU-only thread counts by its nearest
    #: neighbours' profile (the planner keeps the best one's time). None: off.
    cpu_neighbours: ThreadNeighbours | None = None

    def __post_init__(self) -> None:
        _check_choice("curve_fade_from", self.curve_fade_from, CURVE_FADE_FROM)
        _check_choice("curve_beyond", self.curve_beyond, CURVE_BEYOND)
        _check_choice("split_floor", self.split_floor, SPLIT_FLOOR)

    def slowdown(self, mode: str | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(GPU part, CPU part) factors of split plans in memory mode ``mode`` (scalar or
        array), each at least 1-d; 1.0 where not measured."""
        return (_per_mode({m: f[0] for m, f in self.interference.items()}, mode, 1.0),
                _per_mode({m: f[1] for m, f in self.interference.items()}, mode, 1.0))

    def split_scale(self, mode: str | np.ndarray) -> np.ndarray:
        """Factor on the predicted time of split plans in memory mode ``mode`` (scalar or
        array; result at least 1-d): ``split_factor``, 1.0 where not fitted."""
        return _per_mode(self.split_factor, mode, 1.0)

    def single_us(self, side: str | np.ndarray, mib: float | np.ndarray | None = None
                  ) -> np.ndarray:
        """Runtime overhead (us) of single-device plans: ``side`` "cpu" or a GPU memory
        mode (scalar or array); 0 where not measured. ``mib``: the layer's activations
        (``split.activation_mib``; scalar or an array like ``side``), for the modes with a
        size curve (``single_by_mib``). Result at least 1-d."""
        sides = np.atleast_1d(np.asarray(side, dtype=object))
        out = _per_mode(self.single, sides, 0.0)
        if mib is not None and self.single_by_mib:
            size = np.broadcast_to(np.asarray(mib, float), sides.shape)
            longest = max(knots[-1] for knots, _us in self.single_by_mib.values())
            for k, (knots, us) in self.single_by_mib.items():
                sel = (sides == k) & (size > 0)
                at = size[sel]
                lx = np.log2(at)
                curve = np.interp(lx, np.log2(knots), us)
                if self.curve_beyond == "proportional" and us[-1] > 0:
                    past = at > knots[-1]
                    curve[past] = us[-1] * at[past] / knots[-1]
                end = longest if self.curve_fade_from == "longest" else knots[-1]
                keep = fade_share(lx - np.log2(end), self.curve_fade_doublings)
                base = out[sel]  # the mode's constant, as _per_mode filled it
                out[sel] = base + keep * (curve - base)
        return out

    def mode_ratio(self, mode: str | np.ndarray, mib: float
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(ratio, weight), each float64 (len(mode),), of GPU-only plans in memory mode
        ``mode`` (scalar or array) on a layer moving ``mib`` MiB of activations: the ratio
        of their wall time to the same configuration's in ``ratio_ref`` (``ratio_by_mib``'s
        curve; NaN for modes without one, 1.0 for ``ratio_ref``), and the weight of that
        scoring against the predictor's own (1 up to the curve's last knot, falling to 0
        over ``curve_fade_doublings`` past it: the pairs say nothing of larger layers)."""
        modes = np.atleast_1d(np.asarray(mode, dtype=object))
        ratio = np.where(modes == self.ratio_ref, 1.0, np.nan)
        weight = np.zeros(len(modes))
        if mib > 0:
            lx = np.log2(mib)
            for m, (knots, log_ratio) in self.ratio_by_mib.items():
                at = modes == m
                ratio[at] = np.exp(np.interp(lx, np.log2(knots), log_ratio))
                weight[at] = fade_share(lx - np.log2(knots[-1]), self.curve_fade_doublings)
        return ratio, weight

    def cpu_factor(self, threads: np.ndarray, flops: float) -> np.ndarray:
        """Factor (n,) of CPU-only plans with ``threads`` (n,) on a layer of ``flops``:
        ``cpu_by_threads``'s curve where that thread count has one, divided by the curves'
        geometric mean at that size; 1.0 for thread counts without a curve. Relative: it
        reorders thread counts and leaves the CPU's level against the GPU to the predictors
        (fitted on the confirmed finalists, whose absolute level is biased toward the device
        that won)."""
        threads = np.asarray(threads)
        fac = np.ones(threads.shape)
        if flops > 0 and self.cpu_by_threads:
            log_f = {t: np.interp(np.log2(flops), np.log2(knots), np.log(factors))
                     for t, (knots, factors) in self.cpu_by_threads.items()}
            mean = float(np.mean(list(log_f.values())))
            for t, lf in log_f.items():
                fac[threads == t] = np.exp(lf - mean)
        return fac

    def cpu_neighbour_factor(self, threads: np.ndarray, layer: Any) -> np.ndarray:
        """Factor (n,) of CPU-only plans with ``threads`` (n,) on ``layer`` from the thread
        profiles of its measured neighbours (``cpu_neighbours``; 1.0 without them). Only
        its ratios between thread counts mean anything: the planner rescales CPU-only plans
        so that their best keeps its predicted time."""
        threads = np.asarray(threads)
        if self.cpu_neighbours is None or not threads.size:
            return np.ones(threads.shape)
        return np.exp(self.cpu_neighbours.log_factor(layer, threads.ravel())
                      ).reshape(threads.shape)

    def sync_us(self, mode: str | np.ndarray, gpu_out_bytes: float | np.ndarray) -> np.ndarray:
        """Overhead (us) of split plans; ``mode`` and ``gpu_out_bytes`` scalars or arrays,
        result of their broadcast shape (at least 1-d)."""
        modes, nbytes = np.broadcast_arrays(np.atleast_1d(np.asarray(mode, dtype=object)),
                                            np.atleast_1d(np.asarray(gpu_out_bytes, float)))
        names, at = np.unique(modes.astype(str), return_inverse=True)
        base, per_mib = self.sync_line(names.tolist())
        at = at.reshape(modes.shape)
        return base[at] + per_mib[at] * nbytes / 2**20

    def sync_line(self, modes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(base us, us per MiB of GPU output) of split plans in each of ``modes``, float64
        (len(modes),): ``sync_us(m, b) = base + per_mib * b / 2**20`` (``default_us`` and 0
        where not measured)."""
        base = np.array([self.modes[m][0] if m in self.modes else self.default_us
                         for m in modes], float)
        per_mib = np.array([self.modes[m][1] if m in self.modes else 0.0 for m in modes],
                           float)
        return base, per_mib

    @classmethod
    def constant(cls, us: float) -> SyncModel:
        return cls({}, float(us), f"constant {us} us")

    @classmethod
    def load(cls, models_dir: str | os.PathLike, gpu_name: str | None = None,
             cpu_name: str | None = None) -> SyncModel:
        """The overhead of one device pair from ``models_dir/sync.json``: the exact pair,
        else the entry of that GPU, else the only entry; the default (DEFAULT_SYNC_US,
        with a warning) if there is none."""
        path = Path(models_dir) / SYNC_FILE
        if not path.exists():
            log.warning("%s not found: assuming %.0f us of co-execution overhead "
                        "(run `latpred coexec sync`)", path, DEFAULT_SYNC_US)
            return cls()
        try:
            pairs = json.loads(path.read_text()).get("pairs", {})
        except json.JSONDecodeError as err:
            raise bad_value("sync", str(path), f"invalid JSON ({err})") from None
        entry = None
        if gpu_name and cpu_name:
            entry = pairs.get(pair_key(gpu_name, cpu_name))
        if entry is None and gpu_name:
            hits = [e for e in pairs.values() if e.get("gpu") == gpu_name]
            entry = hits[0] if hits else None
        if entry is None and len(pairs) == 1:
            entry = next(iter(pairs.values()))
        if entry is None:
            log.warning("%s has no entry for %s: assuming %.0f us", path, gpu_name,
                        DEFAULT_SYNC_US)
            return cls()
        modes = {m: (float(v["base_us"]), float(v["per_mib_us"]))
                 for m, v in entry.get("modes", {}).items()}
        single = {k: float(v) for k, v in entry.get("single", {}).items()}
        inter = {m: (float(v["gpu"]), float(v["cpu"]))
                 for m, v in entry.get("interference", {}).items()}
        by_mib = {m: _curve(path, v, "mib", "us", f"single_by_mib of {m}",
                            "MiB knots, one us value each", positive=False)
                  for m, v in entry.get("single_by_mib", {}).items()}
        by_threads = {int(t): _curve(path, v, "flops", "factor",
                                     f"cpu_by_threads of {t} threads",
                                     "FLOP knots, one positive factor each", positive=True)
                      for t, v in entry.get("cpu_by_threads", {}).items()}
        ratios = entry.get("single_ratio_by_mib", {})
        ratio_ref = str(ratios.get("ref", "buffer"))
        by_ratio = {m: _curve(path, v, "mib", "log_ratio", f"single_ratio_by_mib of {m}",
                              "MiB knots, one log ratio each", positive=False)
                    for m, v in ratios.get("modes", {}).items()}
        split = {}
        for m, v in entry.get("split_factor", {}).items():
            f = v.get("factor") if isinstance(v, dict) else v
            if not isinstance(f, (int, float)) or not f > 0:
                raise bad_value("sync", str(path), f"split_factor of {m} needs a positive "
                                                   f"factor, got {f!r}")
            split[m] = float(f)
        fade_from = _check_choice("curve_fade_from", entry.get("curve_fade_from", "longest"),
                                  CURVE_FADE_FROM, f"in {path}: ")
        beyond = _check_choice("curve_beyond", entry.get("curve_beyond", "flat"), CURVE_BEYOND,
                               f"in {path}: ")
        floor = _check_choice("split_floor", entry.get("split_floor", "none"), SPLIT_FLOOR,
                              f"in {path}: ")
        neighbours = entry.get("cpu_thread_neighbours")
        if neighbours is not None:
            neighbours = ThreadNeighbours.from_json(neighbours, str(path))
        return cls(modes, DEFAULT_SYNC_US, f"{path} [{pair_key(entry['gpu'], entry['cpu'])}]",
                   single, inter, by_mib, by_threads, split, ratio_by_mib=by_ratio,
                   ratio_ref=ratio_ref, curve_fade_from=fade_from, cpu_neighbours=neighbours,
                   curve_beyond=beyond, split_floor=floor)


def _check_choice(name: str, value: Any, allowed: tuple[str, ...], where: str = "") -> Any:
    """``value`` if it is one of ``allowed``; else one error naming ``name`` (``where``:
    a prefix of its message, e.g. the file)."""
    if value not in allowed:
        raise bad_value(name, value, f"{where}expected one of {', '.join(allowed)}")
    return value


def _per_mode(values: dict[str, float], mode: str | np.ndarray, default: float
              ) -> np.ndarray:
    """``values[m]`` for each memory mode (or side) m of ``mode`` (scalar or array; result
    at least 1-d, float64), ``default`` where ``values`` has none."""
    modes = np.atleast_1d(np.asarray(mode, dtype=object))
    out = np.full(modes.shape, float(default))
    for m, v in values.items():
        out[modes == m] = v
    return out


def _curve(path: Path, entry: dict[str, Any], x: str, y: str, what: str, needs: str,
           positive: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(knots, values) of a sync.json curve ``{x: [..], y: [..]}``: knots increasing and
    positive, one value each (positive too if ``positive``); else one error naming it."""
    knots, vals = tuple(float(v) for v in entry[x]), tuple(float(v) for v in entry[y])
    if len(knots) != len(vals) or not knots or min(knots) <= 0 \
            or list(knots) != sorted(knots) or (positive and min(vals) <= 0):
        raise bad_value("sync", str(path), f"{what} needs increasing positive {needs}")
    return knots, vals

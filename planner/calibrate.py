"""Runtime measurements as training rows, and predictors recalibrated on them.

A co-execution grid (``latpred coexec grid`` / ``bench``) times every plan of a layer in
the runtime, including its CPU-only and GPU-only plans. Those single-device rows are
measurements of the very rows the planner predicts (the CPU side's BLAS call ``cpu_us``,
the GPU side's ``gpu_total_us``), taken in the runtime's context rather than the
profiler's. ``runtime_rows`` turns them into predictor rows (the planner's own
``FrameBuilder`` rows, so a row means the same to both); ``calibrate`` fits a
``models.calibrated.RuntimeCalibrated`` per target on them, and ``held_out_errors`` says,
suite by suite, how much closer the correction gets on suites it was not fitted on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from latpred.datasets.suites import CONV_FIELDS
from latpred.planner.candidates import BLAS_CONFIG, FrameBuilder, KernelConfig, device_key
from latpred.planner.predictors import CPU_TARGET, GPU_TOTAL, Predictors
from latpred.planner.split import activation_mib, gpu_block_bytes, layer_extent, layer_flops
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import bad_value

log = logging.getLogger(__name__)

#: targets ``calibrate`` can fit (the component GPU targets have no runtime measurement)
CALIBRATED_TARGETS = (CPU_TARGET, GPU_TOTAL)


@dataclass
class RuntimeRows:
    """Runtime measurements of one target: configuration rows, times and their suites.

    Attributes:
        X: configuration rows (the planner's ``FrameBuilder.frame`` columns), n rows.
        y_us: measured time per row (us), shape (n,): the median over the rows' repeats
            (geometric: in log space) where several datasets timed the same row.
        suite: each row's suite (a group for held-out checks), shape (n,).
        n_measurements: how many grid rows were merged into each row, shape (n,).
        wall_us: the runtime's wall time of the plan (us; its median like ``y_us``), shape
            (n,): the measured part plus the runtime's own overhead around it.
        wall_mean_us: the same wall times' arithmetic mean over the datasets, shape (n,):
            the expected time over the host states the rounds met (default: ``wall_us``).
    """

    X: pd.DataFrame
    y_us: np.ndarray
    suite: np.ndarray
    n_measurements: np.ndarray
    wall_us: np.ndarray
    wall_mean_us: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.wall_mean_us is None:
            self.wall_mean_us = self.wall_us

    def __len__(self) -> int:
        return len(self.y_us)

    def wall(self, rounds: str) -> np.ndarray:
        """Wall times (n,) over the datasets: "median" (typical) or "mean" (expected)."""
        if rounds not in ROUNDS:
            raise bad_value("rounds", rounds, f"must be one of {', '.join(ROUNDS)}")
        return self.wall_us if rounds == "median" else self.wall_mean_us

    def take(self, mask: np.ndarray) -> RuntimeRows:
        return RuntimeRows(self.X[mask].reset_index(drop=True), self.y_us[mask],
                           self.suite[mask], self.n_measurements[mask], self.wall_us[mask],
                           self.wall_mean_us[mask])


#: the columns naming a row's layer (``layer_of_row``)
_LAYER_COLS = ("op", "m", "n", "k", "pass", *CONV_FIELDS)


def layer_of_row(r: dict[str, Any]) -> ConvLayer | LinearLayer:
    """The layer a dataset row's op + shape columns describe."""
    if r["op"] == "conv2d":
        return ConvLayer(**{f: int(r[f]) for f in CONV_FIELDS})
    if r["op"] == "linear":
        return LinearLayer(int(r["m"]), int(r["n"]), int(r["k"]),
                           str(r.get("pass") or "forward"))
    raise bad_value("op", r["op"], "must be conv2d or linear")


def cached_layer(r: dict[str, Any], memo: dict[tuple, Any]) -> ConvLayer | LinearLayer:
    """``layer_of_row(r)``, built once per shape in ``memo`` (its shape columns -> layer)."""
    key = tuple(r.get(c) for c in _LAYER_COLS)
    layer = memo.get(key)
    if layer is None:
        layer = memo[key] = layer_of_row(r)
    return layer


def layer_sizes(X: pd.DataFrame, size: Callable[[Any], float]) -> np.ndarray:
    """``size`` (e.g. ``split.activation_mib``, ``split.layer_flops``) of each row's layer
    (``layer_of_row``), shape (len(X),); rows of one shape share one layer."""
    memo: dict[tuple, Any] = {}
    return np.array([float(size(cached_layer(r, memo))) for r in X.to_dict("records")],
                    dtype=np.float64).reshape(len(X))


def runtime_rows(grids: Iterable[pd.DataFrame], gpu_info: dict[str, Any],
                 cpu_info: dict[str, Any], exclude_suites: Sequence[str] = ()
                 ) -> dict[str, RuntimeRows]:
    """Per target, the single-device measurements of co-execution grids.

    Args:
        grids: ``planner.oracle.load_grid`` frames (grids or confirmation rounds).
        gpu_info / cpu_info: the devices the rows are for (the models' pair, as the
            planner sees them: ``planner.cli.load_models``).
        exclude_suites: leave these suites' rows out.

    Returns:
        target (``cpu_us``, ``gpu_total_us``) -> RuntimeRows (may be empty).
    """
    fb = FrameBuilder()
    gpu, cpu = device_key(gpu_info), device_key(cpu_info)
    recs: dict[str, list[tuple[int, int, float, float, str]]] = {
        t: [] for t in CALIBRATED_TARGETS}
    layers: dict[tuple, Any] = {}
    for grid in grids:
        ok = grid[(grid["status"] == "ok") & grid["backend"].isin(["cpu", "gpu"])
                  & ~grid["suite"].isin(list(exclude_suites))]  # no co-executed plan
        _check_devices(ok, {"cpu": cpu, "gpu": gpu})
        for r in ok.to_dict("records"):
            layer = cached_layer(r, layers)
            split = int(r["split_n"]) if pd.notna(r["split_n"]) else 0
            # confirmation rounds leave n_total empty: their GPU rows are whole-layer plans
            n_total = int(r["n_total"]) if pd.notna(r["n_total"]) else layer_extent(layer)
            wall = float(r["total_us"]) if _positive(r["total_us"]) else np.nan
            if r["backend"] == "cpu" and split == 0 and _positive(r["cpu_us"]):
                cid = fb.cpu_config_id(cpu, BLAS_CONFIG, int(r["threads"]))
                recs[CPU_TARGET].append((cid, fb.shape_id(layer), float(r["cpu_us"]), wall,
                                         str(r["suite"])))
            elif r["backend"] == "gpu" and split == n_total and _positive(r["gpu_total_us"]):
                kc = KernelConfig(str(r["impl"]), str(r["gpu_params"]), str(r["local_size"]))
                cid = fb.config_id("gpu", *gpu, kc, None, str(r["mem_mode"]))
                recs[GPU_TOTAL].append((cid, fb.shape_id(layer), float(r["gpu_total_us"]),
                                        wall, str(r["suite"])))
    out = {}
    for target, rs in recs.items():
        df = pd.DataFrame(rs, columns=["cid", "sid", "us", "wall", "suite"])
        df["ly"] = np.log(df["us"].astype(float))
        df["lw"] = np.log(df["wall"].astype(float))
        agg = df.groupby(["cid", "sid"], as_index=False, sort=True).agg(
            ly=("ly", "median"), lw=("lw", "median"), wm=("wall", "mean"), n=("ly", "size"),
            suite=("suite", "first"))
        out[target] = RuntimeRows(fb.frame(agg["cid"].to_numpy(), agg["sid"].to_numpy()),
                                  np.exp(agg["ly"].to_numpy()), agg["suite"].to_numpy(str),
                                  agg["n"].to_numpy(), np.exp(agg["lw"].to_numpy()),
                                  agg["wm"].to_numpy(float))
    return out


def _check_devices(rows: pd.DataFrame, want: dict[str, tuple[str, str]]) -> None:
    """Refuse single-device rows measured on another device than the models' pair (a grid
    row names its backend's device and platform, as ``device_key`` does)."""
    for backend, (name, platform) in want.items():
        sel = rows[rows["backend"] == backend]
        other = (sel["device"].astype(str) != name) | (sel["platform"].astype(str) != platform)
        if other.any():
            r = sel[other].iloc[0]
            raise bad_value("device", f"{r['device']} ({r['platform']})",
                            f"{backend} rows of suite {r['suite']} were not measured on the "
                            f"models' {backend} device {name} ({platform})")


def _positive(v: Any) -> bool:
    try:
        return bool(v is not None and float(v) > 0)
    except (TypeError, ValueError):
        return False


def calibrate(predictors: Predictors, rows: dict[str, RuntimeRows],
              params: dict[str, Any] | None = None) -> dict[str, Any]:
    """target -> ``RuntimeCalibrated`` of the loaded predictor, fitted on ``rows``; targets
    without rows or without a predictor are left out."""
    from latpred.models.calibrated import RuntimeCalibrated

    out = {}
    for target, rr in rows.items():
        if not len(rr) or not predictors.has(target):
            continue
        out[target] = RuntimeCalibrated(predictors.models[target], **(params or {})).fit(
            rr.X, rr.y_us)
    return out


#: fewest GPU-only runtime rows of a memory mode to refit its overhead from
MIN_MODE_ROWS = 20
#: fewest rows of a size band (octaves of activation MiB, pooled) to give it a knot
MIN_BAND_ROWS = 8
#: how the overhead fits take a row's wall times over the datasets (``RuntimeRows.wall``)
ROUNDS = ("median", "mean")


def mode_overheads(predictors: Predictors, rows: RuntimeRows, single: dict[str, float],
                   min_rows: int = MIN_MODE_ROWS, min_band_rows: int = MIN_BAND_ROWS,
                   rounds: str = "mean", min_band_layers: int = 1
                   ) -> dict[str, dict[str, Any]]:
    """The runtime's overhead around a GPU-only plan, per memory mode, refitted on real
    layers.

    ``coexec sync`` measures it on tiny layers (``SyncModel.single``). The planner adds it to
    the GPU predictor's time; what it must match is the runtime's wall time of GPU-only
    plans. Per memory mode, the new overhead is the old one plus the median of (measured
    wall time - predicted GPU time - old overhead) over that mode's rows. A median of each
    mode's own rows: three numbers, robust to outliers, nothing per layer.

    It also grows with the activations moved, differently per mode (the H100 host: explicit
    copies cost ~10 % less than mapping from 1 to 16 MiB and ~35 % more above): per octave
    of ``split.activation_mib`` (sparse octaves pooled up to ``min_band_rows`` rows), a
    knot (median MiB, median of wall - predicted GPU time) of the size curve
    ``SyncModel.single_by_mib``.

    Args:
        predictors: the loaded predictors (``Predictors.predict_gpu`` predicts ``rows``:
            the end-to-end predictor, or the sum of the components).
        rows: ``runtime_rows(...)["gpu_total_us"]``.
        single: the current overheads (``SyncModel.single``: mode -> us).
        min_rows: modes with fewer rows keep their overhead.
        min_band_rows: fewest rows of a (pooled) size band's knot; a curve needs two.
        min_band_layers: fewest distinct layer shapes of a size band's rows; above 1, a
            knot is also the median over its layers of each layer's medians (the rows of
            one layer, its configurations and rounds, are not independent: one large layer
            timed in many configurations would otherwise make the knot alone).
        rounds: a row's wall time over the datasets that timed it (``RuntimeRows.wall``):
            "mean" (expected over the host states met: a mode that is sometimes far slower
            pays for it; the H100 host's buffer mode at 8-16 MiB) or "median" (the typical
            round; before session 11).

    Returns:
        mode -> {"us": new overhead, "measured_us": old, "rows": n, "offset_us": new - old,
        "by_mib": {"mib": [...], "us": [...]} (absent with fewer than two knots)}.
    """
    if not len(rows):
        return {}
    wall = rows.wall(rounds)
    pred = predictors.predict_gpu(rows.X)
    modes = rows.X["mem_mode"].astype(str).to_numpy()
    mib = layer_sizes(rows.X, activation_mib)
    band = np.floor(np.log2(mib))
    layer = None
    if min_band_layers > 1:
        from latpred.datasets.schema import shape_id

        layer = shape_id(rows.X).to_numpy()
    out: dict[str, dict[str, Any]] = {}
    for mode in sorted(set(modes)):
        sel = (modes == mode) & np.isfinite(wall)
        old = float(single.get(mode, 0.0))
        offset = float(np.median(wall[sel] - pred[sel] - old)) \
            if sel.sum() >= min_rows else 0.0
        out[mode] = {"us": max(old + offset, 0.0), "measured_us": old, "rows": int(sel.sum()),
                     "offset_us": max(old + offset, 0.0) - old}
        knots = [_knot(mib[b], wall[b] - pred[b], None if layer is None else layer[b])
                 for b in _size_bands(band, sel, min_band_rows, layer, min_band_layers)]
        if sel.sum() >= min_rows and len(knots) >= 2:
            out[mode]["by_mib"] = {"mib": [float(f"{k:.4g}") for k, _u in knots],
                                   "us": [round(u, 3) for _k, u in knots]}
    return out


def keep_curves_below(old: dict[str, dict[str, list]], new: dict[str, dict[str, list]],
                      below_mib: float) -> dict[str, dict[str, list]]:
    """GPU-only overhead curves (sync.json ``single_by_mib``: mode -> {"mib": [...], "us":
    [...]}) made of ``old``'s knots at or below ``below_mib`` MiB and ``new``'s above it.

    Below a few MiB the memory modes differ by a few us, less than a round's noise, and
    curves refitted on other rounds have planned slower on the device (BENCHMARKS.md
    section 5, sessions 37-38); above, they differ by 10-70 % consistently across rounds,
    and rounds of larger layers accumulate. A mode in only one of the two keeps that one's
    knots on its side of ``below_mib``; a mode left with no knot is dropped."""
    out: dict[str, dict[str, list]] = {}
    for mode in sorted(set(old) | set(new)):
        lo = [(k, u) for k, u in zip(old.get(mode, {}).get("mib", []),
                                    old.get(mode, {}).get("us", [])) if k <= below_mib]
        hi = [(k, u) for k, u in zip(new.get(mode, {}).get("mib", []),
                                    new.get(mode, {}).get("us", [])) if k > below_mib]
        if lo or hi:
            out[mode] = {"mib": [k for k, _u in lo + hi], "us": [u for _k, u in lo + hi]}
    return out


#: fewest (configuration, layer) pairs timed in a memory mode and the reference mode to fit
#: that mode's ratio curve from
MIN_RATIO_PAIRS = 40


def mode_ratios(rows: RuntimeRows, ref: str = "buffer", min_pairs: int = MIN_RATIO_PAIRS,
                min_band_rows: int = MIN_BAND_ROWS, rounds: str = "mean"
                ) -> dict[str, dict[str, Any]]:
    """How a GPU-only plan's memory mode scales its wall time, from pairs: the same kernel
    configuration on the same layer timed in a mode and in ``ref``.

    Per mode, the log of (wall time in the mode / in ``ref``) of every such pair; per
    octave of ``split.activation_mib`` (sparse octaves pooled up to ``min_band_rows``
    pairs), a knot (median MiB, median log ratio) of ``SyncModel.ratio_by_mib``. Ratios of
    pairs leave out what the predictors get wrong about the configuration itself and what
    a host state does to every mode alike.

    Args:
        rows: ``runtime_rows(...)["gpu_total_us"]`` (a row's wall times merged over the
            datasets that timed it; confirmation rounds time a layer's modes side by side).
        ref: the reference memory mode.
        min_pairs: modes with fewer pairs get no curve.
        min_band_rows: fewest pairs of a (pooled) size band's knot.
        rounds: a row's wall time over its datasets (``RuntimeRows.wall``).

    Returns:
        mode -> {"mib": [...], "log_ratio": [...], "pairs": n} for the modes with a curve.
    """
    if not len(rows) or "mem_mode" not in rows.X:
        return {}
    modes = rows.X["mem_mode"].astype(str).to_numpy()
    key = pd.util.hash_pandas_object(rows.X.drop(columns="mem_mode"), index=False).to_numpy()
    wall = pd.Series(rows.wall(rounds), index=pd.MultiIndex.from_arrays([key, modes]))
    wall = wall[np.isfinite(wall.to_numpy()) & (wall.to_numpy() > 0)]
    wall = wall[~wall.index.duplicated()].unstack()
    if ref not in wall:
        return {}
    mib_of = pd.Series(layer_sizes(rows.X, activation_mib), index=key)
    mib_of = mib_of[~mib_of.index.duplicated()]
    out: dict[str, dict[str, Any]] = {}
    for mode in sorted(c for c in wall.columns if c != ref):
        pair = wall[[mode, ref]].dropna()
        if len(pair) < min_pairs:
            continue
        lr = np.log(pair[mode].to_numpy() / pair[ref].to_numpy())
        mib = mib_of.loc[pair.index].to_numpy()
        band = np.floor(np.log2(mib))
        knots = [(float(np.median(mib[b])), float(np.median(lr[b])))
                 for b in _size_bands(band, np.ones(len(lr), bool), min_band_rows)]
        out[mode] = {"mib": [float(f"{k:.4g}") for k, _r in knots],
                     "log_ratio": [round(r, 4) for _k, r in knots], "pairs": len(pair)}
    return out


def cpu_thread_factors(predictors: Predictors, rows: RuntimeRows,
                       min_band_rows: int = MIN_BAND_ROWS, rounds: str = "mean"
                       ) -> dict[int, dict[str, list]]:
    """The runtime's time of CPU-only plans over the CPU predictor's, per BLAS thread count,
    as a function of the layer's FLOPs, refitted on real layers.

    The CPU predictor learns the profiler's BLAS calls, timed back to back; the runtime runs
    a layer's CPU-only plan between other work (GPU plans, other thread counts), where
    OpenBLAS's threads must first wake up. On the H100 host that costs small layers most at
    high thread counts: 4 threads often beat the 8-16 the profiler's data favour. Per thread
    count, octaves of layer FLOPs (sparse ones pooled up to ``min_band_rows`` rows) give a
    knot (median FLOPs, exp of the median log(wall / predicted)).

    Args:
        predictors: the loaded predictors (their ``cpu_us`` predicts ``rows``).
        rows: ``runtime_rows(...)["cpu_us"]`` (confirmation rounds: timed side by side).
        min_band_rows: fewest rows of a (pooled) band's knot.
        rounds: "mean" or "median" wall time over the datasets (see ``mode_overheads``).

    Returns:
        threads -> {"flops": [...], "factor": [...], "rows": n} (one knot: a constant
        factor); thread counts with fewer than ``min_band_rows`` rows are left out.
    """
    from latpred.planner.predictors import CPU_TARGET

    if not len(rows) or not predictors.has(CPU_TARGET):
        return {}
    pred = predictors.models[CPU_TARGET].predict(rows.X)
    threads = rows.X["threads"].astype("int64").to_numpy()
    flops = layer_sizes(rows.X, layer_flops)
    lr = np.log(rows.wall(rounds) / pred)
    ok = np.isfinite(lr) & (flops > 0)
    band = np.floor(np.log2(np.where(flops > 0, flops, 1.0)))
    out: dict[int, dict[str, list]] = {}
    for t in sorted(set(threads[ok].tolist())):
        sel = ok & (threads == t)
        knots = [(float(np.median(flops[b])), float(np.exp(np.median(lr[b]))))
                 for b in _size_bands(band, sel, min_band_rows)]
        if knots:  # one knot: a constant factor
            out[int(t)] = {"flops": [float(f"{k:.4g}") for k, _f in knots],
                           "factor": [round(f, 4) for _k, f in knots], "rows": int(sel.sum())}
    return out


#: split plans per layer and memory mode that ``split_factors`` fits on: those predicted
#: fastest, the ones a planner acts on (over every split the grid timed, the factor misses
#: how optimistic the winning predictions are: the H100 host's median over all of them is
#: 1.05-1.15, over each layer's five predicted fastest 1.2-1.4)
SPLIT_TOP_K = 5


def split_factors(predictors: Predictors, sync: Any, grids: Iterable[pd.DataFrame],
                  gpu_info: dict[str, Any], cpu_info: dict[str, Any],
                  exclude_suites: Sequence[str] = (), top_k: int = SPLIT_TOP_K,
                  min_rows: int = MIN_MODE_ROWS) -> dict[str, dict[str, Any]]:
    """The runtime's time of split plans over the planner's prediction of them, per memory
    mode, refitted on the split plans the grids measured.

    The planner predicts a split as ``max(GPU part x f_gpu, CPU part x f_cpu) + sync``
    (``SyncModel``: overheads measured on tiny layers, the parts' slowdown on one layer);
    the single-device plans it weighs a split against are refitted on the runtime's rows
    (``mode_overheads``, ``cpu_thread_factors``), the splits were not. On the H100 host
    that made splits look faster than they ran: 43 of the 44 splits the planner chose in
    the committed benches ran slower than the best single device. Per layer (of one
    dataset) and memory mode, the ``top_k`` split rows predicted fastest give log(measured
    total / predicted); a mode's factor is exp of their median. A row's GPU part is
    predicted in its own memory mode; the planner predicts a mode other than its
    reference one through its reference configuration's rows (``Planner``), an
    approximation of the same number.

    Args:
        predictors: the loaded predictors (GPU end to end, or its components, and CPU).
        sync: the ``SyncModel`` the predictions use (its modes and interference).
        grids: ``planner.oracle.load_grid`` frames (their "coexec" rows are the splits).
        gpu_info / cpu_info: the models' device pair (``planner.cli.load_models``).
        exclude_suites: leave these suites' rows out.
        top_k: rows per layer and mode (the predicted fastest).
        min_rows: modes with fewer rows get no factor.

    Returns:
        mode -> {"factor": f, "rows": n}.
    """
    fb = FrameBuilder()
    gpu, cpu = device_key(gpu_info), device_key(cpu_info)
    layers: dict[tuple, Any] = {}
    recs = []
    for i, grid in enumerate(grids):
        ok = grid[(grid["status"] == "ok") & (grid["backend"] == "coexec")
                  & ~grid["suite"].isin(list(exclude_suites))]
        for r in ok.to_dict("records"):
            layer = cached_layer(r, layers)
            n, s = layer_extent(layer), int(r["split_n"])
            if not 0 < s < n or not _positive(r["total_us"]):
                continue
            mode = str(r["mem_mode"])
            kc = KernelConfig(str(r["impl"]), str(r["gpu_params"]), str(r["local_size"]))
            recs.append((i, fb.shape_id(layer), mode, fb.config_id("gpu", *gpu, kc, None, mode),
                         fb.split_shape_id(layer, s),
                         fb.cpu_config_id(cpu, BLAS_CONFIG, int(r["threads"])),
                         fb.split_shape_id(layer, n - s), gpu_block_bytes(layer, s),
                         float(r["total_us"])))
    if not recs:
        return {}
    d = pd.DataFrame(recs, columns=["grid", "layer", "mode", "gcid", "gsid", "ccid", "csid",
                                    "bytes", "measured_us"])
    frame = fb.frame(d["gcid"].to_numpy(), d["gsid"].to_numpy())
    g = predictors.predict_gpu(frame)
    c = predictors.predict(CPU_TARGET, fb.frame(d["ccid"].to_numpy(), d["csid"].to_numpy()))
    modes = d["mode"].to_numpy(dtype=object)
    fg, fc = sync.slowdown(modes)
    d["pred"] = np.maximum(g * fg, c * fc) + sync.sync_us(modes, d["bytes"].to_numpy(float))
    d["lr"] = np.log(d["measured_us"] / d["pred"])
    top = d.sort_values("pred", kind="stable").groupby(["grid", "layer", "mode"]).head(top_k)
    out: dict[str, dict[str, Any]] = {}
    for mode, rows in top.groupby("mode"):
        if len(rows) >= min_rows:
            out[str(mode)] = {"factor": round(float(np.exp(np.median(rows["lr"]))), 4),
                              "rows": int(len(rows))}
    return out


def _knot(mib: np.ndarray, gap_us: np.ndarray, layer: np.ndarray | None
          ) -> tuple[float, float]:
    """A size band's knot (MiB, us >= 0): the medians of its rows' MiB and gaps, or with
    ``layer`` ids, the medians over its layers of each layer's medians (one vote a layer,
    however many configurations and rounds timed it)."""
    if layer is not None:
        per = pd.DataFrame({"mib": mib, "gap": gap_us, "layer": layer}).groupby("layer").median()
        mib, gap_us = per["mib"].to_numpy(), per["gap"].to_numpy()
    return float(np.median(mib)), max(float(np.median(gap_us)), 0.0)


def _size_bands(band: np.ndarray, sel: np.ndarray, min_rows: int,
                layer: np.ndarray | None = None, min_layers: int = 1) -> list[np.ndarray]:
    """Masks of ``sel``'s rows by octave ``band``, from the smallest; an octave with fewer
    than ``min_rows`` rows (or rows of fewer than ``min_layers`` distinct ``layer`` ids) is
    pooled with the next ones until there are enough, and the rest at the top with the last
    band (large layers are few, and their overheads the largest)."""
    def enough(m: np.ndarray) -> bool:
        return bool(m.sum() >= min_rows
                    and (layer is None or len(set(layer[m])) >= min_layers))

    out: list[np.ndarray] = []
    acc = np.zeros(len(band), bool)
    for v in np.unique(band[sel]):
        acc |= sel & (band == v)
        if enough(acc):
            out.append(acc)
            acc = np.zeros(len(band), bool)
    if acc.any():
        if out:
            out[-1] = out[-1] | acc
        else:
            out.append(acc)
    return [b for b in out if enough(b)]


def held_out_errors(predictors: Predictors, rows: dict[str, RuntimeRows],
                    params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Suite by suite, the base predictor's errors on the runtime rows next to a correction
    fitted on the other suites' rows only: MAPE and top1_within5 (``../shared/metrics.md``;
    shapes: the rows' layer shapes), one row per target x held-out suite and per target
    over all rows ("all")."""
    from latpred.datasets.schema import shape_id
    from latpred.models.calibrated import RuntimeCalibrated
    from latpred.models.metrics import mape, top1

    out = []
    for target, rr in rows.items():
        if not predictors.has(target) or len(set(rr.suite)) < 2:
            continue
        base = predictors.models[target]
        pb = base.predict(rr.X)
        pc = np.empty(len(rr))
        for suite in sorted(set(rr.suite)):
            test = rr.suite == suite
            train = rr.take(~test)
            pc[test] = RuntimeCalibrated(base, **(params or {})).fit(
                train.X, train.y_us).predict(rr.X[test])
        shapes = shape_id(rr.X).to_numpy()
        for suite in [*sorted(set(rr.suite)), "all"]:
            sel = np.ones(len(rr), bool) if suite == "all" else rr.suite == suite
            y, g = rr.y_us[sel], shapes[sel]
            out.append({"target": target, "held_out": suite, "rows": int(sel.sum()),
                        "mape_base": mape(y, pb[sel]), "mape_calibrated": mape(y, pc[sel]),
                        "top1_within5_base": top1(y, pb[sel], g)[0],
                        "top1_within5_calibrated": top1(y, pc[sel], g)[0]})
    return pd.DataFrame(out)


__all__ = ["CALIBRATED_TARGETS", "MIN_BAND_ROWS", "MIN_MODE_ROWS", "RuntimeRows", "calibrate",
           "cpu_thread_factors", "held_out_errors", "keep_curves_below", "layer_of_row",
           "layer_sizes", "mode_overheads", "runtime_rows"]

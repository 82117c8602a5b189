"""Planner, sync overhead, oracle grid and CLI: stub predictors (simple sklearn-style
objects with ``predict(df)``) on a PoCL "GPU" (a 1-compute-unit sub-device)."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from latpred.datasets import load
from latpred.datasets.suites import suite_layers
from latpred.models.candidates import candidate_configs
from latpred.planner.benchmark import StubPredictor
from latpred.planner.candidates import CandidateSpace
from latpred.planner.measure import QUICK
from latpred.planner.oracle import GridConfig, LayerItem, OracleGrid, load_grid, summarize
from latpred.planner.planner import Planner, PlannerOptions
from latpred.planner.predictors import Predictors
from latpred.planner.runtime import CoexecRun, plan_from_row
from latpred.planner.split import split_align
from latpred.planner.sync import CURVE_FADE_DOUBLINGS, SyncModel, measure_sync, save_sync
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.devices import cl_device_info, cpu_info
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.cli import main
from latpred.errors import LatpredError


class Linear:
    """time = base + flops / rate (/ threads for CPU rows): a stub latency predictor."""

    def __init__(self, rate: float, base: float = 0.0, per_thread: bool = False,
                 spread: float = 0.0):
        self.rate, self.base, self.per_thread, self.spread = rate, base, per_thread, spread
        self.calls = 0
        self.rows = 0

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        self.rows += len(df)
        flops = df["flops"].to_numpy(dtype=float)
        t = df["threads"].to_numpy(dtype=float, na_value=1.0) if self.per_thread else 1.0
        return self.base + flops / (self.rate * t)

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(df)
        return p * (1 - self.spread), p * (1 + self.spread)


@pytest.fixture(scope="module")
def gpu(pocl_device):
    return OpenCLDevice(pocl_device.root_device, threads=1)


@pytest.fixture(scope="module")
def infos(pocl_device):
    return {**cl_device_info(pocl_device.root_device), "type": "GPU"}, cpu_info()


def planner(infos, cpu, gpu, sync_us=10.0, **opts):
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    return Planner(preds, infos[0], infos[1], SyncModel.constant(sync_us),
                   PlannerOptions(cpu_threads=(1, 2), **opts))


LAYER = LinearLayer(8, 1024, 256)  # 4.2 MFLOP


def test_gpu_only_when_the_gpu_is_far_faster(infos):
    ch = planner(infos, Linear(1e2, per_thread=True), Linear(1e5, 5.0)).plan_layer(LAYER)
    assert ch.plan.kind == "gpu" and ch.plan.split_n == 1024 and ch.plan.cpu is None
    assert ch.single.kind == "gpu" and ch.plan_us == pytest.approx(ch.single_us)


def test_cpu_only_when_the_cpu_is_far_faster(infos):
    ch = planner(infos, Linear(1e5, per_thread=True), Linear(1e2, 5.0)).plan_layer(LAYER)
    assert ch.plan.kind == "cpu" and ch.plan.split_n == 0 and ch.plan.gpu is None
    assert ch.plan.cpu.threads == 2  # more threads predicted faster


def test_single_device_when_sync_eats_the_gain(infos):
    # equal devices: an even split halves the time, but the overhead costs more than that
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    t_single = LAYER.gemm().flops / 1e3
    ch = planner(infos, cpu, gpu, sync_us=0.6 * t_single).plan_layer(LAYER)
    assert ch.plan.kind != "split"
    assert ch.best_split is not None and ch.best_split_us > ch.single_us


def test_single_device_when_the_gain_is_below_the_margin(infos):
    # the GPU is 10x faster: the best split on the 1/16 grid (15/16 to the GPU) saves
    # 6.25 %, under a 10 % margin, over a 5 % one
    cpu, gpu = Linear(1e2, per_thread=False), Linear(1e3)
    ch = planner(infos, cpu, gpu, sync_us=0.0, margin=0.10).plan_layer(LAYER)
    assert ch.plan.kind == "gpu" and "below" in ch.reason
    assert ch.best_split_us == pytest.approx(ch.single_us * 0.9375)
    ch = planner(infos, cpu, gpu, sync_us=0.0, margin=0.05).plan_layer(LAYER)
    assert ch.plan.kind == "split" and ch.plan.ratio == pytest.approx(15 / 16)


def test_single_device_runtime_overhead_moves_the_choice(infos):
    # CPU predicted 10 % slower than the GPU; the runtime adds 0.3 x T_gpu around a GPU-only
    # run and nothing around a CPU-only one, so CPU only is the faster plan
    cpu, gpu = Linear(1.0e3 / 1.1, per_thread=False), Linear(1e3)
    t_gpu = LAYER.gemm().flops / 1e3
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer",))
    plain = Planner(preds, *infos, SyncModel.constant(1e9), opts).plan_layer(LAYER)
    assert plain.plan.kind == "gpu" and plain.plan_us == pytest.approx(t_gpu)
    sync = SyncModel({}, 1e9, "test", {"buffer": 0.3 * t_gpu, "cpu": 0.0})
    ch = Planner(preds, *infos, sync, opts).plan_layer(LAYER)
    assert ch.plan.kind == "cpu" and ch.plan_us == pytest.approx(1.1 * t_gpu)
    # ... and a CPU-side overhead larger than the gap moves it back
    sync = SyncModel({}, 1e9, "test", {"buffer": 0.3 * t_gpu, "cpu": 0.5 * t_gpu})
    ch = Planner(preds, *infos, sync, opts).plan_layer(LAYER)
    assert ch.plan.kind == "gpu" and ch.plan_us == pytest.approx(1.3 * t_gpu)
    assert ch.sync_us == pytest.approx(0.3 * t_gpu)  # reported as the plan's overhead
    assert list(SyncModel(single={"map": 3.0}).single_us(np.array(["map", "x"], object))) \
        == [3.0, 0.0]


def test_sync_line_gives_sync_us_per_mode():
    """The planner scores split plans with ``sync_line`` per memory mode: it must give
    ``sync_us``'s numbers, bit for bit, measured modes and unmeasured ones alike."""
    sync = SyncModel({"buffer": (40.0, 3.5), "svm_fine": (12.0, 0.25)}, 77.0, "t")
    modes = ["buffer", "map", "svm_fine"]
    base, per_mib = sync.sync_line(modes)
    assert list(base) == [40.0, 77.0, 12.0] and list(per_mib) == [3.5, 0.0, 0.25]
    nbytes = np.array([0.0, 1.0, 4096.0, 3 * 2.0**20 + 17])
    for j, m in enumerate(modes):
        assert np.array_equal(base[j] + per_mib[j] * nbytes / 2**20, sync.sync_us(m, nbytes))
    # modes and sizes as arrays, broadcast: each element by its own mode's line
    assert sync.sync_us(np.array(["map", "buffer", "svm_fine"], object), 2.0**21).tolist() \
        == [77.0, 47.0, 12.5]


def test_single_device_overhead_by_activation_size(infos, tmp_path):
    """A size curve per memory mode (``single_by_mib``): interpolated in log MiB, flat
    below its first knot, fading to the mode's constant over CURVE_FADE_DOUBLINGS beyond
    its last, used where the layer's MiB is given; it decides the memory mode."""
    from latpred.planner.split import activation_mib

    sync = SyncModel(single={"buffer": 5.0, "map": 7.0},
                     single_by_mib={"buffer": ((1.0, 4.0), (10.0, 30.0))})
    modes = np.array(["buffer", "map"], object)
    assert list(sync.single_us(modes)) == [5.0, 7.0]  # no size: the constants
    assert list(sync.single_us(modes, 2.0)) == [pytest.approx(20.0), 7.0]  # log midpoint
    assert sync.single_us("buffer", 0.1)[0] == 10.0 and sync.single_us("buffer", 4.0)[0] == 30.0
    # beyond the last knot (4 MiB): half a doubling keeps half the curve over the constant,
    # a whole doubling and more only the constant (a curve is not extrapolated)
    assert CURVE_FADE_DOUBLINGS == 1.0
    assert sync.single_us("buffer", 4.0 * 2**0.5)[0] == pytest.approx(17.5)
    assert list(sync.single_us(np.array(["buffer", "buffer", "map"], object),
                               np.array([8.0, 64.0, 64.0]))) == [5.0, 5.0, 7.0]
    flat = SyncModel(single={"buffer": 5.0}, single_by_mib={"buffer": ((1.0, 4.0), (10.0, 30.0))},
                     curve_fade_doublings=float("inf"))  # the planner before session 32
    assert flat.single_us("buffer", 64.0)[0] == 30.0
    assert activation_mib(LAYER) == pytest.approx(
        4 * LAYER.gemm().M * (LAYER.gemm().K + LAYER.gemm().N) / 2**20)
    # GPU only either way: the mode whose curve is cheaper at this layer's size wins
    cpu, gpu = Linear(1e1, per_thread=False), Linear(1e3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer", "map"))
    mib = activation_mib(LAYER)
    for buffer_us, want in ((1.0, "buffer"), (1e3, "map")):
        curve = SyncModel({}, 1e9, "t", {"buffer": 5.0, "map": 7.0},
                          single_by_mib={"buffer": ((mib / 2, mib * 2), (buffer_us, buffer_us))})
        ch = Planner(preds, *infos, curve, opts).plan_layer(LAYER)
        assert ch.plan.kind == "gpu" and ch.plan.gpu.mem_mode == want
    # read from sync.json; bad knots are one error naming the file
    key = "G | C"
    entry = {"gpu": "G", "cpu": "C", "modes": {}, "single": {"buffer": 5.0},
             "single_by_mib": {"buffer": {"mib": [1.0, 4.0], "us": [10.0, 30.0]}}}
    save_sync(tmp_path, entry)
    assert SyncModel.load(tmp_path, "G", "C").single_by_mib == {"buffer": ((1.0, 4.0),
                                                                           (10.0, 30.0))}
    entry["single_by_mib"]["buffer"]["mib"] = [4.0, 1.0]
    save_sync(tmp_path, entry)
    with pytest.raises(LatpredError, match="single_by_mib of buffer"):
        SyncModel.load(tmp_path, "G", "C")
    assert key in (tmp_path / "sync.json").read_text()


def _mode_of_big_layer(infos, **sync_args) -> str:
    """The memory mode of the GPU-only plan of a 4 MiB linear layer (a stub CPU 100x slower
    than the stub GPU; modes buffer and map) under ``SyncModel(**sync_args)``."""
    from latpred.planner.split import activation_mib

    big = LinearLayer(256, 3072, 1024)
    assert activation_mib(big) == 4.0
    cpu, gpu = Linear(1e1, per_thread=False), Linear(1e3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer", "map"))
    ch = Planner(preds, *infos, SyncModel({}, 1e9, "t", **sync_args), opts).plan_layer(big)
    assert ch.plan.kind == "gpu"
    return ch.plan.gpu.mem_mode


def _sync_json_choice(tmp_path, key: str, default: str, other: str, bad: str) -> None:
    """sync.json's ``key``: absent -> ``default``; ``other`` kept; ``bad`` refused with one
    error naming the key, the value and the file."""
    entry = {"gpu": "G", "cpu": "C", "modes": {}, "single": {"buffer": 5.0}}
    save_sync(tmp_path, entry)
    assert getattr(SyncModel.load(tmp_path, "G", "C"), key) == default
    save_sync(tmp_path, {**entry, key: other})
    assert getattr(SyncModel.load(tmp_path, "G", "C"), key) == other
    save_sync(tmp_path, {**entry, key: bad})
    with pytest.raises(LatpredError, match=f"{key}={bad!r}: in .*sync.json"):
        SyncModel.load(tmp_path, "G", "C")


def test_overhead_curves_fade_past_the_longest_curve(infos, tmp_path):
    """``curve_fade_from``: "longest" (default) holds a curve that ends early flat up to the
    longest curve's last knot and fades every curve together past it, so two modes are
    compared on their measured size terms; "own" fades each past its own last knot (the
    planner of sessions 32-39), where the mode with the shorter curve wins by falling
    back to its constant. Read from sync.json; a bad value is one error naming it."""

    curves = {"map": ((0.5, 2.0), (0.0, 100.0)), "buffer": ((0.5, 8.0), (0.0, 40.0))}
    longest = SyncModel(single={"buffer": 5.0, "map": 7.0}, single_by_mib=curves)
    own = SyncModel(single={"buffer": 5.0, "map": 7.0}, single_by_mib=curves,
                    curve_fade_from="own")
    assert longest.curve_fade_from == "longest"
    modes = np.array(["map", "buffer"], object)
    # inside both curves: the same
    assert list(longest.single_us(modes, 2.0)) == list(own.single_us(modes, 2.0))
    # 4 MiB, past map's last knot only: "own" has faded map to its constant, "longest"
    # holds map's measured 100 us
    assert own.single_us("map", 4.0)[0] == 7.0
    assert longest.single_us("map", 4.0)[0] == 100.0
    assert longest.single_us("buffer", 4.0)[0] == own.single_us("buffer", 4.0)[0]
    # past the longest curve (8 MiB) both fade together: half way at half a doubling
    at = 8.0 * 2**0.5
    assert longest.single_us("map", at)[0] == pytest.approx(7.0 + 0.5 * 93.0)
    assert longest.single_us("buffer", at)[0] == pytest.approx(5.0 + 0.5 * 35.0)
    assert list(longest.single_us(modes, 64.0)) == [7.0, 5.0]
    with pytest.raises(LatpredError, match="curve_fade_from='last'"):
        SyncModel(curve_fade_from="last")
    # it decides the memory mode of a GPU-only plan between the two last knots
    for fade_from, want in (("own", "map"), ("longest", "buffer")):
        assert _mode_of_big_layer(infos, single={"buffer": 5.0, "map": 7.0},
                                  single_by_mib=curves, curve_fade_from=fade_from) == want
    _sync_json_choice(tmp_path, "curve_fade_from", "longest", "own", 3)


def test_overhead_curves_grow_past_their_last_knot_when_proportional(infos, tmp_path):
    """``curve_beyond``: "flat" (default) holds a curve at its last value past its last
    knot; "proportional" grows that value with the activations (us x MiB / the last
    knot's MiB), the fade past the longest curve unchanged; a curve ending at or below 0
    stays flat. It moves the memory mode of a GPU-only plan past map's last knot. Read
    from sync.json; a bad value is one error naming it."""

    curves = {"map": ((0.5, 2.0), (0.0, 100.0)), "buffer": ((0.5, 8.0), (0.0, 40.0)),
              "svm_coarse": ((0.5, 2.0), (3.0, -2.0))}
    single = {"buffer": 5.0, "map": 7.0, "svm_coarse": 9.0}
    flat = SyncModel(single=single, single_by_mib=curves)
    prop = SyncModel(single=single, single_by_mib=curves, curve_beyond="proportional")
    assert flat.curve_beyond == "flat"
    modes = np.array(["map", "buffer", "svm_coarse"], object)
    for mib in (0.25, 1.0, 2.0):  # inside the curves: the same
        assert list(prop.single_us(modes, mib)) == list(flat.single_us(modes, mib))
    assert flat.single_us("map", 4.0)[0] == 100.0
    assert prop.single_us("map", 4.0)[0] == pytest.approx(200.0)
    assert prop.single_us("buffer", 4.0)[0] == flat.single_us("buffer", 4.0)[0]
    assert prop.single_us("svm_coarse", 4.0)[0] == flat.single_us("svm_coarse", 4.0)[0] == -2.0
    # past the longest curve (8 MiB) the grown value fades to the constant as before
    at = 8.0 * 2**0.5
    assert prop.single_us("map", at)[0] == pytest.approx(7.0 + 0.5 * (100.0 * at / 2 - 7.0))
    assert prop.single_us("buffer", at)[0] == pytest.approx(5.0 + 0.5 * (40.0 * at / 8 - 5.0))
    assert list(prop.single_us(modes, 64.0)) == [7.0, 5.0, 9.0]
    with pytest.raises(LatpredError, match="curve_beyond='linear'"):
        SyncModel(curve_beyond="linear")
    # a 4 MiB layer, twice past map's last knot: map's curve held at +20 us beats
    # buffer's +30 us there; grown to +40 us, it loses
    curves = {"map": ((0.5, 2.0), (0.0, 20.0)), "buffer": ((0.5, 8.0), (0.0, 40.0))}
    for beyond, want in (("flat", "map"), ("proportional", "buffer")):
        assert _mode_of_big_layer(infos, single=single, single_by_mib=curves,
                                  curve_beyond=beyond) == want
    _sync_json_choice(tmp_path, "curve_beyond", "flat", "proportional", "grow")


def test_mode_ratios_reorder_gpu_only_memory_modes(infos, tmp_path):
    """``ratio_by_mib``: a GPU-only plan in a mode is scored as the same configuration's
    buffer plan times the ratio (flat below the first knot, fading back to the predictor's
    own score past the last); relative: the best GPU-only plan keeps its level against the
    CPU. Read from sync.json's ``single_ratio_by_mib``; bad knots are one error."""
    from latpred.planner.split import activation_mib

    sync = SyncModel(ratio_by_mib={"map": ((1.0, 4.0), (np.log(0.5), np.log(2.0)))})
    modes = np.array(["buffer", "map", "svm_coarse"], object)
    ratio, weight = sync.mode_ratio(modes, 2.0)
    assert ratio[0] == 1.0 and ratio[1] == pytest.approx(1.0) and np.isnan(ratio[2])
    assert list(weight) == [0.0, 1.0, 0.0]
    assert sync.mode_ratio("map", 0.1)[0][0] == pytest.approx(0.5)  # flat below
    assert sync.mode_ratio("map", 4.0 * 2**0.5)[1][0] == pytest.approx(0.5)  # fading
    assert sync.mode_ratio("map", 8.0)[1][0] == 0.0
    cpu, gpu = Linear(1e1, per_thread=False), Linear(1e3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer", "map"))
    mib = activation_mib(LAYER)
    # the stub predicts every mode alike; map's overhead is the larger: buffer without ratios
    plain = SyncModel({}, 1e9, "t", {"buffer": 5.0, "map": 7.0})
    base = Planner(preds, *infos, plain, opts).plan_layer(LAYER)
    assert base.plan.kind == "gpu" and base.plan.gpu.mem_mode == "buffer"
    for log_ratio, want in ((np.log(0.8), "map"), (np.log(1.2), "buffer")):
        curve = SyncModel({}, 1e9, "t", {"buffer": 5.0, "map": 7.0},
                          ratio_by_mib={"map": ((mib / 2, mib * 2), (log_ratio, log_ratio))})
        ch = Planner(preds, *infos, curve, opts).plan_layer(LAYER)
        assert ch.plan.kind == "gpu" and ch.plan.gpu.mem_mode == want
        assert ch.plan_us == pytest.approx(base.plan_us)  # the level kept
    # past the curve's last knot by a doubling: the predictor's own score again
    far = SyncModel({}, 1e9, "t", {"buffer": 5.0, "map": 7.0},
                    ratio_by_mib={"map": ((mib / 8, mib / 2), (np.log(0.5), np.log(0.5)))})
    assert Planner(preds, *infos, far, opts).plan_layer(LAYER).plan.gpu.mem_mode == "buffer"
    entry = {"gpu": "G", "cpu": "C", "modes": {}, "single": {"buffer": 5.0},
             "single_ratio_by_mib": {"ref": "buffer", "modes": {
                 "map": {"mib": [1.0, 4.0], "log_ratio": [-0.1, 0.1], "pairs": 50}}}}
    save_sync(tmp_path, entry)
    loaded = SyncModel.load(tmp_path, "G", "C")
    assert loaded.ratio_by_mib == {"map": ((1.0, 4.0), (-0.1, 0.1))}
    assert loaded.ratio_ref == "buffer"
    entry["single_ratio_by_mib"]["modes"]["map"]["mib"] = [1.0]
    save_sync(tmp_path, entry)
    with pytest.raises(LatpredError, match="single_ratio_by_mib of map"):
        SyncModel.load(tmp_path, "G", "C")


def test_cpu_thread_factors_reorder_thread_counts(infos, tmp_path):
    """``cpu_by_threads``: relative factors per thread count over the layer's FLOPs; they
    pick another thread count and leave the CPU's level against the GPU alone."""
    from latpred.planner.split import layer_flops

    flops = layer_flops(LAYER)
    sync = SyncModel(cpu_by_threads={2: ((flops / 4, flops * 4), (2.0, 2.0)),
                                     4: ((flops,), (0.5,))})
    fac = sync.cpu_factor(np.array([1, 2, 4]), flops)
    assert fac[0] == 1.0  # no curve for 1 thread and fac[1] == pytest.approx(2.0) and fac[2] == pytest.approx(0.5)
    assert fac[1] * fac[2] == pytest.approx(1.0)  # relative: geometric mean 1
    assert list(SyncModel().cpu_factor(np.array([4]), flops)) == [1.0]
    # 4 threads predicted twice as fast as 2; the factors say 2 is: CPU only, 2 threads
    cpu, gpu = Linear(1e3, per_thread=True), Linear(1e-3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(2, 4), mem_modes=("buffer",))
    plain = Planner(preds, *infos, SyncModel.constant(1e9), opts).plan_layer(LAYER)
    assert plain.plan.kind == "cpu" and plain.plan.cpu.threads == 4
    curve = SyncModel({}, 1e9, "t", cpu_by_threads={2: ((flops,), (0.25,)), 4: ((flops,), (1.0,))})
    ch = Planner(preds, *infos, curve, opts).plan_layer(LAYER)
    assert ch.plan.kind == "cpu" and ch.plan.cpu.threads == 2
    # read from sync.json; bad knots are one error naming the file
    entry = {"gpu": "G", "cpu": "C", "modes": {},
             "cpu_by_threads": {"4": {"flops": [1e6, 1e8], "factor": [1.1, 0.9]}}}
    save_sync(tmp_path, entry)
    assert SyncModel.load(tmp_path, "G", "C").cpu_by_threads == {4: ((1e6, 1e8), (1.1, 0.9))}
    entry["cpu_by_threads"]["4"]["factor"] = [1.1, 0.0]
    save_sync(tmp_path, entry)
    with pytest.raises(LatpredError, match="cpu_by_threads of 4 threads"):
        SyncModel.load(tmp_path, "G", "C")


def test_cpu_pruning_ranks_cpu_only_plans_with_the_thread_factors(infos, monkeypatch):
    """CPU stage 1 (batches of many CPU rows) keeps the thread counts the final scoring
    picks: at the whole layer it ranks with the runtime's factors, as ``_decide`` does, so
    a batch plans a layer as planning it alone does."""
    import latpred.planner.planner as planner_mod
    from latpred.planner.split import layer_flops

    flops = layer_flops(LAYER)
    cpu, gpu = Linear(1e3, per_thread=True), Linear(1e-3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    # predicted: more threads faster; the factors make 1 thread the fastest CPU-only plan
    sync = SyncModel({}, 1e9, "t", cpu_by_threads={1: ((flops,), (0.01,)),
                                                   8: ((flops,), (1.0,))})
    opts = PlannerOptions(cpu_threads=(1, 2, 4, 8), mem_modes=("buffer",), cpu_top_k=1)
    alone = Planner(preds, *infos, sync, opts).plan_layer(LAYER)
    assert alone.plan.kind == "cpu" and alone.plan.cpu.threads == 1
    monkeypatch.setattr(planner_mod, "CPU_PRUNE_MIN_ROWS", 0)  # stage 1 for any batch
    batch = Planner(preds, *infos, sync, opts).plan_layers([("a", 1, LAYER), ("b", 1, LAYER)])
    assert [ch.plan.describe() for ch in batch] == [alone.plan.describe()] * 2


def test_interference_can_make_a_split_not_pay(infos):
    # equal devices: an even split halves the time; if the parts slow each other down by
    # 2.2x it no longer pays, and the split's reported parts carry the factors
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer",))
    plain = Planner(preds, *infos, SyncModel({}, 1.0, "t"), opts).plan_layer(LAYER)
    assert plain.plan.kind == "split"
    mild = SyncModel({}, 1.0, "t", interference={"buffer": (1.2, 1.1)})
    ch = Planner(preds, *infos, mild, opts).plan_layer(LAYER)
    assert ch.plan.kind == "split" and ch.plan_us > plain.plan_us
    assert ch.plan_us == pytest.approx(max(ch.cpu_us, ch.gpu_us) + ch.sync_us)
    bad = SyncModel({}, 1.0, "t", interference={"buffer": (2.2, 2.2)})
    assert Planner(preds, *infos, bad, opts).plan_layer(LAYER).plan.kind != "split"


def test_split_factor_scales_split_plans_only(infos, tmp_path):
    # equal devices split near half; the runtime's measured splits 1.5x their prediction
    # keep a split (scaled), 2.5x make the single device win; single-device plans unchanged
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer",))
    plain = Planner(preds, *infos, SyncModel({}, 1.0, "t"), opts).plan_layer(LAYER)
    assert plain.plan.kind == "split"
    mild = Planner(preds, *infos, SyncModel({}, 1.0, "t", split_factor={"buffer": 1.5}),
                   opts).plan_layer(LAYER)
    assert mild.plan.kind == "split"
    assert mild.plan_us == pytest.approx(1.5 * (max(mild.cpu_us, mild.gpu_us) + mild.sync_us))
    assert mild.single_us == plain.single_us and mild.single == plain.single
    bad = Planner(preds, *infos, SyncModel({}, 1.0, "t", split_factor={"buffer": 2.5}),
                  opts).plan_layer(LAYER)
    assert bad.plan == plain.single and bad.plan_us == plain.single_us
    other = Planner(preds, *infos, SyncModel({}, 1.0, "t", split_factor={"map": 9.0}),
                    opts).plan_layer(LAYER)  # another mode's factor: no change
    assert other.plan == plain.plan and other.plan_us == plain.plan_us
    # sync.json round trip; a non-positive factor is one error naming it
    key = f"{infos[0]['name']} | {infos[1]['name']}"
    entry = {"gpu": infos[0]["name"], "cpu": infos[1]["name"], "modes": {},
             "split_factor": {"buffer": {"factor": 1.5, "rows": 40}}}
    (tmp_path / "sync.json").write_text(json.dumps({"version": 1, "pairs": {key: entry}}))
    sm = SyncModel.load(tmp_path, infos[0]["name"], infos[1]["name"])
    assert sm.split_factor == {"buffer": 1.5}
    np.testing.assert_array_equal(sm.split_scale(np.array(["buffer", "map"], dtype=object)),
                                  [1.5, 1.0])
    entry["split_factor"] = {"buffer": {"factor": 0}}
    (tmp_path / "sync.json").write_text(json.dumps({"version": 1, "pairs": {key: entry}}))
    with pytest.raises(LatpredError, match="split_factor of buffer needs a positive factor"):
        SyncModel.load(tmp_path, infos[0]["name"], infos[1]["name"])


def test_balanced_devices_split_near_half(infos):
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    ch = planner(infos, cpu, gpu, sync_us=1.0).plan_layer(LAYER)
    assert ch.plan.kind == "split"
    assert 0.4 <= ch.plan.ratio <= 0.6
    assert ch.plan_us < 0.6 * ch.single_us
    assert ch.plan_us == pytest.approx(max(ch.cpu_us, ch.gpu_us) + ch.sync_us)


def test_split_plans_leave_a_core_to_the_gpu_host_thread(infos):
    cpu_info = {**infos[1], "cpu_cores": 4, "compute_units": 4}
    preds = Predictors({"cpu_us": Linear(2.5e2, per_thread=True), "gpu_total_us": Linear(1e3)})
    p = Planner(preds, infos[0], cpu_info, SyncModel.constant(1.0),
                PlannerOptions(cpu_threads=(1, 2, 4), margin=0.0))
    assert p.plan_layer(LAYER).plan.cpu.threads == 2  # split: at most cores - 1
    preds = Predictors({"cpu_us": Linear(1e4, per_thread=True), "gpu_total_us": Linear(1e2)})
    p = Planner(preds, infos[0], cpu_info, SyncModel.constant(1.0),
                PlannerOptions(cpu_threads=(1, 2, 4)))
    ch = p.plan_layer(LAYER)
    assert ch.plan.kind == "cpu" and ch.plan.cpu.threads == 4  # CPU only: every core


def test_split_is_aligned_to_the_kernel_tile(infos):
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    ch = planner(infos, cpu, gpu, sync_us=1.0, impls=("gemm_tiled",)).plan_layer(
        LinearLayer(8, 1000, 64))
    assert ch.plan.kind == "split"
    tile = split_align("gemm_tiled", ch.plan.gpu.params, LinearLayer(8, 1000, 64).gemm())
    assert tile > 1 and ch.plan.split_n % tile == 0


def test_risk_aware_mode_avoids_uncertain_splits(infos):
    # GPU 2x faster and certain, CPU +-50 % unsure, 500 us of sync: by point predictions
    # a split saves ~9 %; at the p90 ends the saving shrinks to ~1 %, under the margin
    cpu, gpu = Linear(1e3, per_thread=False, spread=0.5), Linear(2e3, spread=0.0)
    point = planner(infos, cpu, gpu, sync_us=500.0).plan_layer(LAYER)
    assert point.plan.kind == "split"
    risky = planner(infos, cpu, gpu, sync_us=500.0, risk="p90").plan_layer(LAYER)
    assert risky.plan.kind == "gpu" and risky.risk_us >= risky.plan_us
    # without the sync cost both split, the risk-aware plan giving the GPU more
    safe = planner(infos, cpu, gpu, sync_us=0.0, risk="p90").plan_layer(LAYER)
    bold = planner(infos, cpu, gpu, sync_us=0.0).plan_layer(LAYER)
    assert safe.plan.kind == bold.plan.kind == "split"
    assert safe.plan.ratio > bold.plan.ratio


def test_one_batched_predict_per_predictor(infos):
    cpu, gpu = Linear(1e3, per_thread=True), Linear(1e3)
    items = [("a", 1, LinearLayer(8, 512, 64)), ("b", 2, LinearLayer(1, 1000, 512)),
             ("c", 1, ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1))]
    p = planner(infos, cpu, gpu, prune_top_k=None)
    choices = p.plan_layers(items)
    assert len(choices) == 3 and (cpu.calls, gpu.calls) == (1, 1)
    cpu.calls = gpu.calls = 0
    p = planner(infos, cpu, gpu)  # two-stage pruning: one extra GPU call for the batch
    p.plan_layers(items)
    assert cpu.calls == 1 and gpu.calls == 2
    # CPU stage 1 only for batches with many CPU rows (a network, not a layer)
    many = Planner(Predictors({"cpu_us": cpu, "gpu_total_us": gpu}), *infos,
                   SyncModel.constant(10.0), PlannerOptions(cpu_threads=tuple(range(1, 17))))
    cpu.calls = 0
    many.plan_layers(items[:1])
    assert cpu.calls == 1
    cpu.calls = 0
    many.plan_layers(items * 4)
    assert cpu.calls == 2


def test_replanning_predicts_nothing_again_and_decides_anew(infos):
    # equal devices: an even split pays with no overhead, not with a large one
    cpu, gpu = Linear(1e3, per_thread=False), Linear(1e3)
    items = [("a", 1, LAYER), ("b", 1, ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1))]
    p = planner(infos, cpu, gpu, sync_us=0.0)
    assert [ch.plan.kind for ch in p.plan_layers(items)] == ["split", "split"]
    calls = (cpu.calls, gpu.calls)
    big = 0.6 * LAYER.gemm().flops / 1e3
    p.sync = SyncModel.constant(big)  # the runtime's overhead changed: plan again
    again = p.plan_layer(LAYER, "a")
    assert (cpu.calls, gpu.calls) == calls  # every row read back from the memo
    fresh = planner(infos, Linear(1e3, per_thread=False), Linear(1e3), sync_us=big)
    want = fresh.plan_layer(LAYER, "a")
    assert again.plan.kind != "split"
    assert again.as_row() == want.as_row()
    # other predictors: predicted anew
    p.predictors = Predictors({"cpu_us": Linear(1e5, per_thread=True),
                               "gpu_total_us": Linear(1e2, 5.0)}, {}, "other")
    assert p.plan_layer(LAYER).plan.kind == "cpu"


def test_components_mode(infos):
    preds = Predictors({"cpu_us": Linear(1e3, per_thread=False),
                        "gpu_kernel_us": Linear(1e3), "gpu_dispatch_us": Linear(1e12, 2.0),
                        "gpu_transfer_us": Linear(1e12, 3.0)}, {}, "stub")
    p = Planner(preds, *infos, SyncModel.constant(1.0), PlannerOptions(cpu_threads=(1,)))
    assert p.gpu_mode == "components"
    ch = p.plan_layer(LAYER)
    assert ch.plan.kind == "split" and 0.4 <= ch.plan.ratio <= 0.6


def test_candidates_match_models_enumeration(infos):
    space = CandidateSpace(*infos, max_local_sizes=3)
    for layer in (LinearLayer(1, 256, 128), ConvLayer(1, 8, 16, 14, 14, 3, 3, padding=1)):
        ref = candidate_configs(layer, infos[0], "gpu", max_local_sizes=3)
        ref = set(zip(ref["impl"], ref["params"], ref["local_size"]))
        mine = {(c.impl, c.params, c.local_size) for c in space.gpu_configs(layer)}
        assert mine == ref


def test_planned_split_runs_correctly(infos, gpu, rng):
    """The chosen plan is legal for the device and computes the right result."""
    layer = ConvLayer(1, 8, 16, 10, 10, 3, 3, padding=1)
    ch = planner(infos, Linear(1e3, per_thread=False), Linear(1e3), sync_us=1.0,
                 mem_modes=("buffer",)).plan_layer(layer)
    assert ch.plan.kind == "split"
    arrays = layer.arrays(rng)
    with CoexecRun(layer, arrays, ch.plan, gpu) as run:
        run.run_once()
        np.testing.assert_allclose(run.output(), layer.reference(arrays),
                                   atol=layer.tolerance())


def test_shortlist_spreads_kinds_and_thread_counts(infos):
    cpu_info = {**infos[1], "cpu_cores": 8, "compute_units": 8}
    # CPU only is best (8 threads), the GPU 40 % slower: both kinds, distinct thread counts
    t8 = LAYER.gemm().flops / (1e3 * 8)
    preds = Predictors({"cpu_us": Linear(1e3, per_thread=True),
                        "gpu_total_us": Linear(1e9, base=1.4 * t8)})
    opts = dict(cpu_threads=(1, 2, 4, 6, 7, 8), mem_modes=("buffer",), margin=0.5,
                thread_gap=0.2)
    p = Planner(preds, infos[0], cpu_info, SyncModel.constant(1e6),
                PlannerOptions(shortlist=4, **opts))
    ch = p.plan_layer(LAYER)
    assert ch.plan.kind == "cpu" and ch.plan.cpu.threads == 8
    plans = [pl for pl, _us in ch.shortlist]
    assert plans[0] == ch.plan and len(plans) == 4
    assert plans[1].kind == "gpu"  # the best plan of the other kind comes next
    assert plans[2].kind == "cpu" and plans[3].kind == "gpu"  # then by prediction
    # 7 threads are within 20 % of 8: no distinct alternative; 4 are predicted 2x slower
    assert [pl.cpu.threads for pl in plans if pl.kind == "cpu"] == [8, 6]
    assert len({pl.describe() for pl in plans}) == len(plans)
    best = min(us for _pl, us in ch.shortlist)
    assert all(us <= 1.5 * best for _pl, us in ch.shortlist)
    # the default: the plan alone; a tight tolerance keeps the best of each device only
    assert [pl for pl, _ in Planner(preds, infos[0], cpu_info, SyncModel.constant(1e6),
                                    PlannerOptions(**opts)).plan_layer(LAYER).shortlist] \
        == [ch.plan]
    tight = Planner(preds, infos[0], cpu_info, SyncModel.constant(1e6),
                    PlannerOptions(shortlist=4, shortlist_tol=0.2, **opts)).plan_layer(LAYER)
    assert [(pl.kind, pl.cpu.threads if pl.cpu else None) for pl, _ in tight.shortlist] \
        == [("cpu", 8), ("gpu", None)]


def test_tune_layer_keeps_the_fastest_measured_plan(infos, gpu):
    from latpred.planner.tune import TUNE_POLICY, tune_layer

    # predictions rank the 1-unit PoCL "GPU" first; numpy/BLAS (1 thread: no contention
    # with the PoCL threads on a 2-core box) is several times faster in fact
    layer = LinearLayer(32, 512, 512)
    preds = Predictors({"cpu_us": Linear(1e5, per_thread=True), "gpu_total_us": Linear(1e6)})
    ch = Planner(preds, *infos, SyncModel.constant(1e6), PlannerOptions(
        cpu_threads=(1,), mem_modes=("buffer",), impls=("gemm_naive",), shortlist=2,
        shortlist_tol=10.0)).plan_layer(layer)
    assert ch.plan.kind == "gpu" and [pl.kind for pl, _ in ch.shortlist] == ["gpu", "cpu"]
    res = tune_layer(ch, gpu, policy=TUNE_POLICY)
    assert res.plan.kind == "cpu" and res.changed and res.index == 1
    assert [r["status"] for r in res.rows] == ["ok", "ok"]
    assert res.total_us == min(r["total_us"] for r in res.rows) < res.rows[0]["total_us"]
    # the measured pick as the layer's record: a scheduler rebuilds the tuned plan from it
    tuned = res.apply(ch)
    assert tuned.plan == res.plan and tuned.plan_us == ch.shortlist[1][1]
    assert np.isnan(tuned.cpu_us) and tuned.single == ch.single and ch.plan.kind == "gpu"
    row = {**tuned.as_row(), **res.measured_row()}
    assert plan_from_row(layer, row) == res.plan and row["kind"] == "cpu"
    assert row["tune_pick"] == 1 and row["tune_plans"] == 2
    assert row["measured_us"] == res.total_us < row["predicted_plan_measured_us"]


class FrameOnly:
    """A predictor seen through ``predict`` / ``predict_interval`` only: the planner hands
    it DataFrames."""

    def __init__(self, model):
        self.model = model

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return self.model.predict(df)

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.model.predict_interval(df)




def test_frame_builder_columns_hold_the_frame():
    from latpred.features import feature_matrix_and_labels
    from latpred.models.synthetic import CPU_INFO, GPU_INFO
    from latpred.planner.candidates import FrameBuilder

    fb, space = FrameBuilder(), CandidateSpace(GPU_INFO, CPU_INFO)
    layer = ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1)
    cfgs = [fb.config_id("gpu", GPU_INFO["name"], GPU_INFO["platform"], kc, None, "buffer")
            for kc in space.gpu_configs(layer)[:20]]
    cfgs += [fb.config_id("cpu", CPU_INFO["name"], "numpy", kc, t, "host")
             for kc, t in space.cpu_configs(layer)]
    shapes = [fb.shape_id(layer), fb.split_shape_id(layer, 8)]
    c, s = np.repeat(cfgs, 2)[::-1], np.tile(shapes, len(cfgs))
    frame, cols = fb.frame(c[5:], s[5:]), fb.columns(c[5:], s[5:])
    assert list(cols) == list(frame.columns)
    for name in frame.columns:
        if isinstance(cols[name], pd.Categorical):
            assert list(np.asarray(cols[name], object)) == frame[name].astype(object).tolist()
        else:
            want = frame[name].to_numpy(np.float64, na_value=np.nan)
            assert np.array_equal(cols[name], want, equal_nan=True)
    devices = {d["name"]: d for d in (GPU_INFO, CPU_INFO)}
    assert np.array_equal(feature_matrix_and_labels(cols, devices)[0],
                          feature_matrix_and_labels(frame, devices)[0])


@pytest.mark.parametrize("opts", [{}, {"risk": "p90", "shortlist": 3},
                                  {"gpu_model": "components"}, {"prune_top_k": None}])
def test_latency_predictors_plan_as_from_frames(latency_predictors, opts):
    """LatencyPredictors are served column mappings and one feature pass per batch: the
    same choices, bit for bit, as the same predictors handed DataFrames."""
    from latpred.models.synthetic import CPU_INFO, GPU_INFO
    from latpred.planner.planner import choices_frame

    direct = Predictors(dict(latency_predictors))
    framed = Predictors({t: FrameOnly(m) for t, m in latency_predictors.items()})
    assert direct.takes_columns(direct.models) and not framed.takes_columns(framed.models)
    items = [("fc", 1, LinearLayer(8, 512, 256)), ("fc1", 2, LinearLayer(1, 1000, 512)),
             ("conv", 1, ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1))]
    got = []
    for preds in (direct, framed):
        p = Planner(preds, GPU_INFO, CPU_INFO, SyncModel.constant(5.0),
                    PlannerOptions(**opts))
        got.append(p.plan_layers(items) + [p.plan_layer(lay, n, c) for n, c, lay in items])
    a, b = got
    pd.testing.assert_frame_equal(choices_frame(a), choices_frame(b), check_exact=True)
    assert [[(pl.describe(), us) for pl, us in ch.shortlist] for ch in a] == \
        [[(pl.describe(), us) for pl, us in ch.shortlist] for ch in b]


def test_options_are_validated(infos):
    with pytest.raises(LatpredError, match="risk"):
        planner(infos, Linear(1.0), Linear(1.0), risk="p99")
    with pytest.raises(LatpredError, match="margin"):
        planner(infos, Linear(1.0), Linear(1.0), margin=1.5)
    with pytest.raises(LatpredError, match="shortlist=0"):
        planner(infos, Linear(1.0), Linear(1.0), shortlist=0)
    with pytest.raises(LatpredError, match="gpu_model"):
        Planner(Predictors({"cpu_us": Linear(1.0), "gpu_total_us": Linear(1.0)}), *infos,
                options=PlannerOptions(gpu_model="components"))


def test_predictors_load(tmp_path):
    with pytest.raises(LatpredError, match="no such directory"):
        Predictors.load(tmp_path / "missing")
    joblib.dump(StubPredictor(1e3, 1.0, True), tmp_path / "cpu_us.pkl")
    with pytest.raises(LatpredError, match="gpu_total_us"):
        Predictors.load(tmp_path)
    joblib.dump(StubPredictor(1e3, 1.0, False), tmp_path / "gpu_total_us.pkl")
    (tmp_path / "manifest.json").write_text(json.dumps({"devices": {"X": {"type": "GPU",
                                                                          "name": "X"}}}))
    p = Predictors.load(tmp_path)
    assert p.has("cpu_us") and p.gpu_mode() == "total" and p.device("GPU")["name"] == "X"


def test_sync_measure_and_model(gpu, tmp_path):
    entry = measure_sync(gpu, 1, policy=QUICK, rounds=1,
                         interference_layer=LinearLayer(64, 256, 64))  # PoCL: a small one
    assert set(entry["modes"]) == set(gpu.mem_modes)
    for v in entry["modes"].values():
        assert v["base_us"] >= 0 and v["per_mib_us"] >= 0 and len(v["points"]) == 3
        assert [p["gpu_out_bytes"] for p in v["points"]] == [128, 65536, 8 * 2**20]
    assert set(entry["single"]) == {"cpu", *gpu.mem_modes}
    assert all(v >= 0 for v in entry["single"].values())
    save_sync(tmp_path, entry)
    model = SyncModel.load(tmp_path, gpu.name, entry["cpu"])
    assert model.single == entry["single"]
    assert model.single_us("cpu")[0] == entry["single"]["cpu"]
    assert set(entry["interference"]) == set(gpu.mem_modes)
    for v in entry["interference"].values():
        assert v["gpu"] >= 1.0 and v["cpu"] >= 1.0 and v["gpu_alone_us"] > 0
    fg, fc = model.slowdown(np.array(["buffer", "unknown"], object))
    assert fg[0] == entry["interference"]["buffer"]["gpu"] and fg[1] == fc[1] == 1.0
    base, slope = model.modes["buffer"]
    assert model.sync_us("buffer", 2**20)[0] == pytest.approx(base + slope)
    assert model.sync_us(np.array(["unknown"], object), [0.0])[0] == model.default_us
    assert SyncModel.load(tmp_path / "none").source == "default"


def test_sync_fit_is_least_squares_and_non_negative():
    from latpred.planner.sync import _fit

    pts = [{"gpu_out_bytes": b * 2**20, "sync_us": us} for b, us in ((0, 100.0), (1, 130.0),
                                                                      (8, 340.0))]
    f = _fit(pts)
    assert f["per_mib_us"] == pytest.approx(30.0) and f["base_us"] == pytest.approx(100.0)
    down = [{"gpu_out_bytes": b * 2**20, "sync_us": us} for b, us in ((0, 100.0), (8, 60.0))]
    assert _fit(down)["per_mib_us"] == 0.0 and _fit(down)["base_us"] == pytest.approx(80.0)


def test_oracle_grid_is_resumable(gpu, tmp_path):
    cfg = GridConfig(steps=2, threads=[1], top_k=1, impls=["gemm_naive"], max_local_sizes=1,
                     mem_modes=["buffer", gpu.mem_modes[-1]], policy=QUICK)
    item = LayerItem("t", "fc", LinearLayer(2, 32, 16))
    summary = OracleGrid(gpu, cfg, tmp_path / "g").run([item])
    df = load_grid(tmp_path / "g")
    assert set(df["backend"]) == {"cpu", "gpu", "coexec"}
    assert df["config_key"].is_unique and (df["status"] == "ok").all()
    assert set(df["split_n"]) == {0, 16, 32}
    row = summary.iloc[0]
    assert row["t_oracle_us"] <= row["t_single_us"]
    n = len(df)
    OracleGrid(gpu, cfg, tmp_path / "g").run([item])  # everything stored: nothing new
    assert len(load_grid(tmp_path / "g")) == n
    assert len(summarize(df)) == 1


@pytest.fixture
def models_dir(tmp_path, infos):
    d = tmp_path / "models"
    d.mkdir()
    joblib.dump(StubPredictor(2e3, 5.0, True), d / "cpu_us.pkl")
    joblib.dump(StubPredictor(2e3, 20.0, False), d / "gpu_total_us.pkl")
    (d / "manifest.json").write_text(json.dumps({"devices": {"gpu": infos[0], "cpu": infos[1]}}))
    return d


def test_cli_plan(models_dir, capsys):
    assert main(["plan", "--models", str(models_dir), "--op", "linear", "--m", "4",
                 "--n", "512", "--k", "256", "--sync-us", "5"]) == 0
    out = capsys.readouterr().out
    assert "best single device" in out and "predicted" in out
    assert main(["plan", "--models", str(models_dir), "--suite", "mnist_mlp", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all("split_n" in r and "single_us" in r for r in rows)


def test_cli_plan_tune_measures_the_shortlist(models_dir, tmp_path, capsys):
    base = ["plan", "--models", str(models_dir), "--suite", "mnist_mlp", "--limit-layers", "2",
            "--device", "pocl", "--gpu-threads", "1", "--threads", "1", "--impl", "gemm_naive",
            "--mem-modes", "buffer", "--max-local-sizes", "1"]
    assert main([*base, "--json"]) == 0
    predicted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    csv = tmp_path / "plans.csv"
    assert main([*base, "--tune", "--tune-seconds", "0.2", "--csv", str(csv)]) == 0
    text = capsys.readouterr().out
    assert text.count("    measured: ") == 2 and "measure-and-pick" in text
    rows = pd.read_csv(csv).to_dict("records")
    layers = dict((name, layer) for name, _c, layer in suite_layers("mnist_mlp"))
    assert [r["layer"] for r in rows] == [r["layer"] for r in predicted]
    for row, pred in zip(rows, predicted):
        assert row["tune_plans"] >= 2  # the default shortlist with --tune: alternatives
        assert row["measured_us"] <= row["predicted_plan_measured_us"]
        plan = plan_from_row(layers[row["layer"]], row)
        assert plan.kind == row["kind"] and plan.split_n == row["split_n"]
        if row["tune_pick"] == 0:  # kept: the record is the predicted plan's
            assert all(row[k] == pred[k] or (pd.isna(row[k]) and pred[k] is None)
                       for k in ("split_n", "gpu_impl", "threads", "plan_us"))


@pytest.mark.parametrize("argv,msg", [
    (["plan", "--models", "/nonexistent", "--op", "linear", "--m", "1", "--n", "2", "--k", "3"],
     "models="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1"], "needs --n, --k"),
    (["plan", "--models", "{m}", "--suite", "nosuch"], "suite="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--risk", "p50"], "risk="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--tune-seconds", "1"], "tune-seconds="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--shortlist", "0"], "shortlist="),  # one line: before sync.json's warning
    (["plan", "--models", "{m}", "--suite", "mnist_mlp", "--op", "linear", "--m", "1",
      "--n", "8", "--k", "8"], "op="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--height", "5"], "height="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--predict-threads", "0"], "predict-threads="),
    (["plan", "--models", "{m}", "--op", "linear", "--m", "1", "--n", "8", "--k", "8",
      "--tune", "--tune-seconds", "0", "--device", "pocl"], "tune-seconds="),
    (["coexec", "run", "--op", "linear", "--m", "1", "--n", "8", "--k", "8", "--ratio", "2",
      "--impl", "gemm_naive"], "ratio="),
    (["coexec", "bench", "--models", "{m}", "--suite", "mnist_mlp", "--compare", "{m}",
      "--out", "/tmp/never"], "compare="),
    (["coexec", "bench", "--models", "{m}", "--suite", "mnist_mlp", "--compare",
      "b=/nonexistent", "--out", "/tmp/never"], "compare="),
    (["coexec", "bench", "--models", "{m}", "--suite", "mnist_mlp", "--compare", "b={m}",
      "--confirm-top", "0", "--out", "/tmp/never"], "confirm-top="),
    (["coexec", "cpu-rounds", "--out", "/tmp/never"], "from="),
    (["coexec", "cpu-rounds", "--suite", "nosuch", "--out", "/tmp/never"], "suite="),
    (["coexec", "cpu-rounds", "--suite", "mnist_mlp", "--threads", "0", "--out",
      "/tmp/never"], "threads="),
    (["coexec", "cpu-rounds", "--suite", "mnist_mlp", "--models", "{m}", "--out",
      "/tmp/never"], "models="),
    (["coexec", "cpu-rounds", "--suite", "mnist_mlp", "--max-best-us", "50", "--out",
      "/tmp/never"], "max-best-us="),
    (["coexec", "cpu-rounds", "--from", "/nonexistent", "--out", "/tmp/never"], "from="),
])
def test_cli_user_errors(models_dir, capsys, argv, msg):
    argv = [a.replace("{m}", str(models_dir)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]


def test_cli_cpu_rounds_beside_the_planners_gpu_plan(models_dir, tmp_path, capsys):
    out = tmp_path / "rounds"
    argv = ["coexec", "cpu-rounds", "--suite", "mnist_mlp", "--threads", "1,2", "--device",
            "pocl", "--gpu-threads", "1", "--models", str(models_dir), "--seconds", "0.1",
            "--out", str(out)]
    assert main(argv) == 0
    assert "3 layers: 3 measured" in capsys.readouterr().out
    df = load(out)
    assert len(df) == 6 and (df["status"] == "ok").all()
    assert all(json.loads(v)["beside"].startswith("GPU only") for v in df["kernel_breakdown_us"])
    assert main(argv) == 0 and "3 stored before" in capsys.readouterr().out


def test_cli_coexec_bench(models_dir, tmp_path, capsys):
    out = tmp_path / "bench"
    argv = ["coexec", "bench", "--models", str(models_dir), "--suite", "mnist_mlp",
            "--limit-layers", "1", "--device", "pocl", "--gpu-threads", "1", "--quick",
            "--steps", "2", "--threads", "1", "--top-k", "1", "--impl", "gemm_naive",
            "--max-local-sizes", "1", "--mem-modes", "buffer", "--no-progress",
            "--confirm-seconds", "0.3", "--shortlist", "2", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "efficiency" in text and "speedup_plan" in text
    table = pd.read_csv(out / "bench.csv")
    assert len(table) == 1
    r = table.iloc[0]
    assert r["t_oracle_us"] <= r["t_single_us"]
    assert r["speedup_plan"] == pytest.approx(r["t_single_us"] / r["t_plan_us"])
    assert r["efficiency"] == pytest.approx(r["t_oracle_us"] / r["t_plan_us"])
    assert (out / "bench.png").stat().st_size > 0 and (out / "bench.parquet").exists()
    assert json.loads((out / "summary.json").read_text())["layers"] == 1
    # the finalists were confirmed side by side: the plan and the grid's best are among them
    assert bool(r["confirmed"])
    conf = load(out / "confirm")
    assert (conf["status"] == "ok").all() and conf["config_key"].is_unique
    assert (conf["repeats"] >= 5).all()
    assert r["t_plan_us"] in set(conf["total_us"]) and r["t_oracle_us"] == conf["total_us"].min()
    assert r["t_oracle_us"] <= r["t_plan_us"] and r["t_oracle_us"] <= r["t_single_us"]
    assert np.isfinite(r["t_plan_grid_us"]) and np.isfinite(r["t_oracle_grid_us"])
    # measure-and-pick over the shortlist: never slower than the plan it starts from
    assert r["n_shortlist"] >= 1 and r["t_tuned_us"] <= r["t_plan_us"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["efficiency_tuned_geomean_pct"] >= summary["efficiency_geomean_pct"]
    # the split-half check: each finalist's medians over the even and odd rounds, kept
    halves = [json.loads(v) for v in conf["kernel_breakdown_us"]]
    assert all(h["even_us"] > 0 and h["odd_us"] > 0 for h in halves)
    assert np.isfinite(r["efficiency_split_half"]) and r["plan_vs_single_split_half"] > 0
    assert summary["split_half_layers"] == 1
    assert "split-half check" in text
    # resumable: a second run re-uses the stored confirmation
    assert main(argv) == 0
    assert len(load(out / "confirm")) == len(conf)


def test_cli_coexec_bench_compare(models_dir, tmp_path, capsys):
    """A paired comparison: another models directory's plan is confirmed in the same rounds."""
    fast_cpu = tmp_path / "fast_cpu"
    fast_cpu.mkdir()
    for f in models_dir.iterdir():
        (fast_cpu / f.name).write_bytes(f.read_bytes())
    joblib.dump(StubPredictor(1e9, 0.1, True), fast_cpu / "cpu_us.pkl")  # CPU only, surely
    out = tmp_path / "bench"
    argv = ["coexec", "bench", "--models", str(models_dir), "--suite", "mnist_mlp",
            "--limit-layers", "2", "--device", "pocl", "--gpu-threads", "1", "--quick",
            "--steps", "2", "--threads", "1", "--top-k", "1", "--impl", "gemm_naive",
            "--max-local-sizes", "1", "--mem-modes", "buffer", "--no-progress",
            "--confirm-seconds", "0.3", "--compare", f"cpu={fast_cpu}", "--out", str(out)]
    assert main(argv) == 0
    assert "compared cpu: efficiency" in capsys.readouterr().out
    table = pd.read_csv(out / "bench.csv")
    conf = load(out / "confirm")
    assert len(table) == 2
    for _, r in table.iterrows():
        assert r["plan_cpu"].startswith("CPU only")
        assert r["same_plan_cpu"] == (r["plan_kind"] == "cpu")
        times = set(conf.loc[conf["layer"] == r["layer"], "total_us"])
        assert r["t_plan_cpu_us"] in times and r["t_plan_us"] in times
        assert r["t_oracle_us"] == min(times) <= r["t_plan_cpu_us"]
        assert r["efficiency_cpu"] == pytest.approx(r["t_oracle_us"] / r["t_plan_cpu_us"])
    v = json.loads((out / "summary.json").read_text())["compare"]["cpu"]
    assert v["layers"] == 2
    assert v["efficiency_geomean_pct"] == pytest.approx(
        100 * np.exp(np.log(table["efficiency_cpu"]).mean()))


def test_split_half_chooses_on_one_half_and_times_on_the_other():
    from latpred.planner.bench import split_half

    # finalist b is the fastest on the even rounds only, a on the odd ones; the plan is a
    c = pd.DataFrame({"even_us": [10.0, 9.0, 20.0], "odd_us": [10.0, 11.0, 30.0],
                      "backend": ["cpu", "gpu", "gpu"]}, index=[3, 4, 5])
    plan = c.loc[3]
    got = split_half(c, plan, c.loc[[4, 5]])
    # odd-chosen a timed on even: 10 / 10; even-chosen b timed on odd: 11 / 10
    assert got["efficiency_split_half"] == pytest.approx(np.sqrt(1.0 * 1.1))
    # T_single: odd picks b (11 < 30) -> even 10 / 9; even picks b -> odd 10 / 11
    assert got["plan_vs_single_split_half"] == pytest.approx(np.sqrt(10 / 9 * 10 / 11))
    nan = split_half(c.assign(odd_us=np.nan), plan.copy(), c.loc[[4]])
    assert np.isnan(nan["efficiency_split_half"])


@pytest.mark.parametrize("layer", [
    ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1),
    ConvLayer(1, 64, 128, 7, 7, 3, 3, padding=1, groups=32),
    ConvLayer(1, 96, 96, 28, 28, 3, 3, padding=1, groups=96),
    LinearLayer(8, 96, 64),
    LinearLayer(8, 96, 64, "backward_input"),
])
def test_frame_builder_split_rows_are_the_sub_layers_rows(layer):
    """A split's row, derived from the whole layer's, is the row of the layer computing
    that part (``split.sub_layer``), column for column."""
    from latpred.planner.candidates import INT_COLS, SHAPE_STR_COLS, FrameBuilder, KernelConfig
    from latpred.planner.split import layer_extent, split_granule, sub_layer

    n, g = layer_extent(layer), split_granule(layer)
    widths = [w for w in (g, 2 * g, n // 2, n - g, n) if w > 0 and w % g == 0]
    frames = []
    for split in (True, False):
        fb = FrameBuilder()
        cid = fb.config_id("cpu", "cpu", "numpy", KernelConfig("blas", "", ""), 4, "host")
        fb.shape_id(layer)  # the whole layer first, as the planner adds it
        sids = [fb.split_shape_id(layer, w) if split else fb.shape_id(sub_layer(layer, 0, w))
                for w in widths]
        frames.append(fb.frame(np.full(len(widths), cid), np.array(sids)))
    cols = [*SHAPE_STR_COLS, *INT_COLS]
    pd.testing.assert_frame_equal(frames[0][cols], frames[1][cols])


def test_split_floor_charges_a_split_the_overhead_of_its_gpu_parts_activations(infos, tmp_path):
    """``split_floor``: "none" (default) scores a split with its sync line alone; "single"
    with at least the GPU-only overhead (``single_us``) of the activations its GPU part
    moves (``part_activation_mib``: the whole input and its output block), so a split
    cannot look cheaper than a GPU-only plan only because the GPU-only plan pays for moving
    the activations. Read from sync.json; a bad value is one error naming it."""
    from latpred.planner.split import activation_mib, part_activation_mib

    big = LinearLayer(256, 3072, 1024)  # A 1 MiB, C 3 MiB
    assert part_activation_mib(big, 3072) == pytest.approx(activation_mib(big))
    assert part_activation_mib(big, np.array([0, 1536])) == pytest.approx([1.0, 2.5])
    conv = ConvLayer(1, 16, 32, 64, 64, 3, 3, 1, 1)  # in 0.25 MiB, out 0.5 MiB
    assert part_activation_mib(conv, 16) == pytest.approx(0.25 + 0.25)
    floor_us = 400.0
    curve = {"buffer": ((0.01, 100.0), (floor_us, floor_us))}  # the same at every size
    cpu, gpu = Linear(2e5, per_thread=False), Linear(2e5)  # equal devices: splits pay
    preds = Predictors({"cpu_us": cpu, "gpu_total_us": gpu}, {}, "stub")
    opts = PlannerOptions(cpu_threads=(1,), mem_modes=("buffer",), margin=0.0)

    def sync_of(curves, **kw) -> SyncModel:
        return SyncModel({"buffer": (0.0, 0.0)}, 1e9, "t", single={"buffer": 0.0},
                         single_by_mib=curves, **kw)

    def choice(**kw):
        return Planner(preds, *infos, sync_of(curve, **kw), opts).plan_layer(big)

    none, floor = choice(), choice(split_floor="single")
    assert SyncModel().split_floor == "none"
    assert none.plan.kind == "split"
    assert floor.best_split_us == pytest.approx(none.best_split_us + floor_us)
    assert floor.single_us == pytest.approx(none.single_us)  # GPU-only plans unchanged
    # a curve growing with the activations: the floor grows with the GPU part's share
    grow = {"buffer": ((1.0, 4.0), (0.0, 3000.0))}
    sync = sync_of(grow, split_floor="single")
    ch = Planner(preds, *infos, sync, opts).plan_layer(big)
    part = part_activation_mib(big, ch.best_split.split_n)
    g = big.gemm().flops * ch.best_split.ratio / 2e5
    c = big.gemm().flops * (1 - ch.best_split.ratio) / 2e5
    assert ch.best_split_us == pytest.approx(max(g, c) + sync.single_us("buffer", part)[0])
    _sync_json_choice(tmp_path, "split_floor", "none", "single", "always")

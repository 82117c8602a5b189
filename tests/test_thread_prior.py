"""planner.thread_prior: CPU thread counts ranked by the runtime's timings of similar layers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from latpred.planner.planner import Planner, PlannerOptions
from latpred.planner.predictors import Predictors
from latpred.planner.sync import SyncModel, save_sync
from latpred.planner.thread_prior import ThreadNeighbours, gemm_key
from latpred.profiler.devices import cpu_info
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

COUNTS = (4, 8, 16)


def _conv(cin: int, cout: int, h: int, k: int = 1, groups: int = 1) -> ConvLayer:
    return ConvLayer(in_channels=cin, out_channels=cout, height=h, width=h, kernel_h=k,
                     kernel_w=k, stride=1, padding=(k - 1) // 2, dilation=1, groups=groups,
                     batch=1)


def _rows(profiles: dict) -> tuple[list, np.ndarray, np.ndarray]:
    """Runtime rows (layers, threads, wall us): each layer timed at every count (twice at
    4 threads: the fit takes the geometric mean)."""
    layers, threads, wall = [], [], []
    for layer, times in profiles.items():
        for t, us in zip(COUNTS, times):
            layers.append(layer)
            threads.append(t)
            wall.append(us)
        layers.append(layer)
        threads.append(4)
        wall.append(times[0])
    return layers, np.array(threads), np.array(wall, float)


def test_gemm_key_of_convs_and_linear_passes():
    """A conv's implicit GEMM: output pixels x output channels x filter size; grouped convs
    flagged; a linear pass its GEMM's M, N, K."""
    assert gemm_key(_conv(64, 128, 14)) == (np.log2(196), 7.0, 6.0, 0.0)
    assert gemm_key(_conv(32, 32, 8, k=3, groups=32)) == (6.0, 5.0, np.log2(9), 1.0)
    assert gemm_key(LinearLayer(1, 256, 1024)) == (0.0, 8.0, 10.0, 0.0)


def test_fit_profiles_and_nearest_neighbours():
    """The fit keeps layers timed at every count, each profile over its own fastest; a new
    layer gets the mean of its k nearest in (log2 M, N, K), grouped convs only among grouped
    ones; the factor is relative (mean 0 over the counts) and interpolated in log threads."""
    small = {LinearLayer(1, 64 * 2**i, 512): (10.0, 12.0, 20.0) for i in range(3)}  # 4 best
    big = {LinearLayer(512, 4096 * 2**i, 4096): (400.0, 200.0, 100.0) for i in range(3)}
    dw = {_conv(64, 64, 56, 3, 64): (50.0, 25.0, 50.0)}  # 8 threads best
    layers, threads, wall = _rows({**small, **big, **dw})
    # a layer timed at two counts only is no reference
    layers.append(LinearLayer(7, 7, 7))
    threads = np.append(threads, 4)
    wall = np.append(wall, 1.0)
    nb = ThreadNeighbours.fit(layers, threads, wall, COUNTS, k=2)
    assert nb.threads == COUNTS and len(nb.shapes) == 7
    assert np.allclose(nb.log_profile.min(axis=1), 0.0)
    f_small = nb.log_factor(LinearLayer(1, 100, 500), np.array(COUNTS))
    assert np.argmin(f_small) == 0 and f_small.mean() == pytest.approx(0.0)
    assert np.argmin(nb.log_factor(LinearLayer(600, 6000, 4000), np.array(COUNTS))) == 2
    # a depthwise conv reads the depthwise reference, however near the linear ones are
    f_dw = nb.log_factor(_conv(96, 96, 28, 3, 96), np.array([4, 8, 16]))
    assert np.argmin(f_dw) == 1
    # 12 threads between 8 and 16 (log2), 32 beyond the last count: flat
    f = nb.log_factor(LinearLayer(1, 100, 500), np.array([8, 12, 16, 32]))
    assert f[0] < f[1] < f[2] == f[3]
    with pytest.raises(LatpredError, match="grid"):
        ThreadNeighbours.fit(layers[:1], threads[:1], wall[:1], COUNTS)


def test_bad_tables_are_refused():
    with pytest.raises(LatpredError, match="threads"):
        ThreadNeighbours((8, 4), np.zeros((1, 4)), np.zeros((1, 2)))
    with pytest.raises(LatpredError, match="log_profile"):
        ThreadNeighbours((4, 8), np.zeros((1, 4)), np.zeros((1, 3)))
    with pytest.raises(LatpredError, match="log_profile"):
        ThreadNeighbours((4, 8), np.zeros((1, 4)), np.array([[0.0, np.nan]]))
    with pytest.raises(LatpredError, match="k=0"):
        ThreadNeighbours((4, 8), np.zeros((1, 4)), np.zeros((1, 2)), k=0)


class _Cpu:
    """CPU predictor stub: every thread count ties at 100 us except 1 thread (slow)."""

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        t = df["threads"].to_numpy(dtype=float, na_value=1.0)
        return np.where(t > 1, 100.0, 1e4)

    def predict_interval(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = self.predict(df)
        return p, p


class _Gpu(_Cpu):
    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return np.full(len(df), 1e6)


def test_planner_reorders_threads_and_keeps_the_cpu_level(pocl_device, tmp_path):
    """With neighbours that favour 8 threads, a CPU-only plan among predicted ties takes 8
    and its predicted time stays the predictors' best (the neighbours only reorder); read
    from sync.json's cpu_thread_neighbours, a malformed table is one error naming it."""
    from latpred.profiler.devices import cl_device_info

    infos = ({**cl_device_info(pocl_device.root_device), "type": "GPU"}, cpu_info())
    layer = LinearLayer(32, 256, 256)
    nb = ThreadNeighbours(COUNTS, np.array([gemm_key(layer)]), np.array([[0.3, 0.0, 0.2]]))
    preds = Predictors({"cpu_us": _Cpu(), "gpu_total_us": _Gpu()}, {}, "stub")
    opts = PlannerOptions(cpu_threads=COUNTS)
    plain = Planner(preds, *infos, SyncModel({}, 1e9, "t"), opts).plan_layer(layer)
    sync = SyncModel({}, 1e9, "t", cpu_neighbours=nb)
    ch = Planner(preds, *infos, sync, opts).plan_layer(layer)
    assert plain.plan.kind == ch.plan.kind == "cpu"
    assert ch.plan.cpu.threads == 8 and plain.plan.cpu.threads != 8
    assert ch.plan_us == pytest.approx(plain.plan_us)
    assert list(sync.cpu_neighbour_factor(np.array([4, 8]), layer)) == pytest.approx(
        np.exp([0.3 - 0.5 / 3, -0.5 / 3]))
    assert list(SyncModel().cpu_neighbour_factor(np.array([4, 8]), layer)) == [1.0, 1.0]
    # sync.json round trip; absent -> off; malformed -> one error naming it
    entry = {"gpu": "G", "cpu": "C", "modes": {}, "cpu_thread_neighbours": nb.to_json()}
    save_sync(tmp_path, entry)
    back = SyncModel.load(tmp_path, "G", "C").cpu_neighbours
    assert back.threads == COUNTS and np.allclose(back.log_profile, nb.log_profile, atol=1e-4)
    save_sync(tmp_path, {**entry, "cpu_thread_neighbours": None})
    assert SyncModel.load(tmp_path, "G", "C").cpu_neighbours is None
    save_sync(tmp_path, {**entry, "cpu_thread_neighbours": {"threads": [4, 8]}})
    with pytest.raises(LatpredError, match="cpu_thread_neighbours=.*sync.json"):
        SyncModel.load(tmp_path, "G", "C")
    json.loads((tmp_path / "sync.json").read_text())  # the file itself stays valid JSON

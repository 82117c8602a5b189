"""CPU training data timed in the runtime's interleaved rounds (``planner.cpu_rounds``),
numpy/BLAS as the CPU, a PoCL sub-device as the GPU of the plan timed beside."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from latpred.datasets import load
from latpred.datasets.store import DatasetWriter
from latpred.models.targets import target_rows
from latpred.planner.confirm import ConfirmPolicy
from latpred.planner.cpu_rounds import CpuRounds, layers_of_datasets
from latpred.planner.oracle import LayerItem
from latpred.planner.runtime import GpuConfig, Plan
from latpred.planner.split import layer_extent
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

FAST = ConfirmPolicy(min_rounds=3, max_rounds=5, max_seconds=0.2, rel_halfwidth=0.5)
ITEMS = [LayerItem("t", "fc", LinearLayer(4, 24, 16)),
         LayerItem("t", "conv", ConvLayer(1, 3, 8, 9, 9, 3, 3, padding=1))]


@pytest.fixture(scope="module")
def gpu(pocl_device):
    return OpenCLDevice(pocl_device.root_device, threads=1)


def test_rows_per_thread_count_train_as_cpu_rows_and_resume(tmp_path):
    out = tmp_path / "rounds"
    res = CpuRounds(str(out), [2, 1], policy=FAST).run(ITEMS)
    assert (res.measured, res.skipped, res.failed) == (2, 0, 0)
    df = load(out)
    assert len(df) == 4 and df["config_key"].is_unique
    assert (df["status"] == "ok").all() and (df["backend"] == "cpu").all()
    assert sorted(df.groupby("layer")["threads"].apply(sorted).tolist()) == [[1, 2], [1, 2]]
    assert (df["total_us"] > 0).all() and (df["total_us"] == df["kernel_us"]).all()
    assert (df["repeats"] >= FAST.min_rounds).all()
    assert (df["platform"] == "numpy").all() and (df["impl"] == "blas").all()
    wall = [json.loads(v)["wall_us"] for v in df["kernel_breakdown_us"]]
    assert all(w >= t * 0.5 for w, t in zip(wall, df["total_us"]))  # the CPU part is inside
    rows, y = target_rows(df, "cpu_us")
    assert len(rows) == 4 and np.allclose(y, rows["total_us"])
    again = CpuRounds(str(out), [1, 2], policy=FAST).run(ITEMS)
    assert (again.measured, again.skipped) == (0, 2) and len(load(out)) == 4


def test_gpu_plan_timed_beside_and_named(tmp_path, gpu):
    beside = []

    def pick(layer):
        plan = Plan(layer_extent(layer), layer_extent(layer),
                    GpuConfig("gemm_naive", {}, None, "buffer"))
        beside.append(plan)
        return plan

    out = tmp_path / "rounds"
    CpuRounds(str(out), [1], gpu, pick, FAST).run(ITEMS[:1])
    (r,) = load(out).to_dict("records")
    extra = json.loads(r["kernel_breakdown_us"])
    assert extra["beside"] == beside[0].describe() and extra["beside_us"] > 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "cpu_rounds" and meta["gpu_context"]


def test_deadline_leaves_layers_unwritten(tmp_path):
    out = tmp_path / "rounds"
    res = CpuRounds(str(out), [1], policy=FAST).run(ITEMS, deadline=time.time() - 1)
    assert (res.measured, res.unfinished) == (0, 2)
    assert not out.exists()  # nothing written, not even the sidecar


def test_layers_of_datasets_filters_by_fastest_cpu_row(tmp_path):
    rows = []
    for name, (m, n, k), us in (("a", (2, 8, 8), (50.0, 30.0)), ("b", (2, 64, 64), (900.0, 800.0))):
        for t, v in zip((1, 2), us):
            rows.append({"op": "linear", "pass": "forward", "m": m, "n": n, "k": k,
                         "suite": "s", "layer": name, "backend": "cpu", "device": "cpu",
                         "platform": "numpy", "impl": "blas", "params": "{}",
                         "local_size": "", "threads": t, "mem_mode": "host", "total_us": v,
                         "status": "ok", "config_key": f"{name}{t}"})
    rows.append({**rows[0], "backend": "gpu", "total_us": 1.0, "config_key": "g"})
    w = DatasetWriter(tmp_path / "d")
    for r in rows:
        w.append(r)
    w.close()
    every = layers_of_datasets([str(tmp_path / "d")])
    assert [(i.name, i.layer.n) for i in every] == [("a", 8), ("b", 64)]
    small = layers_of_datasets([str(tmp_path / "d")], max_best_us=100.0)
    assert [i.name for i in small] == ["a"]


@pytest.mark.parametrize("threads", [[], [0], [1.5]])
def test_bad_thread_counts_refused(tmp_path, threads):
    with pytest.raises(LatpredError, match="threads"):
        CpuRounds(str(tmp_path / "r"), threads)
    assert not (tmp_path / "r").exists()

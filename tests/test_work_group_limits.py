"""Kernel work-group limits: read from a sweep's refused rows, kept by the predictors'
exports, and respected by the planner's candidate space (the H200 host refused four
planned local sizes of 32x32 before the planner knew them; BENCHMARKS.md section 5,
session 29)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from latpred.datasets.store import load
from latpred.models.persist import load_model, set_work_group_limits
from latpred.models.targets import work_group_limits
from latpred.planner.candidates import CandidateSpace
from latpred.planner.planner import Planner, PlannerOptions
from latpred.planner.predictors import Predictors
from latpred.planner.sync import SyncModel
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

H100 = "datasets/h100"
H200 = "datasets/h200"


def _rows(status: list[str], error: list[str], backend: str = "gpu") -> pd.DataFrame:
    n = len(status)
    return pd.DataFrame({"impl": ["gemm_naive"] * (n - 1) + ["gemm_tiled"],
                         "params": ["{}"] * (n - 1) + ['{"TS": 32}'],
                         "status": status, "error": error, "backend": [backend] * n,
                         "device": ["GPU X"] * n})


def test_limits_are_the_smallest_each_refused_kernel_reported():
    df = _rows(["illegal_work_group", "illegal_work_group", "ok", "illegal_work_group"],
               ["local size (32, 32, 1) exceeds kernel limit 512",
                "local size (32, 32, 1) exceeds kernel limit 256", "",
                "global (100,) not a multiple of local (32,)"])
    assert work_group_limits(df, "gpu_total_us") == {("gemm_naive", "{}"): 256}
    assert work_group_limits(df, "cpu_us") == {}  # the CPU's rows have no kernels
    assert work_group_limits(df.drop(columns="error"), "gpu_total_us") == {}


def test_the_h200_sweep_records_its_refused_kernels():
    lim = work_group_limits(load([f"{H200}/linear", f"{H200}/conv"]), "gpu_total_us")
    assert lim[("gemm_naive", "{}")] == 256 and lim[("gemm_tiled", '{"TS": 32}')] == 256


def test_the_shipped_h200_export_carries_the_limits_its_data_gives():
    model = load_model(f"{H200}/models/newpair/gpu_total_us")
    data = load([f"{H200}/linear", f"{H200}/conv"])
    assert model.work_group_limits_ == work_group_limits(data, "gpu_total_us")
    assert Predictors.load(f"{H200}/models/newpair").work_group_limits() \
        == model.work_group_limits_


@pytest.mark.parametrize("models", ["v3gpurel", "v3all"])
def test_the_shipped_h100_exports_carry_the_limits_their_data_gives(models):
    """Added after training (scripts/add_work_group_limits.py): the same limits as the
    sweeps' refused rows."""
    data = load([f"{H100}/linear", f"{H100}/conv"])
    want = work_group_limits(data, "gpu_total_us", "H100")
    assert want and Predictors.load(f"{H100}/models/{models}").work_group_limits() == want


def test_set_limits_writes_a_calibrated_exports_base_and_refuses_bad_ones(tmp_path):
    src = Path(f"{H100}/models/v3gpurel/gpu_total_us")
    dst = tmp_path / "gpu_total_us"
    shutil.copytree(src, dst)
    path = set_work_group_limits(dst, {("gemm_naive", "{}"): 128})
    assert path == dst / "base" / "predictor.json"
    assert load_model(dst).work_group_limits_ == {("gemm_naive", "{}"): 128}
    before = path.read_bytes()
    with pytest.raises(LatpredError, match="work_group_limits"):
        set_work_group_limits(dst, {("gemm_naive", "{}"): 0})
    assert path.read_bytes() == before  # nothing half-written
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        p.name for p in (src / "base").iterdir())


def test_the_calibrated_h200_directory_keeps_its_bases_limits():
    """coexec calibrate wraps newpair's GPU export (RuntimeCalibrated): the limits stay."""
    cal = Predictors.load(f"{H200}/models/calibrated")
    assert cal.work_group_limits() == Predictors.load(f"{H200}/models/newpair").work_group_limits()
    assert cal.work_group_limits()


def test_candidate_space_drops_local_sizes_above_a_kernels_limit():
    preds = Predictors.load(f"{H200}/models/newpair")
    gpu = preds.device("GPU")
    cpu = preds.device("CPU")
    limits = preds.work_group_limits()
    free = CandidateSpace(gpu, cpu, max_local_sizes=2)
    capped = CandidateSpace(gpu, cpu, max_local_sizes=2, work_group_limits=limits)
    for layer in (LinearLayer(1, 1024, 1024), ConvLayer(1, 64, 128, 28, 28, 3, 3, padding=1)):
        a = {(c.impl, c.params, c.local_size) for c in free.gpu_configs(layer)}
        b = {(c.impl, c.params, c.local_size) for c in capped.gpu_configs(layer)}
        dropped = a - b
        assert b <= a and dropped  # a subset of what the sweep's spread timed
        for impl, params, local in dropped:
            cap = limits[(impl, params)]
            assert math.prod(int(v) for v in local.split("x")) > cap
        for impl, params, local in b:
            if (impl, params) in limits and local != "driver":
                assert math.prod(int(v) for v in local.split("x")) <= limits[(impl, params)]


def test_planner_never_plans_a_local_size_the_device_refused():
    preds = Predictors.load(f"{H200}/models/newpair")
    gpu, cpu = preds.device("GPU"), preds.device("CPU")
    limits = preds.work_group_limits()
    opts = PlannerOptions(steps=8, cpu_threads=(4, 8, 12, 15, 16), max_local_sizes=2)
    planner = Planner(preds, gpu, cpu, SyncModel.load(f"{H200}/models/newpair",
                                                      gpu["name"], cpu["name"]), opts)
    # swin_t's layers the planner sent to gemm_tiled TS=32 at 32x32 before it knew the limit
    for m, n, k in ((49, 768, 1536), (49, 768, 768), (49, 768, 3072)):
        g = planner.plan_layer(LinearLayer(m, n, k)).plan.gpu
        if g is not None and g.local is not None:
            assert math.prod(g.local) <= limits.get((g.impl, json.dumps(g.params,
                                                                       sort_keys=True)), 1024)


def test_local_size_spread_is_the_sweeps_rule_everywhere():
    """One rule picks --max-local-sizes' work-group sizes for the sweep, the candidate
    frames and the planner: evenly spread, the first (the driver's choice) kept."""
    import numpy as np
    from latpred.profiler.kernels.base import spread_local_sizes

    for n in range(1, 30):
        items = [None, *((i, 1, 1) for i in range(1, n))]
        assert spread_local_sizes(items, None) == items
        for k in range(1, 9):
            got = spread_local_sizes(items, k)
            want = items if n <= k else [
                items[i] for i in np.unique(np.linspace(0, n - 1, k).round().astype(int))]
            assert got == want and got[0] is None and len(got) == min(n, k)


def test_the_add_limits_script_rebuilds_the_shipped_h100_export(tmp_path):
    """scripts/add_work_group_limits.py on v3gpurel's GPU export with the limits taken out
    writes back the committed file byte for byte; a CPU export is refused in one line."""
    import subprocess
    import sys

    src = Path(f"{H100}/models/v3gpurel")
    shutil.copytree(src, tmp_path / "m")
    set_work_group_limits(tmp_path / "m" / "gpu_total_us", {})
    script = [sys.executable, "scripts/add_work_group_limits.py"]
    res = subprocess.run([*script, str(tmp_path / "m" / "gpu_total_us"), f"{H100}/linear",
                          f"{H100}/conv"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rel = Path("gpu_total_us/base/predictor.json")
    assert (tmp_path / "m" / rel).read_bytes() == (src / rel).read_bytes()
    res = subprocess.run([*script, str(tmp_path / "m" / "cpu_us"), f"{H100}/linear"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "cpu_us predictor" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

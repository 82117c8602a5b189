"""The timing harness's stopping rule and summaries (behaviour, not speed)."""

from __future__ import annotations

import itertools

import pytest
from latpred.profiler.harness import RunTimeout, TimingPolicy, measure


def _runs(values):
    it = itertools.cycle(values)

    def run_once():
        v = next(it)
        return {"total_us": v, "kernel_us": v / 2, "dispatch_us": 1.0,
                "kernel_breakdown_us": [v / 4, v / 4], "n_kernels": 2}
    return run_once


def test_stable_runs_stop_at_min_repeats():
    out = measure(_runs([100.0]), TimingPolicy(warmup=0, min_repeats=4, max_repeats=50))
    assert out["repeats"] == 4
    assert out["total_us"] == 100.0 and out["kernel_us"] == 50.0
    assert out["cv"] == 0.0
    assert out["kernel_breakdown_us"] == [25.0, 25.0] and out["n_kernels"] == 2


def test_noisy_runs_repeat_until_the_cap():
    pol = TimingPolicy(warmup=0, min_repeats=3, max_repeats=12, max_seconds=60, rel_halfwidth=0.001)
    out = measure(_runs([50.0, 150.0]), pol)
    assert out["repeats"] == 12
    assert out["cv"] > 0.4


def test_median_is_robust_to_an_outlier():
    pol = TimingPolicy(warmup=0, min_repeats=9, max_repeats=9)
    out = measure(_runs([10.0] * 8 + [1000.0]), pol)
    assert out["total_us"] == 10.0


def test_timeout():
    with pytest.raises(RunTimeout):
        measure(_runs([5e6]), TimingPolicy(warmup=0, timeout_s=1.0))


def test_failures_map_to_dataset_statuses():
    from latpred.profiler.backends.opencl import ConfigError
    from latpred.profiler.sweep import failure_row

    assert failure_row(ConfigError("illegal_work_group", "too big")) == {
        "status": "illegal_work_group", "error": "too big"}
    assert failure_row(RunTimeout("slow"))["status"] == "timeout"
    assert failure_row(MemoryError("x"))["status"] == "out_of_resources"
    row = failure_row(ZeroDivisionError("boom"))
    assert row["status"] == "error" and row["error"].startswith("ZeroDivisionError")

"""Co-execution runtime on PoCL: GPU role = a 1-compute-unit PoCL sub-device, CPU role =
numpy/BLAS in a thread. Results are checked against the numpy reference for every split
(0, 1, unaligned, N), every sync mechanism the device supports, linear (all passes) and
conv (dense, batch 2, grouped, depthwise); invalid plans are refused."""

from __future__ import annotations

import numpy as np
import pytest
from latpred.planner.measure import QUICK, measure_run
from latpred.planner.runtime import (
    CoexecRun,
    CpuConfig,
    GpuConfig,
    Plan,
    pick_sync,
    validate_plan,
)
from latpred.planner.split import (
    ratio_to_split,
    split_align,
    split_aligns,
    split_granule,
    split_points,
    sub_problem,
)
from latpred.profiler.backends.opencl import ConfigError, OpenCLDevice, OpenCLRun
from latpred.profiler.kernels import get
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError


@pytest.fixture(scope="module")
def gpu(pocl_device):
    """The GPU role: a PoCL sub-device with one compute unit."""
    return OpenCLDevice(pocl_device.root_device, threads=1)


def _run(layer, plan, gpu, rng, sides="both", cpu_dev=None):
    """Run a plan once (NaN-filled output first) and return (output, reference, run info)."""
    problem = layer.gemm() if isinstance(layer, LinearLayer) else layer
    arrays = problem.arrays(rng)
    with CoexecRun(layer, arrays, plan, gpu, cpu_dev=cpu_dev, sides=sides) as run:
        run.output()[...] = np.nan
        res = run.run_once()
        out = run.output().copy()
        ref = problem.reference(arrays)
        info = {"sync": run.sync, "in_place": run.in_place, "res": res,
                "is_host_array": run.output() is arrays[run.out_name],
                "gpu_staged": run.gpu_part.staged if run.gpu_part else None,
                "tol": problem.tolerance(), "err": None}
        info["err"] = run.check()
    return out, ref, info


@pytest.mark.parametrize("pass_", ["forward", "backward_input", "backward_weight"])
def test_linear_every_split_and_sync(gpu, rng, pass_):
    layer = LinearLayer(3, 37, 19, pass_)
    n = layer.gemm().N
    splits = sorted({0, 1, 5, n // 2, n - 1, n})  # 5: not aligned to anything
    modes = gpu.mem_modes if pass_ == "forward" else ["buffer", gpu.mem_modes[-1]]
    for mode in modes:
        for s in splits:
            plan = Plan(s, n, GpuConfig("gemm_naive", {}, None, mode), CpuConfig(1))
            out, ref, info = _run(layer, plan, gpu, rng)
            np.testing.assert_allclose(out, ref, atol=info["tol"], err_msg=f"{mode} s={s}")
            if 0 < s:
                assert info["sync"].startswith(mode)


def test_split_ratios_map_onto_split_n(gpu, rng):
    layer = LinearLayer(2, 30, 8)
    for ratio in (0.0, 0.1, 1 / 3, 0.5, 0.97, 1.0):
        plan = Plan.from_ratio(layer, ratio, GpuConfig("gemm_naive", {}, None, "buffer"),
                               CpuConfig(1))
        assert plan.split_n == round(ratio * 30)
        out, ref, info = _run(layer, plan, gpu, rng)
        np.testing.assert_allclose(out, ref, atol=info["tol"])


def test_tiled_kernel_unaligned_split(gpu, rng):
    """A tiled kernel on a part whose width is not a tile multiple still writes its block
    in place (ldc = N) without touching the CPU's columns."""
    impl = get("gemm_tiled")
    params = {"TS": 8}
    layer = LinearLayer(9, 30, 13)
    sub = sub_problem(layer.gemm(), 0, 11)
    local = impl.local_sizes(sub, params, gpu.limits)[0]
    for mode in ("buffer", gpu.mem_modes[-1]):
        plan = Plan(11, 30, GpuConfig("gemm_tiled", params, local, mode), CpuConfig(1))
        out, ref, info = _run(layer, plan, gpu, rng)
        np.testing.assert_allclose(out, ref, atol=info["tol"])


CONV_CASES = [
    (ConvLayer(1, 6, 10, 9, 9, 3, 3, padding=1), "conv_direct"),
    (ConvLayer(2, 5, 7, 8, 8, 3, 3, stride=2), "conv_direct"),          # batch 2: staged
    (ConvLayer(1, 6, 10, 9, 9, 3, 3, padding=1), "conv_im2col"),
    (ConvLayer(1, 8, 12, 7, 7, 3, 3, padding=1, groups=4), "conv_direct"),  # grouped
    (ConvLayer(1, 8, 8, 9, 9, 3, 3, padding=1, groups=8), "conv_depthwise"),
    (ConvLayer(1, 6, 12, 8, 8, 3, 3, padding=1, groups=6), "conv_depthwise"),  # multiplier 2
]


@pytest.mark.parametrize("layer,impl_name", CONV_CASES)
def test_conv_every_split_and_sync(gpu, rng, layer, impl_name):
    impl = get(impl_name)
    params = impl.params_space()[0] if impl.params_space() else {}
    n = layer.out_channels
    g = split_granule(layer)
    splits = sorted({0, g, (n // 2 // g) * g, n - g, n} | ({3} if g == 1 else set()))
    for mode in gpu.mem_modes:
        for s in splits:
            if s > 0:
                sub = sub_problem(layer, 0, s)
                if impl.shape_reason(sub, params):  # e.g. depthwise kernel on 1 group
                    continue
                local = impl.local_sizes(sub, params, gpu.limits)[0]
            else:
                local = None
            plan = Plan(s, n, GpuConfig(impl_name, params, local, mode), CpuConfig(1))
            out, ref, info = _run(layer, plan, gpu, rng)
            np.testing.assert_allclose(out, ref, atol=info["tol"],
                                       err_msg=f"{impl_name} {mode} s={s}")
            if 0 < s and mode == "svm_fine" and layer.batch == 1:
                assert info["in_place"]


def test_svm_fine_writes_in_place(gpu, rng):
    """Fine-grained SVM: the output lives in shared memory, written by both sides, no
    staging, no merge copy."""
    if "svm_fine" not in gpu.mem_modes:
        pytest.skip("no fine-grained SVM")
    layer = LinearLayer(4, 24, 10)
    plan = Plan(10, 24, GpuConfig("gemm_naive", {}, None, "svm_fine"), CpuConfig(1))
    out, ref, info = _run(layer, plan, gpu, rng)
    assert info["sync"] == "svm_fine_in_place" and info["in_place"]
    assert not info["is_host_array"] and not info["gpu_staged"]
    assert info["res"]["merge_us"] == 0.0
    np.testing.assert_allclose(out, ref, atol=info["tol"])


def test_auto_sync_preference(gpu):
    assert pick_sync(["buffer", "map", "svm_coarse", "svm_fine"]) == "svm_fine"
    assert pick_sync(["buffer", "map", "svm_coarse"]) == "svm_coarse"  # NVIDIA
    assert pick_sync(["buffer", "map"]) == "buffer"
    assert pick_sync(["buffer", "map"], "map") == "map"
    with pytest.raises(LatpredError, match="not supported"):
        pick_sync(["buffer", "map"], "svm_fine")
    plan = validate_plan(LinearLayer(1, 8, 8), Plan(4, 8, GpuConfig("gemm_naive"), CpuConfig(1)),
                         gpu)
    assert plan.gpu.mem_mode == pick_sync(gpu.mem_modes)


def test_one_side_alone_leaves_the_other_block(gpu, rng):
    layer = LinearLayer(3, 20, 7)
    plan = Plan(8, 20, GpuConfig("gemm_naive", {}, None, "buffer"), CpuConfig(1))
    out, ref, _ = _run(layer, plan, gpu, rng, sides="gpu")
    np.testing.assert_allclose(out[:, :8], ref[:, :8], atol=1e-3)
    assert np.isnan(out[:, 8:]).all()
    out, ref, _ = _run(layer, plan, gpu, rng, sides="cpu")
    np.testing.assert_allclose(out[:, 8:], ref[:, 8:], atol=1e-3)
    assert np.isnan(out[:, :8]).all()


def test_cpu_side_on_an_opencl_sub_device(gpu, rng):
    layer = LinearLayer(2, 16, 12)
    cpu = CpuConfig(1, "opencl", "gemm_naive", {}, None)
    plan = Plan(6, 16, GpuConfig("gemm_naive", {}, None, "buffer"), cpu)
    out, ref, info = _run(layer, plan, gpu, rng, cpu_dev=gpu.root_device)
    np.testing.assert_allclose(out, ref, atol=info["tol"])
    assert "cpu_kernel_us" in info["res"]


def test_measured_fields(gpu, rng):
    layer = LinearLayer(2, 16, 12)
    problem = layer.gemm()
    plan = Plan(8, 16, GpuConfig("gemm_naive", {}, None, "buffer"), CpuConfig(1))
    with CoexecRun(layer, problem.arrays(rng), plan, gpu) as run:
        stats = measure_run(run.run_once, QUICK)
    for key in ("total_us", "cpu_us", "gpu_total_us", "sync_us", "kernel_us", "repeats"):
        assert key in stats and stats[key] >= 0


def test_wrong_result_is_detected(gpu, rng):
    layer = LinearLayer(2, 16, 12)
    problem = layer.gemm()
    arrays = problem.arrays(rng)
    plan = Plan(8, 16, GpuConfig("gemm_naive", {}, None, "buffer"), CpuConfig(1))
    with CoexecRun(layer, arrays, plan, gpu) as run:
        run.run_once()
        run.output()[0, 3] += 1.0
        with pytest.raises(ConfigError) as err:
            run.check()
        assert err.value.status == "wrong_result"


@pytest.mark.parametrize("make,match", [
    (lambda L: Plan.from_ratio(L, 1.5, GpuConfig("gemm_naive"), CpuConfig(1)), "ratio"),
    (lambda L: Plan.from_ratio(L, -0.1, GpuConfig("gemm_naive"), CpuConfig(1)), "ratio"),
    (lambda L: Plan(38, 37, GpuConfig("gemm_naive"), CpuConfig(1)), r"split_n=38: must be in \[0, 37\]"),
    (lambda L: Plan(5, 36, GpuConfig("gemm_naive"), CpuConfig(1)), "n_total"),
    (lambda L: Plan(-1, 37, GpuConfig("gemm_naive"), CpuConfig(1)), "split_n"),
    (lambda L: Plan(5, 37, GpuConfig("no_such_kernel"), CpuConfig(1)), "unknown implementation"),
    (lambda L: Plan(5, 37, GpuConfig("conv_direct", {"TILE_O": 1, "TILE_P": 1}), CpuConfig(1)),
     "conv2d kernel"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_naive", {}, (4096, 4, 1)), CpuConfig(1)),
     "local_size"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_tiled", {"TS": 8}, (3, 3, 1)), CpuConfig(1)),
     "local_size"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_tiled", {"TS": 7}), CpuConfig(1)), "params"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_naive", {}, None, "zero_copy"), CpuConfig(1)),
     "mem_mode"),
    (lambda L: Plan(5, 37, None, CpuConfig(1)), "needs a GPU"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_naive"), None), "needs a CPU"),
    (lambda L: Plan(5, 37, GpuConfig("gemm_naive"), CpuConfig(0)), "threads"),
])
def test_invalid_plans_are_refused(gpu, rng, make, match):
    layer = LinearLayer(3, 37, 19)
    with pytest.raises(LatpredError, match=match):
        plan = make(layer)
        CoexecRun(layer, layer.gemm().arrays(rng), plan, gpu)


def test_grouped_conv_split_must_be_whole_groups(gpu, rng):
    layer = ConvLayer(1, 8, 12, 7, 7, 3, 3, groups=4)  # 3 output channels per group
    with pytest.raises(LatpredError, match="multiple of 3"):
        CoexecRun(layer, layer.arrays(rng),
                  Plan(4, 12, GpuConfig("conv_direct", {"TILE_O": 1, "TILE_P": 1}), CpuConfig(1)),
                  gpu)
    assert ratio_to_split(layer, 0.4) % 3 == 0


def test_split_grid_is_aligned_to_tiles():
    assert split_points(100, 4) == [0, 25, 50, 75, 100]
    assert split_points(100, 4, 16) == [0, 32, 48, 80, 100]
    assert split_points(10, 16, 8) == [0, 8, 10]
    gemm = LinearLayer(1, 512, 64).gemm()
    assert split_align("gemm_tiled", {"TS": 16}, gemm) == 16
    assert split_align("gemm_naive", {}, gemm) == 1
    dw = ConvLayer(1, 32, 32, 8, 8, 3, 3, groups=32)
    assert split_align("conv_depthwise", {"TILE_O": 4, "TILE_W": 1}, dw) == 4
    grouped = ConvLayer(1, 8, 12, 7, 7, 3, 3, groups=4)
    assert split_align("conv_direct", {"TILE_O": 2, "TILE_P": 1}, grouped) == 6  # lcm(2, 3)
    # many configurations of one layer at once (the planner's path): the same numbers
    conv = ConvLayer(1, 16, 64, 14, 14, 3, 3, 1, 1)
    keys = [("conv_im2col", '{"TS": 16, "gemm": "gemm_tiled"}'),
            ("conv_direct", '{"TILE_O": 4, "TILE_P": 1}'),
            ("conv_im2col", '{"gemm": "gemm_naive"}'),
            ("conv_1x1", '{"WPTM": 4, "WPTN": 8, "gemm": "gemm_vec4"}')]
    assert split_aligns(keys, conv) == [16, 4, 1, 4]
    assert split_aligns(keys[:2], grouped) == [48, 12]  # lcm with the granule, 3


def test_opencl_run_start_wait_and_shared_view(gpu, rng):
    problem = LinearLayer(2, 8, 4).gemm()
    arrays = problem.arrays(rng)
    impl = get("gemm_naive")
    run = OpenCLRun(gpu, impl, problem, {}, None, "buffer", arrays)
    try:
        with pytest.raises(RuntimeError):
            run.wait()
        with pytest.raises(RuntimeError):
            run.event_timings({})
        run.start()
        res = run.wait()
        assert res["total_us"] > 0
        np.testing.assert_allclose(run.output(), problem.reference(arrays), atol=1e-4)
        with pytest.raises(ConfigError):
            run.shared_view("C")
    finally:
        run.release()
    if "svm_fine" in gpu.mem_modes:
        arrays["C"][...] = 0.0
        run = OpenCLRun(gpu, impl, problem, {}, None, "svm_fine", arrays, copy_out=False)
        try:
            run.run_once()
            assert not arrays["C"].any()  # not copied back
            np.testing.assert_allclose(run.shared_view("C"), problem.reference(arrays),
                                       atol=1e-4)
        finally:
            run.release()


def test_part_problem_matches_the_bound_part(rng):
    """Legality is checked on exactly what the GPU part runs: leading dimensions of the
    full arrays where it reads or writes in place."""
    from latpred.planner.split import make_part, part_problem

    for pass_, in_place in (("forward", True), ("backward_weight", False),
                            ("backward_input", False)):
        problem = LinearLayer(3, 10, 6, pass_).gemm()
        arrays = problem.arrays(rng)
        part = make_part(problem, arrays, 0, 4, target="opencl", in_place=in_place)
        assert part_problem(problem, 0, 4, "opencl", in_place) == part.problem
        assert (part.problem.lda, part.problem.ldb, part.problem.ldc) == (
            problem.lda, problem.N if pass_ == "backward_weight" else part.problem.ldb,
            problem.N if in_place else 4)


@pytest.mark.parametrize("impl_name", ["conv_im2col", "conv_winograd"])
def test_wall_time_leaves_out_reading_profiling_counters(gpu, rng, monkeypatch, impl_name):
    """Reading the launches' profiling counters (host time) happens after the
    runtime's clock stops: a clock that jumps 1000 s while they are read leaves the plan's
    wall times alone, and the event timings are still reported."""
    import time

    import latpred.profiler.backends.opencl as ocl

    jump = [0.0]
    real_clock, real_events = time.perf_counter, ocl._event_times

    def slow_events(*a, **k):
        jump[0] += 1000.0
        return real_events(*a, **k)

    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + jump[0])
    monkeypatch.setattr(ocl, "_event_times", slow_events)
    layer = ConvLayer(1, 4, 8, 6, 6, 3, 3, padding=1)
    impl = get(impl_name)
    params = impl.params_space()[0]
    for s in (8, 4):  # GPU only; split with the CPU
        local = impl.local_sizes(sub_problem(layer, 0, s), params, gpu.limits)[0]
        plan = Plan(s, 8, GpuConfig(impl_name, params, local, "buffer"), CpuConfig(1))
        out, ref, info = _run(layer, plan, gpu, rng)
        np.testing.assert_allclose(out, ref, atol=info["tol"])
        res = info["res"]
        assert res["total_us"] < 1e8 and res["gpu_total_us"] < 1e8 and res["sync_us"] < 1e8
        assert res["n_kernels"] == len(impl.launches(sub_problem(layer, 0, s), params, local))
        assert res["kernel_us"] > 0
    assert jump[0] >= 2000.0  # the counters were read, once per run

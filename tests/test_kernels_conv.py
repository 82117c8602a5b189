"""conv2d kernels against ConvLayer.reference on PoCL; suites and random shape samplers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from latpred.datasets.suites import (
    SuiteLayer,
    list_suites,
    load_suite,
    random_conv_layers,
    random_linear_layers,
    suite_layers,
)
from latpred.profiler.backends.opencl import OpenCLRun, execute
from latpred.profiler.kernels import get, implementations
from latpred.profiler.kernels.base import fits_device
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

CONV_IMPLS = ["conv_1x1", "conv_depthwise", "conv_direct", "conv_im2col", "conv_winograd"]
WINO_REASON = "winograd needs 3x3 stride 1 dilation 1 groups 1"


def C(b, c, o, h, w, k, s=1, p=0, d=1, g=1) -> ConvLayer:  # noqa: N802
    return ConvLayer(b, c, o, h, w, k, k, stride=s, padding=p, dilation=d, groups=g)


#: awkward small shapes: (id, layer)
SHAPES = [
    ("3x3_9x13_c3o5", C(1, 3, 5, 9, 13, 3, 1, 1)),
    ("3x3_s2_b2_c5o17", C(2, 5, 17, 9, 13, 3, 2, 1)),
    ("1x1_c17o5", C(1, 17, 5, 6, 7, 1)),
    ("1x1_b2_c17o6", C(2, 17, 6, 5, 7, 1)),
    ("1x1_s2", C(1, 3, 4, 6, 8, 1, 2)),
    ("5x5_12x11", C(1, 5, 3, 12, 11, 5, 1, 2)),
    ("5x5_s2_g4_mult2", C(1, 4, 8, 8, 8, 5, 2, 2, g=4)),
    ("3x3_dil2", C(1, 3, 4, 11, 9, 3, 1, 2, d=2)),
    ("3x3_g2_p0", C(1, 4, 6, 7, 7, 3, g=2)),
    ("dw3x3_b2_8x5", C(2, 6, 6, 8, 5, 3, 1, 1, g=6)),
    ("dw3x3_s2", C(1, 6, 6, 9, 9, 3, 2, 1, g=6)),
    ("3x3_pad3", C(1, 3, 3, 5, 5, 3, 1, 3)),
    ("3x3_p0_odd_out", C(1, 8, 4, 10, 7, 3)),
    ("7x7_s2_p3", C(1, 3, 2, 7, 7, 7, 2, 3)),
    ("3x3_b2_c17o3", C(2, 17, 3, 6, 5, 3, 1, 1)),
]


def _check(dev, impl, layer: ConvLayer, params: dict, local, rng) -> None:
    # fresh random inputs per run: an output a kernel forgets to write cannot match the
    # reference by inheriting an earlier run's result from reused device memory
    arrays = layer.arrays(rng)
    out = execute(dev, impl, layer, params, local, arrays)
    ref = layer.reference(arrays)
    err = float(np.max(np.abs(out - ref)))
    assert np.isfinite(out).all() and err <= layer.tolerance(), (
        f"{impl.name} {params} local={local} {layer.shape_dict()}: max err {err:.3g}")


def test_all_conv_impls_registered():
    names = {i.name for i in implementations("conv2d")}
    assert set(CONV_IMPLS) <= names
    for impl in implementations("conv2d"):
        assert impl.params_space(), impl.name


@pytest.mark.parametrize("case", range(len(SHAPES)), ids=[s[0] for s in SHAPES])
def test_conv_impls_match_reference(case, pocl_device, rng):
    """Every implementation that accepts the shape computes it, with the first legal
    parameter combination from a rotating start (so the cases spread over the spaces)."""
    layer = SHAPES[case][1]
    ran = []
    for impl in implementations("conv2d"):
        space = impl.params_space()
        start = (case * 7) % len(space)
        for params in space[start:] + space[:start]:
            reason = impl.shape_reason(layer, params)
            assert reason is None or (isinstance(reason, str) and reason)
            if reason is None:
                break
        else:
            continue  # the implementation refuses this shape
        locals_ = impl.local_sizes(layer, params, pocl_device.limits)
        assert locals_ and all(fits_device(v, pocl_device.limits) for v in locals_)
        _check(pocl_device, impl, layer, params, locals_[(case * 5) % len(locals_)], rng)
        ran.append(impl.name)
    assert "conv_direct" in ran  # the direct kernel takes every shape
    expect = {
        "conv_1x1": (layer.kernel_h, layer.stride, layer.padding, layer.groups) == (1, 1, 0, 1),
        "conv_winograd": (layer.kernel_h, layer.stride, layer.dilation, layer.groups) == (3, 1, 1, 1),
        "conv_depthwise": layer.groups > 1,
        "conv_im2col": layer.groups == 1 or layer.batch == 1,
    }
    assert {k for k, v in expect.items() if v} <= set(ran)


#: one legal shape per implementation, with channels that are not multiples of the tiles
ALL_PARAMS_SHAPE = {
    "conv_direct": C(1, 6, 18, 7, 9, 3, 1, 1, g=2),  # 9 outputs per group
    "conv_depthwise": C(1, 6, 18, 7, 9, 3, 1, 1, g=2),
    "conv_im2col": C(1, 4, 7, 8, 8, 3, 2, 1),  # K=36, N=16: aligned for vector GEMMs
    "conv_1x1": C(2, 4, 7, 6, 10, 1),
}


@pytest.mark.parametrize("name", list(ALL_PARAMS_SHAPE))
def test_every_param_combo(name, pocl_device, rng):
    impl, layer = get(name), ALL_PARAMS_SHAPE[name]
    ran = 0
    for i, params in enumerate(impl.params_space()):
        reason = impl.shape_reason(layer, params)
        if reason is not None:  # only a library GEMM's own rule may refuse here
            assert "gemm" in params and reason.startswith(params["gemm"]), reason
            continue
        ran += 1
        locals_ = impl.local_sizes(layer, params, pocl_device.limits)
        _check(pocl_device, impl, layer, params, locals_[i % len(locals_)], rng)
    assert ran >= len(impl.params_space()) // 2


@pytest.mark.parametrize("layer", [
    C(1, 4, 4, 8, 8, 3, 2, 1), C(1, 4, 4, 8, 8, 5, 1, 2), C(1, 4, 4, 8, 8, 3, 1, 1, g=2),
    C(1, 4, 4, 8, 8, 3, 1, 2, d=2), C(1, 4, 4, 8, 8, 1), C(1, 4, 4, 8, 8, 3, 1, 1, g=4),
], ids=["stride2", "5x5", "groups2", "dilation2", "1x1", "depthwise"])
def test_winograd_refuses_with_reason(layer):
    impl = get("conv_winograd")
    for params in impl.params_space():
        assert impl.shape_reason(layer, params) == WINO_REASON


@pytest.mark.parametrize("layer", [
    C(1, 3, 5, 9, 13, 3, 1, 1), C(2, 5, 3, 7, 6, 3, 1, 0), C(1, 2, 3, 4, 4, 3, 1, 2),
    C(1, 16, 16, 14, 14, 3, 1, 1),
], ids=["odd_out_9x13", "b2_p0_5x4", "pad2", "c16"])
def test_winograd_legal_shapes(layer, pocl_device, rng):
    impl = get("conv_winograd")
    ran = 0
    for i, params in enumerate(impl.params_space()):
        reason = impl.shape_reason(layer, params)
        if reason is not None:  # only a library GEMM's own rule may refuse (e.g. gemv: M == 1)
            assert reason.startswith(params["gemm"]), reason
            continue
        ran += 1
        locals_ = impl.local_sizes(layer, params, pocl_device.limits)
        _check(pocl_device, impl, layer, params, locals_[i % len(locals_)], rng)
    assert ran >= len(impl.params_space()) // 2


def test_other_refusals_have_reasons():
    assert "groups > 1" in get("conv_depthwise").shape_reason(C(1, 4, 4, 8, 8, 3), {})
    dw = C(1, 4, 4, 8, 8, 3, g=4)
    assert "TILE_O" in get("conv_depthwise").shape_reason(dw, {"TILE_W": 1, "TILE_O": 2})
    assert "TILE_O" in get("conv_direct").shape_reason(dw, {"TILE_O": 2, "TILE_P": 1})
    p1 = get("conv_1x1").params_space()[0]
    assert "1x1" in get("conv_1x1").shape_reason(C(1, 4, 4, 8, 8, 3, 1, 1), p1)
    assert "1x1" in get("conv_1x1").shape_reason(C(1, 4, 4, 8, 8, 1, 2), p1)
    p2 = get("conv_im2col").params_space()[0]
    assert "batch 1" in get("conv_im2col").shape_reason(C(2, 4, 4, 8, 8, 3, g=2), p2)
    assert get("conv_im2col").shape_reason(C(1, 4, 4, 8, 8, 3, g=2), p2) is None


def _small_random_conv(rng: np.random.Generator) -> ConvLayer:
    while True:
        k = int(rng.choice([1, 3, 5]))
        g = int(rng.choice([1, 1, 1, 2, 3]))
        dw = rng.random() < 0.2
        c = g * int(rng.integers(1, 6))
        o = c if dw else g * int(rng.integers(1, 6))
        if dw:
            g = c
        d = int(rng.choice([1, 1, 2]))
        try:
            return C(int(rng.integers(1, 3)), c, o, int(rng.integers(3, 12)),
                     int(rng.integers(3, 12)), k, int(rng.integers(1, 3)),
                     int(rng.integers(0, 3)), d, g)
        except LatpredError:
            continue  # kernel larger than the padded input


def test_shape_reason_is_consistent(pocl_device):
    """A shape an implementation accepts always runs and matches the reference."""
    rng = np.random.default_rng(7)
    runs = 0
    for i in range(24):
        layer = _small_random_conv(rng)
        for impl in implementations("conv2d"):
            space = impl.params_space()
            params = space[int(rng.integers(len(space)))]
            if impl.shape_reason(layer, params) is not None:
                continue
            locals_ = impl.local_sizes(layer, params, pocl_device.limits)
            _check(pocl_device, impl, layer, params, locals_[i % len(locals_)], rng)
            runs += 1
    assert runs >= 24


def test_gemm_backed_convs_reuse_every_gemm_impl():
    gemms = {i.name for i in implementations("gemm")}
    for name in ("conv_im2col", "conv_1x1", "conv_winograd"):
        impl = get(name)
        space = impl.params_space()
        assert {p["gemm"] for p in space} == gemms
        for p in space:
            assert impl.params_rule(p)
        assert not impl.params_rule({"gemm": "conv_direct"})
        assert not impl.params_rule({"gemm": "no_such_gemm"})


def test_launch_labels_and_breakdown(pocl_device, rng):
    layer = C(1, 4, 5, 7, 6, 3, 1, 1)
    expect = {
        "conv_direct": ["conv"],
        "conv_im2col": ["im2col", "gemm"],
        "conv_winograd": ["weight_transform", "input_transform", "gemm", "output_transform"],
    }
    for name, labels in expect.items():
        impl = get(name)
        params = impl.params_space()[0]
        local = impl.local_sizes(layer, params, pocl_device.limits)[0]
        assert [ln.label for ln in impl.launches(layer, params, local)] == labels
        run = OpenCLRun(pocl_device, impl, layer, params, local, "buffer", layer.arrays(rng))
        try:
            res = run.run_once()
        finally:
            run.release()
        assert res["n_kernels"] == len(labels) == len(res["kernel_breakdown_us"])
    impl = get("conv_1x1")
    p = impl.params_space()[0]
    lay = C(2, 4, 5, 7, 6, 1)
    assert [ln.label for ln in impl.launches(lay, p, impl.local_sizes(lay, p, pocl_device.limits)[0])] == ["gemm"]


# -- suites -----------------------------------------------------------------------------
CONV_SUITES = {"resnet50": 53, "mobilenetv2": 52, "vgg16": 13}


def test_suites_listed_and_valid():
    names = list_suites()
    for s in (*CONV_SUITES, *(f"{s}_fc" for s in CONV_SUITES)):
        assert s in names
    for name in names:
        data = load_suite(name)
        assert data["name"] == name and data["op"] in ("conv2d", "linear") and data["source"]
        layers = suite_layers(name)
        assert layers and all(isinstance(x, SuiteLayer) and x.count >= 1 for x in layers)
        kind = ConvLayer if data["op"] == "conv2d" else LinearLayer
        assert all(isinstance(x.layer, kind) for x in layers)
        assert len({x.layer for x in layers}) == len(layers), "shapes must be deduplicated"
        assert len({x.name for x in layers}) == len(layers)


def test_conv_suite_contents():
    for name, total in CONV_SUITES.items():
        layers = suite_layers(name)
        assert sum(x.count for x in layers) == total
        assert all(x.layer.batch == 1 for x in layers)
        first = layers[0].layer
        assert (first.in_channels, first.height, first.width) == (3, 224, 224)
        assert all(get("conv_direct").shape_reason(x.layer, {}) is None for x in layers)
    r = {x.name: x for x in suite_layers("resnet50")}
    assert r["conv1"].layer.out_h == 112 and r["conv1"].layer.kernel_h == 7
    assert r["layer1.0.conv3"].count == 4  # 64->256 1x1 @56, incl. the first downsample
    assert suite_layers("resnet50")[-1].layer.out_h == 7
    mb = suite_layers("mobilenetv2")
    assert sum(x.count for x in mb if x.layer.is_depthwise) == 17
    assert all(x.layer.groups == 1 or x.layer.is_depthwise for x in mb)
    assert all(get("conv_winograd").shape_reason(x.layer, {"gemm": "gemm_naive"}) is None
               for x in suite_layers("vgg16"))
    fc = {x.name: x.layer for x in suite_layers("vgg16_fc")}
    assert [(v.m, v.k, v.n) for v in fc.values()] == [(1, 25088, 4096), (1, 4096, 4096),
                                                      (1, 4096, 1000)]
    assert suite_layers("resnet50_fc")[0].layer.k == 2048
    assert suite_layers("mobilenetv2_fc")[0].layer.k == 1280


def test_unknown_and_bad_suites(tmp_path, monkeypatch):
    with pytest.raises(LatpredError, match="unknown suite"):
        load_suite("no_such_suite")
    import latpred.datasets.suites as suites

    bad = {"name": "bad", "op": "conv2d", "source": "t", "layers": [
        {"name": "x", "count": 1, "in_channels": 3, "out_channels": 4, "height": 8,
         "width": 8, "kernel_h": 3, "kernel_w": 3, "groups": 2}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    monkeypatch.setattr(suites, "SUITES_DIR", tmp_path)
    assert list_suites() == ["bad"]
    with pytest.raises(LatpredError, match="groups"):
        load_suite("bad")


# -- random samplers ----------------------------------------------------------------------
def test_random_conv_layers_deterministic_and_in_range():
    a, b = random_conv_layers(300, seed=3), random_conv_layers(300, seed=3)
    assert a == b and a != random_conv_layers(300, seed=4)
    assert random_conv_layers(10, seed=3) == a[:10]
    dw = grouped = 0
    for x in a:
        assert isinstance(x, ConvLayer)
        assert 3 <= x.in_channels <= 2048 + 32 and 3 <= x.out_channels <= 2048 + 32
        assert 7 <= x.height <= 224 and 7 <= x.width <= 224
        assert x.kernel_h == x.kernel_w and x.kernel_h in (1, 3, 5, 7)
        assert x.stride in (1, 2) and x.padding == x.dilation * (x.kernel_h // 2)
        assert x.flops <= 2e10
        assert 4 * sum(int(np.prod(s)) for s in x.shapes().values()) <= 256 * 2**20
        dw += x.is_depthwise
        grouped += x.groups > 1 and not x.is_depthwise
    assert 0.08 < dw / len(a) < 0.25 and 0.01 < grouped / len(a) < 0.12


def test_random_linear_layers_deterministic_and_in_range():
    a = random_linear_layers(300, seed=5)
    assert a == random_linear_layers(300, seed=5) and a != random_linear_layers(300, seed=6)
    for x in a:
        assert isinstance(x, LinearLayer)
        assert 1 <= x.m <= 512 and 16 <= x.n <= 8192 and 16 <= x.k <= 8192
        assert 2 * x.m * x.n * x.k <= 2e10
    assert min(x.m for x in a) < 8 and max(x.m for x in a) > 128  # log-uniform spread


@pytest.mark.parametrize("layer", [s[1] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_blas_conv_with_a_reused_workspace(layer, rng):
    from latpred.profiler.backends.blas import BlasRun, ConvWorkspace

    arrays = layer.arrays(rng)
    run = BlasRun(layer, arrays, threads=1)
    try:
        for _ in range(2):  # the second run reuses the scratch of the first
            arrays["y"].fill(np.nan)
            run.run_once()
            err = float(np.max(np.abs(run.output() - layer.reference(arrays))))
            assert err <= layer.tolerance(), f"{layer.shape_dict()}: max err {err:.3g}"
            arrays["x"][:] = rng.standard_normal(arrays["x"].shape)  # new input, same scratch
    finally:
        run.release()
    work = ConvWorkspace(layer)
    direct = layer.kernel_h == 1 and layer.stride == 1 and layer.padding == 0
    assert work.direct == direct and (work.nbytes == 0) == direct

"""features/: deterministic, finite on edge shapes, kernel geometry right, fast."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from latpred.features import (
    FEATURE_NAMES,
    IMPL_VOCAB,
    column_codes,
    feature_matrix,
    feature_matrix_and_labels,
    feature_schema,
    geometry,
    make_features,
    schema_compatible,
)
from latpred.models.candidates import candidate_configs
from latpred.models.synthetic import CPU_INFO, GPU_INFO, POCL_INFO
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

DEVICES = {d["name"]: d for d in (GPU_INFO, CPU_INFO, POCL_INFO)}
_I = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _edge_frame() -> pd.DataFrame:
    """Candidate rows of edge layers on every backend, plus hand-made odd rows."""
    layers = [
        LinearLayer(1, 768, 3072), LinearLayer(1, 1, 1), LinearLayer(3, 5, 1 << 20),
        LinearLayer(7, 1000, 33, "backward_input"), LinearLayer(64, 10, 512, "backward_weight"),
        ConvLayer(1, 32, 32, 112, 112, 3, 3, 1, 1, groups=32),     # depthwise
        ConvLayer(2, 8, 16, 9, 7, 3, 3, 2, 0, 2),                   # dilation, odd sizes
        ConvLayer(1, 256, 64, 14, 14, 1, 1),                        # 1x1
        ConvLayer(1, 3, 64, 224, 224, 7, 7, 2, 3),                  # stem
    ]
    frames = []
    for lay in layers:
        frames.append(candidate_configs(lay, GPU_INFO, max_local_sizes=3))
        frames.append(candidate_configs(lay, CPU_INFO, threads=[1, 8]))
        frames.append(candidate_configs(lay, POCL_INFO, threads=[1, 3], max_local_sizes=2))
    df = pd.concat(frames, ignore_index=True)
    odd = df.iloc[[0, 1]].copy()
    odd["impl"] = ["some_future_kernel", "gemm_naive"]   # unknown implementation
    odd["params"] = ["{}", "not json"]                    # unparseable parameters
    odd["local_size"] = ["driver", "5x3x1"]
    return pd.concat([df, odd], ignore_index=True)


@pytest.fixture(scope="module")
def edge() -> pd.DataFrame:
    return _edge_frame()


def test_finite_and_documented(edge):
    X = make_features(edge, DEVICES)
    assert list(X.columns) == list(FEATURE_NAMES)
    assert X.index.equals(edge.index)
    assert np.isfinite(X.to_numpy()).all()
    assert (X["tail_occupancy"] > 0).all() and (X["tail_occupancy"] <= 1).all()
    assert ((X["pad_waste"] >= 0) & (X["pad_waste"] < 1)).all()
    readme = (Path(__file__).parents[1] / "features" / "README.md").read_text()
    missing = [n for n in FEATURE_NAMES if n not in readme]
    assert not missing, f"features/README.md lacks {missing}"


def test_deterministic_order_and_batch_independent(edge):
    a = feature_matrix(edge, DEVICES)
    geometry.clear_caches()
    b = feature_matrix(edge, DEVICES)
    np.testing.assert_array_equal(a, b)
    perm = np.random.default_rng(1).permutation(len(edge))
    np.testing.assert_array_equal(feature_matrix(edge.iloc[perm], DEVICES), a[perm])
    singles = np.vstack([feature_matrix(edge.iloc[[i]], DEVICES) for i in range(0, len(edge), 41)])
    np.testing.assert_array_equal(singles, a[::41])


def test_vectorised_geometry_matches_scalar(edge, monkeypatch):
    geometry.clear_caches()
    vec = feature_matrix(edge, DEVICES)
    assert any(ok for known in geometry._vector_ok.values() for ok in known.values()), \
        "the array path was never used"
    geometry.clear_caches()
    monkeypatch.setattr(geometry, "_vector_eval", lambda *a, **k: None)
    np.testing.assert_allclose(feature_matrix(edge, DEVICES), vec, rtol=0, atol=1e-12)
    geometry.clear_caches()


def test_array_verdict_covers_subsets_only():
    geometry.clear_caches()
    sig = ("k", ("TS",), None, ("conv2d",))
    a, b, c = "out_channels", "height", "TS"
    assert geometry._verdict(sig, frozenset({a})) is None  # nothing checked yet
    geometry._vector_ok[sig] = {frozenset({a, b}): True, frozenset({c}): False}
    assert geometry._verdict(sig, frozenset({a})) is True  # inside a checked superset
    assert geometry._verdict(sig, frozenset({a, b})) is True
    assert geometry._verdict(sig, frozenset({c})) is False  # failed as checked
    assert geometry._verdict(sig, frozenset({a, c})) is None  # no superset passed: check
    assert geometry._verdict(sig[:3] + (("linear",),), frozenset({a})) is None
    geometry.clear_caches()


def test_array_path_that_disagrees_with_the_scalar_path_is_not_used():
    """A kernel whose size arithmetic reduces an array (here the largest M of the group
    stands for every row's) gives wrong numbers on the array path: the one-time check
    against the scalar path catches it and the rows come from scalar calls."""
    from latpred.profiler.kernels.base import Implementation, Launch

    class MaxM(Implementation):
        name, op = "test_max_m", "gemm"

        def source(self, problem, params):
            return ""

        def local_sizes(self, problem, params, limits):
            return [None]

        def launches(self, problem, params, local):
            return [Launch("k", (int(np.max(problem.M)), problem.N, 1), None, ())]

    geometry.clear_caches()
    shapes = np.array([[m, 8, 4] for m in (3, 50, 7, 9, 20)])
    prm = geometry._Params((), (), np.zeros((len(shapes), 0), np.int64))
    vals = geometry._group_eval(MaxM(), prm, None, ("linear", "forward", False, False),
                                geometry._GEMM_ATTRS, shapes)
    assert list(vals[:, geometry._IDX["g0"]]) == [3, 50, 7, 9, 20]
    assert False in next(iter(geometry._vector_ok.values())).values()
    geometry.clear_caches()


def _random_conv_shapes(rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
    """n random valid ConvLayer argument tuples: 1x1, 3x3, other kernels, grouped, depthwise."""
    out: list[tuple[int, ...]] = []
    while len(out) < n:
        g = int(rng.choice([1, 1, 1, 2, 4, 0]))
        if g == 0:  # depthwise, channel multiplier 1 or 2
            g = int(rng.integers(2, 40))
            c, o = g, g * int(rng.integers(1, 3))
        else:
            c, o = g * int(rng.integers(1, 40)), g * int(rng.integers(1, 40))
        k = int(rng.choice([1, 3, rng.integers(1, 8)]))
        shape = (int(rng.integers(1, 5)), c, o, int(rng.integers(1, 60)), int(rng.integers(1, 60)),
                 k, int(rng.choice([k, rng.integers(1, 8)])), int(rng.choice([1, 1, 2, 3])),
                 int(rng.integers(0, 4)), int(rng.choice([1, 1, 2])), g)
        try:
            ConvLayer(*shape)
        except LatpredError:
            continue
        out.append(shape)
    return out


def _conv_impls() -> list[str]:
    from latpred.profiler.kernels import registry

    return sorted(name for name, impl in registry().items() if impl.op == "conv2d")


@pytest.mark.parametrize("name", _conv_impls())
def test_conv_geometry_of_array_valued_layers(name):
    """Every conv implementation gives its launch geometry for a ConvLayer of numpy arrays
    (the shapes of many rows in one call), exactly the numbers of one call per row: with
    every attribute varying, or one (split along the output channels, the batch), the
    others plain ints; the local size the driver's, fixed, or varying row by row."""
    from latpred.profiler.kernels import registry
    from latpred.profiler.kernels.base import DeviceLimits
    from latpred.profiler.kernels.conv_common import GemmConv, split_gemm_params

    kernel = registry()[name]
    limits = DeviceLimits(1024, (1024, 1024, 64), 48 * 1024)
    rng = np.random.default_rng(sum(map(ord, name)))
    base = np.array(_random_conv_shapes(rng, 40))
    split_o, split_b = np.repeat(base[:1], 12, axis=0), np.repeat(base[1:2], 12, axis=0)
    split_o[:, 2] = split_o[0, 10] * rng.integers(1, 50, 12)
    split_b[:, 0] = rng.integers(1, 9, 12)
    layout, names = ("conv2d",), geometry._CONV_ATTRS
    n_cases = 0
    for params in kernel.params_space():
        gemm = split_gemm_params(params)[0] if isinstance(kernel, GemmConv) else kernel
        legal = kernel.local_sizes(ConvLayer(*(int(v) for v in base[0])), params, limits)
        fixed = [loc for loc in legal if loc is not None]
        locals_: list = ([None] if None in legal else []) + fixed[:1]
        if gemm.free_local_size and len(fixed) > 1:
            locals_.append(fixed)  # a different local size per row
        for shapes in (base, split_o, split_b):
            for local in locals_:
                if isinstance(local, list):
                    locs = np.array([local[i] for i in rng.integers(0, len(local), len(shapes))])
                else:
                    locs = None if local is None else np.array([local] * len(shapes))
                attrs, alocal, varying = geometry._array_args(names, shapes, locs)
                assert varying, "no attribute varies"
                vals = geometry._evaluate(kernel, geometry._make_problem(layout, attrs), params,
                                          alocal, len(shapes))
                for i, s in enumerate(shapes):
                    ref = geometry._scalar_eval(
                        kernel, params, None if locs is None else tuple(int(v) for v in locs[i]),
                        layout, tuple(int(v) for v in s))
                    assert ref is not None, (params, local, s)
                    np.testing.assert_array_equal(vals[i], ref, err_msg=f"{params} {local} {s}")
                n_cases += 1
    assert n_cases >= 3 * len(kernel.params_space())


def _impls() -> list[str]:
    from latpred.profiler.kernels import registry

    return sorted(registry())


#: a layer each conv implementation takes (1x1, 3x3, depthwise)
_CONV_SHAPES = [(1, 32, 64, 28, 28, 3, 3, 1, 1, 1, 1), (1, 32, 64, 28, 28, 1, 1, 1, 0, 1, 1),
                (1, 32, 32, 28, 28, 3, 3, 1, 1, 1, 32)]


@pytest.mark.parametrize("name", _impls())
def test_geometry_of_array_valued_parameters(name):
    """The parameter combinations of one family (differing in integers only) evaluated in
    one call, their integers as arrays, give exactly the numbers of one call per row: one
    shape, or the output channels / columns varying too; the driver's local size or one of
    each combination's fixed ones, taken in turn (so the local sizes vary as well)."""
    from latpred.profiler.kernels import registry
    from latpred.profiler.kernels.base import DeviceLimits

    kernel = registry()[name]
    limits = DeviceLimits(1024, (1024, 1024, 64), 48 * 1024)
    space = kernel.params_space()
    if kernel.op == "gemm":
        layout, names, shape, split = ("linear", "forward", False, False), \
            geometry._GEMM_ATTRS, (1, 200, 72), 1
        problems = {shape: LinearLayer(*shape).gemm()}
    else:
        layout, names, split = ("conv2d",), geometry._CONV_ATTRS, 2
        problems = {s: ConvLayer(*s) for s in _CONV_SHAPES}
        shape = next(s for s in _CONV_SHAPES if not kernel.shape_reason(problems[s], space[0]))
    families: dict[tuple, list[tuple]] = {}  # (family, driver?) -> (params, local) pairs
    for j, params in enumerate(space):
        local = kernel.local_sizes(problems[shape], params, limits)
        local = None if None in local else local[j % len(local)]
        fam = geometry._param_family(json.dumps(params))
        families.setdefault((fam[0], local is None), []).append((params, local))
    n_cases = 0
    for (_key, driver), members in families.items():
        if len(members) < 2:
            continue
        fam = geometry._param_family(json.dumps(members[0][0]))
        values = np.array([geometry._param_family(json.dumps(p))[3] for p, _ in members])
        prm = geometry._Params(fam[1], fam[2], np.repeat(values, 2, axis=0))
        locs = None if driver else np.repeat(np.array([lo for _, lo in members]), 2, axis=0)
        shapes = np.repeat(np.array([shape]), len(prm.values), axis=0)
        varied = shapes.copy()
        varied[:, split] = shapes[0, split] * np.tile([1, 2], len(members))
        for rows in (shapes, varied):
            geometry.clear_caches()
            vals = geometry._vector_eval(kernel, prm, locs, layout, names, rows)
            assert vals is not None, f"{name} {fam[0]}: the array path needs scalars"
            for i, s in enumerate(rows):
                ref = geometry._scalar_eval(kernel, prm.row(i), None if locs is None else
                                            tuple(int(v) for v in locs[i]), layout,
                                            tuple(int(v) for v in s))
                np.testing.assert_array_equal(vals[i], ref, err_msg=f"{prm.row(i)} {s}")
            n_cases += 1
    geometry.clear_caches()
    if len(space) > 1:
        assert n_cases, "no parameter family was evaluated on arrays"


def test_geometry_of_known_kernels():
    gpu = pd.DataFrame([
        {"op": "linear", "pass": "forward", "m": 100, "n": 70, "k": 50, "backend": "gpu",
         "device": GPU_INFO["name"], "impl": "gemm_naive", "params": "{}", "local_size": "16x8x1",
         "mem_mode": "buffer"},
        {"op": "linear", "pass": "forward", "m": 100, "n": 70, "k": 50, "backend": "gpu",
         "device": GPU_INFO["name"], "impl": "gemm_tiled", "params": '{"TS": 16}',
         "local_size": "16x16x1", "mem_mode": "buffer"},
    ])
    X = make_features(gpu, DEVICES)
    # naive: global (round_up(70, 16), round_up(100, 8)) = (80, 104) -> 5 x 13 groups of 128
    assert X.loc[0, "log2_workgroups_main"] == pytest.approx(np.log2(5 * 13))
    assert X.loc[0, "group_items"] == 128
    assert X.loc[0, "pad_waste"] == pytest.approx(1 - 7000 / (80 * 104))
    # tiled TS=16: 5 x 7 groups, K padded 50 -> 64, local memory 2*16*17*4 bytes
    assert X.loc[1, "log2_workgroups_main"] == pytest.approx(np.log2(5 * 7))
    assert X.loc[1, "k_pad_waste"] == pytest.approx(1 - 50 / 64)
    assert X.loc[1, "local_mem_kib"] == pytest.approx(2 * 16 * 17 * 4 / 1024)
    waves = 35 / GPU_INFO["compute_units"]
    assert X.loc[1, "waves"] == pytest.approx(waves)
    assert X.loc[1, "tail_occupancy"] == pytest.approx(waves - np.floor(waves))


def test_layer_specs_without_device_or_out_size():
    spec = pd.DataFrame([{"op": "conv2d", "batch": 1, "in_channels": 16, "out_channels": 32,
                          "height": 20, "width": 20, "kernel_h": 3, "kernel_w": 3,
                          "impl": "conv_direct", "params": '{"TILE_O": 2, "TILE_P": 2}',
                          "local_size": "driver", "mem_mode": "buffer"}])
    X = make_features(spec, {GPU_INFO["name"]: GPU_INFO})
    assert np.isfinite(X.to_numpy()).all()
    assert X.loc[0, "log2_gemm_n"] == pytest.approx(np.log2(18 * 18))
    assert X.loc[0, "impl_code"] == IMPL_VOCAB.index("conv_direct") + 1


def test_user_errors():
    row = {"op": "linear", "pass": "forward", "m": 4, "n": 4, "k": 4, "impl": "blas",
           "device": CPU_INFO["name"]}
    with pytest.raises(LatpredError, match="op"):
        feature_matrix(pd.DataFrame([{**row, "op": "pool"}]), DEVICES)
    with pytest.raises(LatpredError, match="pass"):
        feature_matrix(pd.DataFrame([{**row, "pass": "sideways"}]), DEVICES)
    with pytest.raises(LatpredError, match="device"):
        feature_matrix(pd.DataFrame([{**row, "device": "nope"}]), DEVICES)
    with pytest.raises(LatpredError, match="m"):
        feature_matrix(pd.DataFrame([{**row, "m": 0}]), DEVICES)


@pytest.mark.parametrize("values", [
    ["conv2d"] * 5,                       # constant: the buffer comparison
    ["ab", "ab", "ba", "ab", "ab"],       # same length, first == last, not constant
    ["a", "bb", "a", "bb", "a"],          # lengths differ, first == last
    ["", "", ""],                         # empty strings
    ["x", None, "x"],                     # missing -> the default
    [None, None],
])
def test_column_codes_of_arrow_strings(values):
    """pyarrow-backed strings (several chunks, sliced) give the same codes as plain ones."""
    import pyarrow as pa

    want = column_codes(pd.DataFrame({"c": pd.Series(values, dtype=object)}), "c", "dflt")
    large = pa.large_string()
    chunked = pa.chunked_array([pa.array(["pad", *values[:2]], large)[1:],  # sliced: offset 1
                                pa.array(values[2:], large)])
    for arr in (chunked, pa.chunked_array([pa.array(values, pa.string())])):
        col = pd.Series(pd.arrays.ArrowStringArray(arr))
        codes, uniques = column_codes(pd.DataFrame({"c": col}), "c", "dflt")
        assert codes.dtype == np.int64 and uniques == want[1]
        np.testing.assert_array_equal(codes, want[0])


def test_column_codes_of_categoricals():
    """A Categorical column (unused categories, missing values) gives every row the value
    the plain column does; uniques are the values present."""
    values = ["b", None, "a", "b", "a"]
    plain = column_codes(pd.DataFrame({"c": pd.Series(values, dtype=object)}), "c", "dflt")
    cat = pd.Categorical(values, categories=["z", "a", "b", "y"])
    for X in (pd.DataFrame({"c": cat}), {"c": cat}):
        codes, uniques = column_codes(X, "c", "dflt")
        assert codes.dtype == np.int64 and sorted(uniques) == sorted(plain[1])
        assert [uniques[c] for c in codes] == [plain[1][c] for c in plain[0]]


def test_column_mapping_gives_the_same_features(edge, as_columns):
    """A column mapping (float64 numbers, Categorical strings) and a DataFrame with
    categorical string columns give the DataFrame's features and labels, bit for bit."""
    df = edge.copy()
    df.loc[3, "mem_mode"] = None  # a missing string
    want, want_labels = feature_matrix_and_labels(df, DEVICES)
    strings = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    for X in (as_columns(df), df.astype({c: "category" for c in strings})):
        got, labels = feature_matrix_and_labels(X, DEVICES)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        for key, (codes, uniques) in want_labels.items():
            assert [labels[key][1][c] for c in labels[key][0]] == [uniques[c] for c in codes]
    assert set(want_labels) == {"device", "impl", "mem_mode"}


def test_schema_compatibility():
    s = feature_schema()
    assert schema_compatible(s) is None
    older = {**s, "vocab": {k: v[:-1] for k, v in s["vocab"].items()}}
    assert schema_compatible(older) is None  # vocabularies grew at the end: fine
    assert "names" in schema_compatible({**s, "names": s["names"][1:]})
    assert "version" in schema_compatible({**s, "version": -1})
    # a version-2 model (before the BLAS thread grid was appended) reads the first columns
    v2 = {**s, "version": 2, "names": [n for n in s["names"] if "blas" not in n]}
    assert schema_compatible(v2) is None and len(v2["names"]) < len(s["names"])
    assert "version" in schema_compatible({**v2, "version": 1})


def test_blas_thread_grid_follows_openblas_partition():
    from latpred.features.blas_threads import thread_grid

    t = np.array([1, 4, 8, 12, 15, 16])
    full = np.ones(6)
    grid = thread_grid(49 * full, 128 * full, 992 * full, t, 16)
    # 8 and 16 threads run as 2 x 4, 12 and 15 as 3 x 3 (densenet121's 7x7 1x1 convs)
    assert [f"{a}x{b}" for a, b in zip(*grid)] == ["1x1", "2x2", "2x4", "3x3", "3x3", "2x4"]
    # too little work per thread (m n k <= 262144): one thread whatever is allowed
    assert (np.prod(thread_grid(8 * full, 8 * full, 8 * full, t, 32), axis=0) == 1).all()
    # a wide output splits along m alone, up to the threads allowed
    m, n = thread_grid(3136 * full, 384 * full, 96 * full, t, 32)
    assert (m == t).all() and (n == 1).all()
    # BLAS rows carry the grid (OpenBLAS's m is the GEMM's N); other rows zeros
    rows = pd.DataFrame([{"op": "linear", "pass": "forward", "m": 49, "n": 3072, "k": 768,
                          "backend": "cpu", "device": CPU_INFO["name"], "platform": "numpy",
                          "impl": "blas", "threads": th, "mem_mode": "host"}
                         for th in (8, 16)])
    F = make_features(rows, DEVICES)
    used = F["blas_threads_used_sr16"].to_numpy()
    assert (used >= 1).all() and (used <= [8, 16]).all()
    gpu = make_features(candidate_configs(LinearLayer(49, 3072, 768), GPU_INFO), DEVICES)
    assert (gpu.filter(like="blas_").to_numpy() == 0).all()


def test_fast_enough():
    """1,000 candidates (8 sub-shapes of a layer): report warm/cold; bound generously."""
    frames = [candidate_configs(LinearLayer(128, max(1, int(3072 * r)), 768), GPU_INFO)
              for r in np.linspace(0.2, 1, 8)]
    cands = pd.concat(frames, ignore_index=True).iloc[:1000]
    feature_matrix(cands, DEVICES)
    warm = []
    for _ in range(20):
        t = time.perf_counter()
        feature_matrix(cands, DEVICES)
        warm.append(time.perf_counter() - t)
    geometry._memo.clear()
    t = time.perf_counter()
    feature_matrix(cands, DEVICES)
    cold = time.perf_counter() - t
    print(f"features of 1000 candidates: warm median {np.median(warm) * 1e3:.2f} ms, "
          f"cold {cold * 1e3:.1f} ms")
    assert np.median(warm) < 0.05  # the target is ~1 ms on an idle machine


def test_concurrent_callers_agree():
    """The geometry memo is shared: threads computing new shapes at once stay correct."""
    from concurrent.futures import ThreadPoolExecutor

    frames = [candidate_configs(LinearLayer(16 + i, 300 + 7 * i, 200 + 5 * i), GPU_INFO,
                                max_local_sizes=2) for i in range(8)]
    geometry.clear_caches()
    serial = [feature_matrix(f, DEVICES) for f in frames]
    geometry.clear_caches()
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda f: feature_matrix(f, DEVICES), frames))
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_blas_conv_scratch_is_the_workspace():
    """BLAS conv rows carry the bytes of the backend's workspace (im2col columns + padded
    input) as scratch; a 1x1 stride-1 conv (no copy) and a linear layer carry none."""
    from latpred.profiler.backends.blas import ConvWorkspace

    layers = [ConvLayer(2, 8, 16, 10, 10, 3, 3, padding=1, groups=2),
              ConvLayer(1, 16, 32, 14, 14, 1, 1, stride=2),
              ConvLayer(1, 16, 32, 14, 14, 1, 1)]
    base = {"backend": "cpu", "device": CPU_INFO["name"], "platform": "numpy", "impl": "blas",
            "params": "{}", "local_size": "", "threads": 4, "mem_mode": "host"}
    rows = [{**base, "op": "conv2d", **lay.shape_dict()} for lay in layers]
    rows.append({**base, "op": "linear", "pass": "forward", "m": 8, "n": 16, "k": 32})
    F = feature_matrix(pd.DataFrame(rows), DEVICES)
    want = [ConvWorkspace(lay).nbytes for lay in layers] + [0]
    assert want[0] > 0 and want[1] > 0 and want[2] == 0
    np.testing.assert_allclose(F[:, _I["log2_scratch_bytes"]], np.log2(1.0 + np.array(want)))

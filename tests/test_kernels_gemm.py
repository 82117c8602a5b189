"""Correctness and legality of the GEMM kernel library on PoCL (CPU).

Every implementation of ``implementations("gemm")``: its params combos (all, or a fixed
sample for large spaces) across the four layouts and batches; all three linear-layer
passes on edge shapes with two local sizes; custom leading dimensions writing a column
block of C in place inside a wider array; and the legality rules (local sizes within the
device limits, ``params_rule``, ``shape_reason``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from latpred.profiler.backends.opencl import execute
from latpred.profiler.kernels import get, implementations
from latpred.profiler.kernels.base import Buf, DeviceLimits, fits_device
from latpred.profiler.problems import PASSES, GemmProblem, LinearLayer

GEMM = implementations("gemm")
NAMES = [impl.name for impl in GEMM]
LAYOUTS = [(False, True), (False, False), (True, False), (True, True)]
MAX_COMBOS = 6  # params combos run per implementation (a fixed spread over the space)


def _sample(space: list[dict], k: int) -> list[dict]:
    """Up to k combos spread evenly over the space, always its first and last."""
    if len(space) <= k:
        return space
    idx = np.unique(np.linspace(0, len(space) - 1, k).round().astype(int))
    return [space[i] for i in idx]


def _combo_cases() -> list[Any]:
    cases = []
    for impl in GEMM:
        for i, params in enumerate(_sample(impl.params_space(), MAX_COMBOS)):
            tag = ",".join(f"{k}{v}" for k, v in params.items()) or "default"
            cases.append(pytest.param(impl.name, params, i, id=f"{impl.name}-{tag}"))
    return cases


def _legal_problem(impl: Any, params: dict, candidates: list[GemmProblem]) -> list[GemmProblem]:
    return [p for p in candidates if impl.shape_reason(p, params) is None]


def _check(dev: Any, impl: Any, prob: GemmProblem, params: dict, local: Any,
           rng: np.random.Generator) -> None:
    arrays = prob.arrays(rng)
    ref = prob.reference(arrays)
    out = execute(dev, impl, prob, params, local, arrays)
    err = float(np.max(np.abs(out - ref)))
    assert np.isfinite(err) and err <= prob.tolerance(), (
        f"{impl.name} {params} local={local} {prob}: max |err| {err:.3g} > {prob.tolerance():.3g}")


def _locals(impl: Any, prob: Any, params: dict, dev: Any, n: int, offset: int = 0) -> list:
    """n legal local sizes (explicit ones first, rotated by ``offset``)."""
    locs = impl.local_sizes(prob, params, dev.limits)
    assert locs, f"{impl.name} {params}: no legal local size on PoCL"
    explicit = [loc for loc in locs if loc is not None]
    rest = [loc for loc in locs if loc is None]
    if explicit:
        r = offset % len(explicit)
        explicit = explicit[r:] + explicit[:r]
    return (explicit + rest)[:n]


# -- every params combo (or a spread sample) ----------------------------------------------

@pytest.mark.parametrize("name, params, i", _combo_cases())
def test_params_combo(pocl_device, rng, name: str, params: dict, i: int) -> None:
    """One layout per combo (rotating), an edge shape and a batched one, one local size."""
    impl = get(name)
    ta, tb = LAYOUTS[i % len(LAYOUTS)]
    m = 1 if name == "gemv" else 17
    cands = [GemmProblem(m, 31, 65, trans_a=ta, trans_b=tb),
             GemmProblem(m, 33, 12, trans_a=ta, trans_b=tb, batch=3),
             GemmProblem(m if m == 1 else 20, 36, 16, trans_a=ta, trans_b=tb, batch=2)]
    probs = _legal_problem(impl, params, cands)
    assert probs, f"{name} {params}: no legal candidate problem"
    for prob in probs:
        for local in _locals(impl, prob, params, pocl_device, 1, offset=i):
            _check(pocl_device, impl, prob, params, local, rng)


# -- all three passes of a linear layer on edge shapes ------------------------------------

def _layer_shapes(seed: int, count: int, m_one: bool) -> list[tuple[int, int, int]]:
    r = np.random.default_rng(seed)
    ms = [1] if m_one else [1, 3, 17, 33]
    nk = [1, 5, 31, 65, 130]
    shapes = {(int(r.choice(ms)), int(r.choice(nk)), int(r.choice(nk))) for _ in range(4 * count)}
    return sorted(shapes)[:count]


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("name", NAMES)
def test_linear_passes(pocl_device, rng, name: str, pass_: str) -> None:
    """Smallest params combo, two local sizes, random edge shapes (m, n, k) per pass."""
    impl = get(name)
    params = impl.params_space()[0]
    layers = [LinearLayer(m, n, k, pass_) for m, n, k in
              _layer_shapes(PASSES.index(pass_), 6, m_one=(name == "gemv"))]
    layers += [LinearLayer(4, 8, 12, pass_), LinearLayer(1, 64, 36, pass_),
               LinearLayer(7, 1, 9, pass_)]  # backward_weight: M = n = 1 (gemv)
    probs = _legal_problem(impl, params, [layer.gemm() for layer in layers])
    assert probs, f"{name}: no legal {pass_} problem"
    for prob in probs:
        for local in _locals(impl, prob, params, pocl_device, 2):
            _check(pocl_device, impl, prob, params, local, rng)


# -- custom leading dimensions: a column block of a wider C, in place --------------------

@dataclass(frozen=True)
class StridedGemm(GemmProblem):
    """A GemmProblem whose operands live in wider arrays (leading dims > dense ones)."""

    lda_: int = 0
    ldb_: int = 0
    ldc_: int = 0

    @property
    def lda(self) -> int:
        return self.lda_

    @property
    def ldb(self) -> int:
        return self.ldb_

    @property
    def ldc(self) -> int:
        return self.ldc_


def _run_strided(dev: Any, impl: Any, prob: StridedGemm, params: dict, local: Any,
                 bufs: dict[str, np.ndarray], c_col0: int) -> np.ndarray:
    """Run on the wide (batch, rows, ld) host arrays; C starts at column ``c_col0`` of
    ``bufs["C"]`` (through a sub-buffer) and its other columns must stay intact."""
    import pyopencl as cl

    ctx, queue = dev.context, dev.queue
    mf = cl.mem_flags
    dbuf = {k: cl.Buffer(ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=v) for k, v in bufs.items()}
    c_full = dbuf["C"]
    dbuf["C"] = c_full.get_sub_region(c_col0 * 4, bufs["C"].nbytes - c_col0 * 4)
    prg = dev.program(impl.source(prob, params))
    for launch in impl.launches(prob, params, local):
        args = list(launch.args)
        assert len(args) == 12, "uniform GEMM signature expected"
        vals = [dbuf[a.name] if isinstance(a, Buf) else a.as_numpy() for a in args]
        for pos, name in ((3, "A"), (6, "B"), (9, "C")):  # buffer, ld, batch stride
            assert args[pos] == Buf(name)
            assert int(vals[pos + 1]) == getattr(prob, "ld" + name.lower())  # from gemm_args
            if prob.batch > 1:
                vals[pos + 2] = np.int32(bufs[name].shape[1] * bufs[name].shape[2])
        knl = cl.Kernel(prg, launch.kernel)
        knl.set_args(*vals)
        cl.enqueue_nd_range_kernel(queue, knl, launch.global_size, launch.local_size)
    out = np.empty_like(bufs["C"])
    cl.enqueue_copy(queue, out, c_full)
    queue.finish()
    return out


@pytest.mark.parametrize("layout", [(False, True), (True, False)], ids=["NT", "TN"])
@pytest.mark.parametrize("name", NAMES)
def test_custom_leading_dims(pocl_device, rng, name: str, layout: tuple[bool, bool]) -> None:
    """lda/ldb > their dense values, ldc > N; C is a column block in a wider array."""
    impl = get(name)
    params = impl.params_space()[-1]
    ta, tb = layout
    align = max(1, int(pocl_device.device.mem_base_addr_align) // 32)  # floats
    m = 1 if name == "gemv" else 13
    ran = 0
    for n, k, batch in ((19, 22, 1), (9, 28, 2)):
        a_rows, a_cols = (k, m) if ta else (m, k)
        b_rows, b_cols = (n, k) if tb else (k, n)
        if name == "gemm_vec4":  # float4-aligned rows
            lda, ldb = -(-a_cols // 4) * 4 + 4, -(-b_cols // 4) * 4 + 8
        else:
            lda, ldb = a_cols + 3, b_cols + 5
        c0 = align
        ldc = c0 + n + 5
        prob = StridedGemm(m, n, k, trans_a=ta, trans_b=tb, batch=batch,
                           lda_=lda, ldb_=ldb, ldc_=ldc)
        assert impl.shape_reason(prob, params) is None
        a = rng.uniform(-1, 1, (batch, a_rows, lda)).astype(np.float32)
        b = rng.uniform(-1, 1, (batch, b_rows, ldb)).astype(np.float32)
        c = np.full((batch, m, ldc), 7.0, np.float32)
        for local in _locals(impl, prob, params, pocl_device, 1):
            out = _run_strided(pocl_device, impl, prob, params, local, {"A": a, "B": b, "C": c}, c0)
            ref = GemmProblem(m, n, k, trans_a=ta, trans_b=tb, batch=batch).reference(
                {"A": a[:, :, :a_cols], "B": b[:, :, :b_cols]})
            block = out[:, :, c0:c0 + n]
            np.testing.assert_allclose(block, ref.reshape(block.shape), atol=prob.tolerance(), rtol=0)
            rest = np.concatenate([out[:, :, :c0], out[:, :, c0 + n:]], axis=2)
            assert np.all(rest == 7.0), f"{name}: wrote outside the C column block"
            ran += 1
    assert ran == 2


# -- legality rules ----------------------------------------------------------------------

FAKE_LIMITS = [
    DeviceLimits(64, (64, 64, 64), 4096),
    DeviceLimits(256, (256, 256, 256), 16 * 1024),
    DeviceLimits(1024, (1024, 1024, 64), 32 * 1024),  # Oclgrind-like
    DeviceLimits(1024, (1024, 1024, 64), 48 * 1024),  # NVIDIA-like
    DeviceLimits(128, (128, 4, 1), 64 * 1024),        # narrow work-item sizes
]


@pytest.mark.parametrize("name", NAMES)
def test_local_sizes_within_limits(name: str) -> None:
    impl = get(name)
    probs = [LinearLayer(m, n, k, p).gemm() for (m, n, k), p in
             itertools.product([(1, 5, 7), (33, 130, 65)], PASSES)]
    for limits, params, prob in itertools.product(FAKE_LIMITS, impl.params_space(), probs):
        if impl.shape_reason(prob, params):
            continue
        for local in impl.local_sizes(prob, params, limits):
            assert fits_device(local, limits), (name, params, local, limits)
            assert impl.local_mem_bytes(params, local) <= limits.local_mem_bytes, (
                name, params, local, limits)
            for launch in impl.launches(prob, params, local):
                if launch.local_size is None:
                    continue
                assert fits_device(launch.local_size, limits)
                assert all(g % lsz == 0 for g, lsz in zip(launch.global_size, launch.local_size))
                assert launch.global_size[2] == prob.batch * launch.local_size[2]


@pytest.mark.parametrize("name", NAMES)
def test_params_space_respects_rule(name: str) -> None:
    impl = get(name)
    space = impl.params_space()
    assert space, f"{name}: empty params space"
    assert len(space) <= 12, f"{name}: {len(space)} combos (each is profiled for every shape)"
    keys = set(impl.space)
    for params in space:
        assert set(params) == keys and impl.params_rule(params)
        for k, v in params.items():
            assert v in impl.space[k]
    n_all = int(np.prod([len(v) for v in impl.space.values()])) if impl.space else 1
    assert len(space) <= n_all
    assert all(isinstance(v, list) for v in impl.space.values())  # plain data
    tm = impl.tile_multiples(space[0])
    assert set(tm) <= {"M", "N", "K"} and all(int(v) >= 1 for v in tm.values())


def test_regblock_space_has_large_tiles() -> None:
    space = get("gemm_regblock").params_space()
    assert any(p["TSM"] == 128 and p["TSN"] == 128 for p in space)
    assert any(p["TSK"] == 16 for p in space) and any(p["WPTM"] == 8 for p in space)
    assert not get("gemm_regblock").params_rule(
        {"TSM": 128, "TSN": 128, "TSK": 16, "WPTM": 4, "WPTN": 4})  # 1024 work-items


def test_large_tiles_refused_on_small_local_memory() -> None:
    impl = get("gemm_regblock")
    prob = LinearLayer(64, 64, 64).gemm()
    big = {"TSM": 128, "TSN": 128, "TSK": 16, "WPTM": 8, "WPTN": 8}
    assert impl.local_sizes(prob, big, DeviceLimits(1024, (1024,) * 3, 32 * 1024)) == []
    assert impl.local_sizes(prob, big, DeviceLimits(1024, (1024,) * 3, 48 * 1024)) == [(16, 16, 1)]
    assert get("gemm_tiled").local_sizes(prob, {"TS": 32}, FAKE_LIMITS[1]) == []


def test_gemv_refuses_m_above_one() -> None:
    impl = get("gemv")
    params = impl.params_space()[0]
    assert impl.shape_reason(LinearLayer(1, 10, 20).gemm(), params) is None
    assert impl.shape_reason(LinearLayer(1, 10, 20, "backward_input").gemm(), params) is None
    for prob in (LinearLayer(2, 10, 20).gemm(), LinearLayer(1, 10, 20, "backward_weight").gemm()):
        reason = impl.shape_reason(prob, params)
        assert reason and "M == 1" in reason


def test_vec4_refuses_misaligned_leading_dims() -> None:
    impl = get("gemm_vec4")
    params = impl.params_space()[0]
    assert impl.shape_reason(GemmProblem(3, 8, 12, trans_b=True), params) is None
    assert impl.shape_reason(GemmProblem(5, 7, 8), params) is not None         # ldb = N = 7
    assert impl.shape_reason(GemmProblem(5, 8, 9, trans_b=True), params)      # lda = K = 9
    assert impl.shape_reason(GemmProblem(6, 8, 8, trans_a=True), params)      # lda = M = 6
    assert "multiples of 4" in impl.shape_reason(GemmProblem(5, 7, 8), params)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "gemv"])
def test_general_kernels_take_any_size(name: str) -> None:
    """Only gemv (M) and gemm_vec4 (alignment) refuse shapes."""
    impl = get(name)
    for params in impl.params_space():
        for m, n, k in ((1, 1, 1), (3, 5, 7), (33, 130, 65)):
            for ta, tb in LAYOUTS:
                prob = GemmProblem(m, n, k, trans_a=ta, trans_b=tb)
                if name == "gemm_vec4" and (prob.lda % 4 or prob.ldb % 4):
                    continue
                assert impl.shape_reason(prob, params) is None

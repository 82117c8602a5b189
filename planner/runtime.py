"""The co-execution runtime: one layer, GPU computing ``[0, split_n)`` of its output
features, the CPU ``[split_n, N)``, at the same time.

GPU side: an ``OpenCLRun`` of the chosen implementation / work-group / memory mode on the
GPU part, started non-blocking (``start``) and waited for (``wait``). CPU side: numpy/BLAS
with the chosen thread count in a worker thread (BLAS releases the GIL), or an OpenCL CPU
device (a PoCL sub-device of ``threads`` compute units) started like the GPU.

Synchronisation (``sync``), the GPU's memory mode, chosen by ``pick_sync``:

- ``svm_fine``: fine-grained SVM; the output lives in shared memory, the GPU writes its
  block in place (``ldc = N`` / a channel prefix) while the CPU writes the rest: no copy.
- ``svm_coarse``: coarse-grained SVM; inputs written through map/unmap, the GPU block read
  back through a map (one copy of the GPU's block).
- ``map``: ``ALLOC_HOST_PTR`` buffers through map/unmap (like ``svm_coarse``).
- ``buffer``: device buffers with explicit copies in and out.

"auto" picks the first the device supports in the order svm_fine, svm_coarse, buffer.
Weights are split and placed once, when the run is built.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from latpred.planner.split import (
    Part,
    as_problem,
    can_write_in_place,
    check_split,
    make_part,
    numpy_compute,
    out_name,
    part_problem,
    ratio_to_split,
    split_extent,
)
from latpred.profiler.backends.opencl import MEM_MODES, ConfigError, OpenCLDevice, OpenCLRun
from latpred.profiler.kernels.base import LocalSize, local_size_str, parse_local_size

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

#: sync preference of ``sync="auto"``
SYNC_PREFERENCE = ("svm_fine", "svm_coarse", "buffer")


@dataclass(frozen=True)
class GpuConfig:
    """The GPU side of a plan: implementation, its parameters, work-group, memory mode."""

    impl: str
    params: dict = field(default_factory=dict, hash=False)
    local: LocalSize = None
    mem_mode: str = "auto"

    @property
    def local_size(self) -> str:
        return local_size_str(self.local)

    def describe(self) -> str:
        return (f"{self.impl} {json.dumps(self.params, sort_keys=True)} "
                f"wg={self.local_size} {self.mem_mode}")


@dataclass(frozen=True)
class CpuConfig:
    """The CPU side of a plan: numpy/BLAS threads (``engine="blas"``), or an OpenCL CPU
    sub-device of ``threads`` compute units running ``impl`` (``engine="opencl"``)."""

    threads: int = 1
    engine: str = "blas"
    impl: str = "blas"
    params: dict = field(default_factory=dict, hash=False)
    local: LocalSize = None

    def describe(self) -> str:
        if self.engine == "blas":
            return f"blas threads={self.threads}"
        return (f"opencl-cpu {self.impl} {json.dumps(self.params, sort_keys=True)} "
                f"wg={local_size_str(self.local)} threads={self.threads}")


@dataclass(frozen=True)
class Plan:
    """How to run one layer: the GPU computes output features ``[0, split_n)``, the CPU
    ``[split_n, n_total)``. ``split_n == 0``: CPU only; ``split_n == n_total``: GPU only."""

    split_n: int
    n_total: int
    gpu: GpuConfig | None = None
    cpu: CpuConfig | None = None

    @property
    def ratio(self) -> float:
        """The GPU's share of the output features, in [0, 1]."""
        return self.split_n / self.n_total if self.n_total else 0.0

    @property
    def kind(self) -> str:
        """"cpu", "gpu" or "split"."""
        if self.split_n == 0:
            return "cpu"
        return "gpu" if self.split_n == self.n_total else "split"

    @classmethod
    def from_ratio(cls, layer: Any, ratio: float, gpu: GpuConfig | None,
                   cpu: CpuConfig | None) -> Plan:
        """A plan giving the GPU ``ratio`` of the outputs (rounded; LatpredError outside
        [0, 1])."""
        problem = as_problem(layer)
        return cls(ratio_to_split(problem, ratio), split_extent(problem), gpu, cpu)

    def describe(self) -> str:
        if self.kind == "cpu":
            return f"CPU only: {self.cpu.describe() if self.cpu else '?'}"
        if self.kind == "gpu":
            return f"GPU only: {self.gpu.describe() if self.gpu else '?'}"
        return (f"split {self.split_n}/{self.n_total} ({100 * self.ratio:.1f}% GPU): "
                f"GPU {self.gpu.describe() if self.gpu else '?'} | "
                f"CPU {self.cpu.describe() if self.cpu else '?'}")


def pick_sync(mem_modes: list[str] | tuple[str, ...], requested: str = "auto") -> str:
    """The memory mode to synchronise with: ``requested`` if supported, for "auto" the
    first of SYNC_PREFERENCE the device supports."""
    if requested == "auto":
        for mode in SYNC_PREFERENCE:
            if mode in mem_modes:
                return mode
        return mem_modes[0]
    if requested not in MEM_MODES:
        raise bad_value("mem_mode", requested, f"must be auto or one of {', '.join(MEM_MODES)}")
    if requested not in mem_modes:
        raise bad_value("mem_mode", requested,
                        f"not supported by the device (supports {', '.join(mem_modes)})")
    return requested


def validate_plan(problem: Any, plan: Plan, gpu_dev: OpenCLDevice | None = None,
                  cpu_dev: Any = None, sides: str = "both") -> Plan:
    """Check a plan against a layer and devices; returns it with ``mem_mode`` "auto"
    resolved. Raises LatpredError naming the offending value: split outside [0, N] or not
    a multiple of the group size, a missing side, unknown implementation or wrong op,
    parameters outside the implementation's space, a shape the kernel refuses, a
    work-group size that is not legal for the kernel on this device, an unsupported
    memory mode, bad thread counts. ``sides`` "gpu" / "cpu" checks only that side."""
    from latpred.profiler.kernels import get

    problem = as_problem(problem)
    n_total = split_extent(problem)
    if plan.n_total != n_total:
        raise bad_value("n_total", plan.n_total, f"the layer has {n_total} output features")
    check_split(problem, plan.split_n)
    op = "conv2d" if not hasattr(problem, "M") else "gemm"
    gpu = plan.gpu
    if plan.split_n > 0 and sides in ("both", "gpu"):
        if gpu is None:
            raise bad_value("gpu", None, f"split_n={plan.split_n} needs a GPU configuration")
        if gpu_dev is None:
            raise bad_value("gpu_device", None, "a plan with a GPU share needs a GPU device")
        impl = get(gpu.impl)  # unknown -> LatpredError
        if impl.op != op:
            raise bad_value("impl", gpu.impl, f"is a {impl.op} kernel, the layer needs {op}")
        _check_params(impl, gpu.params)
        mode = pick_sync(gpu_dev.mem_modes, gpu.mem_mode)
        in_place = mode == "svm_fine" and can_write_in_place(problem, 0)
        sub = part_problem(problem, 0, plan.split_n, "opencl", in_place)
        reason = impl.shape_reason(sub, gpu.params)
        if reason:
            raise bad_value("impl", gpu.impl, f"cannot compute this part: {reason}")
        legal = impl.local_sizes(sub, gpu.params, gpu_dev.limits)
        if gpu.local not in legal:
            raise bad_value("local_size", local_size_str(gpu.local),
                            f"not a legal work-group for {gpu.impl} on {gpu_dev.name} "
                            f"(legal: {', '.join(local_size_str(v) for v in legal) or 'none'})")
        gpu = GpuConfig(gpu.impl, gpu.params, gpu.local, mode)
    if plan.split_n < n_total and sides in ("both", "cpu"):
        cpu = plan.cpu
        if cpu is None:
            raise bad_value("cpu", None, f"split_n={plan.split_n} < {n_total} needs a CPU "
                            "configuration")
        if isinstance(cpu.threads, bool) or not isinstance(cpu.threads, (int, np.integer)) \
                or cpu.threads < 1:
            raise bad_value("threads", cpu.threads, "must be a positive integer")
        if cpu.engine == "blas":
            cores = os.cpu_count() or 1
            if cpu.threads > 4 * cores:
                raise bad_value("threads", cpu.threads, f"this machine has {cores} cores")
        elif cpu.engine == "opencl":
            if cpu_dev is None:
                raise bad_value("cpu_device", None, "engine opencl needs an OpenCL CPU device")
            cimpl = get(cpu.impl)
            if cimpl.op != op:
                raise bad_value("impl", cpu.impl, f"is a {cimpl.op} kernel, the layer needs {op}")
            _check_params(cimpl, cpu.params)
        else:
            raise bad_value("engine", cpu.engine, "must be blas or opencl")
    return Plan(plan.split_n, n_total, gpu, plan.cpu)


def _check_params(impl: Any, params: dict) -> None:
    space = impl.params_space()
    if space and params not in space:
        raise bad_value("params", json.dumps(params, sort_keys=True),
                        f"not in the parameter space of {impl.name}")
    if not space and params:
        raise bad_value("params", json.dumps(params, sort_keys=True),
                        f"{impl.name} takes no parameters")


class _CpuWorker:
    """A persistent worker thread with the BLAS thread count set once (threadpoolctl)."""

    def __init__(self, threads: int):
        self.threads = threads
        self._limiter: Any = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="latpred-cpu")
        self._pool.submit(self._limit).result()

    def _limit(self) -> None:
        from latpred.profiler.backends.blas import controller

        self._limiter = controller().limit(limits=self.threads, user_api="blas")

    def submit(self, fn: Any) -> Any:
        return self._pool.submit(fn)

    def close(self) -> None:
        if self._limiter is not None:
            self._pool.submit(self._limiter.restore_original_limits).result()
            self._limiter = None
        self._pool.shutdown(wait=True)


class CoexecRun:
    """One layer bound to arrays and a plan, ready to run co-executed.

    Args:
        layer: LinearLayer (its GEMM), GemmProblem (batch 1) or ConvLayer.
        arrays: the layer's arrays (``problem.arrays(rng)``); the result lands in the
            output array, or, with in-place ``svm_fine``, in shared memory (``output()``).
        plan: the plan (validated here; LatpredError if invalid).
        gpu_dev: the GPU (an OpenCLDevice); needed when ``split_n > 0``.
        cpu_dev: a pyopencl CPU device (PoCL) for ``CpuConfig(engine="opencl")``.
        sides: "both" (default), or "gpu" / "cpu" to run one side alone at its split
            (the oracle's single-side measurements; the other block is left untouched).

    ``run_once()`` returns timings in us: ``total_us`` (wall time from start to the whole
    output in place), ``cpu_us`` (CPU part compute), ``gpu_total_us`` (GPU part, end to
    end) with its ``kernel_us`` / ``dispatch_us`` / ``transfer_in_us`` /
    ``transfer_out_us``, ``merge_us`` (staged blocks copied into the output),
    ``sync_us`` (from the later side finishing to the output complete), ``cpu_start_us``
    (lag before the CPU part starts). The wall times leave out the reading of the launches'
    profiling counters (``OpenCLRun.event_timings``, after the clock stops): about 26 us a
    run on the H100, which a deployment does not pay.
    """

    def __init__(self, layer: Any, arrays: dict[str, np.ndarray], plan: Plan,
                 gpu_dev: OpenCLDevice | None = None, cpu_dev: Any = None,
                 sides: str = "both", handshake: bool = True):
        if sides not in ("both", "gpu", "cpu"):
            raise bad_value("sides", sides, "must be both, gpu or cpu")
        self.problem = as_problem(layer)
        self.arrays = arrays
        self.sides = sides
        self.plan = validate_plan(self.problem, plan, gpu_dev, cpu_dev, sides)
        self.out_name = out_name(self.problem)
        s, n = self.plan.split_n, self.plan.n_total
        self._gpu_run: OpenCLRun | None = None
        self._cpu_run: OpenCLRun | None = None
        self._cpu_dev: OpenCLDevice | None = None
        self._worker: _CpuWorker | None = None
        self._limiter: Any = None
        self._cpu_work: Any = None
        self.gpu_part: Part | None = None
        self.cpu_part: Part | None = None
        self.result = arrays[self.out_name]
        self.in_place = False
        self.sync = "none"
        self._ref: np.ndarray | None = None
        self._started: threading.Event | None = threading.Event() if handshake else None
        try:
            run_gpu = s > 0 and sides in ("both", "gpu")
            run_cpu = s < n and sides in ("both", "cpu")
            if run_gpu:
                self._build_gpu(gpu_dev)
            if run_cpu:
                self._build_cpu(cpu_dev, concurrent=run_gpu)
        except BaseException:
            self.release()
            raise

    # -- building -----------------------------------------------------------------------
    def _build_gpu(self, gpu_dev: OpenCLDevice) -> None:
        from latpred.profiler.kernels import get

        cfg = self.plan.gpu
        assert cfg is not None
        s = self.plan.split_n
        self.in_place = (cfg.mem_mode == "svm_fine"
                         and can_write_in_place(self.problem, 0))
        part = make_part(self.problem, self.arrays, 0, s, target="opencl",
                         in_place=self.in_place)
        run = OpenCLRun(gpu_dev, get(cfg.impl), part.problem, cfg.params, cfg.local,
                        cfg.mem_mode, part.arrays, copy_out=not self.in_place)
        self._gpu_run = run
        if self.in_place:
            self.result = run.shared_view(self.out_name)
            part.out_block = self.result[:, 0:s]
        self.gpu_part = part
        self.sync = cfg.mem_mode + ("_in_place" if self.in_place else "")

    def _build_cpu(self, cpu_dev: Any, concurrent: bool) -> None:
        from latpred.profiler.kernels import get

        cfg = self.plan.cpu
        assert cfg is not None
        s, n = self.plan.split_n, self.plan.n_total
        if cfg.engine == "blas":
            from latpred.profiler.backends.blas import ConvWorkspace, controller

            self.cpu_part = make_part(self.problem, self.arrays, s, n, target="numpy",
                                      out_full=self.result)
            prob = self.cpu_part.problem
            if not hasattr(prob, "M"):  # conv: scratch allocated once, as an engine would
                self._cpu_work = ConvWorkspace(prob, self.cpu_part.arrays["x"].dtype)
            if concurrent:
                self._worker = _CpuWorker(cfg.threads)
            else:
                self._limiter = controller().limit(limits=cfg.threads, user_api="blas")
        else:
            dev = cpu_dev if isinstance(cpu_dev, OpenCLDevice) and cpu_dev.threads == cfg.threads \
                else OpenCLDevice(getattr(cpu_dev, "root_device", cpu_dev), threads=cfg.threads)
            self._cpu_dev = dev
            part = make_part(self.problem, self.arrays, s, n, target="opencl",
                             out_full=self.result)
            impl = get(cfg.impl)
            legal = impl.local_sizes(part.problem, cfg.params, dev.limits)
            if cfg.local not in legal:
                raise bad_value("local_size", local_size_str(cfg.local),
                                f"not a legal work-group for {cfg.impl} on the CPU device")
            self._cpu_run = OpenCLRun(dev, impl, part.problem, cfg.params, cfg.local,
                                      "buffer", part.arrays)
            self.cpu_part = part

    # -- running ------------------------------------------------------------------------
    def _cpu_job(self) -> tuple[float, float]:
        t = time.perf_counter()
        if self._started is not None:
            self._started.set()
        numpy_compute(self.cpu_part, self._cpu_work)
        return t, time.perf_counter()

    def run_once(self) -> dict[str, Any]:
        """One co-executed run of the layer; returns its timings (us, see the class)."""
        gpu, gpu_part, cpu_part = self._gpu_run, self.gpu_part, self.cpu_part
        t0 = time.perf_counter()
        fut = None
        if cpu_part is not None:  # CPU first: its thread wakes while the GPU is fed
            if self._worker is not None:
                fut = self._worker.submit(self._cpu_job)
                if self._started is not None:  # hand the GIL over until BLAS has it
                    self._started.wait()
                    self._started.clear()
            elif self._cpu_run is not None:
                cpu_part.prepare()
                self._cpu_run.start()
        g: dict[str, Any] = {}
        merge_s = 0.0
        t_gpu = t0
        if gpu is not None:
            gpu_part.prepare()
            gpu.start()
            g = gpu.finish()
            t_gpu = time.perf_counter()
            if gpu_part.staged:
                gpu_part.merge()
                merge_s += time.perf_counter() - t_gpu
        c0 = c1 = t0
        cres: dict[str, Any] | None = None  # the OpenCL CPU part's host timings
        if cpu_part is not None:
            if fut is not None:
                c0, c1 = fut.result()
            elif self._cpu_run is not None:
                cres = self._cpu_run.finish()
                c1 = time.perf_counter()
                c0 = c1 - cres["total_us"] * 1e-6
            else:  # CPU only: compute inline, no thread hand-off
                c0, c1 = self._cpu_job()
            t = time.perf_counter()
            if cpu_part.staged:
                cpu_part.merge()
                merge_s += time.perf_counter() - t
        t_end = time.perf_counter()
        # the launches' profiling counters, read once the clock has stopped: reading them
        # costs host time (about 26 us a run on the H100), which a deployment does not pay
        if gpu is not None:
            g = gpu.event_timings(g)
        cpu_extra = {} if cres is None else {
            "cpu_kernel_us": self._cpu_run.event_timings(cres)["kernel_us"]}
        cpu_us = (c1 - c0) * 1e6 if cpu_part is not None else 0.0
        return {
            "total_us": (t_end - t0) * 1e6,
            "cpu_us": cpu_us,
            "cpu_start_us": (c0 - t0) * 1e6 if cpu_part is not None else 0.0,
            "gpu_total_us": g.get("total_us", 0.0),
            "kernel_us": g.get("kernel_us", cpu_us),
            "dispatch_us": g.get("dispatch_us", 0.0),
            "queued_submit_us": g.get("queued_submit_us", 0.0),
            "submit_start_us": g.get("submit_start_us", 0.0),
            "transfer_in_us": g.get("transfer_in_us", 0.0),
            "transfer_out_us": g.get("transfer_out_us", 0.0),
            "n_kernels": g.get("n_kernels", 1),
            "kernel_breakdown_us": g.get("kernel_breakdown_us", [cpu_us]),
            "merge_us": merge_s * 1e6,
            "sync_us": (t_end - max(t_gpu, c1)) * 1e6,
            **cpu_extra,
        }

    # -- results ------------------------------------------------------------------------
    def output(self) -> np.ndarray:
        """The full output (the host array, or the shared SVM memory when in place)."""
        return self.result

    def computed_blocks(self) -> list[tuple[int, int]]:
        """The ``[lo, hi)`` output-feature ranges this run computes."""
        return [(p.lo, p.hi) for p in (self.gpu_part, self.cpu_part) if p is not None]

    def reference(self) -> np.ndarray:
        """The numpy reference of the whole layer (computed once)."""
        if self._ref is None:
            self._ref = self.problem.reference(self.arrays)
        return self._ref

    def check(self) -> float:
        """Max abs error of the computed blocks vs. the reference; raises
        ``ConfigError("wrong_result")`` above the problem's tolerance."""
        ref = self.reference()
        out = self.output()
        err = 0.0
        for lo, hi in self.computed_blocks():
            diff = np.abs(out[:, lo:hi] - ref[:, lo:hi])
            e = float(np.max(diff)) if diff.size else 0.0
            if not np.isfinite(e):
                e = float("inf")
            err = max(err, e)
        tol = self.problem.tolerance()
        if err > tol:
            raise ConfigError("wrong_result", f"max abs error {err:.3g} > {tol:.3g} "
                                              f"({self.plan.describe()}, sync {self.sync})")
        return err

    def release(self) -> None:
        """Free device memory and stop the worker thread (idempotent)."""
        for run in (self._gpu_run, self._cpu_run):
            if run is not None:
                run.release()
        self._gpu_run = self._cpu_run = None
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None

    def __enter__(self) -> CoexecRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_plan(layer: Any, plan: Plan, gpu_dev: OpenCLDevice | None = None,
             cpu_dev: Any = None, rng: np.random.Generator | None = None,
             check: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Run a plan once on random inputs; returns (output copy, timings). A convenience."""
    problem = as_problem(layer)
    arrays = problem.arrays(rng or np.random.default_rng(0))
    with CoexecRun(problem, arrays, plan, gpu_dev, cpu_dev) as run:
        res = run.run_once()
        if check:
            run.check()
        return run.output().copy(), res


def plan_from_row(layer: Any, row: dict[str, Any]) -> Plan:
    """Rebuild a Plan from a flat record (``split_n``, ``gpu_impl``, ``gpu_params``,
    ``gpu_local_size``, ``mem_mode``, ``threads``, ``cpu_engine``...), as stored by the
    planner and the oracle."""
    problem = as_problem(layer)
    n = split_extent(problem)
    s = int(row["split_n"])
    gpu = cpu = None
    if s > 0:
        params = row.get("gpu_params") or "{}"
        gpu = GpuConfig(str(row["gpu_impl"]),
                        json.loads(params) if isinstance(params, str) else dict(params),
                        parse_local_size(str(row.get("gpu_local_size") or "driver")),
                        str(row.get("mem_mode") or "auto"))
    if s < n:
        engine = str(row.get("cpu_engine") or "blas")
        cparams = row.get("cpu_params") or "{}"
        cpu = CpuConfig(int(row["threads"]), engine, str(row.get("cpu_impl") or "blas"),
                        json.loads(cparams) if isinstance(cparams, str) else dict(cparams),
                        parse_local_size(str(row.get("cpu_local_size") or "driver"))
                        if engine == "opencl" else None)
    return Plan(s, n, gpu, cpu)


__all__ = [
    "CoexecRun", "CpuConfig", "GpuConfig", "LatpredError", "Plan", "SYNC_PREFERENCE",
    "pick_sync", "plan_from_row", "run_plan", "validate_plan",
]

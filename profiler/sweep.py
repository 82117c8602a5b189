"""Sweeps: layers x backends x (implementation x parameters x work-group x memory mode |
threads), measured with the harness, validated against the numpy reference, journaled
one configuration at a time (resumable; a kill loses at most the configuration in flight).

Order per layer: every GPU kernel configuration in the device's default memory mode
(``buffer``), then the layer's fastest configuration again in every other memory mode the
device supports (memory mode moves transfers, not the kernel), then the CPU backends:
numpy / BLAS at each thread count, and the PoCL CPU device through sub-devices.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from latpred.datasets.schema import LINEAR_SHAPE, config_key
from latpred.datasets.store import DatasetWriter, load
from latpred.profiler.backends.blas import BlasRun
from latpred.profiler.backends.opencl import (
    ConfigError,
    OpenCLDevice,
    OpenCLRun,
    _cl,
    release_shared,
)
from latpred.profiler.devices import cl_device_info, cpu_info
from latpred.profiler.harness import RunTimeout, TimingPolicy, measure
from latpred.profiler.kernels import implementations
from latpred.profiler.kernels.base import local_size_str, spread_local_sizes
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred import __version__
from latpred.errors import bad_value

log = logging.getLogger(__name__)


@dataclass
class LayerItem:
    """One layer to profile: where it came from and what it is."""

    suite: str
    name: str
    layer: LinearLayer | ConvLayer

    @property
    def op(self) -> str:
        return "conv2d" if isinstance(self.layer, ConvLayer) else "linear"

    def problem(self) -> Any:
        return self.layer if isinstance(self.layer, ConvLayer) else self.layer.gemm()

    def shape_row(self) -> dict[str, Any]:
        d = dict(self.layer.shape_dict())
        return {"op": self.op, "suite": self.suite, "layer": self.name, **d}


@dataclass
class Task:
    """One configuration to measure (``mem_mode`` "*best*" = the layer's fastest GPU
    configuration, re-run in every other memory mode)."""

    backend: str                     # gpu | cpu
    engine: str                      # opencl | blas
    impl: str
    params: dict
    local: tuple[int, ...] | None
    threads: int | None
    mem_mode: str
    device_key: str                  # which OpenCLDevice (gpu, or pocl:<threads>)


@dataclass
class SweepConfig:
    """What to sweep. ``gpu_device`` / ``pocl_device``: pyopencl devices or None."""

    items: list[LayerItem]
    gpu_device: Any = None
    cpu_threads: list[int] = field(default_factory=list)   # numpy / BLAS thread counts
    pocl_device: Any = None
    pocl_threads: list[int] = field(default_factory=list)
    impls: list[str] | None = None                          # restrict implementations
    mem_modes: list[str] | None = None                      # None: every supported mode
    max_local_sizes: int | None = None                      # per implementation x params
    pocl_max_local_sizes: int = 2
    policy: TimingPolicy = field(default_factory=TimingPolicy)
    seed: int = 0
    context_device: Any = None  # a GPU held live (context + queue) during CPU measurements
    gpu_touch: str = "config"   # a GPU command before each CPU configuration, or each "run"


@dataclass
class SweepResult:
    rows_new: int = 0
    rows_skipped: int = 0
    by_status: Counter = field(default_factory=Counter)
    seconds: float = 0.0


class Sweeper:
    """Runs a SweepConfig into a dataset directory."""

    def __init__(self, cfg: SweepConfig, out_dir: str, progress: bool = True):
        self.cfg = cfg
        self.out_dir = out_dir
        self.progress = progress
        self._devices: dict[str, OpenCLDevice] = {}
        meta = {"latpred_version": __version__, "host": _host(), "devices": {}}
        if cfg.gpu_device is not None:
            meta["devices"][self._name("gpu")] = cl_device_info(cfg.gpu_device)
        if cfg.cpu_threads:
            info = cpu_info()
            meta["devices"][info["name"]] = info
        if cfg.pocl_device is not None and cfg.pocl_threads:
            meta["devices"][self._name("pocl")] = cl_device_info(cfg.pocl_device)
        self._live: OpenCLDevice | None = None
        self._touch_buf: Any = None
        if cfg.context_device is not None:
            # co-execution conditions: the GPU driver's host threads share the cores
            meta["gpu_context"] = str(cfg.context_device.name).strip()
            if cfg.gpu_touch not in ("config", "run"):
                raise bad_value("gpu_touch", cfg.gpu_touch, "must be config or run")
            meta["gpu_touch"] = cfg.gpu_touch
            self._live = OpenCLDevice(cfg.context_device)
            cl = _cl()
            self._touch_buf = cl.Buffer(self._live.context, cl.mem_flags.READ_WRITE, 4096)
        self.meta = meta
        self.writer = DatasetWriter(out_dir, meta)

    # -- devices ------------------------------------------------------------------------
    def _name(self, which: str) -> str:
        dev = self.cfg.gpu_device if which == "gpu" else self.cfg.pocl_device
        return str(dev.name).strip()

    def device(self, key: str) -> OpenCLDevice:
        dev = self._devices.get(key)
        if dev is None:
            if key == "gpu":
                dev = OpenCLDevice(self.cfg.gpu_device)
            else:
                dev = OpenCLDevice(self.cfg.pocl_device, threads=int(key.split(":")[1]))
            self._devices[key] = dev
        return dev

    # -- planning -------------------------------------------------------------------------
    def tasks(self, item: LayerItem) -> Iterator[Task]:
        """Every configuration of one layer, in sweep order."""
        cfg = self.cfg
        op = "gemm" if item.op == "linear" else "conv2d"
        impls = [i for i in implementations(op) if cfg.impls is None or i.name in cfg.impls]
        problem = item.problem()
        if cfg.gpu_device is not None:
            dev = self.device("gpu")
            yield from self._kernel_tasks(impls, problem, dev, "gpu", "gpu", None,
                                          cfg.max_local_sizes, dev.mem_modes[0])
            extra = [m for m in dev.mem_modes[1:] if cfg.mem_modes is None or m in cfg.mem_modes]
            for mode in extra:
                yield Task("gpu", "opencl", "*best*", {}, None, None, mode, "gpu")
        for t in cfg.cpu_threads:
            yield Task("cpu", "blas", "blas", {}, None, t, "host", "blas")
        if cfg.pocl_device is not None:
            for t in cfg.pocl_threads:
                dev = self.device(f"pocl:{t}")
                yield from self._kernel_tasks(impls, problem, dev, "cpu", f"pocl:{t}", t,
                                              cfg.pocl_max_local_sizes, "buffer")

    def _kernel_tasks(self, impls, problem, dev, backend, key, threads, max_locals, mode):
        for impl in impls:
            reasons: set[str] = set()
            for params in impl.params_space():
                reason = impl.shape_reason(problem, params)
                if reason:
                    if reason not in reasons:  # one row per implementation and reason
                        reasons.add(reason)
                        yield Task(backend, "opencl", impl.name, params, None, threads,
                                   "illegal_shape:" + reason, key)
                    continue
                locals_ = impl.local_sizes(problem, params, dev.limits)
                for local in spread_local_sizes(locals_, max_locals):
                    yield Task(backend, "opencl", impl.name, params, local, threads, mode, key)

    # -- running --------------------------------------------------------------------------
    def run(self) -> SweepResult:
        """Sweep every layer; returns counts. Resumes: stored configurations are skipped."""
        from tqdm import tqdm

        t0 = time.perf_counter()
        res = SweepResult()
        done = self.writer.done_keys()
        existing = self._existing_totals()
        plans = [(item, list(self.tasks(item))) for item in self.cfg.items]
        total = sum(len(t) for _, t in plans)
        bar = tqdm(total=total, disable=not self.progress, unit="cfg", dynamic_ncols=True,
                   desc="profile")
        try:
            for item, tasks in plans:
                self._run_layer(item, tasks, done, existing, res, bar)
        finally:
            bar.close()
            self.writer.close()
        res.seconds = time.perf_counter() - t0
        return res

    def _existing_totals(self) -> dict[str, float]:
        if not self.writer.path.is_dir():
            return {}
        df = load(self.writer.path)
        ok = df[df["status"] == "ok"]
        return dict(zip(ok["config_key"].astype(str), ok["total_us"].astype(float)))

    def _run_layer(self, item, tasks, done, existing, res, bar) -> None:
        rng = np.random.default_rng(self.cfg.seed)
        problem = item.problem()
        arrays = problem.arrays(rng)
        ref: np.ndarray | None = None
        shared: dict[str, dict] = {}
        best: tuple[float, Task] | None = None
        try:
            for task in tasks:
                if task.impl == "*best*":
                    if best is None:
                        bar.update(1)
                        continue
                    b = best[1]
                    task = Task(b.backend, b.engine, b.impl, b.params, b.local, b.threads,
                                task.mem_mode, b.device_key)
                row = self._base_row(item, task)
                key = row["config_key"]
                if key in done:
                    res.rows_skipped += 1
                    bar.update(1)
                    if task.backend == "gpu" and key in existing:
                        best = _better(best, existing[key], task)
                    continue
                if ref is None and not task.mem_mode.startswith("illegal_shape"):
                    ref = problem.reference(arrays)
                row.update(self._measure(task, problem, arrays, ref, shared))
                self.writer.append(row)
                done.add(key)
                res.rows_new += 1
                res.by_status[row["status"]] += 1
                if row["status"] == "ok" and task.backend == "gpu" and task.mem_mode == "buffer":
                    best = _better(best, row["total_us"], task)
                bar.update(1)
        finally:
            for key, cache in shared.items():
                release_shared(cache)
                del key

    def _base_row(self, item: LayerItem, task: Task) -> dict[str, Any]:
        row = item.shape_row()
        mode = task.mem_mode
        if task.engine == "blas":
            info = self.meta["devices"]
            cpu = next(v for v in info.values() if v.get("platform") == "numpy")
            device, platform = cpu["name"], "numpy"
        else:
            dev = self.cfg.gpu_device if task.device_key == "gpu" else self.cfg.pocl_device
            device, platform = str(dev.name).strip(), str(dev.platform.name).strip()
        row.update(
            backend=task.backend, device=device, platform=platform, impl=task.impl,
            params=json.dumps(task.params, sort_keys=True),
            local_size="" if task.engine == "blas" else local_size_str(task.local),
            threads=task.threads,
            mem_mode="" if mode.startswith("illegal_shape") else mode,
            flops=int(item.layer.flops if isinstance(item.layer, ConvLayer)
                      else item.problem().flops),
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        if mode.startswith("illegal_shape"):
            row["local_size"] = ""
        row["config_key"] = config_key(row)
        return row

    def _touch_gpu(self) -> None:
        """One small write + wait on the live GPU, so that its driver is as awake as in
        co-execution when the CPU configuration is measured."""
        _cl().enqueue_fill_buffer(self._live.queue, self._touch_buf, np.float32(0), 0,
                                  4096).wait()

    def _measure(self, task: Task, problem: Any, arrays: dict[str, np.ndarray],
                 ref: np.ndarray | None, shared: dict[str, dict]) -> dict[str, Any]:
        if task.mem_mode.startswith("illegal_shape"):
            return {"status": "illegal_shape", "error": task.mem_mode.split(":", 1)[1]}

        run = None
        try:
            if task.engine == "blas":
                if self._live is not None:
                    self._touch_gpu()
                run = BlasRun(problem, arrays, task.threads)
            else:
                dev = self.device(task.device_key)
                from latpred.profiler.kernels import get

                cache = shared.setdefault(f"{task.device_key}|{task.mem_mode}", {})
                run = OpenCLRun(dev, get(task.impl), problem, task.params, task.local,
                                task.mem_mode, arrays, shared=cache)
            out_name = next(n for n, r in problem.roles if r == "out")
            arrays[out_name].fill(np.nan)
            first = run.run_once()
            err = float(np.max(np.abs(run.output() - ref))) if ref.size else 0.0
            tol = problem.tolerance()
            if not np.isfinite(err) or err > tol:
                return {"status": "wrong_result", "error": f"max abs error {err:.3g} > {tol:.3g}"}
            if first["total_us"] > self.cfg.policy.timeout_s * 1e6:
                raise RunTimeout(f"one run took {first['total_us'] / 1e6:.1f} s")
            timed = run.run_once
            if task.engine == "blas" and self._live is not None and self.cfg.gpu_touch == "run":
                def timed(run: Any = run) -> dict[str, Any]:  # the touch is not timed
                    self._touch_gpu()
                    return run.run_once()
            stats = measure(timed, self.cfg.policy, first=first)
            stats["kernel_breakdown_us"] = json.dumps(stats["kernel_breakdown_us"])
            return {"status": "ok", "error": "", **stats}
        except Exception as err:  # a failure of one configuration must not end the sweep
            return failure_row(err)
        finally:
            if run is not None:
                run.release()


def failure_row(err: Exception) -> dict[str, str]:
    """The dataset ``status`` and ``error`` of a configuration that failed with ``err``."""
    import pyopencl as cl

    if isinstance(err, ConfigError):
        return {"status": err.status, "error": str(err)[:500]}
    if isinstance(err, RunTimeout):
        return {"status": "timeout", "error": str(err)}
    if isinstance(err, cl.Error):
        msg = str(err).strip().splitlines()[0][:500]
        oom = any(s in msg for s in ("OUT_OF_RESOURCES", "MEM_OBJECT_ALLOCATION", "OUT_OF_HOST"))
        return {"status": "out_of_resources" if oom else "error", "error": msg}
    if isinstance(err, MemoryError):
        return {"status": "out_of_resources", "error": f"host memory: {err}"}
    log.exception("configuration failed")
    return {"status": "error", "error": f"{type(err).__name__}: {err}"[:500]}


def _better(best: tuple[float, Task] | None, total_us: float, task: Task):
    return (total_us, task) if best is None or total_us < best[0] else best


def _host() -> str:
    import socket

    return socket.gethostname()


def summarize(out_dir: str, seconds: float | None = None, top: int = 10) -> str:
    """A text summary of a dataset: rows by status and the best configuration per shape."""
    df = load(out_dir)
    lines = [f"dataset {out_dir}: {len(df)} rows"]
    counts = df["status"].value_counts()
    lines.append("  by status: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    ok = df[df["status"] == "ok"]
    if not ok.empty:
        lines.append(f"  best configuration per shape (first {top} shapes, end-to-end total_us):")
        shape_cols = [c for c in ["op", "pass", *LINEAR_SHAPE, "in_channels", "out_channels",
                                  "height", "width", "kernel_h", "stride", "groups"]
                      if c in ok.columns and ok[c].notna().any()]
        for backend, grp in ok.groupby("backend"):
            best = grp.loc[grp.groupby(shape_cols, dropna=False)["total_us"].idxmin()]
            for _, r in best.head(top).iterrows():
                shape = " ".join(f"{c}={r[c]}" for c in shape_cols if not _na(r[c]))
                cfg = f"{r['impl']} {r['params']} local={r['local_size']} threads={r['threads']} {r['mem_mode']}"
                lines.append(f"    [{backend}] {shape}: {r['total_us']:.1f} us  ({cfg})")
    if seconds is not None:
        lines.append(f"  time spent: {seconds:.1f} s")
    return "\n".join(lines)


def _na(v: Any) -> bool:
    try:
        return v is None or bool(np.isnan(v)) if isinstance(v, float) else v is None or str(v) == "<NA>"
    except TypeError:
        return False

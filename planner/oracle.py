"""The oracle grid: measure co-execution of a layer over split ratio x CPU threads x GPU
configuration, into a resumable dataset, to find T_single and T_oracle.

Exhaustive measurement of split x threads x GPU configuration is too big on real hardware,
so the GPU-configuration axis is searched in two steps, per split point:

1. GPU alone: every GPU configuration (implementation x parameters x work-group) computes
   the GPU part ``[0, s)`` alone in the reference memory mode (buffer); the ``top_k``
   fastest are re-measured in every other memory mode the device supports (a memory mode
   moves transfers, not the kernel; the profiler's sweep does the same);
2. co-execution: the ``top_k`` fastest GPU configurations (any mode) of step 1 at that
   split, each with every CPU thread count, run together with the CPU part ``[s, N)``.

Splits: ratios i/steps (default 16 steps) snapped to each GPU configuration's tile width
(as the planner does), plus 0 (CPU only, every thread count) and 1 (GPU only = step 1 at
s = N). T_single = min(best CPU-only, best GPU-only); T_oracle = the best of everything.

Rows follow the dataset conventions (``datasets.schema``; one row per configuration, a
``config_key``, a ``status``, journaled, resumable):

- shape columns: the *full* layer; ``backend``: "cpu" (CPU only, s = 0), "gpu" (GPU part
  alone) or "coexec"; ``device``: CPU name, GPU name, or "GPU + CPU";
- ``params``: the GPU implementation's parameters plus ``"_split_n"`` (the GPU computes
  output features ``[0, _split_n)``); ``threads``: CPU threads; ``mem_mode``: the GPU's
  memory mode (the sync mechanism; "host" for CPU rows);
- timings: the harness medians of the run (``total_us`` end to end: dispatch, transfers
  and sync included; ``kernel_us``... of the GPU part);
- ``kernel_breakdown_us``: a JSON object with the co-execution fields (``launches_us``,
  ``cpu_us``, ``gpu_total_us``, ``sync_us``, ``merge_us``, ``cpu_start_us``, ``sync``,
  ``split_n``, ``n_total``); ``load_grid`` expands them into columns.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from latpred.datasets.schema import config_key
from latpred.datasets.store import DatasetWriter, load
from latpred.planner.measure import TimingPolicy, measure_run
from latpred.planner.runtime import CoexecRun, CpuConfig, GpuConfig, Plan
from latpred.planner.split import layer_extent, layer_flops, split_align, split_points
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.harness import RunTimeout
from latpred.profiler.kernels.base import local_size_str, parse_local_size
from latpred.profiler.problems import ConvLayer, LinearLayer
from latpred.profiler.sweep import failure_row

from latpred import __version__
from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

Layer = LinearLayer | ConvLayer

#: a grid row's ``backend`` -> the ``sides`` a CoexecRun runs for it ("gpu" with split_n < N
#: times the GPU part alone)
BACKEND_SIDES = {"cpu": "cpu", "gpu": "gpu", "coexec": "both"}


def plan_backend(plan: Plan) -> str:
    """The ``backend`` of a whole plan's row: "cpu" (CPU only), "gpu" (GPU only), "coexec"."""
    return {"cpu": "cpu", "gpu": "gpu", "split": "coexec"}[plan.kind]


def default_threads(cores: int | None = None) -> list[int]:
    """1, 2, 4, ... up to the core count, the core count, and cores - 1 (co-execution
    leaves a core to the host thread that drives the GPU; the planner's default for split
    plans)."""
    cores = cores or os.cpu_count() or 1
    out, t = [], 1
    while t < cores:
        out.append(t)
        t *= 2
    return sorted({*out, max(1, cores - 1), cores})


@dataclass
class GridConfig:
    """What the oracle grid measures (see the module docstring)."""

    steps: int = 16
    threads: list[int] = field(default_factory=default_threads)
    top_k: int = 3
    impls: list[str] | None = None
    mem_modes: list[str] | None = None
    max_local_sizes: int | None = None
    policy: TimingPolicy = field(default_factory=TimingPolicy)
    seed: int = 0

    def validate(self) -> GridConfig:
        if self.steps < 1:
            raise bad_value("steps", self.steps, "must be >= 1")
        if self.top_k < 1:
            raise bad_value("top_k", self.top_k, "must be >= 1")
        if not self.threads or min(self.threads) < 1:
            raise bad_value("threads", self.threads, "needs positive thread counts")
        return self


@dataclass
class LayerItem:
    """A layer to measure: where it came from and what it is."""

    suite: str
    name: str
    layer: Layer
    count: int = 1


class OracleGrid:
    """Measures the grid of layers on one GPU (and this host's CPU) into ``out_dir``.

    Args:
        gpu: the GPU as an OpenCLDevice (a PoCL sub-device in tests).
        cfg: GridConfig.
        out_dir: dataset directory (created; resumable).
        progress: show a progress bar.
    """

    def __init__(self, gpu: OpenCLDevice, cfg: GridConfig, out_dir: str | os.PathLike,
                 progress: bool = False):
        from latpred.profiler.devices import cl_device_info, cpu_info

        self.gpu = gpu
        self.cfg = cfg.validate()
        self.progress = progress
        self.cpu_info = cpu_info()
        self.gpu_info = cl_device_info(gpu.device)
        self.gpu_info["name"] = gpu.name
        if gpu.threads is not None:
            self.gpu_info["sub_device_compute_units"] = gpu.threads
        modes = cfg.mem_modes or list(gpu.mem_modes)
        for m in modes:
            if m not in gpu.mem_modes:
                raise bad_value("mem_modes", m, f"not supported by {gpu.name} "
                                f"(supports {', '.join(gpu.mem_modes)})")
        self.modes = modes
        self.ref_mode = "buffer" if "buffer" in modes else modes[0]
        meta = {"latpred_version": __version__, "kind": "coexec_grid",
                "devices": {gpu.name: self.gpu_info, self.cpu_info["name"]: self.cpu_info},
                "grid": {"steps": cfg.steps, "threads": list(cfg.threads), "top_k": cfg.top_k,
                         "mem_modes": modes, "impls": cfg.impls}}
        self.writer = DatasetWriter(out_dir, meta)
        self.out_dir = out_dir
        self._stored_rows: dict[str, dict[str, Any]] | None = None

    # -- enumeration ----------------------------------------------------------------------
    def gpu_configs(self, layer: Layer) -> list[tuple[str, dict, Any]]:
        """(impl, params, local) legal on the full layer (``models.candidates`` rules)."""
        from latpred.planner.candidates import CandidateSpace

        info = {**self.gpu_info, "type": "GPU"}
        space = CandidateSpace(info, self.cpu_info, self.modes, self.cfg.impls,
                               max_local_sizes=self.cfg.max_local_sizes)
        return [(kc.impl, json.loads(kc.params), parse_local_size(kc.local_size))
                for kc in space.gpu_configs(layer)]

    def splits_of(self, layer: Layer, impl: str, params: dict) -> list[int]:
        """A configuration's split grid (without 0), as the planner builds it."""
        a = split_align(impl, params, layer if isinstance(layer, ConvLayer) else layer.gemm())
        return split_points(layer_extent(layer), self.cfg.steps, a)[1:]

    # -- rows -----------------------------------------------------------------------------
    def _row(self, item: LayerItem, backend: str, split_n: int, gpu: GpuConfig | None,
             threads: int | None) -> dict[str, Any]:
        from latpred.models.candidates import layer_shape_row

        row = layer_shape_row(item.layer)
        gname, cname = self.gpu.name, self.cpu_info["name"]
        device = {"cpu": cname, "gpu": gname, "coexec": f"{gname} + {cname}"}[backend]
        params = {**(gpu.params if gpu else {}), "_split_n": int(split_n)}
        row.update(
            suite=item.suite, layer=item.name, backend=backend, device=device,
            platform="numpy" if backend == "cpu" else self.gpu.platform_name,
            impl=gpu.impl if gpu else "blas", params=json.dumps(params, sort_keys=True),
            local_size=gpu.local_size if gpu else "", threads=threads,
            mem_mode=gpu.mem_mode if gpu else "host",
            flops=int(layer_flops(item.layer)),
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        row["config_key"] = config_key(row)
        return row

    def _measure(self, item: LayerItem, arrays: dict[str, np.ndarray], plan: Plan,
                 sides: str) -> dict[str, Any]:
        """Build, verify and time one configuration; a status for every failure."""

        run = None
        try:
            run = CoexecRun(item.layer, arrays, plan, self.gpu, sides=sides)
            first = run.run_once()
            run.check()
            if first["total_us"] > self.cfg.policy.timeout_s * 1e6:
                raise RunTimeout(f"one run took {first['total_us'] / 1e6:.1f} s")
            stats = measure_run(run.run_once, self.cfg.policy, first=first)
            extra = {k: stats.pop(k) for k in
                     ("cpu_us", "gpu_total_us", "sync_us", "merge_us", "cpu_start_us")
                     if k in stats}
            extra.update(launches_us=stats.pop("kernel_breakdown_us"), sync=run.sync,
                         split_n=plan.split_n, n_total=plan.n_total)
            stats["kernel_breakdown_us"] = json.dumps(extra)
            return {"status": "ok", "error": "", **stats}
        except LatpredError as err:  # validate_plan: the configuration cannot take the part
            return {"status": "illegal_work_group" if str(err).startswith("local_size")
                    else "illegal_shape", "error": str(err)[:500]}
        except Exception as err:  # one configuration must not end the grid
            return failure_row(err)
        finally:
            if run is not None:
                run.release()

    def _do(self, item: LayerItem, arrays: dict[str, np.ndarray], backend: str, plan: Plan,
            stored: dict[str, dict[str, Any]], bar: Any) -> dict[str, Any]:
        """Measure one grid point unless stored; returns its row."""
        gpu = plan.gpu if backend != "cpu" else None
        threads = plan.cpu.threads if plan.cpu is not None and backend != "gpu" else None
        row = self._row(item, backend, plan.split_n, gpu, threads)
        key = row["config_key"]
        if key in stored:
            bar.update(1)
            return stored[key]
        row.update(self._measure(item, arrays, plan, BACKEND_SIDES[backend]))
        self.writer.append(row)
        stored[key] = row
        bar.update(1)
        return row

    # -- the grid -------------------------------------------------------------------------
    def run(self, items: list[LayerItem]) -> pd.DataFrame:
        """Measure every layer's grid (resuming); returns ``summarize(load_grid(out))``."""
        try:
            for item in items:
                self.run_layer(item)
        finally:
            self.writer.close()
        return summarize(load_grid(self.out_dir))

    def run_layer(self, item: LayerItem) -> None:
        """Measure one layer's grid (steps 1 and 2 of the module docstring)."""
        from tqdm import tqdm

        layer = item.layer
        n = layer_extent(layer)
        problem = layer if isinstance(layer, ConvLayer) else layer.gemm()
        arrays = problem.arrays(np.random.default_rng(self.cfg.seed))
        stored = self._stored(item)
        cfgs = self.gpu_configs(layer)
        k = self.cfg.top_k
        by_split: dict[int, list[tuple[str, dict, Any]]] = {}
        for impl, params, local in cfgs:
            for s in self.splits_of(layer, impl, params):
                by_split.setdefault(s, []).append((impl, params, local))
        inner = sorted(s for s in by_split if s < n)
        n_other = max(0, len(self.modes) - 1)
        total = (len(self.cfg.threads) + sum(len(v) for v in by_split.values())
                 + len(by_split) * k * n_other + len(inner) * k * len(self.cfg.threads))
        bar = tqdm(total=total, disable=not self.progress, unit="cfg", dynamic_ncols=True,
                   desc=f"grid {item.name}")
        try:
            for t in self.cfg.threads:  # CPU only
                self._do(item, arrays, "cpu", Plan(0, n, None, CpuConfig(t)), stored, bar)
            for s in sorted(by_split):
                alone = []
                for impl, params, local in by_split[s]:  # step 1: GPU alone, reference mode
                    g = GpuConfig(impl, params, local, self.ref_mode)
                    row = self._do(item, arrays, "gpu", Plan(s, n, g, None), stored, bar)
                    alone.append((row, g))
                ok = sorted(((r["total_us"], g) for r, g in alone if r["status"] == "ok"),
                            key=lambda x: x[0])
                top = ok[:k]
                for _t, g in top:  # step 1b: the top k in every other memory mode
                    for mode in self.modes:
                        if mode == self.ref_mode:
                            continue
                        g2 = GpuConfig(g.impl, g.params, g.local, mode)
                        row = self._do(item, arrays, "gpu", Plan(s, n, g2, None), stored, bar)
                        if row["status"] == "ok":
                            ok.append((row["total_us"], g2))
                bar.update((k - len(top)) * n_other)
                if s == n:
                    continue
                best = sorted(ok, key=lambda x: x[0])[:k]
                for _t, g in best:  # step 2: co-execution, top k x threads
                    for t in self.cfg.threads:
                        self._do(item, arrays, "coexec", Plan(s, n, g, CpuConfig(t)), stored,
                                 bar)
                bar.update((k - len(best)) * len(self.cfg.threads))
        finally:
            bar.close()

    def _stored(self, item: LayerItem) -> dict[str, dict[str, Any]]:
        """Rows already in the dataset (resume), by config_key (every layer's: a key names
        its layer). Read from disk once per grid, then kept up to date by ``_do``: reading
        it per layer cost about 1 s a layer on a 28,000-row grid."""
        if self._stored_rows is None:
            done = self.writer.done_keys()
            rows: dict[str, dict[str, Any]] = {}
            if done:
                df = load(self.writer.path)
                df = df[df["config_key"].isin(done)]
                rows = {str(r["config_key"]): r for r in df.to_dict("records")}
            self._stored_rows = rows
        return self._stored_rows


# -- reading ------------------------------------------------------------------------------
def split_params(ptxt: str) -> tuple[int | None, str]:
    """A grid row's ``params`` JSON -> (its ``_split_n``, the GPU implementation's params
    JSON without it)."""
    p = json.loads(ptxt)
    split = p.pop("_split_n", None)
    return split, json.dumps(p, sort_keys=True)


def breakdown(text: str) -> dict[str, Any]:
    """A co-execution row's ``kernel_breakdown_us`` JSON object ({} for anything else: a
    profiler row's list, empty or broken text)."""
    try:
        d = json.loads(text) if text.startswith("{") else {}
    except json.JSONDecodeError:
        d = {}
    return d if isinstance(d, dict) else {}


def load_grid(path: str | os.PathLike) -> pd.DataFrame:
    """A grid dataset with the co-execution fields as columns: ``split_n``, ``n_total``,
    ``ratio``, ``cpu_us``, ``gpu_total_us``, ``sync_us``, ``merge_us``, ``sync``,
    ``gpu_params`` (the implementation's parameters, without ``_split_n``); for
    confirmation rounds also ``even_us`` / ``odd_us`` (NaN where not stored)."""
    df = load(path)
    pairs = [split_params(t) for t in df["params"].fillna("{}").astype(str)]
    df["split_n"] = pd.array([sp for sp, _ in pairs], dtype="Int64")
    df["gpu_params"] = [gp for _, gp in pairs]
    extras: dict[str, list] = {k: [] for k in ("n_total", "cpu_us", "gpu_total_us", "sync_us",
                                               "merge_us", "sync", "even_us", "odd_us")}
    for txt in df["kernel_breakdown_us"].fillna("").astype(str):
        d = breakdown(txt)
        for k, v in extras.items():
            v.append(d.get(k))
    for k, v in extras.items():
        df[k] = v
    for k in ("n_total", "even_us", "odd_us"):
        df[k] = pd.to_numeric(df[k], errors="coerce")
    df["ratio"] = df["split_n"].astype("float64") / df["n_total"]
    return df


def summarize(grid: pd.DataFrame) -> pd.DataFrame:
    """Per layer: T_single (min of best CPU-only and best GPU-only), T_oracle (best of the
    whole grid), and the configurations that reach them (us)."""
    ok = grid[grid["status"] == "ok"]
    rows = []
    for (suite, name), g in ok.groupby(["suite", "layer"], sort=False):
        n_total = g["n_total"].dropna()
        n = int(n_total.iloc[0]) if len(n_total) else None
        cpu = g[(g["backend"] == "cpu") & (g["split_n"] == 0)]
        gpu = g[(g["backend"] == "gpu") & (g["split_n"] == n)] if n is not None else g.iloc[:0]
        cands = []
        if len(cpu):
            cands.append(cpu.loc[cpu["total_us"].idxmin()])
        if len(gpu):
            cands.append(gpu.loc[gpu["total_us"].idxmin()])
        if not cands:
            continue
        single = min(cands, key=lambda r: r["total_us"])
        pool = pd.concat([cpu, gpu, g[g["backend"] == "coexec"]])
        best = pool.loc[pool["total_us"].idxmin()]
        rows.append({
            "suite": suite, "layer": name, "n_total": n,
            "t_single_us": float(single["total_us"]),
            "single_kind": "cpu" if single["backend"] == "cpu" else "gpu",
            "single_config": describe_row(single),
            "t_oracle_us": float(best["total_us"]),
            "oracle_split_n": int(best["split_n"]) if pd.notna(best["split_n"]) else 0,
            "oracle_ratio": float(best["split_n"]) / n if n else float("nan"),
            "oracle_config": describe_row(best),
            "rows_ok": len(g),
        })
    return pd.DataFrame(rows)


def describe_row(r: Any) -> str:
    """One line naming a grid row's configuration."""
    if r["backend"] == "cpu":
        return f"CPU blas threads={int(r['threads'])}"
    g = f"{r['impl']} {r['gpu_params']} wg={r['local_size']} {r['mem_mode']}"
    if r["backend"] == "gpu":
        return f"GPU {g} split={int(r['split_n'])}"
    return f"split={int(r['split_n'])} GPU {g} | CPU threads={int(r['threads'])}"


def plan_of_row(layer: Layer, r: Any) -> Plan:
    """The Plan a grid row measured (co-execution, or a single-device row)."""
    n = layer_extent(layer)
    s = int(r["split_n"]) if pd.notna(r["split_n"]) else 0
    gpu = cpu = None
    if r["backend"] in ("gpu", "coexec"):
        gpu = GpuConfig(str(r["impl"]), json.loads(str(r["gpu_params"])),
                        parse_local_size(str(r["local_size"])), str(r["mem_mode"]))
    if r["backend"] in ("cpu", "coexec"):
        cpu = CpuConfig(int(r["threads"]))
    return Plan(s, n, gpu, cpu)


__all__ = ["BACKEND_SIDES", "GridConfig", "LayerItem", "OracleGrid", "default_threads",
           "describe_row", "load_grid", "local_size_str", "plan_backend", "plan_of_row",
           "split_params", "summarize"]

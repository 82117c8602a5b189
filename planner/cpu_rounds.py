"""CPU training data timed as the runtime times plans: every BLAS thread count of a layer
in interleaved rounds.

The profiler times one BLAS thread count back to back (``BlasRun``: warm-up, then repeats
until stable), with nothing else running between the calls. The co-execution bench's
confirmation rounds time a layer's finalists interleaved instead (``planner.confirm``:
shuffled order, two runs each, the last kept), through the runtime (``CoexecRun``), beside
GPU-only plans. The thread count those rounds find fastest is not the one the profiler
finds: on the H100 host, over the development networks' 75 layer shapes timed both ways,
the profiler's own fastest of 4/8/12/15/16 threads ran 1.036x the runtime's fastest
(geometric mean; ``scripts/thread_choice.py --measured``, BENCHMARKS.md section 5, session
13).

``CpuRounds`` measures, per layer, CPU-only plans at every requested thread count, plus
optionally one GPU-only plan (``gpu_plan``: e.g. the planner's best GPU-only plan, as a
bench's rounds hold), in ``confirm_layer`` rounds, and writes one row per thread count in
the profiler's schema: backend "cpu", impl "blas", platform "numpy", ``total_us`` =
``kernel_us`` = the rounds' median of the CPU part's own time (``CoexecRun``'s
``cpu_us``, what ``calibrate.runtime_rows`` reads from confirmation rounds). ``latpred
train --target cpu_us`` takes the dataset as it takes a profiler sweep. ``repeats``: the
rounds; ``cv``: over the rounds' wall times; ``kernel_breakdown_us``: JSON of the plan's
median wall time and the GPU plan beside it.

A layer's thread counts are measured together (that is the point), so its rows are written
after its rounds: a crash loses the layer in flight; a rerun skips stored layers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from latpred.datasets.schema import SHAPE_KEY, config_key
from latpred.datasets.store import DatasetWriter, load
from latpred.planner.confirm import ConfirmPolicy, confirm_layer
from latpred.planner.oracle import LayerItem
from latpred.planner.runtime import CpuConfig, Plan
from latpred.planner.split import as_problem, layer_extent, layer_flops
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred import __version__
from latpred.errors import bad_value

log = logging.getLogger(__name__)

#: the rounds' stopping rule: shorter than a bench's confirmation (every thread count of
#: many layers), the same burst
ROUNDS_POLICY = ConfirmPolicy(min_rounds=10, max_rounds=200, max_seconds=1.0,
                              rel_halfwidth=0.01, burst=2)


@dataclass
class RoundsResult:
    """Counts of a ``CpuRounds.run`` (layers) and its wall time (s)."""

    measured: int = 0
    skipped: int = 0
    failed: int = 0
    unfinished: int = 0
    seconds: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)


class CpuRounds:
    """Times every thread count of layers in interleaved rounds into a dataset.

    Args:
        out_dir: dataset directory (created; resumable: stored layers are skipped).
        threads: BLAS thread counts, each >= 1.
        gpu: the GPU of ``gpu_plan``'s plans (None: CPU plans only).
        gpu_plan: layer -> a GPU-only plan timed in the same rounds, or None.
        policy: the rounds' stopping rule.
        seed: seed of the inputs and of the rounds' order.
    """

    def __init__(self, out_dir: str, threads: Sequence[int], gpu: OpenCLDevice | None = None,
                 gpu_plan: Callable[[Any], Plan | None] | None = None,
                 policy: ConfirmPolicy = ROUNDS_POLICY, seed: int = 0):
        from latpred.profiler.devices import cl_device_info, cpu_info

        bad = [t for t in threads if isinstance(t, bool) or int(t) != t or t < 1]
        if not threads or bad:
            raise bad_value("threads", list(threads), "needs positive integer thread counts")
        if gpu_plan is not None and gpu is None:
            raise bad_value("gpu_plan", gpu_plan, "needs the GPU it runs on (gpu)")
        self.threads = sorted({int(t) for t in threads})
        self.gpu, self.gpu_plan = gpu, gpu_plan
        self.policy, self.seed = policy.validate(), seed
        self.cpu = cpu_info()
        meta: dict[str, Any] = {"latpred_version": __version__, "kind": "cpu_rounds",
                                "devices": {self.cpu["name"]: self.cpu},
                                "policy": vars(self.policy)}
        if gpu is not None:
            meta["gpu_context"] = cl_device_info(gpu.device)["name"]
        self.writer = DatasetWriter(out_dir, meta)

    def _row(self, item: LayerItem, threads: int) -> dict[str, Any]:
        from latpred.models.candidates import layer_shape_row

        layer = item.layer
        row = layer_shape_row(layer)
        row.update(suite=item.suite, layer=item.name, backend="cpu", device=self.cpu["name"],
                   platform="numpy", impl="blas", params="{}", local_size="",
                   threads=threads, mem_mode="host",
                   flops=int(layer_flops(layer)),
                   timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"))
        row["config_key"] = config_key(row)
        return row

    def measure(self, item: LayerItem) -> list[dict[str, Any]]:
        """One layer's rows (one per thread count), measured in one set of rounds."""
        layer = item.layer
        arrays = as_problem(layer).arrays(np.random.default_rng(self.seed))
        n = layer_extent(layer)
        plans = [Plan(0, n, None, CpuConfig(t)) for t in self.threads]
        beside = self.gpu_plan(layer) if self.gpu_plan is not None else None
        if beside is not None:
            plans.append(beside)
        res = confirm_layer(layer, arrays, plans, self.gpu, self.policy, self.seed)
        gpu_desc = beside.describe() if beside is not None else ""
        gpu_us = res[-1].get("total_us") if beside is not None else None
        rows = []
        for t, m in zip(self.threads, res):
            row = self._row(item, t)
            if m["status"] == "ok":
                us = float(m["cpu_us"])
                row.update(status="ok", error="", kernel_us=us, total_us=us, dispatch_us=0.0,
                           queued_submit_us=0.0, submit_start_us=0.0, transfer_in_us=0.0,
                           transfer_out_us=0.0, n_kernels=1, repeats=int(m["repeats"]),
                           cv=float(m["cv"]), kernel_cv=float(m["cv"]), dispatch_cv=0.0,
                           kernel_breakdown_us=json.dumps({"wall_us": m["total_us"],
                                                           "beside": gpu_desc,
                                                           "beside_us": gpu_us}))
            else:
                row.update(status=m["status"], error=m.get("error", ""))
            rows.append(row)
        return rows

    def run(self, items: Iterable[LayerItem], deadline: float | None = None) -> RoundsResult:
        """Measure every layer not stored yet; stop before a layer once ``time.time()`` is
        past ``deadline`` (those count as ``unfinished``)."""
        t0 = time.perf_counter()
        res = RoundsResult()
        done = self.writer.done_keys()
        status: dict[str, int] = {}
        try:
            for item in items:
                keys = [self._row(item, t)["config_key"] for t in self.threads]
                if all(k in done for k in keys):
                    res.skipped += 1
                    continue
                if deadline is not None and time.time() > deadline:
                    res.unfinished += 1
                    continue
                rows = self.measure(item)
                for r in rows:
                    self.writer.append(r)
                    done.add(r["config_key"])
                    status[r["status"]] = status.get(r["status"], 0) + 1
                ok = all(r["status"] == "ok" for r in rows)
                res.measured += ok
                res.failed += not ok
                log.info("%s %s: %s", item.suite, item.name, " ".join(
                    f"{r['threads']}:{r.get('total_us', float('nan')):.0f}" for r in rows))
        finally:
            self.writer.close()
        res.by_status = status
        res.seconds = time.perf_counter() - t0
        return res


def layers_of_datasets(paths: Sequence[str], max_best_us: float | None = None
                       ) -> list[LayerItem]:
    """The forward layer shapes of profiler datasets' CPU rows (status ok), one item per
    shape (its first suite and layer name), optionally only those whose fastest CPU row
    took at most ``max_best_us`` (us)."""
    from latpred.planner.calibrate import layer_of_row

    df = load(paths)
    ok = df[(df["status"] == "ok") & (df["backend"] == "cpu")
            & (df["pass"].fillna("forward") == "forward")]
    if ok.empty:
        raise bad_value("from", list(paths), "holds no successful forward CPU rows")
    keys = [c for c in SHAPE_KEY if c in ok.columns]
    best = ok.groupby(keys, dropna=False, sort=False)["total_us"].transform("min")
    if max_best_us is not None:
        ok = ok[best.to_numpy() <= max_best_us]
    first = ok.drop_duplicates(keys)
    out = []
    for r in first.to_dict("records"):
        r = {k: (None if pd.isna(v) else v) for k, v in r.items()}
        out.append(LayerItem(str(r.get("suite") or "dataset"), str(r.get("layer") or ""),
                             layer_of_row(r)))
    return out


def best_gpu_plan(planner: Any) -> Callable[[LinearLayer | ConvLayer], Plan | None]:
    """layer -> the planner's best GPU-only plan (from its shortlist; the planner needs
    ``PlannerOptions.shortlist`` >= 2), None if it has none."""
    def pick(layer: LinearLayer | ConvLayer) -> Plan | None:
        choice = planner.plan_layer(layer)
        if choice.plan.kind == "gpu":
            return choice.plan
        return next((p for p, _us in choice.shortlist if p.kind == "gpu"), None)

    return pick


__all__ = ["ROUNDS_POLICY", "CpuRounds", "RoundsResult", "best_gpu_plan",
           "layers_of_datasets"]

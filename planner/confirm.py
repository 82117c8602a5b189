"""Confirmation: re-measure a layer's finalists side by side, interleaved.

The oracle grid times every configuration once, one after the other, with a short policy;
on a busy host the medians carry a few percent of noise and drift, and the minimum over
hundreds of noisy medians is biased low (the winner's curse). ``confirm_layer`` takes the
finalists (the plan, the grid's fastest configurations, the best CPU-only and GPU-only
ones), builds them all, and times them in rounds: each round runs every finalist, in a
shuffled order, ``burst`` times and keeps the last run (the first absorbs the switch of
BLAS thread count and caches). Rounds go on until every finalist's median is known to
``rel_halfwidth`` (95 % CI) or ``max_rounds`` / ``max_seconds`` is hit. All finalists
see the same host conditions, so their ratios are fair.

Each finalist's median is also kept over the even and the odd rounds apart (``even_us``,
``odd_us``): a bench can choose its oracle on one half and time it on the other (the
minimum over the medians that also time it is biased low; ``bench.split_half``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from latpred.planner.oracle import BACKEND_SIDES, plan_backend
from latpred.planner.runtime import CoexecRun, Plan
from latpred.profiler.backends.opencl import OpenCLDevice
from latpred.profiler.harness import median_halfwidth

from latpred.errors import bad_value

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmPolicy:
    """When to stop the rounds (seconds; ``rel_halfwidth`` 0.01 = 1 %)."""

    min_rounds: int = 15
    max_rounds: int = 300
    max_seconds: float = 4.0
    rel_halfwidth: float = 0.01
    burst: int = 2

    def validate(self) -> ConfirmPolicy:
        if not 1 <= self.min_rounds <= self.max_rounds:
            raise bad_value("rounds", (self.min_rounds, self.max_rounds),
                            "need 1 <= min_rounds <= max_rounds")
        if self.burst < 1 or self.max_seconds <= 0 or self.rel_halfwidth <= 0:
            raise bad_value("confirm policy", self, "burst >= 1, positive seconds and width")
        return self


class _BlasThreads:
    """Sets the BLAS thread count before a run (the runs share one process-wide pool)."""

    def __init__(self) -> None:
        from latpred.profiler.backends.blas import controller

        self._libs = controller().select(user_api="blas").lib_controllers
        self._original = [lib.num_threads for lib in self._libs]
        self._now: int | None = None

    def restore(self) -> None:
        for lib, n in zip(self._libs, self._original):
            lib.set_num_threads(n)
        self._now = None

    def set(self, threads: int) -> None:
        if threads != self._now:
            for lib in self._libs:
                lib.set_num_threads(threads)
            self._now = threads


def confirm_layer(layer: Any, arrays: dict[str, np.ndarray], plans: list[Plan],
                  gpu: OpenCLDevice | None, policy: ConfirmPolicy = ConfirmPolicy(),
                  seed: int = 0) -> list[dict[str, Any]]:
    """Time ``plans`` of one layer interleaved (see the module docstring).

    Args:
        layer: the layer (LinearLayer, GemmProblem or ConvLayer).
        arrays: its arrays (``problem.arrays(rng)``), shared by the runs.
        plans: the finalists (validated here: LatpredError names a bad one).
        gpu: the GPU (needed by plans with a GPU share).
        policy: stopping rule.
        seed: seed of the shuffled order.

    Returns:
        one dict per plan, in order: ``status`` ("ok", or the failure's status with
        ``error``), ``total_us`` (median, us), ``repeats`` (rounds), ``cv``,
        ``cpu_us`` / ``gpu_total_us`` (medians), ``even_us`` / ``odd_us`` (medians of
        ``total_us`` over the even / odd rounds, counted from 0; NaN without any).
    """
    from latpred.profiler.sweep import failure_row

    policy = policy.validate()
    blas = _BlasThreads()
    runs: list[CoexecRun | None] = []
    out: list[dict[str, Any]] = []
    try:
        for plan in plans:
            sides = BACKEND_SIDES[plan_backend(plan)]
            try:
                if plan.cpu is not None and plan.kind != "gpu":
                    blas.set(plan.cpu.threads)
                run = CoexecRun(layer, arrays, plan, gpu, sides=sides)
                run.run_once()
                run.check()
                runs.append(run)
                out.append({"status": "ok", "error": ""})
            except Exception as err:  # one finalist must not end the confirmation
                runs.append(None)
                out.append(failure_row(err))
        live = [i for i, r in enumerate(runs) if r is not None]
        samples: dict[int, list[dict[str, Any]]] = {i: [] for i in live}
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        rounds = 0
        while live and rounds < policy.max_rounds:
            for i in rng.permutation(live):
                run = runs[i]
                plan = plans[i]
                if plan.cpu is not None and plan.kind != "gpu":
                    blas.set(plan.cpu.threads)
                res: dict[str, Any] = {}
                for _ in range(policy.burst):
                    res = run.run_once()
                samples[i].append(res)
            rounds += 1
            if rounds < policy.min_rounds:
                continue
            if time.perf_counter() - t0 > policy.max_seconds:
                break
            if all(_stable(samples[i], policy.rel_halfwidth) for i in live):
                break
        for i in live:
            tot = np.array([s["total_us"] for s in samples[i]], float)
            out[i].update(
                total_us=float(np.median(tot)), repeats=len(tot),
                cv=float(np.std(tot, ddof=1) / np.mean(tot)) if len(tot) > 1 else 0.0,
                cpu_us=float(np.median([s.get("cpu_us", 0.0) for s in samples[i]])),
                gpu_total_us=float(np.median([s.get("gpu_total_us", 0.0)
                                              for s in samples[i]])),
                even_us=_median(tot[0::2]), odd_us=_median(tot[1::2]))
        log.info("confirmed %d finalists in %d rounds (%.2f s)", len(live), rounds,
                 time.perf_counter() - t0)
    finally:
        for run in runs:
            if run is not None:
                run.release()
        blas.restore()
    return out


def _median(v: np.ndarray) -> float:
    return float(np.median(v)) if len(v) else float("nan")


def _stable(samples: list[dict[str, Any]], rel: float) -> bool:
    v = np.array([s["total_us"] for s in samples], float)
    med = float(np.median(v))
    return med > 0 and median_halfwidth(v) / med <= rel


__all__ = ["ConfirmPolicy", "confirm_layer"]

"""The planner's timing loop: the profiler's harness, plus medians of the co-execution
fields the harness does not summarise (``cpu_us``, ``gpu_total_us``, ``sync_us``...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from latpred.profiler.harness import QUICK, TimingPolicy, measure

#: per-run fields of a CoexecRun summarised by their median, in addition to the harness's
COEXEC_FIELDS = ("cpu_us", "cpu_start_us", "gpu_total_us", "merge_us", "sync_us")

__all__ = ["COEXEC_FIELDS", "QUICK", "TimingPolicy", "measure_run"]


def measure_run(run_once: Callable[[], dict[str, Any]], policy: TimingPolicy = TimingPolicy(),
                first: dict[str, Any] | None = None) -> dict[str, Any]:
    """Time ``run_once`` with the harness (warm-up, repeats until the median is stable).

    Returns the harness's dict (medians in us, ``repeats``, ``cv``...) plus the median of
    every COEXEC_FIELDS entry the runs return.
    """
    samples: list[dict[str, Any]] = []

    def recorded() -> dict[str, Any]:
        res = run_once()
        samples.append(res)
        return res

    stats = measure(recorded, policy, first=first)
    tail = samples[-int(stats["repeats"]):]
    for key in COEXEC_FIELDS:
        if tail and key in tail[0]:
            stats[key] = float(np.median([s[key] for s in tail]))
    return stats

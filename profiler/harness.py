"""The timing harness: warm-up, then repeats until the median is stable.

``measure`` calls a ``run_once`` function (one end-to-end run returning a dict of timings
in us) until the 95 % confidence half-width of the median of ``total_us`` and
``kernel_us`` is below ``rel_halfwidth`` of the median, or ``max_repeats`` /
``max_seconds`` is reached (after at least ``min_repeats``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: fields whose per-run values are summarised by their median
TIME_FIELDS = (
    "kernel_us", "dispatch_us", "queued_submit_us", "submit_start_us",
    "transfer_in_us", "transfer_out_us", "total_us",
)


@dataclass(frozen=True)
class TimingPolicy:
    """When to stop repeating. Times in seconds, ``rel_halfwidth`` relative (0.02 = 2 %)."""

    warmup: int = 2
    min_repeats: int = 5
    max_repeats: int = 60
    max_seconds: float = 1.5
    rel_halfwidth: float = 0.02
    #: a single run slower than this ends the configuration with status "timeout"
    timeout_s: float = 20.0


#: the policy of ``--quick`` sweeps
QUICK = TimingPolicy(warmup=1, min_repeats=3, max_repeats=10, max_seconds=0.2, rel_halfwidth=0.05)


class RunTimeout(RuntimeError):
    """A single run took longer than the policy's timeout."""


def median_halfwidth(values: np.ndarray) -> float:
    """95 % confidence half-width of the median (normal approximation, 1.2533 * SE of mean)."""
    n = len(values)
    if n < 2:
        return math.inf
    return 1.96 * 1.2533 * float(np.std(values, ddof=1)) / math.sqrt(n)


def _cv(values: np.ndarray) -> float:
    mean = float(np.mean(values))
    return float(np.std(values, ddof=1)) / mean if len(values) > 1 and mean > 0 else 0.0


def measure(run_once: Callable[[], dict[str, Any]], policy: TimingPolicy = TimingPolicy(),
            first: dict[str, Any] | None = None) -> dict[str, Any]:
    """Time ``run_once`` under ``policy``.

    Args:
        run_once: one end-to-end run; returns at least ``total_us`` (us).
        policy: warm-up and stopping rule.
        first: the result of a run already made (e.g. the validation run), counted as
            warm-up.

    Returns:
        medians of every TIME_FIELDS entry present, ``kernel_breakdown_us`` (per-launch
        medians), ``n_kernels``, ``repeats``, ``cv`` (of total_us), ``kernel_cv``,
        ``dispatch_cv``.
    """
    warm = policy.warmup - (1 if first is not None else 0)
    for _ in range(max(0, warm)):
        _timed(run_once, policy)
    samples: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    while True:
        samples.append(_timed(run_once, policy))
        n = len(samples)
        if n < policy.min_repeats:
            continue
        if n >= policy.max_repeats or time.perf_counter() - t_start > policy.max_seconds:
            break
        stable = True
        for key in ("total_us", "kernel_us"):
            vals = np.array([s.get(key, 0.0) for s in samples], float)
            med = float(np.median(vals))
            if med > 0 and median_halfwidth(vals) / med > policy.rel_halfwidth:
                stable = False
        if stable:
            break
    out: dict[str, Any] = {}
    for key in TIME_FIELDS:
        if key in samples[0]:
            out[key] = float(np.median([s[key] for s in samples]))
    breakdown = np.array([s.get("kernel_breakdown_us", [s.get("kernel_us", 0.0)]) for s in samples])
    out["kernel_breakdown_us"] = [round(float(v), 3) for v in np.median(breakdown, axis=0)]
    out["n_kernels"] = int(samples[0].get("n_kernels", 1))
    out["repeats"] = len(samples)
    out["cv"] = _cv(np.array([s["total_us"] for s in samples], float))
    out["kernel_cv"] = _cv(np.array([s.get("kernel_us", 0.0) for s in samples], float))
    out["dispatch_cv"] = _cv(np.array([s.get("dispatch_us", 0.0) for s in samples], float))
    return out


def _timed(run_once: Callable[[], dict[str, Any]], policy: TimingPolicy) -> dict[str, Any]:
    res = run_once()
    if res["total_us"] > policy.timeout_s * 1e6:
        raise RunTimeout(f"one run took {res['total_us'] / 1e6:.1f} s > {policy.timeout_s} s")
    return res

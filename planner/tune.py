"""Measure-and-pick: time a layer's shortlist side by side and keep the fastest plan.

The planner ranks thousands of candidates from predictions; a few of them are predicted
within the models' error of each other (CPU thread counts on small layers, CPU vs GPU on
layers where both take ~100 us). ``PlannerOptions(shortlist=k)`` keeps the plan and its
best alternatives; ``tune_layer`` runs them interleaved (``planner.confirm``) on the
devices and returns the fastest, for a few ms to a second per layer, once at deployment.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from latpred.planner.confirm import ConfirmPolicy, confirm_layer
from latpred.planner.planner import PlanChoice
from latpred.planner.runtime import Plan
from latpred.planner.split import as_problem

from latpred.errors import LatpredError

log = logging.getLogger(__name__)

#: a deployment-time default: short, the shortlist's ratios are what matters
TUNE_POLICY = ConfirmPolicy(min_rounds=5, max_rounds=100, max_seconds=0.5)


@dataclass
class TuneResult:
    """The measured pick: ``plan`` (the shortlist's ``index``-th), its median ``total_us``
    (us), and one confirmation row per shortlisted plan (``rows``, shortlist order; see
    ``confirm_layer``)."""

    plan: Plan
    total_us: float
    index: int
    rows: list[dict[str, Any]]

    @property
    def changed(self) -> bool:
        """True when a measured alternative beat the predicted plan."""
        return self.index != 0

    @property
    def n_timed(self) -> int:
        """Shortlisted plans that ran (and were timed)."""
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def predicted_plan_measured_us(self) -> float:
        """The predicted plan's measured median (us; NaN if it failed to run)."""
        r = self.rows[0]
        return float(r["total_us"]) if r["status"] == "ok" else math.nan

    def apply(self, choice: PlanChoice) -> PlanChoice:
        """``choice`` with the measured pick as its plan. A changed plan keeps the
        prediction of its shortlist entry as ``plan_us``; its predicted parts (``cpu_us``,
        ``gpu_us``, ``sync_us``) are not in the shortlist, so they become NaN."""
        if not self.changed:
            return dataclasses.replace(
                choice, reason=f"{choice.reason}; measured fastest of {self.n_timed}")
        pred_us = choice.shortlist[self.index][1] if choice.shortlist else math.nan
        return dataclasses.replace(
            choice, plan=self.plan, plan_us=float(pred_us), cpu_us=math.nan,
            gpu_us=math.nan, sync_us=math.nan,
            reason=f"measured fastest of {self.n_timed} (shortlist #{self.index + 1}; predicted "
                   f"plan {choice.plan.kind}, {self.predicted_plan_measured_us:.1f} us measured)")

    def measured_row(self) -> dict[str, Any]:
        """Measurement columns for a plan record: the pick's shortlist position (0: the
        predicted plan), its median and the predicted plan's (us), plans timed."""
        return {"tune_pick": self.index, "measured_us": self.total_us,
                "predicted_plan_measured_us": self.predicted_plan_measured_us,
                "tune_plans": self.n_timed}


def tune_layer(choice: PlanChoice, gpu: Any, arrays: dict[str, np.ndarray] | None = None,
               policy: ConfirmPolicy = TUNE_POLICY, seed: int = 0) -> TuneResult:
    """Measure ``choice.shortlist`` (the plan alone if it has none) and keep the fastest.

    Args:
        choice: a planner decision (``Planner.plan_layer``).
        gpu: the OpenCLDevice of the GPU side (None if every plan is CPU only).
        arrays: the layer's arrays (default: random inputs of its shape, seeded).
        policy: confirmation rounds' stopping rule.
        seed: seed of the inputs and of the interleaving order.

    Raises:
        LatpredError: no shortlisted plan ran (the first one's error is named).
    """
    plans = [p for p, _us in choice.shortlist] or [choice.plan]
    if arrays is None:
        arrays = as_problem(choice.layer).arrays(np.random.default_rng(seed))
    rows = confirm_layer(choice.layer, arrays, plans, gpu, policy, seed)
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    if not ok:
        raise LatpredError(f"layer {choice.name or choice.layer}: no shortlisted plan ran "
                           f"({rows[0]['status']}: {rows[0]['error']})")
    best = min(ok, key=lambda i: rows[i]["total_us"])
    return TuneResult(plans[best], float(rows[best]["total_us"]), best, rows)


def tune_choices(choices: list[PlanChoice], gpu: Any, policy: ConfirmPolicy = TUNE_POLICY,
                 seed: int = 0) -> list[TuneResult]:
    """``tune_layer`` for each layer of a network, in order (each layer's shortlist is
    timed on its own; the inputs are seeded per layer)."""
    out = []
    for i, ch in enumerate(choices):
        res = tune_layer(ch, gpu, policy=policy, seed=seed + i)
        log.info("%s: %s measured %.1f us (predicted plan %.1f us)", ch.name or ch.layer,
                 res.plan.kind, res.total_us, res.predicted_plan_measured_us)
        out.append(res)
    return out


__all__ = ["TUNE_POLICY", "TuneResult", "tune_choices", "tune_layer"]

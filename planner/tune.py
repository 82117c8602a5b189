"""Measure-and-pick: time a layer's shortlist side by side and keep the fastest plan.

The planner ranks thousands of candidates from predictions; a few of them are predicted
within the models' error of each other (CPU thread counts on small layers, CPU vs GPU on
layers where both take ~100 us). ``PlannerOptions(shortlist=k)`` keeps the plan and its
best alternatives; ``tune_layer`` runs them interleaved (``planner.confirm``) on the
devices and returns the fastest, for a few ms to a second per layer, once at deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from latpred.planner.confirm import ConfirmPolicy, confirm_layer
from latpred.planner.planner import PlanChoice
from latpred.planner.runtime import Plan
from latpred.planner.split import as_problem

from latpred.errors import LatpredError

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


__all__ = ["TUNE_POLICY", "TuneResult", "tune_layer"]

"""Evaluation metrics, exactly as /work/shared/metrics.md defines them.

y = measured time, p = predicted time, e = (p - y) / y.

- MAPE = mean(|e|) * 100; RMSPE = sqrt(mean(e^2)) * 100 (percent)
- acc5 / acc10 / acc20 = share of rows with |e| <= 0.05 / 0.10 / 0.20 (percent)
- kendall_tau: per layer shape, Kendall's tau between p and y over that shape's
  configurations; mean over shapes with >= 3 configurations
- top1_within5: per shape, the configuration with the lowest p; share of shapes whose
  measured time is within 5 % of the measured best (percent)
- top1_regret: geometric mean over shapes of y(chosen) / y(best), minus 1 (a fraction)
- noise_floor: median over configurations of the coefficient of variation (std / mean)
  of the repeated runs (a fraction)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: metric name -> unit, in table order
METRICS: dict[str, str] = {
    "MAPE": "%", "RMSPE": "%", "acc5": "%", "acc10": "%", "acc20": "%",
    "kendall_tau": "", "top1_within5": "%", "top1_regret": "fraction", "noise_floor": "fraction",
}


def rel_errors(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """e = (p - y) / y, shape (n,)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return (p - y) / y


def mape(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(rel_errors(y, p))) * 100)


def rmspe(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean(rel_errors(y, p) ** 2)) * 100)


def acc(y: np.ndarray, p: np.ndarray, tol: float) -> float:
    """Share (%) of rows with |e| <= tol."""
    return float(np.mean(np.abs(rel_errors(y, p)) <= tol + 1e-12) * 100)


def _shape_groups(groups: Sequence | np.ndarray) -> list[np.ndarray]:
    codes, _ = pd.factorize(np.asarray(groups, dtype=object))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(codes.max() + 2)) if len(codes) else [0]
    return [order[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


def kendall_tau(y: np.ndarray, p: np.ndarray, groups: Sequence) -> float:
    """Mean over shapes with >= 3 configurations of Kendall's tau(p, y); NaN if none."""
    from scipy.stats import kendalltau

    y, p = np.asarray(y, float), np.asarray(p, float)
    taus = []
    for idx in _shape_groups(groups):
        if len(idx) >= 3:
            tau = kendalltau(p[idx], y[idx]).statistic
            if np.isfinite(tau):
                taus.append(tau)
            elif np.ptp(y[idx]) == 0 or np.ptp(p[idx]) == 0:
                taus.append(0.0)  # a constant ranking ranks nothing
    return float(np.mean(taus)) if taus else float("nan")


def top1(y: np.ndarray, p: np.ndarray, groups: Sequence) -> tuple[float, float]:
    """(top1_within5 in %, top1_regret as a fraction) over shapes."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    within, ratios = [], []
    for idx in _shape_groups(groups):
        chosen = y[idx][np.argmin(p[idx])]
        best = np.min(y[idx])
        within.append(chosen <= 1.05 * best)
        ratios.append(chosen / best)
    if not ratios:
        return float("nan"), float("nan")
    return float(np.mean(within) * 100), float(np.exp(np.mean(np.log(ratios))) - 1)


def noise_floor(cv: np.ndarray) -> float:
    """Median coefficient of variation of the repeated runs (NaN if unknown)."""
    cv = np.asarray(cv, dtype=np.float64)
    cv = cv[np.isfinite(cv)]
    return float(np.median(cv)) if len(cv) else float("nan")


def all_metrics(y: np.ndarray, p: np.ndarray, groups: Sequence,
                cv: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of METRICS for one set of predictions (groups = shape ids per row)."""
    w5, regret = top1(y, p, groups)
    return {
        "MAPE": mape(y, p), "RMSPE": rmspe(y, p),
        "acc5": acc(y, p, 0.05), "acc10": acc(y, p, 0.10), "acc20": acc(y, p, 0.20),
        "kendall_tau": kendall_tau(y, p, groups), "top1_within5": w5, "top1_regret": regret,
        "noise_floor": noise_floor(cv) if cv is not None else float("nan"),
    }

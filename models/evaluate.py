"""Evaluate the model against the baselines on honest splits; one table.

Splits (models/splits.py): GroupKFold by layer shape ("group") and leave-one-network-out by
suite ("lono"). Within a split every method sees exactly the same train/test rows. The
model is re-fitted in every fold: with a fitted predictor's hyper-parameters (no re-tuning;
they were tuned on all data, a small optimistic bias) or tuned from scratch per fold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from latpred.features import feature_matrix
from latpred.models.baselines import BASELINES, Part
from latpred.models.metrics import METRICS, all_metrics
from latpred.models.predictor import LatencyPredictor
from latpred.models.splits import group_kfold, leave_one_network_out, shape_groups
from latpred.models.targets import get_target, target_rows

from latpred.errors import LatpredError

log = logging.getLogger(__name__)

MODEL = "model"


@dataclass
class Evaluation:
    """Result of ``evaluate``.

    Attributes:
        table: one row per (split, method): METRICS plus rows, shapes, folds, fit_s.
        predictions: one row per (split, method, test row): split, method, row, shape, y_us,
            p_us (and the row's impl, local_size for plots).
        target: the target evaluated.
    """

    table: pd.DataFrame
    predictions: pd.DataFrame
    target: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """{"target", "notes", "results": {split: {method: {metric: value}}}} (JSON-able)."""
        res: dict[str, dict[str, dict[str, float]]] = {}
        for (split, method), row in self.table.iterrows():
            res.setdefault(split, {})[method] = {
                k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
        return {"target": self.target, "notes": self.notes, "results": res}

    def __str__(self) -> str:
        return format_table(self.table, self.target)


def format_table(table: pd.DataFrame, title: str = "") -> str:
    """The table as aligned text (percent metrics with one decimal)."""
    t = table.copy()
    for c in t.columns:
        unit = METRICS.get(c)
        if unit == "%":
            t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
        elif c in METRICS:
            t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        elif c == "fit_s":
            t[c] = t[c].map(lambda v: f"{v:.1f}")
        else:
            t[c] = t[c].map(lambda v: f"{int(v)}")
    head = f"== {title} ==\n" if title else ""
    return head + t.to_string()


def _model_factory(target: str, predictor: LatencyPredictor | None, n_trials: int,
                   seed: int, n_jobs: int) -> LatencyPredictor:
    if predictor is not None and hasattr(predictor, "best_params_"):
        p = predictor.get_params()
        p.update(model=predictor.model_type_, params=dict(predictor.best_params_), n_trials=0,
                 prior=predictor.prior_, storage=None, study_name=None, device=None)
        return LatencyPredictor(**p)
    if predictor is not None:
        return LatencyPredictor(**{**predictor.get_params(), "device": None})
    return LatencyPredictor(target=target, n_trials=n_trials, random_state=seed, n_jobs=n_jobs)


def evaluate(
    df: pd.DataFrame,
    target: str,
    predictor: LatencyPredictor | None = None,
    *,
    splits: Sequence[str] = ("group", "lono"),
    n_splits: int = 5,
    n_trials: int = 0,
    baselines: Mapping[str, Any] | None = None,
    device: str | None = None,
    seed: int = 0,
    n_jobs: int = 2,
) -> Evaluation:
    """Cross-validated comparison of the model and the baselines on ``df``.

    Args:
        df: dataset frame with timings and ``attrs["meta"]["devices"]``.
        target: the target name (models.targets.TARGETS).
        predictor: a fitted predictor (its hyper-parameters are reused per fold), an
            unfitted one (fitted per fold as configured), or None (LatencyPredictor with
            ``n_trials`` tuning trials per fold).
        splits: "group" (GroupKFold by shape) and/or "lono" (leave one network out).
        n_splits: folds of the group split.
        baselines: name -> function (default: baselines.BASELINES).
        device: only rows of devices whose name contains this.

    Returns:
        Evaluation (table, predictions).
    """
    if baselines is None:
        baselines = dict(BASELINES)
        by = get_target(target).prior_by
        if by != "impl":  # the roofline baseline is grouped like the model's prior
            baselines["roofline"] = lambda tr, te: BASELINES["roofline"](tr, te, by=by)
    rows, y = target_rows(df, target, device)
    devices = df.attrs.get("meta", {}).get("devices") or {}
    if not devices:
        raise LatpredError("evaluate: the frame has no device metadata (attrs['meta'])")
    rows.attrs = dict(df.attrs)
    groups = shape_groups(rows)
    F = feature_matrix(rows, devices)
    cv_col = get_target(target).cv_column
    cv = pd.to_numeric(rows[cv_col], errors="coerce").to_numpy(np.float64, na_value=np.nan) \
        if cv_col in rows.columns else None
    notes: list[str] = []
    plan: list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]] = []
    if "group" in splits:
        plan.append(("group", group_kfold(groups, n_splits)))
    if "lono" in splits:
        suites = rows["suite"].astype("string").fillna("").to_numpy(dtype=object) \
            if "suite" in rows.columns else np.array([""] * len(rows), dtype=object)
        lono = [s for _, s in leave_one_network_out(suites, groups)]
        if len(lono) >= 2:
            plan.append(("lono", lono))
        else:
            notes.append("lono skipped: fewer than 2 networks (suites) in the data")
    table_rows, pred_frames = [], []
    impl = rows["impl"].astype("string").fillna("").to_numpy(dtype=object)
    local = rows["local_size"].astype("string").fillna("").to_numpy(dtype=object)
    for split, folds in plan:
        methods = [MODEL, *baselines]
        preds = {m: np.full(len(y), np.nan) for m in methods}
        fit_s = dict.fromkeys(methods, 0.0)
        tested = np.zeros(len(y), bool)
        for tr, te in folds:
            tested[te] = True
            train = Part(rows.iloc[tr], F[tr], y[tr])
            test = Part(rows.iloc[te], F[te], y[te])
            t0 = time.perf_counter()
            model = _model_factory(target, predictor, n_trials, seed, n_jobs)
            tr_rows = rows.iloc[tr].reset_index(drop=True)
            tr_rows.attrs = dict(df.attrs)
            try:
                model.fit(tr_rows, y[tr], devices=devices)
                preds[MODEL][te] = model.predict(rows.iloc[te])
            except LatpredError as err:  # too few shapes in a fold, ...
                notes.append(f"{split}: model fold skipped ({err})")
            fit_s[MODEL] += time.perf_counter() - t0
            for name, fn in baselines.items():
                t0 = time.perf_counter()
                preds[name][te] = fn(train, test)
                fit_s[name] += time.perf_counter() - t0
        for m in methods:
            ok = tested & np.isfinite(preds[m])
            if not ok.any():
                continue
            met = all_metrics(y[ok], preds[m][ok], groups[ok], None if cv is None else cv[ok])
            table_rows.append({"split": split, "method": m, **met, "rows": int(ok.sum()),
                               "shapes": len(set(groups[ok].tolist())), "folds": len(folds),
                               "fit_s": fit_s[m]})
            pred_frames.append(pd.DataFrame({
                "split": split, "method": m, "row": np.flatnonzero(ok), "shape": groups[ok],
                "impl": impl[ok], "local_size": local[ok], "y_us": y[ok], "p_us": preds[m][ok]}))
    if not table_rows:
        raise LatpredError(f"evaluate: nothing to evaluate for {target}")
    table = pd.DataFrame(table_rows).set_index(["split", "method"])
    predictions = pd.concat(pred_frames, ignore_index=True)
    return Evaluation(table, predictions, target, notes)


def score_model(predictor: LatencyPredictor, df: pd.DataFrame) -> dict[str, float]:
    """Metrics of a fitted predictor on a frame as-is (no re-fitting): METRICS + rows."""
    rows, y = target_rows(df, predictor.target, predictor.device)
    known = rows["device"].astype("string").isin(list(predictor.devices_)).to_numpy(bool)
    rows, y = rows[known].reset_index(drop=True), y[known]
    if len(rows) == 0:
        raise LatpredError(f"no usable {predictor.target} rows of the model's devices "
                           f"({', '.join(predictor.devices_)}) in the data")
    p = predictor.predict(rows)
    cv_col = get_target(predictor.target).cv_column
    cv = pd.to_numeric(rows[cv_col], errors="coerce").to_numpy(np.float64, na_value=np.nan) \
        if cv_col in rows.columns else None
    return {**all_metrics(y, p, shape_groups(rows), cv), "rows": int(len(rows))}

"""A latency predictor recalibrated on measurements taken where its predictions are used.

The profiler times a configuration alone in a quiet process; the co-execution runtime
runs it next to the other device, after BLAS calls, with its own buffers and queues. The
two contexts differ layer by layer (BENCHMARKS.md section 5: "the sweep's measurements as
predictions" plan worse than the trained models), so ``RuntimeCalibrated`` learns the log
ratio between a fitted predictor's answers and runtime measurements (the single-device rows
of ``latpred coexec grid`` / ``bench`` datasets, ``planner.calibrate.runtime_rows``) with a
small boosted-tree model on the predictor's own features plus its log prediction:

    predict(X) = base.predict(X) * exp(residual(features(X), log base.predict(X)))

Trained on other networks' layers, it changes no measurement of the layers it then plans.

Its library is LightGBM (leaf-wise trees, the default) or XGBoost (depth-wise trees,
``model_type="xgboost"``), which predicts the same number of trees on one thread in less
time: every GPU row a planner scores pays for every tree (BENCHMARKS.md, session 20).

``relative=True`` learns only how the configurations of one layer rank against each other:
the residual is taken minus its mean over the layer's rows, so the base predictor keeps the
level (CPU against GPU) and the correction reorders, e.g., a layer's BLAS thread counts as
the runtime's interleaved rounds time them (``latpred coexec cpu-rounds``).

The runtime rows come from a few networks' benches, so the correction knows a narrower range
of layer sizes than the base predictor. Beyond its training rows' largest FLOPs and bytes
moved it fades out over ``fade_doublings`` doublings (``models.extrapolation``), leaving the
base predictor, fitted on the profiler's wider sweeps, to answer: a correction learned on
layers of at most a few MiB must not reorder the memory modes of a 100 MiB one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from latpred.features import FEATURE_NAMES, column_codes, feature_matrix_and_labels
from latpred.models.extrapolation import check_fade, correction_weight, size_max
from latpred.models.predictor import LatencyPredictor
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from latpred.errors import bad_value

log = logging.getLogger(__name__)

#: libraries the residual model can be fitted with
RESIDUAL_TYPES = ("lightgbm", "xgboost")


class RuntimeCalibrated(RegressorMixin, BaseEstimator):
    """A fitted ``LatencyPredictor`` times a learned runtime correction.

    Args:
        base: a fitted ``models.LatencyPredictor`` (not refitted).
        n_estimators, learning_rate, num_leaves, min_child_samples, subsample,
        colsample_bytree, reg_lambda: the residual LightGBM model's parameters (small
            trees, strong regularisation: a few thousand correlated rows from a few
            networks).
        random_state: seed of the residual's row and column subsampling.
        relative: fit the residual minus its mean over each layer's rows (``fit``'s
            ``groups``): a correction of the ranking within a layer, not of its level.
        model_type: the residual's library, one of RESIDUAL_TYPES. LightGBM grows
            ``num_leaves`` leaves per tree; XGBoost grows trees ``max_depth`` deep (its
            ``min_child_weight`` is ``min_child_samples``: a row's hessian is 1).
        max_depth: depth of the XGBoost residual's trees (4: up to 16 leaves, the size of
            the default 15-leaf LightGBM trees); unused by LightGBM.
        fade_doublings: beyond the training rows' largest sizes (per device), the
            correction fades linearly to none over this many doublings; None: it applies
            at every size. Read at each prediction; corrections fitted before the option
            recorded no sizes and never fade.

    The residual predicts with as many threads as the base's booster (its
    ``predict_threads``, 1 by default), not LightGBM's default of every core.

    Attributes (after fit):
        booster_: the residual model (log ratio measured / base): a ``lightgbm.Booster``, or
            for XGBoost a ``models.boosters.Booster``.
        n_rows_: training rows.
        log_ratio_median_: median log(measured / base) of the training rows.
        size_max_: the training rows' largest sizes (``models.extrapolation.size_max``).
    """

    def __init__(self, base: Any = None, n_estimators: int = 300, learning_rate: float = 0.03,
                 num_leaves: int = 15, min_child_samples: int = 30, subsample: float = 0.8,
                 colsample_bytree: float = 0.8, reg_lambda: float = 5.0,
                 random_state: int = 0, relative: bool = False, model_type: str = "lightgbm",
                 max_depth: int = 4, fade_doublings: float | None = 1.0):
        self.base = base
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.relative = relative
        self.model_type = model_type
        self.max_depth = max_depth
        self.fade_doublings = fade_doublings

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickles from before the XGBoost residual: a LightGBM one
        state.setdefault("model_type", "lightgbm")
        state.setdefault("max_depth", 4)
        state.setdefault("fade_doublings", None)  # and no size_max_: no fade
        super().__setstate__(state)

    # -- the base predictor's interface (the planner's fast path uses these) ---------------
    @property
    def target(self) -> str:
        return self.base.target

    @property
    def devices_(self) -> dict[str, dict[str, Any]]:
        return self.base.devices_

    @property
    def work_group_limits_(self) -> dict[tuple[str, str], int]:
        return getattr(self.base, "work_group_limits_", {})

    @property
    def manifest_(self) -> dict[str, Any]:
        return self.base.manifest_

    @property
    def default_device_(self) -> str | None:
        return self.base.default_device_

    def _check_fitted(self) -> None:
        if "booster_" not in self.__dict__:
            check_is_fitted(self, "booster_")

    def _check_backends(self, backends: Any) -> None:
        self.base._check_backends(backends)

    def _interval_from_log(self, lt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.base._interval_from_log(lt)

    def _log_predict_features(self, F: np.ndarray,
                              labels: Mapping[str, tuple[np.ndarray, list[str]]]) -> np.ndarray:
        """Log of the calibrated time (us), shape (n,), from the base's features F (n,
        len(FEATURE_NAMES)) and labels (``feature_matrix_and_labels``)."""
        lp = self.base._log_predict_features(F, labels)
        if not len(lp):
            return lp
        keep = correction_weight(F, labels["device"], self.__dict__.get("size_max_"),
                                 self.fade_doublings)
        return lp + keep * self._residual(F, lp)

    def _residual(self, F: np.ndarray, lp: np.ndarray) -> np.ndarray:
        """The residual model's log ratio (n,) at features F and base log predictions lp,
        with the base booster's prediction threads."""
        threads = self.base._predict_threads()
        b = self.booster_
        if self.model_type == "xgboost":  # a models.boosters.Booster
            b.set_threads(threads)
            return b.predict(_design(F[:, :b.booster.num_features() - 1], lp))
        width = b.num_feature() - 1  # fitted on an older, shorter feature set?
        return b.predict(_design(F[:, :width], lp), num_threads=threads)

    # -- sklearn API -----------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, groups: Any = None) -> RuntimeCalibrated:
        """Fit the correction on runtime measurements.

        Args:
            X: configuration rows (the base predictor's input columns), (n rows).
            y: measured times (us), shape (n,), all > 0.
            groups: with ``relative``, the layer of each row, (n,) (default: its layer
                shape, ``models.splits.shape_groups``); ignored otherwise.
        """
        if self.model_type not in RESIDUAL_TYPES:
            raise bad_value("model_type", self.model_type,
                            f"must be one of {', '.join(RESIDUAL_TYPES)}")
        if self.model_type == "xgboost" and (not isinstance(self.max_depth, int)
                                             or self.max_depth < 1):
            raise bad_value("max_depth", self.max_depth, "must be an integer >= 1")
        check_fade(self.fade_doublings)
        if self.base is None or "booster_" not in getattr(self.base, "__dict__", {}):
            raise bad_value("base", type(self.base).__name__, "must be a fitted LatencyPredictor")
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or not len(y):
            raise bad_value("y", len(y), f"needs one time per row of X ({len(X)} rows), at least 1")
        if not np.all(np.isfinite(y) & (y > 0)):
            raise bad_value("y", float(y[~(np.isfinite(y) & (y > 0))][0]), "times must be > 0 us")
        self.base._check_backends(column_codes(X, "backend")[1])
        F, labels = feature_matrix_and_labels(X, self.base.devices_, self.base.default_device_)
        lp = self.base._log_predict_features(F, labels)
        r = np.log(y) - lp
        ratio_median = float(np.median(r))
        if self.relative:
            if groups is None:
                from latpred.models.splits import shape_groups

                groups = shape_groups(X)
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise bad_value("groups", len(groups), f"needs one group per row ({len(y)})")
            r = r - pd.Series(r).groupby(groups).transform("mean").to_numpy()
        self.booster_ = self._fit_residual(_design(F, lp), r)
        self.size_max_ = size_max(F, labels["device"])
        self.n_rows_ = len(y)
        self.log_ratio_median_ = ratio_median
        log.info("calibrated %s on %d runtime rows (median log ratio %.3f%s)", self.target,
                 len(y), self.log_ratio_median_, ", relative" if self.relative else "")
        return self

    def _fit_residual(self, D: np.ndarray, r: np.ndarray) -> Any:
        """The residual model fitted on design rows D (n, features + 1) -> r (n,)."""
        if self.model_type == "xgboost":
            from latpred.models.boosters import train

            return train("xgboost", {
                "n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                "max_depth": self.max_depth, "min_child_weight": float(self.min_child_samples),
                "subsample": self.subsample, "colsample": self.colsample_bytree,
                "reg_lambda": self.reg_lambda}, D, r, seed=self.random_state, n_jobs=1)
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples,
            subsample=self.subsample, subsample_freq=1, colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda, random_state=self.random_state, n_jobs=1,
            verbose=-1).fit(D, r).booster_

    # the base's checks and feature pass, then this class's _log_predict_features
    _log_predict = LatencyPredictor._log_predict

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated time of each configuration row, shape (len(X),), us."""
        return np.exp(self._log_predict(X))

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The base predictor's interval moved by the correction, (lo, hi) each (len(X),)."""
        return self._interval_from_log(self._log_predict(X))


def _design(F: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """The residual's input: every feature and the base's log prediction, (n, len + 1)."""
    return np.column_stack([F, lp])


#: the residual's feature names, in column order
DESIGN_NAMES = (*FEATURE_NAMES, "log_base_us")

__all__ = ["DESIGN_NAMES", "RESIDUAL_TYPES", "RuntimeCalibrated"]

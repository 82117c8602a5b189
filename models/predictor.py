"""LatencyPredictor: raw configuration rows in, predicted microseconds out (sklearn contract).

    pred = LatencyPredictor(target="gpu_kernel_us", n_trials=30).fit(dataset_frame)
    joblib.dump(pred, "model.pkl")
    ...
    pred = joblib.load("model.pkl")            # checks the manifest (see persist.py)
    t_us = pred.predict(candidates)            # candidates: configuration rows, no timings
    lo, hi = pred.predict_interval(candidates)

The model is a gradient-boosted regressor (LightGBM or XGBoost) on log time. With
``prior="residual"`` it learns log(t) - log(roofline(t)) where the roofline is fitted from
the training data per (device, implementation), so predictions extrapolate physically to
shapes outside the training range; with "feature" the log prior is only a feature; "none"
uses neither. ``prior="auto"`` (default) tunes the choice (H100 kernel times: "none" won;
synthetic data: "residual" won by far).
Hyper-parameters (and, with ``model="auto"``, the library) are tuned by optuna (TPE
sampler, median pruner over group-k-fold folds by layer shape). Prediction intervals are
split-conformal: quantiles of out-of-fold log residuals on the same group split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from latpred.features import (
    CATEGORICAL,
    FEATURE_NAMES,
    Configs,
    column_codes,
    feature_matrix,
    feature_matrix_and_labels,
)
from latpred.models import boosters
from latpred.models.metrics import all_metrics
from latpred.models.outliers import DEFAULT_SLACK, check_slack, thread_outliers
from latpred.models.roofline import Labels, Roofline
from latpred.models.splits import Split, group_kfold, shape_groups
from latpred.models.targets import get_target, select_device, target_rows, work_group_limits
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

PRIORS = ("residual", "feature", "none")
#: prefer LightGBM under model="auto" only if its CV loss is this much lower (it predicts
#: batches ~15x slower than XGBoost, see boosters.py)
AUTO_LIGHTGBM_MARGIN = 0.02


class LatencyPredictor(RegressorMixin, BaseEstimator):
    """Predict one latency target of configuration rows.

    Args:
        target: one of models.targets.TARGETS ("cpu_us", "gpu_kernel_us", "gpu_dispatch_us",
            "gpu_transfer_us", "gpu_total_us", "gpu_kernel_dispatch_us").
        model: "lightgbm", "xgboost" or "auto" (chosen by cross-validation).
        n_trials: optuna trials (0: untuned default parameters).
        timeout: optuna time budget in seconds (None: no limit).
        storage: optuna storage URL (None: in memory; "sqlite:///study.db"; any SQLAlchemy
            URL such as PostgreSQL lets several machines tune one study).
        study_name: optuna study name (default: derived from target, model and data hash,
            so machines tuning on the same data join the same study).
        cv_splits: group-k-fold folds (by layer shape) for tuning and calibration.
        prior: "residual" (learn the log ratio to a fitted roofline), "feature" (the roofline
            only as a feature), "none", or "auto" (chosen by cross-validation, with the
            hyper-parameters).
        coverage: central coverage of ``predict_interval`` (0.8: p10..p90).
        device: fit only on rows whose device name contains this (case-insensitive).
        max_trees: upper bound of the tuned number of trees (prediction latency).
        booster_budget_ms: tuning penalises a trial whose booster is estimated to need more
            than this to predict 1,000 rows with ``predict_threads`` (boosters.
            estimate_predict_ms, a deterministic trees x depth cost model): loss * (estimate /
            budget) above it. None: no penalty. (Features take ~1 ms more per 1,000 rows.)
        params: explicit booster parameters (skips tuning; ``model`` must not be "auto").
        random_state: seed of the boosters, and of the sampler when ``storage`` is None (a
            shared study samples unseeded so that workers explore different trials).
        n_jobs: threads for training.
        outlier_slack: drop training rows timed more than this many times slower than
            their thread sweep allows (``models.outliers.thread_outliers``: host stalls
            caught in a CPU sweep); None keeps every row (models fitted before this option).
        predict_threads: threads for prediction (None: 1. Two OpenMP threads halve the time on
            an idle 2-core host but are 25x slower when another process holds a core, as in
            co-execution). Read at each prediction: ``set_params(predict_threads=n)`` works
            on a fitted or loaded model.

    Fitted attributes include ``devices_`` (the training rows' device metadata) and
    ``work_group_limits_``: {(impl, params JSON): work-items per work-group} that the
    device's compiler allowed those kernels below the device's maximum, read from the
    training frame's refused rows (``models.targets.work_group_limits``); a planner keeps
    local sizes within them.
    """

    def __init__(
        self,
        target: str = "gpu_total_us",
        model: str = "auto",
        n_trials: int = 30,
        timeout: float | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        cv_splits: int = 4,
        prior: str = "auto",
        coverage: float = 0.8,
        device: str | None = None,
        max_trees: int = 400,
        booster_budget_ms: float | None = 1.0,
        params: dict[str, Any] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
        outlier_slack: float | None = DEFAULT_SLACK,
        predict_threads: int | None = None,
    ):
        self.target = target
        self.model = model
        self.n_trials = n_trials
        self.timeout = timeout
        self.storage = storage
        self.study_name = study_name
        self.cv_splits = cv_splits
        self.prior = prior
        self.coverage = coverage
        self.device = device
        self.max_trees = max_trees
        self.booster_budget_ms = booster_budget_ms
        self.params = params
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.outlier_slack = outlier_slack
        self.predict_threads = predict_threads

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None,
            devices: Mapping[str, Mapping[str, Any]] | None = None) -> LatencyPredictor:
        """Learn from dataset rows.

        Args:
            X: dataset frame (``latpred.datasets.load``). With ``y`` None, the target's rows
                and times are taken from it (status "ok", matching backend, time > 0).
            y: optional times (us), shape (len(X),), for configuration rows without timings.
            devices: device metadata (default: ``X.attrs["meta"]["devices"]``).

        Returns:
            self
        """
        self._validate_params()
        t0 = time.perf_counter()
        if not isinstance(X, pd.DataFrame):
            raise bad_value("X", type(X).__name__, "must be a DataFrame of configuration rows")
        self.work_group_limits_ = work_group_limits(X, self.target, self.device)
        if y is None:
            rows, yy = target_rows(X, self.target, self.device)
        else:
            yy = np.asarray(y, dtype=np.float64).reshape(-1)
            if len(yy) != len(X):
                raise bad_value("y", len(yy), f"length differs from X ({len(X)} rows)")
            if not np.all(np.isfinite(yy) & (yy > 0)):
                raise bad_value("y", "non-positive or non-finite", "times must be > 0 us")
            rows = X.reset_index(drop=True)
            if self.device:
                keep = select_device(rows.assign(_y=yy), self.device)
                rows, yy = keep.drop(columns="_y").reset_index(drop=True), keep["_y"].to_numpy()
        devices = devices if devices is not None else X.attrs.get("meta", {}).get("devices")
        if not devices:
            raise LatpredError("no device metadata: pass devices= or use a frame from "
                               "latpred.datasets.load (df.attrs['meta']['devices'])")
        self.n_outliers_ = 0
        if self.outlier_slack is not None:
            bad = thread_outliers(rows, yy, self.outlier_slack)
            self.n_outliers_ = int(bad.sum())
            if self.n_outliers_:
                log.info("%s: %d of %d rows dropped as thread-sweep outliers (slack %g)",
                         self.target, self.n_outliers_, len(rows), self.outlier_slack)
                rows, yy = rows[~bad].reset_index(drop=True), yy[~bad]
        groups = shape_groups(rows)
        n_shapes = len(set(groups.tolist()))
        if n_shapes < 3:
            raise bad_value("data", f"{len(rows)} rows / {n_shapes} shapes",
                            f"need >= 3 layer shapes with usable {self.target} rows")
        used = sorted(set(column_codes(rows, "device")[1]) - {""})
        missing = [d for d in used if d not in devices]
        if missing:
            raise bad_value("device", missing[0], "rows of a device without metadata")
        self.devices_ = {d: dict(devices[d]) for d in used} or dict(devices)
        self.default_device_ = next(iter(self.devices_)) if len(self.devices_) == 1 else None
        F = feature_matrix(rows, self.devices_, self.default_device_)
        self.n_features_ = F.shape[1]
        prior_by = get_target(self.target).prior_by
        dev_lab, impl_lab = column_codes(rows, "device"), column_codes(rows, prior_by)
        ly = np.log(yy)
        folds = group_kfold(groups, self.cv_splits)
        fold_priors = self._fold_priors(F, yy, dev_lab, impl_lab, folds)

        self.model_type_, self.best_params_, self.prior_, self.study_ = \
            self._tune(F, ly, folds, fold_priors)
        self.extra_features_ = () if self.prior_ == "none" else ("log_prior_us",)
        oof = self._oof(F, ly, folds, fold_priors)
        resid = ly - oof
        alpha = (1.0 - self.coverage) / 2.0
        self.interval_log_q_ = (float(np.quantile(resid, alpha, method="lower")),
                                float(np.quantile(resid, 1 - alpha, method="higher")))
        cv = _cv_column(rows, self.target)
        self.cv_metrics_ = {"split": f"GroupKFold({len(folds)}) by shape", "rows": int(len(rows)),
                            **all_metrics(yy, np.exp(oof), groups, cv)}
        # final model on every row
        self.roofline_ = None if self.prior_ == "none" else \
            Roofline().fit(F, yy, _labels(dev_lab), _labels(impl_lab))
        lp = self._log_prior(F, dev_lab, impl_lab)
        Z, r = self._design(F, lp), self._response(ly, lp, self.prior_)
        self.booster_ = boosters.train(self.model_type_, self.best_params_, Z, r,
                                       self._categorical(), self.random_state, self.n_jobs)
        self.booster_.set_threads(self._predict_threads())
        self.fit_seconds_ = time.perf_counter() - t0
        from latpred.models.persist import build_manifest

        self.manifest_ = build_manifest(self, rows, yy, groups)
        log.info("fitted %s (%s, %d rows, %d shapes) in %.1f s; CV MAPE %.1f%%", self.target,
                 self.model_type_, len(rows), n_shapes, self.fit_seconds_, self.cv_metrics_["MAPE"])
        return self

    def _validate_params(self) -> None:
        get_target(self.target)
        if self.model not in (*boosters.MODEL_TYPES, "auto"):
            raise bad_value("model", self.model, "must be lightgbm, xgboost or auto")
        if self.prior not in (*PRIORS, "auto"):
            raise bad_value("prior", self.prior, f"must be one of {', '.join(PRIORS)}, auto")
        if not 0 < self.coverage < 1:
            raise bad_value("coverage", self.coverage, "must be in (0, 1)")
        if self.params is not None and self.model == "auto":
            raise bad_value("model", "auto", "explicit params need model lightgbm or xgboost")
        if self.params is not None:
            boosters.check_params(self.model, self.params)
        if self.outlier_slack is not None:
            check_slack(self.outlier_slack)
        if self.n_trials < 0 or self.cv_splits < 2:
            raise bad_value("n_trials/cv_splits", (self.n_trials, self.cv_splits),
                            "need n_trials >= 0 and cv_splits >= 2")

    # -- pieces ----------------------------------------------------------------------------------
    def _categorical(self) -> list[int]:
        return [FEATURE_NAMES.index(c) for c in CATEGORICAL]

    def _fold_priors(self, F: np.ndarray, y: np.ndarray, dev_lab: Labels, impl_lab: Labels,
                     folds: list[Split]) -> list[np.ndarray | None]:
        """Per fold: the log prior of every row from a roofline fitted on the fold's train rows."""
        if self.prior == "none":  # never needed
            return [None] * len(folds)
        out = []
        dl, il = _labels(dev_lab), _labels(impl_lab)
        for tr, _ in folds:
            roof = Roofline().fit(F[tr], y[tr], dl[tr], il[tr])
            out.append(roof.log_predict(F, dev_lab, impl_lab))
        return out

    def _log_prior(self, F: np.ndarray, dev_lab: Labels, impl_lab: Labels) -> np.ndarray | None:
        if self.roofline_ is None:
            return None
        return self.roofline_.log_predict(F, dev_lab, impl_lab)

    def _width(self) -> int | None:
        """Feature columns this model was fitted on (an older feature version's are a prefix
        of today's, ``features.schema_compatible``); None before fit."""
        w = self.__dict__.get("n_features_")
        if w is None and "manifest_" in self.__dict__:  # pickles from before n_features_
            w = len(self.manifest_.get("feature_schema", {}).get("names", [])) or None
        return w

    def _design(self, F: np.ndarray, lp: np.ndarray | None) -> np.ndarray:
        """The booster's input: the features, plus log2 of the prior if there is one."""
        F = F[:, :self._width()]
        if lp is None:
            return F
        Z = np.empty((F.shape[0], F.shape[1] + 1))
        Z[:, :-1] = F
        Z[:, -1] = lp / np.log(2.0)  # log2 of the prior in us, like the other log features
        return Z

    def _booster_input(self, F: np.ndarray, lp: np.ndarray | None) -> np.ndarray:
        """``_design(F, lp)`` for ``booster_.predict``, shape (n, features [+ 1]). XGBoost
        gets float32, what its trees compare (a float64 input is rounded the same way inside,
        more slowly), filled feature-major (``F.T`` is contiguous, see feature_matrix)."""
        if self.booster_.model_type != "xgboost":
            return self._design(F, lp)
        F = F[:, :self._width()]
        Zt = np.empty((F.shape[1] + (lp is not None), F.shape[0]), np.float32)
        Zt[:F.shape[1]] = F.T
        if lp is not None:
            Zt[-1] = lp / np.log(2.0)
        return Zt.T

    @staticmethod
    def _response(ly: np.ndarray, lp: np.ndarray | None, mode: str) -> np.ndarray:
        return ly - lp if (mode == "residual" and lp is not None) else ly

    @staticmethod
    def _unresponse(r: np.ndarray, lp: np.ndarray | None, mode: str) -> np.ndarray:
        return r + lp if (mode == "residual" and lp is not None) else r

    def _predict_threads(self) -> int:
        return self.predict_threads or 1

    def _fold_loss(self, model_type: str, params: dict[str, Any], mode: str, F: np.ndarray,
                   ly: np.ndarray, folds: list[Split], fold_priors: list[np.ndarray | None],
                   trial: Any = None) -> float:
        """Mean over folds of the RMSE of log time, times the latency penalty (>= 1)."""
        losses, penalty = [], 1.0
        for i, ((tr, te), lp) in enumerate(zip(folds, fold_priors)):
            lp = None if mode == "none" else lp
            Z = self._design(F, lp)
            r = self._response(ly, lp, mode)
            b = boosters.train(model_type, params, Z[tr], r[tr], self._categorical(),
                               self.random_state, self.n_jobs)
            pred = self._unresponse(b.predict(Z[te]), None if lp is None else lp[te], mode)
            losses.append(float(np.sqrt(np.mean((pred - ly[te]) ** 2))))
            if i == 0 and trial is not None and self.booster_budget_ms:
                ms = boosters.estimate_predict_ms(model_type, params, self._predict_threads())
                trial.set_user_attr("est_predict_ms_per_1000", ms)
                penalty = max(1.0, ms / self.booster_budget_ms)
            if trial is not None:
                import optuna

                trial.report(float(np.mean(losses)) * penalty, i)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(losses)) * penalty

    def _oof(self, F: np.ndarray, ly: np.ndarray, folds: list[Split],
             fold_priors: list[np.ndarray | None]) -> np.ndarray:
        """Out-of-fold log predictions with the chosen model and parameters."""
        oof = np.empty(len(ly))
        mode = self.prior_
        for (tr, te), lp in zip(folds, fold_priors):
            lp = None if mode == "none" else lp
            Z = self._design(F, lp)
            r = self._response(ly, lp, mode)
            b = boosters.train(self.model_type_, self.best_params_, Z[tr], r[tr],
                               self._categorical(), self.random_state, self.n_jobs)
            oof[te] = self._unresponse(b.predict(Z[te]), None if lp is None else lp[te], mode)
        return oof

    def _tune(self, F: np.ndarray, ly: np.ndarray, folds: list[Split],
              fold_priors: list[np.ndarray | None]) -> tuple[str, dict, str, dict | None]:
        """(model type, booster params, prior mode, study summary)."""
        types = boosters.MODEL_TYPES if self.model == "auto" else (self.model,)
        modes = PRIORS if self.prior == "auto" else (self.prior,)
        if self.params is not None or self.n_trials == 0:
            if len(types) == 1 and len(modes) == 1:
                p = dict(self.params) if self.params is not None else \
                    boosters.default_params(types[0])
                return types[0], p, modes[0], None
            best: dict[str, tuple[float, str]] = {}
            for t in types:
                p = dict(self.params) if self.params is not None else boosters.default_params(t)
                for mode in modes:
                    loss = self._fold_loss(t, p, mode, F, ly, folds, fold_priors)
                    if t not in best or loss < best[t][0]:
                        best[t] = (loss, mode)
            mt = _pick_type({t: v[0] for t, v in best.items()})
            p = dict(self.params) if self.params is not None else boosters.default_params(mt)
            return mt, p, best[mt][1], None
        import optuna
        from latpred.models.persist import data_hash

        name = self.study_name or (
            f"latpred-{self.target}-{self.model}-{self.prior}-"
            f"{data_hash(pd.DataFrame({'ly': ly}), ly)}")
        study = optuna.create_study(
            study_name=name, storage=self.storage, load_if_exists=True, direction="minimize",
            # a shared storage gets an unseeded sampler: workers must not replay each
            # other's start-up trials
            sampler=optuna.samplers.TPESampler(
                seed=self.random_state if self.storage is None else None),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))

        if not study.trials:  # a known-good first point per library, then TPE
            for mt in types:
                start = dict(boosters.start_params(mt, self.max_trees))
                if len(types) > 1:
                    start["model"] = mt
                if len(modes) > 1:  # "feature" won on the H100 data (both targets)
                    start["prior"] = "feature" if "feature" in modes else modes[0]
                study.enqueue_trial(start)

        def objective(trial: optuna.Trial) -> float:
            mt = trial.suggest_categorical("model", list(types)) if len(types) > 1 else types[0]
            mode = trial.suggest_categorical("prior", list(modes)) if len(modes) > 1 \
                else modes[0]
            params = boosters.suggest_params(trial, mt, self.max_trees)
            return self._fold_loss(mt, params, mode, F, ly, folds, fold_priors, trial)

        study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout,
                       gc_after_trial=False, show_progress_bar=False)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            raise LatpredError(f"optuna study {name!r} has no completed trial "
                               "(raise --n-trials or --timeout)")
        best_by_type: dict[str, Any] = {}
        for t in done:
            mt = t.params.get("model", types[0])
            if mt in types and (mt not in best_by_type or t.value < best_by_type[mt].value):
                best_by_type[mt] = t
        mt = _pick_type({k: v.value for k, v in best_by_type.items()})
        mode = best_by_type[mt].params.get("prior", modes[0])
        params = {k: v for k, v in best_by_type[mt].params.items() if k not in ("model", "prior")}
        log.info("optuna %s: %d trials, best %s loss %.4f", name, len(study.trials), mt,
                 best_by_type[mt].value)
        return mt, params, mode, {"name": name, "storage": self.storage,
                                  "trials": len(study.trials), "best_value": best_by_type[mt].value}

    # -- predict ---------------------------------------------------------------------------------
    def _log_predict(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            raise bad_value("X", type(X).__name__, "must be a DataFrame of configuration rows")
        if len(X) == 0:
            return np.zeros(0)
        if "backend" in X.columns:
            self._check_backends(column_codes(X, "backend")[1])
        return self._log_predict_features(
            *feature_matrix_and_labels(X, self.devices_, self.default_device_))

    def _check_fitted(self) -> None:
        if "booster_" not in self.__dict__:  # sklearn's check only when needed (~2-20 us)
            check_is_fitted(self, "booster_")

    def _check_backends(self, backends: Iterable[str]) -> None:
        """Refuse rows of another backend than the target's (``backends``: the rows' values,
        "" = unknown)."""
        want = get_target(self.target).backend
        other = set(backends) - {"", want}
        if other:
            raise bad_value("backend", sorted(other)[0],
                            f"this model predicts {self.target} ({want} rows only)")

    def _log_predict_features(self, F: np.ndarray,
                              labels: Mapping[str, tuple[np.ndarray, list[str]]]) -> np.ndarray:
        """Log of the predicted time (us), shape (n,), of rows given by their features F
        (n, len(FEATURE_NAMES)) and labels (both from ``feature_matrix_and_labels``)."""
        if self.roofline_ is None:
            lp = None
        else:
            by = labels[get_target(self.target).prior_by]
            lp = self.roofline_.log_predict(F, labels["device"], by)
        self.booster_.set_threads(self._predict_threads())  # set_params after fit / load
        return self._unresponse(self.booster_.predict(self._booster_input(F, lp)), lp,
                                self.prior_)

    def _interval_from_log(self, lt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) interval (us) of log predictions ``lt`` (n,)."""
        q_lo, q_hi = self.interval_log_q_
        return np.exp(lt + q_lo), np.exp(lt + q_hi)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted time of each configuration row.

        Args:
            X: configuration rows (dataset columns without timings; ``device`` may be
                omitted for a single-device model).

        Returns:
            ndarray of shape (len(X),), microseconds.
        """
        return np.exp(self._log_predict(X))

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) prediction interval of central coverage ``coverage`` (us), each (len(X),).

        Split-conformal on out-of-fold log residuals of a group split by shape.
        """
        return self._interval_from_log(self._log_predict(X))

    def score(self, X: pd.DataFrame, y: Any = None, sample_weight: Any = None) -> float:
        """R^2 of log time (higher is better). ``y`` None: times from X's timing columns."""
        if y is None:
            X, y = target_rows(X, self.target)
        y = np.asarray(y, dtype=np.float64)
        ly, lp = np.log(y), self._log_predict(X)
        w = np.ones_like(ly) if sample_weight is None else np.asarray(sample_weight, float)
        ss_res = np.sum(w * (ly - lp) ** 2)
        ss_tot = np.sum(w * (ly - np.average(ly, weights=w)) ** 2)
        return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0

    # -- persistence -----------------------------------------------------------------------------
    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("outlier_slack", None)  # pickled before the option: fitted on every row
        super().__setstate__(state)
        manifest = state.get("manifest_")
        if manifest is not None:
            from latpred.models.persist import check_manifest

            check_manifest(manifest)
        booster = state.get("booster_")
        if booster is not None and booster.model_type == "xgboost":
            booster.booster.set_param({"nthread": booster.n_threads})

    def __sklearn_tags__(self):  # noqa: D105 - sklearn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # a DataFrame of raw configuration rows
        tags.input_tags.categorical = True
        return tags


def _labels(lab: tuple[np.ndarray, list[str]]) -> np.ndarray:
    codes, uniques = lab
    return np.asarray(uniques, dtype=object)[codes]


def _pick_type(losses: Mapping[str, float]) -> str:
    """The model type with the lowest CV loss; LightGBM only if clearly better (speed)."""
    if "xgboost" in losses and "lightgbm" in losses:
        if losses["lightgbm"] < losses["xgboost"] * (1.0 - AUTO_LIGHTGBM_MARGIN):
            return "lightgbm"
        return "xgboost"
    return min(losses, key=losses.get)


def _cv_column(rows: pd.DataFrame, target: str) -> np.ndarray | None:
    col = get_target(target).cv_column
    if col not in rows.columns:
        return None
    return pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# -- several predictors, one feature pass ------------------------------------------------------
def predict_many(models: Sequence[LatencyPredictor], X: Configs,
                 rows: Sequence[np.ndarray | None], hi: Sequence[bool]) -> list[np.ndarray]:
    """Predictions (us) of fitted predictors, each on a subset of the same configuration rows,
    with the features computed once where the predictors' device metadata agree.

    Args:
        models: the predictors.
        X: configuration rows: a DataFrame or a column mapping (``features.Configs``).
        rows: per predictor, the rows it predicts: indices (m,), or None for every row.
        hi: per predictor, False: point predictions; True: upper ends of the intervals.

    Returns:
        Per predictor, shape (m,): the values of ``predict(rows of X)`` (``hi``:
        ``predict_interval(rows of X)[1]``).
    """
    shared = _shared_features(models, X)
    backends = column_codes(X, "backend")
    out = []
    for model, idx, upper in zip(models, rows, hi, strict=True):
        model._check_fitted()
        if idx is not None and not len(idx):
            out.append(np.zeros(0))
            continue
        model._check_backends(_present(backends, idx))
        if shared is not None and _devices_known(model, shared[1]["device"], idx):
            F, labels = _take_features(*shared, idx)
        else:  # a device only another predictor knows (or none): the model's own pass
            F, labels = feature_matrix_and_labels(_take_rows(X, idx), model.devices_,
                                                  model.default_device_)
        lt = model._log_predict_features(F, labels)
        out.append(model._interval_from_log(lt)[1] if upper else np.exp(lt))
    return out


def _shared_features(models: Sequence[LatencyPredictor], X: Configs
                     ) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, list[str]]]] | None:
    """Features and labels of every row of X with every predictor's device metadata; None
    if two predictors describe a device differently, or a row needs a device or a default
    device they do not agree on (the predictors then compute their own)."""
    devices: dict[str, Any] = {}
    for model in models:
        for name, info in model.devices_.items():
            if devices.setdefault(name, info) != info:
                return None
    defaults = {model.default_device_ for model in models}
    try:
        return feature_matrix_and_labels(X, devices, defaults.pop() if len(defaults) == 1
                                         else None)
    except LatpredError:
        return None


def _present(labels: tuple[np.ndarray, list[str]], idx: np.ndarray | None) -> list[str]:
    """The values of (codes, uniques) ``labels`` at rows ``idx`` (None: every row)."""
    codes, uniques = labels
    used = np.bincount(codes if idx is None else codes[idx], minlength=len(uniques))
    return [uniques[i] for i in np.flatnonzero(used)]


def _devices_known(model: LatencyPredictor, device: tuple[np.ndarray, list[str]],
                   idx: np.ndarray | None) -> bool:
    """Whether every device of rows ``idx`` (labels ``device``) has the model's metadata."""
    return all(name in model.devices_ for name in _present(device, idx))


def _take_features(F: np.ndarray, labels: Mapping[str, tuple[np.ndarray, list[str]]],
                   idx: np.ndarray | None
                   ) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, list[str]]]]:
    """Rows ``idx`` of a feature matrix (n, features; kept feature-major) and its labels."""
    if idx is None:
        return F, dict(labels)
    return (F.T[:, idx].T,
            {key: (codes[idx], uniques) for key, (codes, uniques) in labels.items()})


def _take_rows(X: Configs, idx: np.ndarray | None) -> Configs:
    """Rows ``idx`` of a DataFrame or a column mapping (None: X)."""
    if idx is None:
        return X
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx]
    return {col: values.take(idx) for col, values in X.items()}

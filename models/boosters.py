"""Gradient-boosted regressors on log time: LightGBM and XGBoost behind one small interface.

Both libraries are imported lazily, so a predictor that uses one does not need the other.
Speed note (1,000 rows, 52 features, 1 thread, 2-core Xeon): XGBoost's ``inplace_predict``
costs ~12 ns per tree and row at depth 6 (~1.7x more with native categorical splits, hence
none), LightGBM's ``Booster.predict`` ~70 ns. For ~1,000 candidates in ~2 ms only XGBoost
with a few hundred shallow trees (2 threads) fits; ``max_trees`` bounds the search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_TYPES = ("lightgbm", "xgboost")


#: batch-prediction cost per tree level and 1,000 rows, single thread (ms); measured on the
#: 2-core Xeon VM with 52 features: XGBoost inplace_predict ~2.1 ms for 357 trees of depth 3,
#: LightGBM Booster.predict ~20 ms for 300 trees of 31 leaves (~5 levels).
COST_MS_PER_TREE_LEVEL = {"xgboost": 0.0020, "lightgbm": 0.013}


def estimate_predict_ms(model_type: str, params: dict[str, Any], threads: int = 1) -> float:
    """Deterministic estimate of the booster's prediction time for 1,000 rows (ms).

    trees x depth x COST_MS_PER_TREE_LEVEL / threads^0.85 (two threads gave 1.8x).
    """
    if model_type == "lightgbm":
        depth = math.log2(max(int(params.get("num_leaves", 31)), 2))
    else:
        depth = float(params.get("max_depth", 6))
    return (int(params.get("n_estimators", 100)) * depth * COST_MS_PER_TREE_LEVEL[model_type]
            / max(threads, 1) ** 0.85)


def default_params(model_type: str) -> dict[str, Any]:
    """Untuned, reasonable parameters (used when n_trials is 0)."""
    if model_type == "lightgbm":
        return {"n_estimators": 300, "learning_rate": 0.08, "num_leaves": 31,
                "min_child_samples": 5, "subsample": 0.9, "colsample": 0.9, "reg_lambda": 0.1}
    return {"n_estimators": 300, "learning_rate": 0.08, "max_depth": 7, "min_child_weight": 1.0,
            "subsample": 0.9, "colsample": 0.9, "reg_lambda": 0.1}


def check_params(model_type: str, params: Any) -> dict[str, Any]:
    """``params`` checked against ``default_params(model_type)``'s names: a dict with every
    name, numbers only, nothing else; else a one-line error naming the field."""
    from latpred.errors import bad_value

    need = default_params(model_type)
    if not isinstance(params, dict):
        raise bad_value("params", params, "must be a JSON object of booster parameters")
    missing = sorted(set(need) - set(params))
    unknown = sorted(set(params) - set(need))
    if missing or unknown:
        raise bad_value("params", params, f"{model_type} needs exactly {', '.join(sorted(need))}"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad_value(f"params.{k}", v, "must be a number")
        if k in _INT_PARAMS and (v != int(v) or v < 1):
            raise bad_value(f"params.{k}", v, "must be a whole number >= 1")
        if not (v >= 0 if k in _ZERO_OK_PARAMS else v > 0):
            raise bad_value(f"params.{k}", v, "must be >= 0" if k in _ZERO_OK_PARAMS else "must be > 0")
        if k in ("subsample", "colsample") and v > 1:
            raise bad_value(f"params.{k}", v, "must be in (0, 1]")
    return dict(params)


#: parameters that are counts, and those that may be 0
_INT_PARAMS = frozenset({"n_estimators", "max_depth", "num_leaves", "min_child_samples"})
_ZERO_OK_PARAMS = frozenset({"reg_lambda", "min_child_weight"})


def start_params(model_type: str, max_trees: int = 400) -> dict[str, Any]:
    """A first trial for a new study: the defaults with fewer, shallower trees, which
    predict 1,000 rows in ~1.6 ms on one core (H100 data: within ~0.3 points of the
    defaults' MAPE). Short studies otherwise start from random points."""
    p = default_params(model_type)
    p.update(n_estimators=min(125, max_trees), learning_rate=0.15)
    if model_type == "lightgbm":
        p["num_leaves"] = 31
    else:
        p["max_depth"] = 6
    return p


def suggest_params(trial: Any, model_type: str, max_trees: int = 400) -> dict[str, Any]:
    """An optuna trial's parameters for one model type (the search space)."""
    p: dict[str, Any] = {
        "n_estimators": trial.suggest_int("n_estimators", 50, max_trees, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample": trial.suggest_float("colsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }
    if model_type == "lightgbm":
        p["num_leaves"] = trial.suggest_int("num_leaves", 8, 96, log=True)
        p["min_child_samples"] = trial.suggest_int("min_child_samples", 2, 40, log=True)
    else:
        p["max_depth"] = trial.suggest_int("max_depth", 3, 8)
        p["min_child_weight"] = trial.suggest_float("min_child_weight", 0.5, 20.0, log=True)
    return p


class Booster:
    """A trained model: ``predict(X) -> (n,)``; ``to_native()`` / ``from_native`` round-trip.

    Attributes:
        model_type: "lightgbm" or "xgboost".
        booster: the library's native booster object.
    """

    def __init__(self, model_type: str, booster: Any, n_threads: int = 1):
        self.model_type = model_type
        self.booster = booster
        self.n_threads = n_threads

    def set_threads(self, n_threads: int) -> None:
        """Threads of the next predictions (XGBoost's ``nthread`` set only on a change)."""
        if n_threads != self.n_threads:
            self.n_threads = n_threads
            if self.model_type == "xgboost":
                self.booster.set_param({"nthread": n_threads})

    def predict(self, X: np.ndarray) -> np.ndarray:
        """X: float matrix (n, n_features) -> predictions (n,), float64."""
        if self.model_type == "lightgbm":
            return np.asarray(self.booster.predict(X, num_threads=self.n_threads), np.float64)
        return np.asarray(self.booster.inplace_predict(X), np.float64)

    @property
    def n_trees(self) -> int:
        if self.model_type == "lightgbm":
            return int(self.booster.num_trees())
        return int(self.booster.num_boosted_rounds())

    def to_native(self) -> tuple[str, bytes]:
        """(file name, bytes): LightGBM's text model or XGBoost's JSON model."""
        if self.model_type == "lightgbm":
            return "model.lightgbm.txt", self.booster.model_to_string().encode()
        return "model.xgboost.json", bytes(self.booster.save_raw("json"))

    @classmethod
    def from_native(cls, model_type: str, data: bytes, n_threads: int = 1) -> Booster:
        if model_type == "lightgbm":
            import lightgbm as lgb

            return cls(model_type, lgb.Booster(model_str=data.decode()), n_threads)
        import xgboost as xgb

        b = xgb.Booster()
        b.load_model(bytearray(data))
        b.set_param({"nthread": n_threads})
        return cls(model_type, b, n_threads)


def train(model_type: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray,
          categorical: Sequence[int] = (), seed: int = 0, n_jobs: int = 1,
          objective: str = "l2", alpha: float = 0.5) -> Booster:
    """Fit one booster on X (n, f) -> y (n,) (y is log time or a log residual).

    ``objective``: "l2" (mean) or "quantile" (the ``alpha`` quantile).
    """
    p = dict(params)
    n_est = int(p.pop("n_estimators"))
    if model_type == "lightgbm":
        import lightgbm as lgb

        lp = {
            "objective": "quantile" if objective == "quantile" else "regression",
            "learning_rate": p["learning_rate"], "num_leaves": int(p["num_leaves"]),
            "min_child_samples": int(p["min_child_samples"]),
            "bagging_fraction": p["subsample"], "bagging_freq": 1 if p["subsample"] < 1 else 0,
            "feature_fraction": p["colsample"], "lambda_l2": p["reg_lambda"],
            "seed": seed, "deterministic": True, "num_threads": n_jobs, "verbose": -1,
            "min_data_per_group": 5, "cat_smooth": 5.0, "max_cat_to_onehot": 16,
        }
        if objective == "quantile":
            lp["alpha"] = alpha
        ds = lgb.Dataset(X, y, categorical_feature=list(categorical) or "auto",
                         free_raw_data=True, params={"verbose": -1})
        return Booster(model_type, lgb.train(lp, ds, num_boost_round=n_est), n_jobs)
    import xgboost as xgb

    # categorical codes go in as ordinal numbers: XGBoost's native categorical splits make
    # inplace_predict ~1.7x slower, and a few numeric splits isolate a code as well
    xp = {
        "objective": "reg:quantileerror" if objective == "quantile" else "reg:squarederror",
        "eta": p["learning_rate"], "max_depth": int(p["max_depth"]),
        "min_child_weight": p["min_child_weight"], "subsample": p["subsample"],
        "colsample_bytree": p["colsample"], "lambda": p["reg_lambda"], "tree_method": "hist",
        "seed": seed, "nthread": n_jobs, "verbosity": 0,
    }
    if objective == "quantile":
        xp["quantile_alpha"] = alpha
    dm = xgb.DMatrix(X, y, nthread=n_jobs)
    return Booster(model_type, xgb.train(xp, dm, num_boost_round=n_est), n_jobs)

"""Persistence: the manifest a fitted predictor carries, its checks, pickles and native export.

Two formats:

- a joblib pickle (``joblib.dump(predictor, path)`` / ``load_model(path)``; plain
  ``joblib.load`` runs the same checks). **Load pickles only from sources you trust**:
  unpickling runs code.
- a native directory (``export_native`` / ``load_native``): the booster as LightGBM text or
  XGBoost JSON plus ``predictor.json`` (manifest, device metadata, roofline prior, interval
  quantiles). It survives library upgrades and contains no pickles.

On load, a feature-schema mismatch raises LatpredError (the model would see wrongly
computed inputs); a version or device difference warns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

FORMAT = 1
#: libraries whose versions the manifest records (distribution names)
VERSIONED = ("latpred", "lightgbm", "xgboost", "scikit-learn", "numpy")
NATIVE_JSON = "predictor.json"
#: a RuntimeCalibrated export: its base predictor's export, and the residual model
CALIBRATED_BASE = "base"
CALIBRATED_RESIDUAL = "residual.lightgbm.txt"
#: its residual's file when that is an XGBoost model
CALIBRATED_RESIDUAL_XGB = "residual.xgboost.json"


class LatpredVersionWarning(UserWarning):
    """A model was saved with other library versions than the ones loading it."""


class LatpredDeviceWarning(UserWarning):
    """A model is used on a device other than the one it was trained on."""


def versions() -> dict[str, str | None]:
    """Installed versions of VERSIONED (None if not installed)."""
    out: dict[str, str | None] = {}
    for dist in VERSIONED:
        if dist == "latpred":
            from latpred import __version__

            out[dist] = __version__
            continue
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            alt = {"xgboost": "xgboost-cpu"}.get(dist)
            try:
                out[dist] = metadata.version(alt) if alt else None
            except metadata.PackageNotFoundError:
                out[dist] = None
    return out


def device_fingerprint(info: Mapping[str, Any]) -> str:
    """sha256 (16 hex) of a device's metadata (stable key order)."""
    text = json.dumps(dict(info), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: identity columns hashed into the training-data hash (present ones only)
_IDENT = ("op", "pass", "m", "n", "k", "batch", "in_channels", "out_channels", "height", "width",
          "kernel_h", "kernel_w", "stride", "padding", "dilation", "groups", "backend", "device",
          "impl", "params", "local_size", "threads", "mem_mode")


def data_hash(rows: pd.DataFrame, y: np.ndarray) -> str:
    """sha256 (16 hex) of the training rows' identity columns and targets."""
    h = hashlib.sha256()
    cols = [c for c in _IDENT if c in rows.columns]
    if len(rows) and cols:  # pandas < 3 cannot hash a frame without columns
        frame = rows[cols].astype("string").fillna("")
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(np.asarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def build_manifest(pred: Any, rows: pd.DataFrame, y: np.ndarray, groups: np.ndarray) -> dict:
    """The manifest of a just-fitted LatencyPredictor (JSON-able)."""
    from latpred.features import feature_schema

    suites = sorted({s for s in rows["suite"].astype("string").fillna("").tolist()}) \
        if "suite" in rows.columns else []
    schema = feature_schema()
    schema["extra"] = list(pred.extra_features_)
    return {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "target": pred.target,
        "model_type": pred.model_type_,
        "params": pred.best_params_,
        "prior": pred.prior_,
        "feature_schema": schema,
        "training_data": {"hash": data_hash(rows, y), "rows": int(len(rows)),
                          "shapes": int(len(set(groups.tolist()))), "suites": suites,
                          "outliers_dropped": pred.n_outliers_,
                          "outlier_slack": pred.outlier_slack},
        "devices": {name: device_fingerprint(info) for name, info in pred.devices_.items()},
        "device_fingerprint": hashlib.sha256("".join(
            sorted(device_fingerprint(i) for i in pred.devices_.values())).encode()).hexdigest()[:16],
        "versions": versions(),
        "metrics": pred.cv_metrics_,
        "interval": {"coverage": pred.coverage, "log_q": list(pred.interval_log_q_)},
    }


def check_manifest(manifest: Mapping[str, Any], where: str = "model",
                   native: bool = False) -> None:
    """Raise LatpredError if the feature schema changed; warn on version differences (a
    pickle's objects depend on them), or only log them for a ``native`` export (its booster
    file is the library's own portable format)."""
    from latpred.features import schema_compatible

    if manifest.get("format") != FORMAT:
        raise LatpredError(f"{where}: manifest format {manifest.get('format')!r} != {FORMAT} "
                           "(re-train or re-export the model)")
    why = schema_compatible(manifest.get("feature_schema", {}))
    if why:
        raise LatpredError(f"{where}: feature schema mismatch: {why}; re-train the model with "
                           "this latpred version")
    saved, now = manifest.get("versions", {}), versions()
    model_lib = manifest.get("model_type")
    diffs = []
    for lib in VERSIONED:
        if lib in ("lightgbm", "xgboost") and lib != model_lib:
            continue
        if saved.get(lib) != now.get(lib):
            diffs.append(f"{lib} {saved.get(lib)} -> {now.get(lib)}")
    if diffs and native:
        log.info("%s was exported with other versions (%s)", where, "; ".join(diffs))
    elif diffs:
        warnings.warn(f"{where} was saved with other versions ({'; '.join(diffs)}); "
                      "predictions may differ. The native export is version-independent.",
                      LatpredVersionWarning, stacklevel=3)


def check_device(manifest: Mapping[str, Any], name: str, info: Mapping[str, Any]) -> None:
    """Warn if ``info`` is not the device (metadata) the model was trained on."""
    fps = manifest.get("devices", {})
    if name not in fps:
        warnings.warn(f"model was trained on {', '.join(fps) or 'no device'}, not on {name!r}",
                      LatpredDeviceWarning, stacklevel=3)
    elif fps[name] != device_fingerprint(info):
        warnings.warn(f"device {name!r} differs from the training device's metadata "
                      "(driver or limits changed?)", LatpredDeviceWarning, stacklevel=3)


def load_model(path: str | os.PathLike, device_info: Mapping[str, Any] | None = None) -> Any:
    """Load a predictor: a joblib pickle file or a native-export directory.

    Pickles run code when loaded: load them only from sources you trust.

    Args:
        path: MODEL.pkl (joblib) or a directory written by ``export_native``.
        device_info: optional metadata of the device the model will be used on; a
            different device (fingerprint) warns.

    Raises:
        LatpredError: missing file, not a latpred model, or feature-schema mismatch.
    """
    import joblib
    from latpred.models.calibrated import RuntimeCalibrated
    from latpred.models.predictor import LatencyPredictor

    p = Path(path)
    if p.is_dir():
        model = load_native(p)
    elif p.is_file():
        try:
            model = joblib.load(p)
        except LatpredError:
            raise
        except Exception as err:
            raise bad_value("model", str(p), f"cannot be loaded ({type(err).__name__}: {err})") from err
    else:
        raise bad_value("model", str(p), "no such file or directory")
    if not isinstance(model, (LatencyPredictor, RuntimeCalibrated)):
        raise bad_value("model", str(p), f"is a {type(model).__name__}, not a LatencyPredictor")
    if device_info is not None:
        name = str(device_info.get("name", ""))
        check_device(model.manifest_, name, device_info)
    return model


def export_native(pred: Any, directory: str | os.PathLike) -> Path:
    """Write a fitted predictor as booster file + predictor.json into ``directory``; a
    ``RuntimeCalibrated`` as its base's export in ``base/`` plus the residual's LightGBM
    text model or XGBoost JSON model."""
    from latpred.models.calibrated import RuntimeCalibrated
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(pred, "booster_")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(pred, RuntimeCalibrated):
        export_native(pred.base, d / CALIBRATED_BASE)
        if pred.model_type == "xgboost":
            residual = CALIBRATED_RESIDUAL_XGB
            (d / residual).write_bytes(pred.booster_.to_native()[1])
        else:
            residual = CALIBRATED_RESIDUAL
            (d / residual).write_text(pred.booster_.model_to_string())
        params = {k: v for k, v in pred.get_params(deep=False).items() if k != "base"}
        state = {"kind": "runtime_calibrated", "init_params": params,
                 "base_dir": CALIBRATED_BASE, "residual_file": residual,
                 "n_rows": pred.n_rows_, "log_ratio_median": pred.log_ratio_median_,
                 "size_max": pred.__dict__.get("size_max_")}
        (d / NATIVE_JSON).write_text(json.dumps(state, indent=1, default=_json_default))
        return d
    fname, data = pred.booster_.to_native()
    (d / fname).write_bytes(data)
    state = {
        "manifest": pred.manifest_,
        "init_params": pred.get_params(),
        "booster_file": fname,
        "devices": pred.devices_,
        "default_device": pred.default_device_,
        "work_group_limits": _limits_json(getattr(pred, "work_group_limits_", {})),
        "roofline": pred.roofline_.to_json() if pred.roofline_ is not None else None,
        "interval_log_q": list(pred.interval_log_q_),
        "extra_features": list(pred.extra_features_),
        "cv_metrics": pred.cv_metrics_,
        "best_params": pred.best_params_,
        "model_type": pred.model_type_,
        "prior": pred.prior_,
    }
    (d / NATIVE_JSON).write_text(json.dumps(state, indent=1, default=_json_default))
    return d


def load_native(directory: str | os.PathLike) -> Any:
    """Rebuild a fitted LatencyPredictor from an ``export_native`` directory (no pickles)."""
    from latpred.models.boosters import Booster
    from latpred.models.predictor import LatencyPredictor
    from latpred.models.roofline import Roofline

    d = Path(directory)
    try:
        state = json.loads((d / NATIVE_JSON).read_text())
    except (OSError, ValueError) as err:
        raise bad_value("model", str(d), f"not a native latpred export ({err})") from err
    if state.get("kind") == "runtime_calibrated":
        return _load_calibrated(d, state)
    check_manifest(state["manifest"], where=str(d), native=True)
    # exported before ``outlier_slack``: fitted on every row
    pred = LatencyPredictor(**{"outlier_slack": None, **state["init_params"]})
    pred.manifest_ = state["manifest"]
    pred.model_type_ = state["model_type"]
    pred.prior_ = state["prior"]
    pred.best_params_ = state["best_params"]
    threads = pred.predict_threads or 1
    pred.booster_ = Booster.from_native(state["model_type"], (d / state["booster_file"]).read_bytes(),
                                        threads)
    pred.devices_ = state["devices"]
    pred.default_device_ = state["default_device"]
    # exported before the limits were recorded: none known
    pred.work_group_limits_ = {(i, p): int(n) for i, p, n in state.get("work_group_limits", [])}
    pred.roofline_ = Roofline.from_json(state["roofline"]) if state["roofline"] else None
    pred.interval_log_q_ = tuple(state["interval_log_q"])
    pred.extra_features_ = tuple(state["extra_features"])
    pred.cv_metrics_ = state["cv_metrics"]
    return pred


def _limits_json(limits: Mapping[tuple[str, str], int]) -> list[list[Any]]:
    """Work-group limits as ``predictor.json`` holds them: [[impl, params JSON, work-items],
    ...], sorted (``load_native`` reads them back)."""
    return [[i, p, int(n)] for (i, p), n in sorted(limits.items())]


def set_work_group_limits(directory: str | os.PathLike,
                          limits: Mapping[tuple[str, str], int]) -> Path:
    """Replace the work-group limits recorded in a native export (for exports written
    before they were recorded: ``models.targets.work_group_limits`` of its training data).
    A ``RuntimeCalibrated`` export keeps them in its base's ``predictor.json``. The file
    is replaced whole (written beside, then renamed). Returns the file written.

    Args:
        directory: an ``export_native`` directory.
        limits: {(impl, params JSON): work-items per work-group}.
    """
    d = Path(directory)
    path = d / NATIVE_JSON
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise bad_value("model", str(d), f"not a native latpred export ({err})") from err
    if state.get("kind") == "runtime_calibrated":
        return set_work_group_limits(d / state["base_dir"], limits)
    for (impl, params), n in limits.items():
        if int(n) < 1:
            raise bad_value("work_group_limits", (impl, params, n), "must be >= 1 work-item")
    state["work_group_limits"] = _limits_json(limits)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, default=_json_default))
    os.replace(tmp, path)
    return path


def _load_calibrated(d: Path, state: dict[str, Any]) -> Any:
    """A ``RuntimeCalibrated`` from its native export ``d`` (state: its predictor.json)."""
    from latpred.models.calibrated import RESIDUAL_TYPES, RuntimeCalibrated

    try:
        # exported before fade_doublings: no sizes recorded, no fade
        model = RuntimeCalibrated(load_native(d / state["base_dir"]),
                                  **{"fade_doublings": None, **state["init_params"]})
        if model.model_type not in RESIDUAL_TYPES:
            raise bad_value("model_type", model.model_type,
                            f"{d}: must be one of {', '.join(RESIDUAL_TYPES)}")
        path = d / state["residual_file"]
        if model.model_type == "xgboost":
            from latpred.models.boosters import Booster

            model.booster_ = Booster.from_native("xgboost", path.read_bytes())
        else:
            import lightgbm as lgb

            model.booster_ = lgb.Booster(model_str=path.read_text())
        model.n_rows_ = int(state["n_rows"])
        model.log_ratio_median_ = float(state["log_ratio_median"])
        if state.get("size_max"):
            model.size_max_ = {k: [float(x) for x in v] for k, v in state["size_max"].items()}
    except LatpredError:
        raise
    except Exception as err:  # a missing file or key, a broken model text
        raise bad_value("model", str(d), f"broken calibrated export ({type(err).__name__}: "
                                         f"{err})") from err
    return model


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)

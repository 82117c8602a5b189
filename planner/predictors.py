"""Loading the latency predictors the planner uses.

Models directory layout (what ``latpred plan --models DIR`` reads)::

    DIR/cpu_us.pkl            CPU time of a configuration (numpy/BLAS or PoCL rows)
    DIR/gpu_total_us.pkl      GPU end to end (kernel + dispatch + transfers), and/or
    DIR/gpu_kernel_us.pkl     the GPU components: kernel,
    DIR/gpu_dispatch_us.pkl   dispatch and
    DIR/gpu_transfer_us.pkl   transfers (in + out)
    DIR/manifest.json         written by the models stage: {"devices": {name: metadata}, ...}
    DIR/sync.json             co-execution overhead per memory mode (``latpred coexec sync``)

Each ``*.pkl`` (or ``*.joblib``) is a joblib pickle of a sklearn-style object with
``predict(df) -> ndarray`` (us) taking raw configuration rows (``models.candidates``
columns) and, for the risk-aware mode, ``predict_interval(df) -> (lo, hi)``. A target may
instead be a directory ``DIR/<target>/`` written by ``models.persist.export_native``
(``latpred train --native``): booster file + predictor.json, no pickle, loadable with other
library versions (``datasets/h100/models`` ships predictors this way).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from latpred.errors import LatpredError, bad_value

log = logging.getLogger(__name__)

CPU_TARGET = "cpu_us"
GPU_TOTAL = "gpu_total_us"
GPU_COMPONENTS = ("gpu_kernel_us", "gpu_dispatch_us", "gpu_transfer_us")
TARGETS = (CPU_TARGET, GPU_TOTAL, *GPU_COMPONENTS)
MANIFEST = "manifest.json"


@dataclass
class Predictors:
    """The loaded predictors, one per target, and the devices they were trained on.

    Attributes:
        models: target -> predictor (``predict(df)`` in us; optional ``predict_interval``).
        devices: device metadata (name -> dict as in a dataset's ``meta["devices"]``).
        source: where they came from (for messages).
        named: the devices the models directory's ``manifest.json`` names (planned by
            default when the predictors know several GPUs).
    """

    models: dict[str, Any]
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""
    named: tuple[str, ...] = ()

    def has(self, target: str) -> bool:
        return target in self.models

    def gpu_mode(self, requested: str = "auto") -> str:
        """"components" (kernel + dispatch + transfer predictors) or "total"."""
        has_comp = all(t in self.models for t in GPU_COMPONENTS)
        if requested == "auto":
            requested = "components" if has_comp else "total"
        if requested == "components" and not has_comp:
            missing = [t for t in GPU_COMPONENTS if t not in self.models]
            raise bad_value("gpu_model", requested, f"missing predictors {', '.join(missing)}")
        if requested == "total" and GPU_TOTAL not in self.models:
            raise bad_value("gpu_model", requested, f"no {GPU_TOTAL} predictor in {self.source}")
        if requested not in ("components", "total"):
            raise bad_value("gpu_model", requested, "must be auto, components or total")
        return requested

    def predict(self, target: str, df: pd.DataFrame) -> np.ndarray:
        """Point predictions (us), shape (len(df),)."""
        if df.empty:
            return np.zeros(0)
        return np.asarray(self._model(target).predict(df), float).reshape(-1)

    def predict_gpu(self, df: pd.DataFrame, gpu_model: str = "auto") -> np.ndarray:
        """GPU end-to-end time (us), shape (len(df),): ``gpu_total_us``, or kernel +
        dispatch + transfer in components mode (``gpu_mode(gpu_model)``), each row as it is
        (its own configuration and memory mode)."""
        targets = (GPU_TOTAL,) if self.gpu_mode(gpu_model) == "total" else GPU_COMPONENTS
        return np.sum([self.predict(t, df) for t in targets], axis=0).reshape(-1)

    def predict_hi(self, target: str, df: pd.DataFrame) -> np.ndarray:
        """Upper bound of the prediction interval (us), shape (len(df),)."""
        model = self._model(target)
        if not hasattr(model, "predict_interval"):
            raise bad_value("risk", "p90", f"the {target} predictor has no predict_interval")
        if df.empty:
            return np.zeros(0)
        _lo, hi = model.predict_interval(df)
        return np.asarray(hi, float).reshape(-1)

    def takes_columns(self, targets: Iterable[str]) -> bool:
        """Whether the predictors of ``targets`` are all plain ``LatencyPredictor``s (or
        ``RuntimeCalibrated`` ones of such), which
        ``predict_columns`` serves from column mappings with one feature pass; other
        predictors get DataFrames (``predict``)."""
        from latpred.models.calibrated import RuntimeCalibrated
        from latpred.models.predictor import LatencyPredictor

        def plain(model: Any) -> bool:
            cls = type(model)
            if isinstance(model, RuntimeCalibrated):  # its base's features, its own booster
                return (cls.predict is RuntimeCalibrated.predict
                        and cls.predict_interval is RuntimeCalibrated.predict_interval
                        and plain(model.base))
            return (isinstance(model, LatencyPredictor)
                    and cls.predict is LatencyPredictor.predict
                    and cls.predict_interval is LatencyPredictor.predict_interval)

        return all(plain(self._model(t)) for t in targets)

    def predict_columns(self, requests: Sequence[tuple[str, bool, np.ndarray | None]],
                        cols: Mapping[str, Any]) -> list[np.ndarray]:
        """Predictions (us) of subsets of one set of configuration rows, given as a column
        mapping (``FrameBuilder.columns``), for targets that pass ``takes_columns``.

        Args:
            requests: (target, hi, rows) each: ``hi`` for the upper ends of the prediction
                intervals, ``rows`` the row indices (m,) (None: every row).
            cols: the rows.

        Returns:
            Per request, shape (m,): what ``predict`` / ``predict_hi`` give for those rows.
        """
        from latpred.models.predictor import predict_many

        return predict_many([self._model(t) for t, _hi, _r in requests], cols,
                            [r for _t, _hi, r in requests], [hi for _t, hi, _r in requests])

    def set_predict_threads(self, n: int) -> None:
        """Predict with ``n`` threads (every predictor with a ``predict_threads`` parameter,
        its base's for a calibrated one). 1, the predictors' default, leaves the cores to a
        co-executing CPU part; more plan faster on an idle host."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise bad_value("predict-threads", n, "must be an integer >= 1")
        for model in self.models.values():
            params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
            keys = [k for k in params if k == "predict_threads" or k.endswith("__predict_threads")]
            if keys:
                model.set_params(**{k: n for k in keys})

    def work_group_limits(self) -> dict[tuple[str, str], int]:
        """{(impl, params JSON): most work-items per work-group} the GPU predictors' training
        sweeps found the device's compiler allowing (the smallest over the predictors; empty
        for predictors fitted or exported before these were recorded)."""
        out: dict[tuple[str, str], int] = {}
        for target in (GPU_TOTAL, *GPU_COMPONENTS):
            for key, n in (getattr(self.models.get(target), "work_group_limits_", None)
                           or {}).items():
                out[key] = min(out.get(key, n), n)
        return out

    def _model(self, target: str) -> Any:
        try:
            return self.models[target]
        except KeyError:
            raise bad_value("models", self.source, f"no {target} predictor") from None

    def device(self, kind: str) -> dict[str, Any] | None:
        """Metadata of the first "GPU" device, or of the numpy/BLAS "CPU", if recorded."""
        for info in self.devices.values():
            if kind == "GPU" and str(info.get("type", "")).upper() == "GPU":
                return info
            if kind == "CPU" and info.get("platform") == "numpy":
                return info
        return None

    @classmethod
    def load(cls, models_dir: str | os.PathLike) -> Predictors:
        """Load every target found in ``models_dir`` (layout in the module docstring)."""
        import joblib

        path = Path(models_dir)
        if not path.is_dir():
            raise bad_value("models", str(models_dir), "no such directory")
        devices: dict[str, dict[str, Any]] = {}
        man = path / MANIFEST
        if man.exists():
            try:
                meta = json.loads(man.read_text())
            except json.JSONDecodeError as err:
                raise bad_value("models", str(man), f"invalid JSON ({err})") from None
            devices = dict(meta.get("devices") or meta.get("meta", {}).get("devices") or {})
        named = device_names(devices)
        from latpred.models.persist import NATIVE_JSON, load_model

        models: dict[str, Any] = {}
        for target in TARGETS:
            files = [path / f"{target}{ext}" for ext in (".pkl", ".joblib")
                     if (path / f"{target}{ext}").exists()]
            native = path / target
            if (native / NATIVE_JSON).exists():
                if files:
                    raise bad_value("models", str(native), f"and {files[0].name} both hold "
                                    f"{target}: keep one")
                models[target] = load_model(native)  # a one-line error if broken
            elif files:
                try:
                    models[target] = joblib.load(files[0])
                except Exception as err:  # a broken or incompatible pickle
                    raise bad_value("models", str(files[0]), f"cannot load ({err})") from None
            if target in models:
                for name, info in (getattr(models[target], "devices_", None) or {}).items():
                    devices.setdefault(name, info)  # every predictor's devices, not the first
        if CPU_TARGET not in models:
            raise bad_value("models", str(models_dir),
                            f"no {CPU_TARGET} predictor ({CPU_TARGET}.pkl or {CPU_TARGET}/)")
        if GPU_TOTAL not in models and not all(t in models for t in GPU_COMPONENTS):
            raise bad_value("models", str(models_dir),
                            f"needs {GPU_TOTAL}.pkl or all of "
                            + ", ".join(f"{t}.pkl" for t in GPU_COMPONENTS))
        log.info("loaded predictors %s from %s", sorted(models), path)
        return cls(models, devices, str(path), named)


def device_names(devices: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The device names of device metadata (name -> dict; its "name" field, else its key)."""
    return tuple(str(info.get("name", key)) for key, info in devices.items())


__all__ = ["CPU_TARGET", "GPU_COMPONENTS", "GPU_TOTAL", "LatpredError", "Predictors", "TARGETS",
           "device_names"]

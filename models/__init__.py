"""Learn latency: gradient-boosted predictors on raw configuration rows, their evaluation
against baselines, persistence, and the candidate configurations of a layer.

Main entry points: ``LatencyPredictor``, ``load_model``, ``export_native`` / ``load_native``,
``evaluate``, ``candidate_configs``, ``TARGETS``.
"""

from latpred.models.candidates import candidate_configs
from latpred.models.persist import (
    LatpredDeviceWarning,
    LatpredVersionWarning,
    export_native,
    load_model,
    load_native,
)
from latpred.models.predictor import LatencyPredictor
from latpred.models.targets import TARGETS, target_rows

__all__ = [
    "TARGETS", "LatencyPredictor", "LatpredDeviceWarning", "LatpredVersionWarning",
    "candidate_configs", "export_native", "load_model", "load_native", "target_rows",
]


def __getattr__(name: str):  # evaluate pulls in more (baselines, scipy); import on use
    if name in ("evaluate", "evaluation_table"):
        import importlib

        # the submodule, by path: `from latpred.models import evaluate` would recurse here
        return getattr(importlib.import_module("latpred.models.evaluate"), name)
    raise AttributeError(name)

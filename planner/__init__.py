"""Plan CPU-GPU co-execution: the runtime that runs a split layer, the sync-overhead
measurement, the oracle grid, the planner and their CLI (``latpred plan``,
``latpred coexec ...``). See planner/README.md.

Modules: ``split`` (which part each device computes), ``runtime`` (CoexecRun, Plan),
``sync`` (overhead per sync mechanism, sync.json), ``predictors`` (the models directory),
``candidates`` (candidate configurations and prediction frames), ``planner`` (Planner),
``tune`` (measure a shortlist, keep the fastest), ``oracle`` (the measured grid),
``bench`` (T_single / T_oracle / T_plan), ``cli``,
``benchmark`` (planner speed).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "CoexecRun": "runtime", "CpuConfig": "runtime", "GpuConfig": "runtime", "Plan": "runtime",
    "validate_plan": "runtime", "pick_sync": "runtime", "plan_from_row": "runtime",
    "Planner": "planner", "PlannerOptions": "planner", "PlanChoice": "planner",
    "Predictors": "predictors", "SyncModel": "sync", "measure_sync": "sync",
    "OracleGrid": "oracle", "GridConfig": "oracle", "load_grid": "oracle",
    "tune_layer": "tune", "tune_choices": "tune", "TuneResult": "tune",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # import on use: the CLI stays fast to start
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)

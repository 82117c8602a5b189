"""A layer's whole-layer GPU timings in an oracle grid next to a GPU predictor's predictions
of the same configurations, by implementation and memory mode: where a predictor is out of
its training data's range, the two part ways (BENCHMARKS.md section 5, session 31).

    python scripts/grid_vs_predicted.py --models DIR --grid GRID --layer NAME

MODELS is a models directory (its ``gpu_total_us`` export) and GRID a ``coexec grid`` or
``coexec bench`` grid dataset. Prints per (implementation, memory mode) the configurations
timed (refused ones left out), their total and output-copy times (us, min-max), the
predictions and the roofline prior the predictor's booster corrects (us, min-max), and the
GPU-only overhead the planner adds to a prediction in that memory mode at the layer's size
(``sync.json``: the mode's constant or its curve over the activations moved; us).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
from latpred.features import feature_matrix_and_labels
from latpred.models.persist import load_model
from latpred.models.targets import get_target
from latpred.planner.calibrate import layer_of_row
from latpred.planner.oracle import load_grid
from latpred.planner.split import activation_mib
from latpred.planner.sync import SyncModel

from latpred.errors import bad_value


def _span(values: pd.api.typing.SeriesGroupBy) -> pd.Series:
    """Per group "min-max", rounded to whole units."""
    return (values.min().round().astype(int).astype(str) + "-"
            + values.max().round().astype(int).astype(str))


def prior_us(model, rows: pd.DataFrame) -> np.ndarray:
    """The roofline prior's time (us), shape (len(rows),), that the model's booster corrects
    (a ``RuntimeCalibrated``: its base's); NaN for a model without one."""
    base = getattr(model, "base", model)
    if getattr(base, "roofline_", None) is None:
        return np.full(len(rows), np.nan)
    F, labels = feature_matrix_and_labels(rows, base.devices_, base.default_device_)
    by = labels[get_target(base.target).prior_by]
    return np.exp(base._log_prior(F, labels["device"], by))


def table(model, grid: pd.DataFrame, layer: str, sync: SyncModel | None = None
          ) -> pd.DataFrame:
    """The timed GPU-only rows of ``layer`` (the GPU computing every output) in ``grid``, a
    ``planner.oracle.load_grid`` frame, grouped by implementation and memory mode; with
    ``sync``, the planner's GPU-only overhead per memory mode at the layer's size too."""
    rows = grid[(grid.layer == layer) & (grid.backend == "gpu") & (grid.status == "ok")
                & (grid.split_n == grid.n_total)]
    if rows.empty:
        raise bad_value("layer", layer, "has no timed GPU-only rows in the grid")
    # predicted as the planner predicts them: the implementation's params, no _split_n
    planned = rows.assign(params=rows.gpu_params)
    rows = rows.assign(predicted_us=model.predict(planned), prior_us=prior_us(model, planned))
    g = rows.groupby(["impl", "mem_mode"])
    out = pd.DataFrame({"configs": g.size(), "total_us": _span(g.total_us),
                        "copy_out_us": _span(g.transfer_out_us),
                        "predicted_us": _span(g.predicted_us), "prior_us": _span(g.prior_us)})
    if sync is not None:
        mib = activation_mib(layer_of_row(rows.iloc[0].to_dict()))
        modes = out.index.get_level_values("mem_mode").to_numpy(object)
        out["overhead_us"] = sync.single_us(modes, mib).round().astype(int)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--grid", required=True)
    ap.add_argument("--layer", required=True)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    model = load_model(f"{args.models}/gpu_total_us")
    sync = SyncModel.load(args.models, next(iter(model.devices_)))
    print(table(model, load_grid(args.grid), args.layer, sync).to_string())


if __name__ == "__main__":
    main()

"""models/outliers.py: thread-sweep outliers, and the predictor fitted without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from latpred.models import LatencyPredictor, export_native, load_native, target_rows
from latpred.models.outliers import thread_outliers
from latpred.models.synthetic import make_synthetic_dataset

from latpred.errors import LatpredError

FAST = {"n_estimators": 60, "learning_rate": 0.2, "max_depth": 5, "min_child_weight": 1.0,
        "subsample": 1.0, "colsample": 1.0, "reg_lambda": 0.1}


def sweep(us: dict[int, float], m: int = 64, impl: str = "blas", backend: str = "cpu"
          ) -> pd.DataFrame:
    """One linear shape (m x 256 x 256) timed at the thread counts of ``us`` (us)."""
    t = sorted(us)
    return pd.DataFrame({
        "op": "linear", "pass": "forward", "m": m, "n": 256, "k": 256, "backend": backend,
        "device": "cpu0", "platform": "numpy", "impl": impl, "params": "{}",
        "local_size": "", "mem_mode": "host",
        "threads": pd.array([None if backend == "gpu" else x for x in t], dtype="Int64"),
        "total_us": [us[x] for x in t]})


def flagged(df: pd.DataFrame, slack: float = 3.0) -> list[int]:
    """Thread counts of the flagged rows."""
    bad = thread_outliers(df, df["total_us"].to_numpy(), slack)
    return df["threads"][bad].astype(int).tolist()


SMOOTH = {1: 1000.0, 2: 520.0, 4: 280.0, 8: 160.0, 12: 130.0, 15: 120.0, 16: 125.0}


def test_smooth_sweeps_keep_every_row():
    assert flagged(sweep(SMOOTH)) == []
    # one thread 2.5x two threads (superlinear caches), 16 threads 2x slower than 15 (a
    # shared host's last core): real profiles, kept at the default slack
    assert flagged(sweep({**SMOOTH, 1: 1300.0, 16: 240.0})) == []
    assert flagged(sweep({**SMOOTH, 16: 240.0}), slack=1.5) == [16]


def test_stalls_are_flagged_at_the_end_and_inside_a_sweep():
    # H100 host, ResNet-50 512 -> 256 1x1 conv: 327 us at 15 threads, 5,983 us at 16
    assert flagged(sweep({**SMOOTH, 16: 2500.0})) == [16]
    assert flagged(sweep({**SMOOTH, 8: 900.0})) == [8]
    assert flagged(sweep({**SMOOTH, 1: 7000.0})) == [1]  # > 3 x (2 x 520 us)
    # two neighbouring stalls: each is judged by its other, clean neighbour
    assert flagged(sweep({**SMOOTH, 12: 900.0, 15: 1000.0})) == [12, 15]


def test_repeats_sweeps_and_gpu_rows_are_kept_apart():
    rep = sweep(SMOOTH)
    twice = pd.concat([rep, rep.assign(total_us=rep["total_us"] * np.where(
        rep["threads"] == 4, 5.0, 1.0))], ignore_index=True)
    assert flagged(twice) == [4]  # the slower repeat of 4 threads, not its fast twin
    other_shape = sweep({t: 20 * v for t, v in SMOOTH.items()}, m=4096)
    other_impl = sweep({t: 20 * v for t, v in SMOOTH.items()}, impl="pocl")
    assert flagged(pd.concat([rep, other_shape, other_impl], ignore_index=True)) == []
    gpu = sweep({0: 50.0}, backend="gpu")
    gpu = pd.concat([gpu, gpu.assign(total_us=5000.0)], ignore_index=True)
    assert thread_outliers(gpu, gpu["total_us"].to_numpy()).sum() == 0
    assert thread_outliers(sweep({8: 100.0}), np.array([100.0])).tolist() == [False]


def test_bad_arguments_raise_one_line_errors():
    df = sweep(SMOOTH)
    with pytest.raises(LatpredError, match="outlier_slack"):
        thread_outliers(df, df["total_us"].to_numpy(), slack=1.0)
    with pytest.raises(LatpredError, match="y_us"):
        thread_outliers(df, df["total_us"].to_numpy()[:3])
    with pytest.raises(LatpredError, match="outlier_slack"):
        LatencyPredictor(target="cpu_us", model="xgboost", params=FAST,
                         outlier_slack=0.5).fit(make_synthetic_dataset(n_random=4, seed=1))


@pytest.fixture(scope="module")
def stalled():
    """Synthetic rows with one BLAS row (a thread sweep's) stalled (x 40): (frame, its index)."""
    df = make_synthetic_dataset(n_random=4, suites=("mlp", "resnet"), gpu_configs_per_layer=10,
                                seed=5)
    cpu = np.flatnonzero((df["impl"] == "blas").fillna(False).to_numpy(bool)
                         & (df["threads"] == 4).fillna(False).to_numpy(bool))
    i = int(cpu[len(cpu) // 2])
    df = df.copy()
    df.loc[df.index[i], "total_us"] *= 40.0
    return df, i


def test_fit_drops_the_stalled_row_and_records_it(stalled, tmp_path):
    df, i = stalled
    rows, y = target_rows(df, "cpu_us")
    assert thread_outliers(rows, y).sum() == 1
    kept = LatencyPredictor(target="cpu_us", model="xgboost", params=FAST, cv_splits=2,
                            outlier_slack=None).fit(df)
    clean = LatencyPredictor(target="cpu_us", model="xgboost", params=FAST,
                             cv_splits=2).fit(df)
    assert (kept.n_outliers_, clean.n_outliers_) == (0, 1)
    assert clean.manifest_["training_data"]["rows"] == len(rows) - 1
    assert clean.manifest_["training_data"]["outliers_dropped"] == 1
    # the stalled configuration is predicted near its sweep, not near the stall
    row = df.iloc[[i]]
    truth = df["total_us"].iloc[i] / 40.0
    assert abs(np.log(clean.predict(row)[0] / truth)) < abs(np.log(kept.predict(row)[0] / truth))
    # the option survives the native export
    assert load_native(export_native(clean, tmp_path / "n")).outlier_slack == 3.0


def test_models_saved_before_the_option_load_as_fitted_on_every_row(stalled, tmp_path):
    df, _ = stalled
    fitted = LatencyPredictor(target="cpu_us", model="xgboost", params=FAST, cv_splits=2,
                              outlier_slack=None).fit(df)
    d = export_native(fitted, tmp_path / "old")
    state = json.loads((Path(d) / "predictor.json").read_text())
    del state["init_params"]["outlier_slack"]
    (Path(d) / "predictor.json").write_text(json.dumps(state))
    assert load_native(d).outlier_slack is None
    old = LatencyPredictor.__new__(LatencyPredictor)
    pickled = {k: v for k, v in fitted.__dict__.items() if k != "outlier_slack"}
    old.__setstate__(pickled)
    assert old.outlier_slack is None

"""Shared fixtures: an OpenCL device on PoCL (CPU) and a seeded numpy generator."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def pocl_device():
    """An OpenCLDevice on the first PoCL device; skips the test if PoCL is unavailable."""
    try:
        import pyopencl as cl
        from latpred.profiler.backends.opencl import OpenCLDevice

        platforms = cl.get_platforms()
    except Exception as err:  # no pyopencl or no ICD loader
        pytest.skip(f"no OpenCL: {err}")
    for p in platforms:
        if "Portable Computing Language" in p.name or "pocl" in p.name.lower():
            devices = p.get_devices()
            if devices:
                return OpenCLDevice(devices[0])
    pytest.skip("no PoCL device")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test."""
    return np.random.default_rng(1234)


def columns_of(df, extra_category: str = "never used") -> dict:
    """A DataFrame as a column mapping (``features.Configs``): numbers as float64 (NaN:
    missing), strings as pandas Categoricals with an extra, unused category."""
    import pandas as pd

    out = {}
    for col in df.columns:
        values = df[col]
        if pd.api.types.is_numeric_dtype(values):
            out[col] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            cats = sorted({v for v in values if isinstance(v, str)} | {extra_category})
            out[col] = pd.Categorical(values.astype(object), categories=cats)
    return out


@pytest.fixture(scope="session")
def as_columns():
    """``columns_of``: a DataFrame as a column mapping."""
    return columns_of


@pytest.fixture(scope="session")
def synthetic_rows():
    """Synthetic profiler rows (``models.synthetic``) of two suites and a few random layers."""
    from latpred.models.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(n_random=4, suites=("mlp", "resnet"),
                                  gpu_configs_per_layer=20, seed=3)


@pytest.fixture(scope="session")
def latency_predictors(synthetic_rows):
    """Small LatencyPredictors of every planner target, fitted on ``synthetic_rows``."""
    from latpred.models import LatencyPredictor
    from latpred.planner.predictors import TARGETS

    params = {"n_estimators": 40, "learning_rate": 0.2, "max_depth": 4,
              "min_child_weight": 1.0, "subsample": 1.0, "colsample": 1.0, "reg_lambda": 0.1}
    return {t: LatencyPredictor(target=t, model="xgboost", params=params, cv_splits=2,
                                prior="residual").fit(synthetic_rows) for t in TARGETS}

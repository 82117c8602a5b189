"""The dataset schema: one row per measured configuration (see datasets/README.md)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

#: linear-layer shape columns
LINEAR_SHAPE = ["m", "n", "k"]
#: conv2d shape columns (out_h, out_w derived)
CONV_SHAPE = [
    "batch", "in_channels", "out_channels", "height", "width", "kernel_h", "kernel_w",
    "stride", "padding", "dilation", "groups", "out_h", "out_w",
]
#: the columns that identify a layer shape (the group key of honest splits)
SHAPE_KEY = ["op", "pass", *LINEAR_SHAPE, *CONV_SHAPE]

#: column -> pandas dtype. Nullable ints for shape columns the other op does not use.
COLUMNS: dict[str, str] = {
    "op": "string",            # linear | conv2d
    "pass": "string",          # forward | backward_input | backward_weight
    **{c: "Int64" for c in LINEAR_SHAPE},
    **{c: "Int64" for c in CONV_SHAPE},
    "suite": "string",         # suite the shape came from ("random" for --samples)
    "layer": "string",         # layer name inside the suite
    "backend": "string",       # gpu | cpu
    "device": "string",        # device name
    "platform": "string",      # OpenCL platform, or "numpy" for the BLAS backend
    "impl": "string",          # kernel implementation (or "blas")
    "params": "string",        # JSON of the implementation's compile-time parameters
    "local_size": "string",    # "AxBxC" or "driver"; "" for the BLAS backend
    "threads": "Int64",        # CPU threads / compute units of a sub-device; <NA> = whole GPU
    "mem_mode": "string",      # buffer | map | svm_coarse | svm_fine | host
    "kernel_us": "float64",
    "dispatch_us": "float64",
    "queued_submit_us": "float64",
    "submit_start_us": "float64",
    "n_kernels": "Int64",
    "kernel_breakdown_us": "string",  # JSON list, one entry per launch
    "transfer_in_us": "float64",
    "transfer_out_us": "float64",
    "total_us": "float64",
    "repeats": "Int64",
    "cv": "float64",           # coefficient of variation of total_us over the repeats
    "kernel_cv": "float64",
    "dispatch_cv": "float64",
    "flops": "Int64",
    "status": "string",        # see STATUSES
    "error": "string",
    "config_key": "string",    # hash of everything that identifies the configuration
    "timestamp": "string",
}

#: the string columns that, with the thread count, identify a configuration on a device
#: (a thread sweep is one shape x these, over threads)
CONFIG_COLUMNS = ("backend", "device", "platform", "impl", "params", "local_size", "mem_mode")

STATUSES = (
    "ok", "wrong_result", "illegal_work_group", "illegal_shape", "build_error",
    "out_of_resources", "timeout", "unsupported", "error",
)


def config_key(row: dict[str, Any]) -> str:
    """Stable hash of the identifying fields of a configuration (resume key)."""
    ident = {c: row.get(c) for c in (*SHAPE_KEY, "backend", "device", "impl", "params",
                                     "local_size", "threads", "mem_mode")}
    ident = {k: (None if _isna(v) else (int(v) if isinstance(v, (np.integer,)) else v))
             for k, v in ident.items()}
    return hashlib.sha1(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _isna(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Add missing columns and cast to the schema's dtypes (extra columns are kept)."""
    df = df.copy()
    for c, t in COLUMNS.items():
        if c not in df.columns:
            df[c] = pd.Series([None] * len(df), index=df.index, dtype="object").astype(t)
        else:
            df[c] = df[c].astype(t)
    return df[list(COLUMNS) + [c for c in df.columns if c not in COLUMNS]]


def shape_id(df: pd.DataFrame) -> pd.Series:
    """One string per row naming its layer shape (op + shape columns): the split group key."""
    cols = [c for c in SHAPE_KEY if c in df.columns]
    out = pd.Series("", index=df.index, dtype="string")
    for i, c in enumerate(cols):  # column-wise concatenation: vectorised, not per row
        out = out + ("|" if i else "") + df[c].astype("string").fillna("")
    return out

"""What a model predicts: the target columns, which rows qualify, and their noise column."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latpred.errors import bad_value


@dataclass(frozen=True)
class Target:
    """A predicted time: the sum of ``columns`` (microseconds) on rows of ``backend``."""

    name: str
    backend: str                 # "cpu" | "gpu"
    columns: tuple[str, ...]     # summed
    cv_column: str               # the coefficient of variation of that time (noise floor)
    description: str
    prior_by: str = "impl"       # the roofline prior is fitted per (device, this column)


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("cpu_us", "cpu", ("total_us",), "cv", "CPU end-to-end time (BLAS or PoCL rows)"),
    Target("gpu_kernel_us", "gpu", ("kernel_us",), "kernel_cv", "GPU kernel time (event START..END)"),
    Target("gpu_dispatch_us", "gpu", ("dispatch_us",), "dispatch_cv", "GPU dispatch (enqueue + wait to start)"),
    Target("gpu_transfer_us", "gpu", ("transfer_in_us", "transfer_out_us"), "cv",
           "GPU transfers in + out", prior_by="mem_mode"),
    Target("gpu_total_us", "gpu", ("total_us",), "cv", "GPU end-to-end time"),
    Target("gpu_kernel_dispatch_us", "gpu", ("kernel_us", "dispatch_us"), "kernel_cv",
           "GPU kernel + dispatch (a goal of the benchmark)"),
)}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise bad_value("target", name, f"must be one of {', '.join(TARGETS)}") from None


def select_device(df: pd.DataFrame, selector: str | None) -> pd.DataFrame:
    """Rows whose device name contains ``selector`` (case-insensitive); all if None."""
    if not selector:
        return df
    names = df["device"].astype("string").fillna("")
    mask = names.str.lower().str.contains(selector.lower(), regex=False).to_numpy(bool)
    if not mask.any():
        known = sorted(set(names.tolist()))
        raise bad_value("device", selector, f"matches no device (known: {', '.join(known)})")
    return df[mask]


#: how the OpenCL backend words a local size above a compiled kernel's own limit
#: (``profiler.backends.opencl``: CL_KERNEL_WORK_GROUP_SIZE, e.g. 256 where the device's
#: maximum is 1024)
_KERNEL_LIMIT = re.compile(r"exceeds kernel limit (\d+)")


def work_group_limits(df: pd.DataFrame, target: str | Target,
                      device: str | None = None) -> dict[tuple[str, str], int]:
    """Work-items per work-group that the device's compiler allowed each implementation x
    params (JSON text), from the dataset's refused rows: {(impl, params): smallest limit}.
    Empty for CPU targets and datasets without such rows."""
    t = target if isinstance(target, Target) else get_target(target)
    if t.backend != "gpu" or not {"status", "error", "backend", "impl", "params"} <= set(df):
        return {}
    df = select_device(df, device)
    bad = ((df["status"].astype("string") == "illegal_work_group")
           & (df["backend"].astype("string") == t.backend)).fillna(False).to_numpy(bool)
    out: dict[tuple[str, str], int] = {}
    for impl, params, err in zip(df["impl"][bad], df["params"][bad], df["error"][bad]):
        m = _KERNEL_LIMIT.search(str(err))
        if m:
            key = (str(impl), str(params))
            out[key] = min(out.get(key, 1 << 30), int(m.group(1)))
    return dict(sorted(out.items()))


def target_rows(df: pd.DataFrame, target: str | Target,
                device: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The usable rows of a dataset frame for ``target`` and their measured times.

    Rows qualify if status is "ok", the backend matches and the time is finite and > 0.

    Returns:
        (rows, y): the rows (a copy, fresh index) and y of shape (len(rows),), microseconds.
    """
    t = target if isinstance(target, Target) else get_target(target)
    missing = [c for c in ("status", "backend", *t.columns) if c not in df.columns]
    if missing:
        raise bad_value("data", missing, "columns missing from the dataset frame")
    df = select_device(df, device)
    ok = (df["status"].astype("string") == "ok").fillna(False).to_numpy(bool)
    ok &= (df["backend"].astype("string") == t.backend).fillna(False).to_numpy(bool)
    y = np.zeros(len(df))
    for c in t.columns:
        y = y + pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    ok &= np.isfinite(y) & (y > 0)
    rows = df[ok].reset_index(drop=True)
    rows.attrs = dict(df.attrs)
    return rows, y[ok]

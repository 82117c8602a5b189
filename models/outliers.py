"""Thread-sweep outliers: rows timed far slower than their neighbouring thread counts allow.

A CPU sweep times one layer shape and configuration at several thread counts. Noise on a
shared host only adds time, and now and then a whole measurement lands in a stall: on the
H100 host's sweeps, ResNet-50's 512 -> 256 1x1 conv at 28 x 28 took 327 us at 15 threads
and 5,983 us at 16 (240 us at 16 in the later interleaved rounds). A booster fitted on log
time follows such a row, and every similar shape inherits the error at that thread
count. ``thread_outliers`` flags them from the sweep alone, with bounds that hold for any
real thread profile:

- more threads are not much slower than fewer: time(t) <= slack x time(t_lower);
- fewer threads are at most proportionally slower: time(t) <= slack x time(t_upper) x
  t_upper / t;
- a repeated measurement is not much slower than its fastest repeat:
  time(t) <= slack x min time(t),

where t_lower / t_upper are the nearest thread counts measured below / above t and each
level's time is its fastest row. A row breaking the tightest of its bounds by ``slack`` is
an outlier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from latpred.datasets.schema import CONFIG_COLUMNS, shape_id

from latpred.errors import bad_value

#: a row this many times slower than its tightest bound is an outlier (``thread_outliers``)
DEFAULT_SLACK = 3.0


def check_slack(slack: float) -> None:
    """Raise a one-line error unless ``slack`` is > 1."""
    if not slack > 1.0:
        raise bad_value("outlier_slack", slack, "must be > 1 (3.0: three times the bound)")


def thread_outliers(rows: pd.DataFrame, y_us: np.ndarray,
                    slack: float = DEFAULT_SLACK) -> np.ndarray:
    """Rows timed more than ``slack`` times slower than their thread sweep allows (see the
    module docstring).

    Args:
        rows: dataset rows (shape columns, ``threads`` and ``schema.CONFIG_COLUMNS`` where
            present).
        y_us: their times, shape (len(rows),), microseconds, finite and > 0.
        slack: the factor (> 1) a row may exceed its tightest bound by.

    Returns:
        bool array (len(rows),): True for an outlier. Rows without a thread count, and
        sweeps of one thread count with one row, are never flagged.
    """
    check_slack(slack)
    y = np.asarray(y_us, dtype=np.float64).reshape(-1)
    if len(y) != len(rows):
        raise bad_value("y_us", len(y), f"length differs from rows ({len(rows)})")
    out = np.zeros(len(y), bool)
    if "threads" not in rows.columns or not len(y):
        return out
    t = pd.to_numeric(rows["threads"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    ok = np.isfinite(t) & (t > 0) & np.isfinite(y) & (y > 0)
    if not ok.any():
        return out
    key = shape_id(rows)
    for c in CONFIG_COLUMNS:  # one sweep: a shape and configuration, over threads
        if c in rows.columns:
            key = key + "#" + rows[c].astype("string").fillna("")
    sweep = pd.factorize(key[ok])[0]
    obs = pd.DataFrame({"sweep": sweep, "t": t[ok], "y": y[ok]})
    level = obs.groupby(["sweep", "t"], sort=True)["y"].min().reset_index()
    by = level.groupby("sweep")
    lo_y = by["y"].shift(1)
    hi_y, hi_t = by["y"].shift(-1), by["t"].shift(-1)
    bound = np.fmin(level["y"], np.fmin(lo_y, hi_y * hi_t / level["t"])).to_numpy(np.float64)
    ref = pd.Series(bound, index=pd.MultiIndex.from_frame(level[["sweep", "t"]]))
    row_ref = ref.reindex(pd.MultiIndex.from_frame(obs[["sweep", "t"]])).to_numpy(np.float64)
    out[np.flatnonzero(ok)] = obs["y"].to_numpy() > slack * row_ref
    return out

"""Baselines evaluated on the same splits as the model.

Each baseline is a function ``(train, test) -> predicted us of the test rows`` where
train / test are ``Part`` bundles (rows, feature matrix, times).

- ``flops_linear``: y = a + b * FLOPs per (device, implementation), least squares, b >= 0.
- ``roofline``: the roofline fitted from the data (peak FLOP/s and bandwidths per device and
  implementation, see roofline.py).
- ``nearest_neighbour``: the measured time of the nearest training shape (log dims) with the
  same configuration (device, implementation, params, local size, threads, memory mode);
  falls back to the same (device, implementation), then to any row.
- ``random_forest``: sklearn RandomForestRegressor on the same features, log time (the
  predictor nn-Meter uses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from latpred.features import FEATURE_NAMES, column_codes
from latpred.models.roofline import Roofline


@dataclass
class Part:
    """One side of a split: rows (configuration frame), F (n, n_features) and y (n,) in us."""

    rows: pd.DataFrame
    F: np.ndarray
    y: np.ndarray

    def labels(self, col: str) -> np.ndarray:
        codes, uniques = column_codes(self.rows, col)
        return np.asarray(uniques, dtype=object)[codes]

    def keys(self, cols: tuple[str, ...]) -> np.ndarray:
        out = self.labels(cols[0]).astype(str)
        for c in cols[1:]:
            out = np.char.add(np.char.add(out, "|"), self.labels(c).astype(str))
        return out


_I = {name: i for i, name in enumerate(FEATURE_NAMES)}
_SHAPE_FEATURES = [_I[c] for c in ("log2_gemm_m", "log2_gemm_n", "log2_gemm_k", "log2_gemm_batch",
                                   "pass_code", "is_conv", "conv_kernel_hw", "conv_stride",
                                   "log2_groups")]
_CONFIG = ("device", "impl", "params", "local_size", "threads", "mem_mode")


def flops_linear(train: Part, test: Part) -> np.ndarray:
    from sklearn.linear_model import LinearRegression

    flops_tr = 2.0 ** train.F[:, _I["log2_flops"]]
    flops_te = 2.0 ** test.F[:, _I["log2_flops"]]
    k_tr, k_te = train.keys(("device", "impl")), test.keys(("device", "impl"))
    d_tr, d_te = train.labels("device"), test.labels("device")
    floor = max(float(np.min(train.y)) * 0.5, 1e-3)

    def fit(mask: np.ndarray) -> LinearRegression:
        return LinearRegression(positive=True).fit(flops_tr[mask, None], train.y[mask])

    overall = fit(np.ones(len(train.y), bool))
    out = np.empty(len(test.y))
    for key in set(k_te.tolist()):
        m_te = k_te == key
        m_tr = k_tr == key
        if m_tr.sum() < 3:
            m_tr = d_tr == d_te[m_te][0]
        model = fit(m_tr) if m_tr.sum() >= 3 else overall
        out[m_te] = model.predict(flops_te[m_te, None])
    return np.maximum(out, floor)


def roofline(train: Part, test: Part, by: str = "impl") -> np.ndarray:
    roof = Roofline().fit(train.F, train.y, train.labels("device"), train.labels(by))
    return roof.predict(test.F, test.labels("device"), test.labels(by))


def nearest_neighbour(train: Part, test: Part) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    Xs_tr = train.F[:, _SHAPE_FEATURES]
    Xs_te = test.F[:, _SHAPE_FEATURES]
    scale = np.maximum(Xs_tr.std(axis=0), 1e-6)
    Xs_tr, Xs_te = Xs_tr / scale, Xs_te / scale
    out = np.full(len(test.y), np.nan)
    for cols in (_CONFIG, ("device", "impl"), ("device",)):
        todo = np.isnan(out)
        if not todo.any():
            break
        k_tr, k_te = train.keys(cols), test.keys(cols)
        for key in set(k_te[todo].tolist()):
            m_tr = np.flatnonzero(k_tr == key)
            if len(m_tr) == 0:
                continue
            m_te = np.flatnonzero(todo & (k_te == key))
            nn = NearestNeighbors(n_neighbors=1).fit(Xs_tr[m_tr])
            idx = nn.kneighbors(Xs_te[m_te], return_distance=False)[:, 0]
            out[m_te] = train.y[m_tr[idx]]
    todo = np.isnan(out)
    if todo.any():
        nn = NearestNeighbors(n_neighbors=1).fit(train.F)
        out[todo] = train.y[nn.kneighbors(test.F[todo], return_distance=False)[:, 0]]
    return out


def random_forest(train: Part, test: Part, seed: int = 0, n_jobs: int = 2) -> np.ndarray:
    from sklearn.ensemble import RandomForestRegressor

    rf = RandomForestRegressor(n_estimators=200, min_samples_leaf=1, n_jobs=n_jobs,
                               random_state=seed)
    rf.fit(train.F, np.log(train.y))
    return np.exp(rf.predict(test.F))


#: name -> baseline function, in table order
BASELINES: dict[str, Callable[[Part, Part], np.ndarray]] = {
    "flops_linear": flops_linear,
    "roofline": roofline,
    "nearest_neighbour": nearest_neighbour,
    "random_forest": random_forest,
}

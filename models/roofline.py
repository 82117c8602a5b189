"""A roofline fitted from data: the baseline of the evaluation and the prior of the boosters.

Per group (device, implementation) -- (device, memory mode) for transfer times -- the time
of a configuration is modelled as

    t = t0 + n_launches * t_launch + smoothmax(F / P, B / W) + X / W_x + S / W_s

with F = flops scaled by the share of the device's units in use (flops * device units /
units, so P is the whole device's peak), B = bytes of inputs + weights + output,
X = bytes moved host <-> device, S = scratch bytes (im2col columns, Winograd buffers; the
BLAS conv workspace, filled by one thread: S / W_s is not divided by the units), P the peak
FLOP/s, W the memory bandwidth, W_x the transfer and W_s the scratch bandwidth. The six
positive parameters are fitted by least squares on log time. Groups with fewer than
``min_rows`` rows fall back to the device, then to all rows. Rooflines fitted before the
scratch term (five parameters) load with no scratch cost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from latpred.features import FEATURE_NAMES

log = logging.getLogger(__name__)

_I = {name: i for i, name in enumerate(FEATURE_NAMES)}
_SOFT = 4.0  # smooth-max exponent
N_PARAMS = 6  # log t0, log t_launch, log P, log W, log W_x, log W_s
_NO_SCRATCH = 200.0  # log W_s of a roofline fitted before the scratch term: S / W_s ~ 0


def cost_drivers(F: np.ndarray) -> np.ndarray:
    """(flops_eff, bytes, bytes_transfer, n_launches, bytes_scratch) per row from a feature
    matrix, (n, 5)."""
    flops = 2.0 ** F[:, _I["log2_flops"]]
    flops_eff = flops * F[:, _I["dev_compute_units"]] / np.maximum(F[:, _I["units"]], 1.0)
    return np.column_stack([
        flops_eff,
        2.0 ** F[:, _I["log2_bytes_total"]],
        2.0 ** F[:, _I["log2_bytes_transfer"]] - 1.0,
        F[:, _I["n_launches"]],
        2.0 ** F[:, _I["log2_scratch_bytes"]] - 1.0,
    ])


def _log_model(theta: np.ndarray, D: np.ndarray) -> np.ndarray:
    """log t for parameters theta, shape (6,) or (n, 6), and drivers D (n, 5)."""
    lt0, ltl, lp, lw, lx, ls = (theta[..., j] for j in range(N_PARAMS))
    lD = np.log(np.maximum(D, 1e-30))
    roof = np.logaddexp(_SOFT * (lD[:, 0] - lp), _SOFT * (lD[:, 1] - lw)) / _SOFT
    out = np.logaddexp(np.broadcast_to(lt0, roof.shape), lD[:, 3] + ltl)
    out = np.logaddexp(out, roof)
    out = np.logaddexp(out, lD[:, 2] - lx)
    return np.logaddexp(out, lD[:, 4] - ls)


def fit_group(D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares fit of the six log-parameters on log(y)."""
    from scipy.optimize import least_squares

    ly = np.log(y)
    q = lambda a: float(np.log(max(np.quantile(a, 0.9), 1e-30)))  # noqa: E731
    theta0 = np.array([
        np.log(max(np.quantile(y, 0.05) * 0.5, 1e-3)),
        np.log(max(np.quantile(y, 0.05) * 0.1, 1e-3)),
        q(D[:, 0] / y), q(D[:, 1] / y), q(np.maximum(D[:, 2], 1.0) / y) + 1.0,
        q(np.maximum(D[:, 4], 1.0) / y) + 1.0,
    ])
    lo, hi = theta0 - 25.0, theta0 + 25.0
    try:
        res = least_squares(lambda th: _log_model(th, D) - ly, theta0, bounds=(lo, hi),
                            loss="soft_l1", f_scale=0.3, max_nfev=300)
        return res.x
    except Exception as err:  # pragma: no cover - degenerate data
        log.warning("roofline fit failed (%s); using the initial guess", err)
        return theta0


#: group labels: a str array (n,), or (codes (n,), uniques) as features.column_codes gives
Labels = np.ndarray | tuple[np.ndarray, list[str]]


def _labels(values: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(values, tuple):
        return np.asarray(values[0]), list(values[1])
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return codes, [str(u) for u in uniques]


class Roofline:
    """The fitted roofline. ``fit``/``predict`` take a feature matrix and group labels.

    Args:
        min_rows: rows a (device, implementation) group needs for its own fit.
    """

    def __init__(self, min_rows: int = 12):
        self.min_rows = min_rows
        self.params_: dict[str, list[float]] = {}

    def fit(self, F: np.ndarray, y: np.ndarray, device: np.ndarray, impl: np.ndarray) -> Roofline:
        """F: feature matrix (n, n_features); y: times (us); device, impl: str arrays (n,)."""
        D = cost_drivers(F)
        self.params_ = {"*": fit_group(D, y).tolist()}
        for dev in sorted(set(device.tolist())):
            m = device == dev
            if m.sum() >= self.min_rows:
                self.params_[dev] = fit_group(D[m], y[m]).tolist()
            for im in sorted(set(impl[m].tolist())):
                mm = m & (impl == im)
                if mm.sum() >= self.min_rows:
                    self.params_[f"{dev}|{im}"] = fit_group(D[mm], y[mm]).tolist()
        return self

    def log_predict(self, F: np.ndarray, device: Labels, impl: Labels) -> np.ndarray:
        """Natural log of the predicted time (us), shape (n,).

        ``device`` / ``impl``: str arrays (n,), or (codes (n,), uniques) pairs.
        """
        dc, du = _labels(device)
        ic, iu = _labels(impl)
        table = np.array([[self._theta(d, i) for i in iu] for d in du]).reshape(-1, N_PARAMS)
        theta = table[dc * len(iu) + ic]
        return _log_model(theta, cost_drivers(F))

    def _theta(self, dev: str, impl: str) -> list[float]:
        p = self.params_.get(f"{dev}|{impl}") or self.params_.get(dev) or self.params_["*"]
        return list(p) + [_NO_SCRATCH] * (N_PARAMS - len(p))

    def predict(self, F: np.ndarray, device: np.ndarray, impl: np.ndarray) -> np.ndarray:
        """Predicted time (us), shape (n,)."""
        return np.exp(self.log_predict(F, device, impl))

    def to_json(self) -> dict[str, Any]:
        return {"min_rows": self.min_rows, "params": self.params_}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Roofline:
        r = cls(int(data.get("min_rows", 12)))
        r.params_ = {k: list(v) for k, v in data["params"].items()}
        return r

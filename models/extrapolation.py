"""How far configuration rows lie beyond the sizes a correction was learned on, and how much
of the correction to keep there.

Boosted trees cannot extrapolate: beyond the largest rows they were fitted on they repeat
the correction learned at the edge of the data. A correction (a predictor's residual over
its roofline prior, or a runtime calibration over a predictor) can therefore record the
largest sizes of its training rows and fade out beyond them, leaving the model it corrects
to answer:

    weight = clip(1 - excess / fade_doublings, 0, 1)

with ``excess`` the largest of ``SIZE_DRIVERS`` beyond the training maximum of the row's
device, in doublings (the drivers are log2 features). The drivers are sizes of the layer,
not of the configuration, so that the configurations of one layer keep one weight and
their order under the correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from latpred.features import FEATURE_NAMES

from latpred.errors import bad_value

#: log2 layer sizes whose training maxima bound a correction: FLOPs, bytes moved host <->
#: device (the same for every configuration of a layer on one device)
SIZE_DRIVERS = ("log2_flops", "log2_bytes_transfer")
_COLS = [FEATURE_NAMES.index(c) for c in SIZE_DRIVERS]

#: {device name or "*" (every device): the largest of each SIZE_DRIVERS}
SizeMax = Mapping[str, Sequence[float]]


def size_max(F: np.ndarray, device: tuple[np.ndarray, list[str]]) -> dict[str, list[float]]:
    """The largest of each of ``SIZE_DRIVERS`` in feature rows F (n, features), per device
    (``device``: (codes (n,), names)) and over all rows ("*")."""
    codes, names = device
    out = {"*": F[:, _COLS].max(axis=0).tolist()}
    for i, name in enumerate(names):
        m = codes == i
        if m.any():
            out[str(name)] = F[m][:, _COLS].max(axis=0).tolist()
    return out


def check_fade(fade_doublings: float | None) -> None:
    """A clear error unless ``fade_doublings`` is None or > 0."""
    if fade_doublings is not None and not (isinstance(fade_doublings, (int, float))
                                           and fade_doublings > 0):
        raise bad_value("fade_doublings", fade_doublings, "must be > 0 (doublings) or None")


def fade_share(excess: np.ndarray, fade_doublings: float) -> np.ndarray:
    """The share of a correction kept at ``excess`` doublings beyond its fitted range
    (any shape; <= 0: inside it): 1 inside, falling linearly to 0 at ``fade_doublings``."""
    return np.clip(1.0 - np.asarray(excess, float) / fade_doublings, 0.0, 1.0)


def correction_weight(F: np.ndarray, device: tuple[np.ndarray, list[str]],
                      maxima: SizeMax | None, fade_doublings: float | None) -> np.ndarray:
    """The share of a correction each row keeps, shape (n,), in [0, 1]: 1 within the
    training sizes ``maxima``, falling linearly to 0 at ``fade_doublings`` doublings beyond
    them (a device without maxima: those of every device). All 1 if ``maxima`` or
    ``fade_doublings`` is None (corrections fitted before the sizes were recorded)."""
    if not fade_doublings or not maxima:
        return np.ones(F.shape[0])
    codes, names = device
    table = np.array([maxima.get(str(d), maxima["*"]) for d in names], float)
    excess = (F[:, _COLS] - table.reshape(len(names), len(_COLS))[codes]).max(axis=1)
    return fade_share(excess, fade_doublings)

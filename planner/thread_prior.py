"""CPU thread counts ranked by the runtime's timings of similar layers (nearest neighbours).

The CPU predictor is trained on the profiler's sweeps; how a layer's time moves with the
BLAS thread count in the runtime is only partly what those sweeps show. The runtime's own
timings of other layers (the committed co-execution grids and confirmation rounds) carry
that profile. For a layer, the ``k`` measured layers nearest in implicit-GEMM shape
(log2 M, N, K; grouped convs only among grouped ones) give a mean log-time profile over
thread counts, each neighbour's times taken over its own fastest. The planner multiplies a
CPU-only plan's predicted time by ``exp(profile)`` (``SyncModel.cpu_neighbour_factor``) and
rescales the layer's CPU-only plans so that the best keeps its predicted time: the profile
reorders thread counts and leaves the CPU's level against the GPU to the predictors.

Stored in sync.json as a pair entry's ``cpu_thread_neighbours``: ``{"threads": [...], "k":
k, "shapes": [[log2 M, log2 N, log2 K, grouped], ...], "log_profile": [[...], ...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from latpred.profiler.problems import ConvLayer

from latpred.errors import bad_value

#: neighbours averaged per layer (leave-one-suite-group-out on the committed H100 rounds:
#: 10 picked better than 5, 8 or 15)
DEFAULT_K = 10


def gemm_key(layer: Any) -> tuple[float, float, float, float]:
    """(log2 M, log2 N, log2 K, grouped 0/1) of a layer's implicit GEMM: a conv's output
    pixels x output channels x its filter's size (in_channels / groups x kh x kw); a linear
    pass's GEMM."""
    if isinstance(layer, ConvLayer):
        m = layer.batch * layer.out_h * layer.out_w
        n = layer.out_channels
        k = layer.in_channels // layer.groups * layer.kernel_h * layer.kernel_w
        grouped = float(layer.groups > 1)
    else:
        g = layer.gemm()
        m, n, k, grouped = g.M, g.N, g.K, 0.0
    return (float(np.log2(max(m, 1))), float(np.log2(max(n, 1))), float(np.log2(max(k, 1))),
            grouped)


@dataclass
class ThreadNeighbours:
    """Measured thread-count profiles of reference layers; ``log_factor`` of a new one.

    Attributes:
        threads: the thread counts profiled, increasing, shape (T,).
        shapes: (n, 4) float: ``gemm_key`` of each reference layer.
        log_profile: (n, T) float: log(time / the layer's fastest time) per thread count.
        k: neighbours averaged.
    """

    threads: tuple[int, ...]
    shapes: np.ndarray
    log_profile: np.ndarray
    k: int = DEFAULT_K
    _memo: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.shapes = np.asarray(self.shapes, np.float64).reshape(-1, 4)
        self.log_profile = np.asarray(self.log_profile, np.float64).reshape(
            len(self.shapes), -1)
        t = list(self.threads)
        if not t or t != sorted(set(t)) or min(t) < 1:
            raise bad_value("threads", self.threads, "must be increasing positive counts")
        if self.log_profile.shape[1] != len(t) or not len(self.shapes):
            raise bad_value("log_profile", self.log_profile.shape,
                            f"needs one row per shape and {len(t)} columns (one per thread "
                            "count)")
        if not np.isfinite(self.log_profile).all() or not np.isfinite(self.shapes).all():
            raise bad_value("log_profile", "non-finite", "must hold finite numbers")
        if not isinstance(self.k, int) or self.k < 1:
            raise bad_value("k", self.k, "must be a positive integer")

    def profile(self, layer: Any) -> np.ndarray:
        """Mean log profile over ``self.threads`` of the layer's ``k`` nearest references,
        shape (T,), relative to its mean (memoised per layer shape)."""
        key = gemm_key(layer)
        got = self._memo.get(key)
        if got is None:
            q = np.asarray(key)
            same = self.shapes[:, 3] == q[3]
            idx = np.flatnonzero(same) if same.any() else np.arange(len(self.shapes))
            d = ((self.shapes[idx, :3] - q[:3]) ** 2).sum(axis=1)
            near = idx[np.argsort(d, kind="stable")[:self.k]]
            got = self.log_profile[near].mean(axis=0)
            got = got - got.mean()
            self._memo[key] = got
        return got

    def log_factor(self, layer: Any, threads: np.ndarray) -> np.ndarray:
        """log of the factor of each of ``threads`` (n,) on ``layer``, shape (n,): the
        neighbours' profile interpolated in log2 threads, flat beyond the ends."""
        return np.interp(np.log2(np.maximum(np.asarray(threads, np.float64), 1.0)),
                         np.log2(np.asarray(self.threads, np.float64)), self.profile(layer))

    def to_json(self) -> dict[str, Any]:
        return {"threads": [int(t) for t in self.threads], "k": int(self.k),
                "shapes": [[round(float(v), 4) for v in r] for r in self.shapes],
                "log_profile": [[round(float(v), 4) for v in r] for r in self.log_profile]}

    @classmethod
    def from_json(cls, entry: Any, where: str = "sync.json") -> ThreadNeighbours:
        """From ``to_json``'s dict; one error naming ``where`` if it is malformed."""
        try:
            return cls(tuple(int(t) for t in entry["threads"]), np.asarray(entry["shapes"]),
                       np.asarray(entry["log_profile"]), int(entry.get("k", DEFAULT_K)))
        except (KeyError, TypeError, ValueError) as err:
            raise bad_value("cpu_thread_neighbours", where,
                            f"needs threads, shapes and log_profile lists ({err})") from None

    @classmethod
    def fit(cls, layers: list[Any], threads: np.ndarray, time_us: np.ndarray,
            counts: tuple[int, ...] = (4, 8, 12, 15, 16), k: int = DEFAULT_K
            ) -> ThreadNeighbours:
        """From runtime timings of CPU-only plans: ``layers`` (n,) each row's layer,
        ``threads`` (n,) its thread count, ``time_us`` (n,) its measured time (us; `coexec
        calibrate` passes ``RuntimeRows.y_us``). A layer's time per thread count is the
        geometric mean of its rows; layers timed at every one of ``counts`` become
        references."""
        keys = [gemm_key(layer) for layer in layers]
        df = pd.DataFrame({"key": keys, "threads": np.asarray(threads, np.int64),
                           "lw": np.log(np.asarray(time_us, np.float64))})
        df = df[np.isfinite(df["lw"]) & df["threads"].isin(counts)]
        wide = df.groupby(["key", "threads"])["lw"].mean().unstack()
        wide = wide.reindex(columns=list(counts)).dropna()
        if wide.empty:
            raise bad_value("grid", "", f"holds no layer timed CPU-only at every one of "
                            f"{', '.join(map(str, counts))} threads")
        lp = wide.to_numpy() - wide.to_numpy().min(axis=1, keepdims=True)
        return cls(tuple(int(c) for c in counts), np.array(list(wide.index)), lp, k)


__all__ = ["DEFAULT_K", "ThreadNeighbours", "gemm_key"]

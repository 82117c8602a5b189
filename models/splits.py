"""Honest splits: test rows never share a layer shape (``schema.shape_id``) with training rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from latpred.datasets.schema import shape_id

from latpred.errors import LatpredError

Split = tuple[np.ndarray, np.ndarray]


def shape_groups(df: pd.DataFrame) -> np.ndarray:
    """The split group of each row: its layer shape id, object array (n,)."""
    return shape_id(df).to_numpy(dtype=object)


def group_kfold(groups: np.ndarray, n_splits: int = 5) -> list[Split]:
    """sklearn GroupKFold by shape: (train_idx, test_idx) pairs, at most n_splits of them."""
    from sklearn.model_selection import GroupKFold

    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise LatpredError(f"need at least 2 layer shapes for a group split, got {n_groups}")
    k = min(n_splits, n_groups)
    idx = np.arange(len(groups))
    return [(tr, te) for tr, te in GroupKFold(n_splits=k).split(idx, groups=groups)]


def group_holdout(groups: np.ndarray, test_size: float = 0.25, seed: int = 0) -> Split:
    """One sklearn GroupShuffleSplit by shape (e.g. a calibration split)."""
    from sklearn.model_selection import GroupShuffleSplit

    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    tr, te = next(gss.split(np.arange(len(groups)), groups=groups))
    return tr, te


def leave_one_network_out(suites: np.ndarray, groups: np.ndarray,
                          exclude: tuple[str, ...] = ("random", "")) -> Iterator[tuple[str, Split]]:
    """(suite, (train_idx, test_idx)) holding out each network (suite) in turn.

    Shapes of the held-out suite are removed from training even where another suite has
    them too; suites in ``exclude`` (random samples) are never held out, only trained on.
    """
    suites = np.asarray([s if isinstance(s, str) else "" for s in suites], dtype=object)
    for suite in sorted(set(suites.tolist()) - set(exclude)):
        test = suites == suite
        test_shapes = set(groups[test].tolist())
        train = ~test & ~np.isin(groups, list(test_shapes))
        if train.any():
            yield suite, (np.flatnonzero(train), np.flatnonzero(test))


def without_suites(df: pd.DataFrame, suites: list[str]) -> pd.DataFrame:
    """``df`` without every row of a layer shape that a row of ``suites`` has (rows are
    tagged with their suite): data of a model that never saw those networks' layers.
    Keeps ``df.attrs``; suites with no rows drop nothing."""
    sid = shape_id(df)
    drop = sid.isin(set(sid[df["suite"].isin(suites)]))
    out = df[~drop.to_numpy()].reset_index(drop=True)
    out.attrs = df.attrs
    return out


def check_disjoint(groups: np.ndarray, split: Split) -> None:
    """Raise if a shape is on both sides of a split (a guard for new split code)."""
    tr, te = split
    shared = set(groups[tr].tolist()) & set(groups[te].tolist())
    if shared:
        raise LatpredError(f"split leaks {len(shared)} shape(s) into training, e.g. {next(iter(shared))}")

"""A seed ensemble of one predictor in one booster: the XGBoost boosters of several models
directories (``scripts/train_seeds.sh``) averaged into a copy of the first.

    python scripts/average_seeds.py --target cpu_us --out DIR SEED_DIR [SEED_DIR ...]

The trees of every booster are concatenated with their leaf values divided by the number of
boosters, and the base scores averaged: the merged booster's output is the mean of theirs
(float32 rounding aside), in one predict call. A predictor's log time is its roofline prior
plus the booster's output (``prior`` "residual"), so the directories must agree on
everything but the booster and the manifest; ``interval_log_q`` (the conformal interval) is
the first directory's. A development tool: session 24 scored such an ensemble with
``choice_floor.py`` and ``paired_replay.py`` (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path
from typing import Any

#: predictor.json fields that may differ between the averaged directories
FREE_FIELDS = ("manifest", "interval_log_q", "cv_metrics", "init_params")


def average_boosters(models: list[dict[str, Any]]) -> dict[str, Any]:
    """One XGBoost JSON model (``Booster.save_raw("json")``, parsed) whose prediction is the
    mean of ``models``' (regression boosters of one objective and feature count)."""
    if not models:
        raise ValueError("average_boosters: no model given")
    k = len(models)
    learners = [m["learner"] for m in models]
    for field in ("objective", "feature_names", "feature_types"):
        if any(lr.get(field) != learners[0].get(field) for lr in learners):
            raise ValueError(f"average_boosters: the models differ in {field}")
    if any(lr["learner_model_param"]["num_feature"] != learners[0]["learner_model_param"][
            "num_feature"] for lr in learners):
        raise ValueError("average_boosters: the models differ in num_feature")
    out = copy.deepcopy(models[0])
    trees, info = [], []
    for lr in learners:
        gb = lr["gradient_booster"]["model"]
        if gb["gbtree_model_param"].get("num_parallel_tree", "1") != "1":
            raise ValueError("average_boosters: num_parallel_tree must be 1")
        for tree in gb["trees"]:
            t = copy.deepcopy(tree)
            for i, left in enumerate(t["left_children"]):
                if left == -1:  # a leaf: its value is split_conditions[i]
                    t["split_conditions"][i] /= k
            t["base_weights"] = [w / k for w in t["base_weights"]]
            t["id"] = len(trees)
            trees.append(t)
        info += gb["tree_info"]
    gb = out["learner"]["gradient_booster"]["model"]
    gb["trees"], gb["tree_info"] = trees, info
    gb["gbtree_model_param"]["num_trees"] = str(len(trees))
    gb["iteration_indptr"] = list(range(len(trees) + 1))  # one tree per round
    base = [float(str(lr["learner_model_param"]["base_score"]).strip("[]")) for lr in learners]
    out["learner"]["learner_model_param"]["base_score"] = f"[{sum(base) / k:.9E}]"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cpu_us", help="the predictor averaged (a subfolder)")
    ap.add_argument("--out", required=True, type=Path, help="the new models directory")
    ap.add_argument("dirs", nargs="+", type=Path, metavar="SEED_DIR")
    args = ap.parse_args()
    if args.out.exists():
        ap.error(f"--out {args.out} exists")
    metas = []
    for d in args.dirs:
        meta = json.loads((d / args.target / "predictor.json").read_text())
        if meta.get("booster_file") != "model.xgboost.json":
            ap.error(f"{d / args.target}: booster {meta.get('booster_file')!r} is not XGBoost")
        metas.append({k: v for k, v in meta.items() if k not in FREE_FIELDS})
    for d, meta in zip(args.dirs[1:], metas[1:]):
        diff = sorted(k for k in set(meta) | set(metas[0]) if meta.get(k) != metas[0].get(k))
        if diff:
            ap.error(f"{d / args.target}: predictor.json differs from {args.dirs[0]}'s in {diff}")
    merged = average_boosters([json.loads((d / args.target / "model.xgboost.json").read_text())
                               for d in args.dirs])
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(args.dirs[0], tmp)
    (tmp / args.target / "model.xgboost.json").write_text(json.dumps(merged))
    tmp.rename(args.out)
    n = len(merged["learner"]["gradient_booster"]["model"]["trees"])
    print(f"{args.out}: {args.target} averages {len(args.dirs)} boosters ({n} trees)")


if __name__ == "__main__":
    main()

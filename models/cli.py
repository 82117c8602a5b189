"""``latpred train | evaluate | predict`` (registered by latpred/cli.py via add_subcommands).

Handlers take the argparse Namespace and return an exit code; user errors raise
LatpredError (the main CLI prints one line and exits 2). Results go to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from latpred.errors import bad_value

log = logging.getLogger(__name__)


def add_subcommands(sub: Any) -> None:
    """Register train, evaluate and predict on an argparse subparsers object."""
    from latpred.models.outliers import DEFAULT_SLACK
    from latpred.models.targets import TARGETS

    p = sub.add_parser(
        "train", help="fit a latency predictor on a dataset",
        description="Fit a gradient-boosted latency predictor (LightGBM or XGBoost on log time, "
                    "tuned by optuna) for one target and save it as a joblib pickle.")
    p.add_argument("--data", required=True, action="append", metavar="DIR",
                   help="dataset directory or .parquet (repeatable)")
    p.add_argument("--target", required=True, choices=sorted(TARGETS))
    p.add_argument("--device", help="only rows of devices whose name contains this")
    p.add_argument("--exclude-suite", action="append", metavar="SUITE",
                   help="leave out every layer shape of this suite (repeatable): a model "
                        "for networks it has never seen")
    p.add_argument("--model", choices=["lightgbm", "xgboost", "auto"], default="auto",
                   help="booster library (auto: chosen by cross-validation)")
    p.add_argument("--n-trials", type=int, default=30, help="optuna trials (0: defaults)")
    p.add_argument("--timeout", type=float, help="optuna time budget in seconds")
    p.add_argument("--storage", help="optuna storage URL, e.g. postgresql://... to tune one "
                                     "study from several machines (default: sqlite file "
                                     "next to --out)")
    p.add_argument("--study-name", help="optuna study name (default: from target and data)")
    p.add_argument("--prior", choices=["auto", "residual", "feature", "none"], default="auto",
                   help="roofline prior: residual target, feature only, none, or tuned")
    p.add_argument("--cv-splits", type=int, default=4, help="group k-fold folds")
    p.add_argument("--max-trees", type=int, default=400,
                   help="upper bound of tuned trees (bounds prediction latency)")
    p.add_argument("--booster-budget-ms", type=float, default=1.0,
                   help="tuning penalises boosters slower than this per 1,000 rows (0: off)")
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="training threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outlier-slack", type=float, default=DEFAULT_SLACK, metavar="X",
                   help="drop rows timed more than X times slower than their thread sweep "
                        "allows (host stalls in a CPU sweep; default %(default)s; 0: keep "
                        "every row, as the models fitted before this option)")
    p.add_argument("--params-from", metavar="MODEL.pkl",
                   help="no tuning: the booster library, parameters and prior of this fitted "
                        "model (e.g. to change the features or data and nothing else), a "
                        "predictor of this target or of another target of the same backend "
                        "(the GPU components with gpu_total_us's parameters)")
    p.add_argument("--params", metavar="JSON",
                   help="no tuning: booster parameters as a JSON object, over --params-from's "
                        "(or, without it, over --model's defaults), e.g. "
                        "'{\"n_estimators\": 300, \"learning_rate\": 0.03}'")
    p.add_argument("--native", metavar="DIR", help="also write the native export (no pickle)")
    p.add_argument("--out", required=True, metavar="MODEL.pkl")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate", help="compare a model with baselines on group splits",
        description="Cross-validate the model's configuration and the baselines (FLOPs-linear, "
                    "roofline, nearest neighbour, random forest) on splits by layer shape and "
                    "leave-one-network-out; also score the stored model as-is.")
    p.add_argument("--model", required=True, metavar="MODEL.pkl",
                   help="joblib pickle or native-export directory")
    p.add_argument("--data", required=True, action="append", metavar="DIR")
    p.add_argument("--device", help="only rows of devices whose name contains this")
    p.add_argument("--splits", default="group,lono", help="group and/or lono")
    p.add_argument("--n-splits", type=int, default=5, help="folds of the group split")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots here")
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "predict", help="predict every legal configuration of one layer, best first",
        description="Enumerate the legal configurations of a layer on the model's device "
                    "(kernel registry + stored device limits) and print predicted times.")
    p.add_argument("--model", required=True, metavar="MODEL.pkl")
    p.add_argument("--op", required=True, choices=["linear", "conv2d"])
    p.add_argument("--m", type=int)
    p.add_argument("--n", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--pass", dest="pass_", default="forward",
                   choices=["forward", "backward_input", "backward_weight"])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--in-channels", type=int)
    p.add_argument("--out-channels", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--kernel", default="3", help="kernel size: K or KHxKW")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=0)
    p.add_argument("--dilation", type=int, default=1)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--device", help="device name substring (models trained on several)")
    p.add_argument("--threads", help="CPU thread counts, e.g. 1,2,4 (default: all)")
    p.add_argument("--top", type=int, help="print only the N best")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)


# -- helpers ---------------------------------------------------------------------------------
def _load_data(paths: list[str]) -> Any:
    from latpred.datasets import load

    df = load(paths)
    if df.empty:
        raise bad_value("data", paths, "no rows")
    return df


def _exclude_suites(df: Any, suites: list[str]) -> Any:
    """``df`` without every row of a layer shape that a row of ``suites`` has (rows are
    tagged with their suite): a model that never saw those networks' layers."""
    from latpred.models.splits import without_suites

    if not suites:
        return df
    known = set(df["suite"].dropna().astype(str))
    for s in suites:
        if s not in known:
            raise bad_value("exclude-suite", s, f"no rows of that suite in --data (have: "
                                                f"{', '.join(sorted(known))})")
    out = without_suites(df, suites)
    if out.empty:
        raise bad_value("exclude-suite", suites, "no rows left")
    log.info("excluded %d rows of %s", len(df) - len(out), ", ".join(suites))
    return out


def _check_out(path: str) -> Path:
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise bad_value("out", path, "is a directory (give a file name, e.g. model.pkl)")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise bad_value("out", path, "its directory does not exist or is not writable")
    return out


def _quiet_optuna(verbose: bool) -> None:
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    except ImportError:  # pragma: no cover
        pass


# -- train -----------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    import joblib
    from latpred.models.evaluate import format_table
    from latpred.models.persist import export_native
    from latpred.models.predictor import LatencyPredictor

    out = _check_out(args.out)
    _quiet_optuna(getattr(args, "verbose", 0) > 0)
    storage = args.storage
    if storage is None and args.n_trials > 0:
        storage = f"sqlite:///{out.with_suffix('.optuna.db').resolve()}"
    df = _exclude_suites(_load_data(args.data), args.exclude_suite or [])
    model, prior, params = args.model, args.prior, None
    if args.params_from:
        ref = _fitted_from(args.params_from, args.target)
        model, prior, params = ref.model_type_, ref.prior_, dict(ref.best_params_)
        storage = None
    if args.params is not None:
        params = _given_params(args.params, model, params)
        storage = None
    pred = LatencyPredictor(
        target=args.target, model=model, n_trials=args.n_trials, timeout=args.timeout,
        storage=storage, study_name=args.study_name, cv_splits=args.cv_splits,
        prior=prior, device=args.device, max_trees=args.max_trees,
        booster_budget_ms=args.booster_budget_ms or None, params=params,
        random_state=args.seed, n_jobs=args.n_jobs,
        outlier_slack=args.outlier_slack or None)
    pred.fit(df)
    joblib.dump(pred, out)
    if args.native:
        export_native(pred, args.native)
    m = pred.cv_metrics_
    import pandas as pd

    table = pd.DataFrame([{k: v for k, v in m.items() if k not in ("split", "rows")}],
                         index=pd.Index([f"{pred.model_type_} (CV)"], name="model"))
    print(f"trained {args.target} on {m['rows']} rows of {', '.join(pred.devices_)} "
          f"in {pred.fit_seconds_:.1f} s ({pred.model_type_}, {pred.booster_.n_trees} trees, "
          f"prior {pred.prior_}; {pred.n_outliers_} thread-sweep outliers dropped)")
    print(format_table(table, f"{args.target}: out-of-fold, {m['split']}"))
    if pred.study_:
        print(f"optuna study {pred.study_['name']!r}: {pred.study_['trials']} trials"
              + (f" in {storage}" if storage else ""))
    print(f"saved {out}" + (f" and {args.native}/" if args.native else ""))
    return 0


def _given_params(text: str, model: str, base: dict[str, Any] | None) -> dict[str, Any]:
    """``--params``' JSON object over ``base`` (``--params-from``'s) or ``model``'s defaults,
    checked (``boosters.check_params``), or a one-line error naming the field."""
    from latpred.models import boosters

    try:
        extra = json.loads(text)
    except ValueError as err:
        raise bad_value("params", text, f"not JSON ({err})") from None
    if not isinstance(extra, dict):
        raise bad_value("params", text, "must be a JSON object, e.g. '{\"n_estimators\": 300}'")
    if base is None:
        if model not in boosters.MODEL_TYPES:
            raise bad_value("model", model, "--params needs --model lightgbm or xgboost "
                                            "(or --params-from)")
        base = boosters.default_params(model)
    return boosters.check_params(model, {**base, **extra})


def _fitted_from(path: str, target: str) -> Any:
    """The fitted LatencyPredictor in ``path`` (--params-from) of ``target`` or of another
    target of the same backend, or a one-line error naming the field."""
    from latpred.models.persist import load_model
    from latpred.models.targets import TARGETS, get_target

    ref = load_model(path)
    backend = get_target(target).backend
    ref_target = getattr(ref, "target", None)
    if ("best_params_" not in ref.__dict__ or ref_target not in TARGETS
            or get_target(ref_target).backend != backend):
        raise bad_value("params-from", path, f"must be a fitted predictor of a {backend} "
                                             f"target ({target} or another)")
    return ref


# -- evaluate --------------------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    from latpred.models.evaluate import evaluate, score_model
    from latpred.models.persist import load_model

    _quiet_optuna(False)
    model = load_model(args.model)
    df = _load_data(args.data)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    bad = [s for s in splits if s not in ("group", "lono")]
    if bad or not splits:
        raise bad_value("splits", args.splits, "must be group and/or lono")
    ev = evaluate(df, model.target, predictor=model, splits=splits, n_splits=args.n_splits,
                  device=args.device or model.device, n_jobs=args.n_jobs)
    as_is = score_model(model, df)
    plots = []
    if args.plots:
        from latpred.models.plots import write_plots

        plots = [str(p) for p in write_plots(ev, args.plots)]
    if args.json:
        out = ev.to_json()
        out["model_as_is"] = as_is
        out["model_cv_at_training"] = model.cv_metrics_
        out["plots"] = plots
        print(json.dumps(out, indent=1, default=float))
        return 0
    print(ev)
    print("\nstored model on this data as-is (in-sample if it was trained on it): "
          + ", ".join(f"{k} {v:.3g}" for k, v in as_is.items()))
    for note in ev.notes:
        print(f"note: {note}")
    for p in plots:
        print(f"wrote {p}")
    return 0


# -- predict ---------------------------------------------------------------------------------
def _layer(args: argparse.Namespace) -> Any:
    from latpred.profiler.cli import OP_SHAPE_ARGS, refuse_other_op_args
    from latpred.profiler.problems import ConvLayer, LinearLayer

    refuse_other_op_args(args, args.op)
    if args.op == "linear":
        missing = [f"--{n}" for n in OP_SHAPE_ARGS["linear"] if getattr(args, n) is None]
        if missing:
            raise bad_value("op", "linear", f"needs {', '.join(missing)}")
        return LinearLayer(args.m, args.n, args.k, args.pass_)
    missing = [f"--{n.replace('_', '-')}" for n in OP_SHAPE_ARGS["conv2d"]
               if getattr(args, n) is None]
    if missing:
        raise bad_value("op", "conv2d", f"needs {', '.join(missing)}")
    try:
        kh, kw = (int(v) for v in (args.kernel.split("x") * 2)[:2])
    except ValueError:
        raise bad_value("kernel", args.kernel, "must be K or KHxKW") from None
    return ConvLayer(args.batch, args.in_channels, args.out_channels, args.height, args.width,
                     kh, kw, args.stride, args.padding, args.dilation, args.groups)


def predict_layer(model: Any, layer: Any, device: str | None = None,
                  threads: list[int] | None = None) -> Any:
    """Every legal configuration of ``layer`` on the model's device(s) with predicted times
    (columns pred_us, lo_us, hi_us), sorted best first."""
    import pandas as pd
    from latpred.models.candidates import candidate_configs
    from latpred.models.targets import get_target

    backend = get_target(model.target).backend
    infos = [(n, i) for n, i in model.devices_.items()
             if device is None or device.lower() in n.lower()]
    if not infos:
        raise bad_value("device", device, f"not a device of this model ({', '.join(model.devices_)})")
    frames = [candidate_configs(layer, info, backend, threads=threads) for _, info in infos]
    cands = pd.concat(frames, ignore_index=True)
    if cands.empty:
        raise bad_value("layer", layer, "has no legal configuration on this device")
    lo, hi = model.predict_interval(cands)
    cands["pred_us"] = model.predict(cands)
    cands["lo_us"], cands["hi_us"] = lo, hi
    return cands.sort_values("pred_us", kind="stable").reset_index(drop=True)


def cmd_predict(args: argparse.Namespace) -> int:
    from latpred.models.persist import load_model
    from latpred.profiler.cli import parse_int_list

    if args.top is not None and args.top < 1:
        raise bad_value("top", args.top, "must be >= 1")
    threads = parse_int_list("threads", args.threads) if args.threads else None
    layer = _layer(args)
    model = load_model(args.model)
    if threads:
        cores = max((int(i.get("cpu_cores") or 0) for i in model.devices_.values()), default=0)
        if cores and max(threads) > cores:
            raise bad_value("threads", args.threads,
                            f"more than the {cores} cores of the CPU this model was trained on")
    res = predict_layer(model, layer, args.device, threads)
    if args.top:
        res = res.head(args.top)
    cols = ["device", "impl", "params", "local_size", "threads", "mem_mode", "pred_us", "lo_us",
            "hi_us"]
    if args.json:
        print(res[cols].to_json(orient="records"))
        return 0
    cov = int(round(model.coverage * 100))
    print(f"{model.target} of {layer} ({len(res)} configurations shown, best first; "
          f"lo/hi = {cov} % interval)")
    show = res[cols].copy()
    if len(set(show["device"])) == 1:
        show = show.drop(columns="device")
    for c in ("pred_us", "lo_us", "hi_us"):
        show[c] = show[c].map(lambda v: f"{v:.1f}")
    show.index = show.index + 1
    sys.stdout.write(show.to_string() + "\n")
    return 0

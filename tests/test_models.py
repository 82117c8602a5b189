"""models/: metrics, splits, the predictor's contract, persistence, CLI."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from latpred.models import (
    LatencyPredictor,
    LatpredVersionWarning,
    export_native,
    load_model,
    load_native,
    target_rows,
)
from latpred.models import metrics as M
from latpred.models.baselines import BASELINES, Part
from latpred.models.predictor import predict_many
from latpred.models.splits import (
    check_disjoint,
    group_holdout,
    group_kfold,
    leave_one_network_out,
    shape_groups,
)
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from latpred.errors import LatpredError

#: small, fixed booster parameters: fast and deterministic
FAST = {"n_estimators": 120, "learning_rate": 0.12, "max_depth": 6, "min_child_weight": 1.0,
        "subsample": 1.0, "colsample": 1.0, "reg_lambda": 0.1}


def make_dataset() -> pd.DataFrame:
    """The test dataset: schema rows with attrs["meta"]["devices"].

    Synthetic for now (physically plausible, no hardware). To switch to a small real
    dataset, profile one here, e.g.::

        subprocess.run([sys.executable, "-m", "latpred", "profile", "--op", "linear",
                        "--quick", "--device", "portable", "--out", str(d)], check=True)
        return latpred.datasets.load(d)
    """
    from latpred.models.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(n_random=8, suites=("bert", "mlp", "resnet", "mobilenet"),
                                  gpu_configs_per_layer=40, seed=3)


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    return make_dataset()


@pytest.fixture(scope="module")
def fitted(dataset) -> LatencyPredictor:
    return LatencyPredictor(target="gpu_kernel_us", model="xgboost", params=FAST,
                            cv_splits=3).fit(dataset)


@pytest.fixture(scope="module")
def candidates(dataset) -> pd.DataFrame:
    rows, _ = target_rows(dataset, "gpu_kernel_us")
    return rows.drop(columns=["kernel_us", "dispatch_us", "total_us"]).iloc[::7].reset_index(drop=True)


# -- metrics ------------------------------------------------------------------------------------
def test_metrics_definitions():
    y = np.array([100.0, 100.0, 100.0, 100.0])
    p = np.array([104.0, 92.0, 115.0, 300.0])  # e = .04, -.08, .15, 2.0
    assert M.mape(y, p) == pytest.approx((0.04 + 0.08 + 0.15 + 2.0) / 4 * 100)
    assert M.rmspe(y, p) == pytest.approx(np.sqrt((0.04**2 + 0.08**2 + 0.15**2 + 4) / 4) * 100)
    assert (M.acc(y, p, 0.05), M.acc(y, p, 0.10), M.acc(y, p, 0.20)) == (25.0, 50.0, 75.0)
    # two shapes: a chooses its best (within5), b chooses 1.5x the best
    g = np.array(["a", "a", "a", "b", "b", "b"])
    y2 = np.array([1.0, 2.0, 3.0, 10.0, 15.0, 20.0])
    p2 = np.array([1.0, 2.0, 3.0, 9.0, 1.0, 30.0])
    w5, regret = M.top1(y2, p2, g)
    assert w5 == 50.0
    assert regret == pytest.approx(np.sqrt(1.0 * 1.5) - 1)
    assert M.kendall_tau(y2, p2, g) == pytest.approx((1.0 + (1 / 3)) / 2)
    assert M.noise_floor(np.array([0.1, 0.3, np.nan, 0.2])) == pytest.approx(0.2)


# -- splits -------------------------------------------------------------------------------------
def test_group_splits_never_share_a_shape(dataset):
    rows, _ = target_rows(dataset, "gpu_total_us")
    groups = shape_groups(rows)
    folds = group_kfold(groups, 5)
    assert len(folds) == 5
    for split in folds:
        check_disjoint(groups, split)
        assert not set(groups[split[0]]) & set(groups[split[1]])
    check_disjoint(groups, group_holdout(groups, 0.3, seed=1))
    suites = rows["suite"].to_numpy(dtype=object)
    lono = list(leave_one_network_out(suites, groups))
    assert {s for s, _ in lono} == {"bert", "mlp", "resnet", "mobilenet"}
    for suite, split in lono:
        check_disjoint(groups, split)
        assert set(suites[split[1]]) == {suite}
    with pytest.raises(LatpredError):
        check_disjoint(groups, (np.arange(10), np.arange(5, 15)))


# -- the predictor ------------------------------------------------------------------------------
def test_sklearn_contract(dataset, fitted, candidates):
    est = LatencyPredictor(target="cpu_us", n_trials=3)
    assert est.get_params()["n_trials"] == 3
    assert not [k for k in vars(est) if k.endswith("_")]  # __init__ only stores params
    est.set_params(n_trials=0, model="xgboost")
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        est.predict(candidates)
    assert est.fit(dataset) is est
    assert fitted.booster_ is not None and fitted.manifest_["target"] == "gpu_kernel_us"
    p = fitted.predict(candidates)
    assert p.shape == (len(candidates),) and np.all(np.isfinite(p)) and np.all(p > 0)
    lo, hi = fitted.predict_interval(candidates)
    assert np.all(lo <= p) and np.all(p <= hi)
    assert 0.5 < fitted.score(dataset) <= 1.0
    # the device column may be omitted for a single-device model; GPU model refuses CPU rows
    np.testing.assert_allclose(fitted.predict(candidates.drop(columns="device")), p)
    cpu_rows = target_rows(dataset, "cpu_us")[0]
    with pytest.raises(LatpredError, match="backend"):
        fitted.predict(cpu_rows)


@pytest.fixture(scope="module")
def fitted_cpu(dataset) -> LatencyPredictor:
    return LatencyPredictor(target="cpu_us", model="xgboost", params=FAST,
                            cv_splits=3).fit(dataset)


def test_predict_many_matches_predict(dataset, fitted, fitted_cpu, as_columns):
    """Several predictors on subsets of one set of rows (one feature pass): the values of
    predict / predict_interval on those subsets, bit for bit, from a DataFrame or a column
    mapping; a device both predictors describe differently gets each its own pass."""
    gpu = target_rows(dataset, "gpu_kernel_us")[0]
    cpu = target_rows(dataset, "cpu_us")[0]
    rows = pd.concat([gpu.iloc[::5], cpu.iloc[::3]], ignore_index=True)
    rows = rows.iloc[np.random.default_rng(0).permutation(len(rows))].reset_index(drop=True)
    g = np.flatnonzero((rows["backend"] == "gpu").to_numpy())
    c = np.flatnonzero((rows["backend"] == "cpu").to_numpy())
    assert fitted.default_device_ != fitted_cpu.default_device_  # no shared default
    want = [fitted.predict(rows.iloc[g]), fitted_cpu.predict(rows.iloc[c]),
            fitted.predict_interval(rows.iloc[g[:7]])[1], np.zeros(0)]
    for X in (rows, as_columns(rows)):
        got = predict_many([fitted, fitted_cpu, fitted, fitted_cpu], X, [g, c, g[:7], c[:0]],
                           [False, False, True, False])
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    only_gpu = rows.iloc[g].reset_index(drop=True)
    assert np.array_equal(predict_many([fitted], only_gpu, [None], [False])[0], want[0])
    # another description of the GPU: the features differ, each predictor keeps its own
    other = pickle.loads(pickle.dumps(fitted))
    name = next(iter(other.devices_))
    other.devices_ = {name: {**other.devices_[name], "compute_units": 3}}
    got = predict_many([fitted, other], rows, [g, g], [False, False])
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], other.predict(rows.iloc[g]))
    assert not np.array_equal(got[1], got[0])
    with pytest.raises(LatpredError, match="backend"):
        predict_many([fitted], rows, [c], [False])


def test_beats_flops_linear_on_held_out_shapes(dataset):
    rows, y = target_rows(dataset, "gpu_kernel_us")
    rows.attrs = dataset.attrs
    groups = shape_groups(rows)
    tr, te = group_holdout(groups, 0.3, seed=0)
    model = LatencyPredictor(target="gpu_kernel_us", model="xgboost", params=FAST, cv_splits=3)
    model.fit(rows.iloc[tr].reset_index(drop=True), y[tr], devices=dataset.attrs["meta"]["devices"])
    p = model.predict(rows.iloc[te])
    from latpred.features import feature_matrix

    F = feature_matrix(rows, dataset.attrs["meta"]["devices"])
    base = BASELINES["flops_linear"](Part(rows.iloc[tr], F[tr], y[tr]),
                                     Part(rows.iloc[te], F[te], y[te]))
    assert M.mape(y[te], p) < M.mape(y[te], base)
    assert M.acc(y[te], p, 0.2) > M.acc(y[te], base, 0.2)


def test_optuna_tuning_shares_a_sqlite_study(dataset, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    kw = dict(target="cpu_us", model="auto", storage=url, study_name="t", cv_splits=2,
              max_trees=60)
    a = LatencyPredictor(n_trials=3, **kw).fit(dataset)
    assert a.model_type_ in ("lightgbm", "xgboost") and a.study_["trials"] == 3
    b = LatencyPredictor(n_trials=1, **kw).fit(dataset)  # a second worker joins the study
    assert b.study_["trials"] == 4
    import optuna
    from latpred.models.boosters import start_params

    trials = optuna.load_study(study_name="t", storage=url).trials
    # a new study starts from one known-good point per library; a joining worker adds none
    assert [t.params.get("model") for t in trials[:2]] == ["lightgbm", "xgboost"]
    for t in trials[:2]:
        want = start_params(t.params["model"], 60)
        assert {k: t.params[k] for k in want} == want and t.params["prior"] == "feature"


# -- persistence --------------------------------------------------------------------------------
def test_joblib_round_trip_in_a_fresh_process(fitted, candidates, tmp_path):
    path = tmp_path / "model.pkl"
    joblib.dump(fitted, path)
    candidates.to_pickle(tmp_path / "cands.pkl")
    code = ("import joblib, pandas as pd, numpy as np, sys\n"
            f"m = joblib.load({str(path)!r})\n"
            f"c = pd.read_pickle({str(tmp_path / 'cands.pkl')!r})\n"
            "lo, hi = m.predict_interval(c)\n"
            "np.save(sys.argv[1], np.stack([m.predict(c), lo, hi]))\n")
    out = tmp_path / "pred.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=120)
    got = np.load(out)
    np.testing.assert_allclose(got[0], fitted.predict(candidates), rtol=1e-12)
    np.testing.assert_allclose(got[1:], np.stack(fitted.predict_interval(candidates)), rtol=1e-12)
    assert isinstance(load_model(path), LatencyPredictor)


def test_manifest_mismatch_raises_and_versions_warn(fitted, tmp_path):
    bad = pickle.loads(pickle.dumps(fitted))
    bad.manifest_ = json.loads(json.dumps(fitted.manifest_))
    bad.manifest_["feature_schema"]["names"] = bad.manifest_["feature_schema"]["names"][1:]
    path = tmp_path / "bad.pkl"
    joblib.dump(bad, path)
    with pytest.raises(LatpredError, match="feature schema"):
        joblib.load(path)
    with pytest.raises(LatpredError, match="feature schema"):
        load_model(path)
    old = pickle.loads(pickle.dumps(fitted))
    old.manifest_ = json.loads(json.dumps(fitted.manifest_))
    old.manifest_["versions"]["xgboost"] = "0.0.1"
    joblib.dump(old, tmp_path / "old.pkl")
    with pytest.warns(LatpredVersionWarning, match="xgboost"):
        joblib.load(tmp_path / "old.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LatpredVersionWarning)
        pickle.loads(pickle.dumps(fitted))  # same versions: silent


def test_native_export_round_trip(fitted, candidates, tmp_path):
    d = export_native(fitted, tmp_path / "native")
    files = sorted(p.name for p in Path(d).iterdir())
    assert files == ["model.xgboost.json", "predictor.json"]
    again = load_native(d)
    np.testing.assert_allclose(again.predict(candidates), fitted.predict(candidates), rtol=1e-6)
    assert isinstance(load_model(d), LatencyPredictor)
    manifest = json.loads((Path(d) / "predictor.json").read_text())["manifest"]
    for key in ("target", "feature_schema", "training_data", "device_fingerprint", "versions",
                "metrics"):
        assert key in manifest
    assert set(manifest["versions"]) >= {"latpred", "lightgbm", "xgboost", "scikit-learn", "numpy"}
    # other library versions: a pickle warns, a native export only logs (portable format)
    state = json.loads((Path(d) / "predictor.json").read_text())
    state["manifest"]["versions"]["xgboost"] = "0.0.1"
    (Path(d) / "predictor.json").write_text(json.dumps(state))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LatpredVersionWarning)
        np.testing.assert_allclose(load_model(d).predict(candidates),
                                   fitted.predict(candidates), rtol=1e-6)


# -- evaluation and CLI -------------------------------------------------------------------------
def _write_dataset(df: pd.DataFrame, d: Path) -> Path:
    from latpred.datasets.store import write_parquet

    d.mkdir(parents=True, exist_ok=True)
    write_parquet(df, d / "part-test.parquet", df.attrs["meta"])
    (d / "meta.json").write_text(json.dumps(df.attrs["meta"]))
    return d


def test_cli_train_evaluate_predict(dataset, tmp_path, capsys):
    from latpred.cli import main

    data = _write_dataset(dataset, tmp_path / "data")
    model = tmp_path / "m.pkl"
    rc = main(["train", "--data", str(data), "--target", "gpu_kernel_us", "--model", "xgboost",
               "--n-trials", "1", "--cv-splits", "2", "--max-trees", "60", "--out", str(model),
               "--native", str(tmp_path / "native")])
    assert rc == 0 and model.exists() and (tmp_path / "m.optuna.db").exists()
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(model), "--data", str(data), "--json",
               "--n-splits", "3", "--plots", str(tmp_path / "plots")])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    for split in ("group", "lono"):
        assert set(res["results"][split]) == {"model", "flops_linear", "roofline",
                                              "nearest_neighbour", "random_forest"}
        assert set(M.METRICS) <= set(res["results"][split]["model"])
    assert sorted(Path(p).name for p in res["plots"]) == [
        "error_cdf.png", "pred_vs_measured.png", "workgroup_heatmap.png"]
    rc = main(["predict", "--model", str(model), "--op", "linear", "--m", "32", "--n", "256",
               "--k", "784", "--top", "5"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(out) == 7
    times = [float(line.split()[-3]) for line in out[2:]]
    assert times == sorted(times)
    rc = main(["predict", "--model", str(tmp_path / "native"), "--op", "conv2d", "--json",
               "--in-channels", "16", "--out-channels", "32", "--height", "28", "--width", "28",
               "--kernel", "3", "--padding", "1"])
    recs = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(recs) > 10 and all(r["pred_us"] > 0 for r in recs)
    # the same booster parameters on the same data, no tuning: the same model
    rc = main(["train", "--data", str(data), "--target", "gpu_kernel_us", "--cv-splits", "2",
               "--params-from", str(model), "--out", str(tmp_path / "again.pkl")])
    first, again = joblib.load(model), joblib.load(tmp_path / "again.pkl")
    assert rc == 0 and again.best_params_ == first.best_params_
    assert (again.model_type_, again.prior_) == (first.model_type_, first.prior_)
    assert again.study_ is None and not (tmp_path / "again.optuna.db").exists()
    # another GPU target lends its parameters too (the components with total's parameters)
    rc = main(["train", "--data", str(data), "--target", "gpu_dispatch_us", "--cv-splits", "2",
               "--params-from", str(model), "--out", str(tmp_path / "dispatch.pkl")])
    lent = joblib.load(tmp_path / "dispatch.pkl")
    assert rc == 0 and lent.target == "gpu_dispatch_us"
    assert lent.best_params_ == first.best_params_ and lent.prior_ == first.prior_
    # --params over --params-from's: those parameters with the given ones replaced
    rc = main(["train", "--data", str(data), "--target", "gpu_kernel_us", "--cv-splits", "2",
               "--params-from", str(model), "--params", '{"n_estimators": 7}',
               "--out", str(tmp_path / "seven.pkl")])
    seven = joblib.load(tmp_path / "seven.pkl")
    assert rc == 0 and seven.booster_.n_trees == 7 and seven.study_ is None
    assert seven.best_params_ == {**first.best_params_, "n_estimators": 7}
    # and without it, over --model's defaults
    rc = main(["train", "--data", str(data), "--target", "gpu_kernel_us", "--cv-splits", "2",
               "--model", "xgboost", "--prior", "none", "--params", '{"n_estimators": 5}',
               "--out", str(tmp_path / "five.pkl")])
    five = joblib.load(tmp_path / "five.pkl")
    assert rc == 0 and five.booster_.n_trees == 5 and five.best_params_["max_depth"] == 7
    capsys.readouterr()
    for params, field in (('{"n_trees": 5}', "params="), ("[5]", "params="), ("{5", "params="),
                          ('{"max_depth": 2.5}', "params.max_depth="),
                          ('{"subsample": 1.5}', "params.subsample=")):
        out = tmp_path / "bad.pkl"
        assert main(["train", "--data", str(data), "--target", "gpu_kernel_us",
                     "--params-from", str(model), "--params", params, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and field in err[0] and not out.exists(), (params, err)
    assert main(["train", "--data", str(data), "--target", "gpu_kernel_us", "--params",
                 '{"n_estimators": 5}', "--out", str(tmp_path / "bad.pkl")]) == 2
    assert "model='auto'" in capsys.readouterr().err
    # a model fitted before n_features_ existed reads its width from its manifest
    del again.n_features_
    assert again._width() == len(again.manifest_["feature_schema"]["names"])
    capsys.readouterr()
    # user errors: one line, exit code 2
    assert main(["train", "--data", str(data), "--target", "cpu_us", "--params-from",
                 str(model), "--out", str(tmp_path / "y.pkl")]) == 2
    assert "params-from=" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "nope"), "--target", "cpu_us",
                 "--out", str(tmp_path / "x.pkl")]) == 2
    assert main(["predict", "--model", str(model), "--op", "linear", "--m", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("latpred ") for line in err)
    lin = ["predict", "--model", str(model), "--op", "linear", "--m", "4", "--n", "8", "--k", "8"]
    for extra, field in ((["--threads", "0"], "threads="), (["--top", "0"], "top="),
                         (["--height", "5"], "height="), (["--threads", "2,-1"], "threads=")):
        assert main([*lin, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and field in err[0]
    # argparse's own errors: one line too, and no prefix matching (--m is not --model)
    for argv in ([*lin[:-1], "8.5"], ["predict", "--mod", str(model), "--op", "linear"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and "error:" in err[0]


def test_explicit_params_are_checked_before_fitting(dataset):
    from latpred.models import boosters

    xgb_params = boosters.default_params("xgboost")
    with pytest.raises(LatpredError, match=r"^params=.*lightgbm needs exactly.*unknown max_depth"):
        LatencyPredictor(target="gpu_kernel_us", model="lightgbm", params=xgb_params).fit(dataset)
    with pytest.raises(LatpredError, match=r"^params\.learning_rate=-0\.1: must be > 0$"):
        boosters.check_params("xgboost", {**xgb_params, "learning_rate": -0.1})
    assert boosters.check_params("xgboost", {**xgb_params, "reg_lambda": 0}) == \
        {**xgb_params, "reg_lambda": 0}


def test_exclude_suite_drops_every_row_of_its_shapes(dataset):
    from latpred.datasets.schema import shape_id
    from latpred.models.cli import _exclude_suites

    bert = set(shape_id(dataset[dataset["suite"] == "bert"]))
    out = _exclude_suites(dataset, ["bert"])
    assert bert and not (set(shape_id(out)) & bert)
    assert len(out) == (~shape_id(dataset).isin(bert)).sum() and "suite" in out
    assert _exclude_suites(dataset, []) is dataset
    with pytest.raises(LatpredError, match="exclude-suite='vgg'"):
        _exclude_suites(dataset, ["vgg"])


def test_roofline_scratch_term_and_five_parameter_rooflines():
    """The scratch bytes (the BLAS conv workspace, filled by one thread) add S / W_s, which
    more threads do not divide; a roofline saved before that term predicts without it."""
    from latpred.features import FEATURE_NAMES
    from latpred.models.roofline import Roofline

    i = {n: j for j, n in enumerate(FEATURE_NAMES)}
    rng = np.random.default_rng(0)
    n = 400
    F = np.zeros((n, len(FEATURE_NAMES)))
    flops = 2.0 ** rng.uniform(16, 30, n)
    scratch = np.where(rng.random(n) < 0.5, 2.0 ** rng.uniform(16, 26, n), 0.0)
    threads = rng.choice([1, 2, 4, 8, 16], n).astype(float)
    F[:, i["log2_flops"]] = np.log2(flops)
    F[:, i["log2_bytes_total"]] = np.log2(flops / 50)
    F[:, i["log2_scratch_bytes"]] = np.log2(1 + scratch)
    F[:, i["dev_compute_units"]] = 16
    F[:, i["units"]] = threads
    F[:, i["n_launches"]] = 1
    y = 2.0 + flops * 16 / threads / 3e5 + scratch / 2e3  # us
    dev, impl = np.array(["cpu"] * n), np.array(["blas"] * n)
    roof = Roofline().fit(F, y, dev, impl)
    err = np.abs(np.log(roof.predict(F, dev, impl) / y))
    assert np.median(err) < 0.05
    old = Roofline.from_json({"min_rows": 12,
                              "params": {k: v[:5] for k, v in roof.params_.items()}})
    no_scratch = F.copy()
    no_scratch[:, i["log2_scratch_bytes"]] = 0.0
    np.testing.assert_allclose(old.predict(F, dev, impl), old.predict(no_scratch, dev, impl))

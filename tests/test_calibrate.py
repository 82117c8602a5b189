"""Recalibrating predictors on runtime rows: rows from grids, the fitted correction, the CLI."""

from __future__ import annotations

import json
import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
from latpred.datasets.schema import conform
from latpred.datasets.store import write_parquet
from latpred.models.calibrated import RuntimeCalibrated
from latpred.models.splits import shape_groups
from latpred.models.synthetic import CPU_INFO, GPU_INFO
from latpred.planner.calibrate import runtime_rows
from latpred.planner.oracle import load_grid
from latpred.planner.predictors import Predictors
from latpred.planner.sync import SyncModel
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.cli import main as cli_main
from latpred.errors import LatpredError

CONV = ConvLayer(1, 16, 32, 14, 14, 3, 3, padding=1)
FC = LinearLayer(8, 512, 256)
GPU_PARAMS = {"TS": 16}


def _row(suite: str, layer, backend: str, split: int, us: float, threads: int | None = None,
         mem_mode: str = "buffer") -> dict:
    """One grid row as ``latpred coexec grid`` stores it (dataset schema)."""
    n_total = layer.out_channels if isinstance(layer, ConvLayer) else layer.n
    shape = ({"op": "conv2d", **layer.shape_dict()} if isinstance(layer, ConvLayer) else
             {"op": "linear", "m": layer.m, "n": layer.n, "k": layer.k})
    cpu_us = us if backend == "cpu" else (us if backend == "coexec" else 0.0)
    gpu_us = us if backend in ("gpu", "coexec") else 0.0
    impl = "conv_1x1" if isinstance(layer, ConvLayer) else "gemm_tiled"
    return {**shape, "pass": "forward", "suite": suite, "layer": "l", "backend": backend,
            "device": {"cpu": CPU_INFO["name"], "gpu": GPU_INFO["name"]}.get(
                backend, f"{GPU_INFO['name']} + {CPU_INFO['name']}"),
            "platform": "numpy" if backend == "cpu" else GPU_INFO["platform"],
            "impl": "blas" if backend == "cpu" else impl,
            "params": json.dumps({**({} if backend == "cpu" else GPU_PARAMS),
                                  "_split_n": split}),
            "local_size": "" if backend == "cpu" else "16x16x1", "threads": threads,
            "mem_mode": "host" if backend == "cpu" else mem_mode, "total_us": us + 20.0,
            "kernel_breakdown_us": json.dumps({"cpu_us": cpu_us, "gpu_total_us": gpu_us,
                                               "split_n": split, "n_total": n_total}),
            "status": "ok", "config_key": f"{suite}-{backend}-{split}-{threads}-{mem_mode}-"
                                          f"{shape['op']}-{us}"}


def _grid(rows: list[dict]) -> pd.DataFrame:
    df = conform(pd.DataFrame(rows))
    return df


def _write(path, rows: list[dict]) -> None:
    path.mkdir(parents=True)
    write_parquet(_grid(rows), path / "part-0-all.parquet", {"devices": {}})


def test_runtime_rows_keep_single_device_rows_merged_by_configuration(tmp_path):
    rows = [_row("a", FC, "cpu", 0, 100.0, threads=4), _row("b", FC, "cpu", 0, 400.0, threads=4),
            _row("a", FC, "cpu", 0, 50.0, threads=8),
            _row("a", FC, "gpu", 512, 30.0), _row("a", FC, "gpu", 256, 15.0),  # a GPU part
            _row("a", FC, "coexec", 256, 60.0, threads=4),
            _row("a", CONV, "gpu", 32, 70.0, mem_mode="map"),
            _row("c", CONV, "cpu", 0, 90.0, threads=4)]
    _write(tmp_path / "g", rows)
    got = runtime_rows([load_grid(tmp_path / "g")], GPU_INFO, CPU_INFO, exclude_suites=["c"])
    cpu, gpu = got["cpu_us"], got["gpu_total_us"]
    # two timings of one configuration: one row at their geometric median; no co-execution
    # row, no GPU part below the whole layer, no excluded suite
    assert len(cpu) == 2 and len(gpu) == 2
    four = cpu.X["threads"].to_numpy() == 4
    assert cpu.y_us[four][0] == pytest.approx(200.0) and cpu.n_measurements[four][0] == 2
    assert set(cpu.X["backend"].astype(str)) == {"cpu"}
    assert set(cpu.X["device"].astype(str)) == {CPU_INFO["name"]}
    assert set(cpu.X["mem_mode"].astype(str)) == {"host"}
    np.testing.assert_allclose(sorted(gpu.y_us), [30.0, 70.0])
    assert set(gpu.X["device"].astype(str)) == {GPU_INFO["name"]}
    assert set(gpu.X["params"].astype(str)) == {json.dumps(GPU_PARAMS)}  # no _split_n
    assert set(gpu.X["op"].astype(str)) == {"linear", "conv2d"}



def test_runtime_rows_refuse_rows_of_another_device(tmp_path):
    other = _row("a", FC, "gpu", 512, 30.0)
    other.update(device="Another GPU")
    _write(tmp_path / "g", [_row("a", FC, "cpu", 0, 100.0, threads=4), other])
    grid = load_grid(tmp_path / "g")
    with pytest.raises(LatpredError, match=r"device='Another GPU \(Synthetic OpenCL\)'.*"
                                           r"gpu rows of suite a.*Synthetic GPU"):
        runtime_rows([grid], GPU_INFO, CPU_INFO)
    # a CPU measured elsewhere too; an excluded suite's rows are not checked
    with pytest.raises(LatpredError, match="cpu rows of suite a"):
        runtime_rows([grid], GPU_INFO, {**CPU_INFO, "name": "Another CPU"})
    assert len(runtime_rows([grid], {**GPU_INFO, "name": "Another GPU"}, CPU_INFO)
               ["gpu_total_us"]) == 1
    assert not len(runtime_rows([grid], GPU_INFO, {**CPU_INFO, "name": "Another CPU"},
                                exclude_suites=["a"])["cpu_us"])

@pytest.fixture(scope="module")
def base_predictors(synthetic_rows, latency_predictors):
    return synthetic_rows, {t: latency_predictors[t] for t in ("cpu_us", "gpu_total_us")}


def test_calibrated_learns_a_runtime_factor_and_serves_the_planners_fast_path(
        base_predictors):
    data, models = base_predictors
    base = models["gpu_total_us"]
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    y = 2.0 * base.predict(X)  # the runtime takes twice what the profiler measured
    cal = RuntimeCalibrated(base, min_child_samples=5).fit(X, y)
    ratio = cal.predict(X) / base.predict(X)
    assert np.median(ratio) == pytest.approx(2.0, rel=0.05)
    assert cal.log_ratio_median_ == pytest.approx(np.log(2.0))
    lo, hi = cal.predict_interval(X)
    assert np.all(lo <= cal.predict(X)) and np.all(cal.predict(X) <= hi)
    # the planner hands calibrated predictors column mappings, with the same answers
    preds = Predictors({"gpu_total_us": cal, "cpu_us": models["cpu_us"]})
    assert preds.takes_columns(["gpu_total_us", "cpu_us"])
    from latpred.models.predictor import predict_many

    got = predict_many([cal], X, [None], [False])[0]
    np.testing.assert_allclose(got, cal.predict(X), rtol=1e-9)


def test_relative_calibration_reorders_a_layer_and_keeps_its_level(base_predictors):
    """relative: the runtime takes 3x the profiler's time, 1.5x more at >= 8 threads; the
    correction learns the 1.5x between a layer's thread counts, not the 3x."""
    data, models = base_predictors
    base = models["cpu_us"]
    X = data[data["backend"] == "cpu"].reset_index(drop=True)
    many = X["threads"].to_numpy() >= 8
    assert many.any() and (~many).any()
    y = 3.0 * base.predict(X) * np.where(many, 1.5, 1.0)
    cal = RuntimeCalibrated(base, min_child_samples=5, relative=True).fit(X, y)
    ratio = cal.predict(X) / base.predict(X)
    assert np.median(ratio[many]) / np.median(ratio[~many]) == pytest.approx(1.5, rel=0.1)
    # the level: each layer's geometric-mean ratio stays near 1 (not 3)
    g = pd.Series(np.log(ratio)).groupby(shape_groups(X)).mean()
    assert np.abs(g).max() < 0.15
    assert cal.log_ratio_median_ == pytest.approx(np.log(3.0 * 1.5), abs=0.5)
    absolute = RuntimeCalibrated(base, min_child_samples=5).fit(X, y)
    assert np.median(absolute.predict(X) / base.predict(X)) > 2.5
    with pytest.raises(LatpredError, match="groups="):
        RuntimeCalibrated(base, relative=True).fit(X, y, groups=np.zeros(3))


def test_calibrated_native_export_round_trips(base_predictors, tmp_path):
    from latpred.models.persist import export_native, load_model

    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    y = models["gpu_total_us"].predict(X) * np.where(X["mem_mode"].astype(str) == "map", 1.3, 1.0)
    cal = RuntimeCalibrated(models["gpu_total_us"], min_child_samples=5, relative=True).fit(X, y)
    export_native(cal, tmp_path / "cal")
    assert (tmp_path / "cal" / "base" / "predictor.json").exists()
    got = load_model(tmp_path / "cal")
    assert isinstance(got, RuntimeCalibrated) and got.relative and got.n_rows_ == len(y)
    np.testing.assert_allclose(got.predict(X), cal.predict(X), rtol=1e-12)
    assert got.manifest_ == cal.base.manifest_
    (tmp_path / "cal" / "residual.lightgbm.txt").unlink()
    with pytest.raises(LatpredError, match="model=.*broken calibrated export"):
        load_model(tmp_path / "cal")


def test_calibrated_residual_predicts_with_its_base_boosters_threads(base_predictors):
    """The residual takes the base's prediction threads (1 by default: a planner beside a
    co-executing CPU part), not LightGBM's default of every core."""
    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    cal = RuntimeCalibrated(models["gpu_total_us"], min_child_samples=5).fit(
        X, 2.0 * models["gpu_total_us"].predict(X))
    seen: list[dict] = []

    class Recording:
        def __init__(self, booster):
            self.booster = booster

        def num_feature(self):
            return self.booster.num_feature()

        def predict(self, data, **kwargs):
            seen.append(kwargs)
            return self.booster.predict(data, **kwargs)

    want = cal.predict(X)
    cal.booster_ = Recording(cal.booster_)
    np.testing.assert_array_equal(cal.predict(X), want)
    assert seen == [{"num_threads": cal.base.booster_.n_threads}]
    assert cal.base.booster_.n_threads == 1


def test_predict_threads_take_effect_after_fit_and_load(base_predictors, tmp_path):
    """``Predictors.set_predict_threads`` reaches a plain predictor and a calibrated one's
    base and residual, after fit and after a native load; predictions do not change."""
    from latpred.models.persist import export_native, load_model

    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    cal = RuntimeCalibrated(models["gpu_total_us"], min_child_samples=5).fit(
        X, 2.0 * models["gpu_total_us"].predict(X))
    export_native(cal, tmp_path / "cal")
    loaded = load_model(tmp_path / "cal")
    want = cal.predict(X)
    cpu = models["cpu_us"]  # shared with other tests: its threads restored below
    preds = Predictors({"gpu_total_us": loaded, "cpu_us": cpu})
    try:
        preds.set_predict_threads(2)
        np.testing.assert_allclose(loaded.predict(X), want, rtol=1e-12)
        assert loaded.base.predict_threads == 2 and loaded.base.booster_.n_threads == 2
        assert cpu.predict_threads == 2
        preds.set_predict_threads(1)
        loaded.predict(X)
        assert loaded.base.booster_.n_threads == 1 and cpu.predict_threads == 1
        with pytest.raises(LatpredError, match="predict-threads=0"):
            preds.set_predict_threads(0)
    finally:
        cpu.set_params(predict_threads=None)


def test_xgboost_residual_learns_the_ranking_and_round_trips(base_predictors, tmp_path):
    """model_type="xgboost": the same correction as the LightGBM residual (a memory mode
    1.3x slower, learnt relative to the layer), exported as XGBoost JSON and loaded with the
    same predictions, with the base's prediction threads."""
    from latpred.models.persist import export_native, load_model

    data, models = base_predictors
    base = models["gpu_total_us"]
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    slow = X["mem_mode"].astype(str).to_numpy() == "map"
    assert slow.any() and (~slow).any()
    y = base.predict(X) * np.where(slow, 1.3, 1.0)
    cal = RuntimeCalibrated(base, min_child_samples=5, relative=True, n_estimators=60,
                            learning_rate=0.1, model_type="xgboost").fit(X, y)
    ratio = cal.predict(X) / base.predict(X)
    assert np.median(ratio[slow]) / np.median(ratio[~slow]) == pytest.approx(1.3, rel=0.05)
    assert cal.booster_.n_trees == 60
    assert json.loads(cal.booster_.booster.save_config())["learner"]["gradient_booster"][
        "tree_train_param"]["max_depth"] == "4"
    export_native(cal, tmp_path / "cal")
    assert not (tmp_path / "cal" / "residual.lightgbm.txt").exists()
    got = load_model(tmp_path / "cal")
    assert got.model_type == "xgboost" and got.max_depth == 4
    np.testing.assert_array_equal(got.predict(X), cal.predict(X))
    state = json.loads((tmp_path / "cal" / "predictor.json").read_text())
    state["init_params"]["model_type"] = "catboost"
    (tmp_path / "cal2").mkdir()
    shutil.copytree(tmp_path / "cal" / "base", tmp_path / "cal2" / "base")
    (tmp_path / "cal2" / "predictor.json").write_text(json.dumps(state))
    with pytest.raises(LatpredError, match="model_type='catboost'"):
        load_model(tmp_path / "cal2")
    # the base's threads: 2 set on the booster on the next predict, and back to 1
    got.base.set_params(predict_threads=2)
    np.testing.assert_array_equal(got.predict(X), cal.predict(X))
    assert json.loads(got.booster_.booster.save_config())["learner"]["generic_param"][
        "nthread"] == "2"
    got.base.set_params(predict_threads=None)
    got.predict(X)
    assert json.loads(got.booster_.booster.save_config())["learner"]["generic_param"][
        "nthread"] == "1"
    # a pickle keeps the type; one from before the option loads as LightGBM
    state = cal.__getstate__()
    clone = RuntimeCalibrated.__new__(RuntimeCalibrated)
    clone.__setstate__(dict(state))
    np.testing.assert_array_equal(clone.predict(X), cal.predict(X))
    old = RuntimeCalibrated.__new__(RuntimeCalibrated)
    old.__setstate__({k: v for k, v in state.items() if k not in ("model_type", "max_depth")})
    assert old.model_type == "lightgbm"
    with pytest.raises(LatpredError, match="model_type='catboost'"):
        RuntimeCalibrated(base, model_type="catboost").fit(X, y)
    with pytest.raises(LatpredError, match="max_depth=0"):
        RuntimeCalibrated(base, model_type="xgboost", max_depth=0).fit(X, y)


def test_calibrated_correction_fades_beyond_its_training_sizes(base_predictors, tmp_path):
    """A correction learnt on small layers (the runtime 2x the profiler) applies in full
    within its training rows' largest FLOPs and bytes moved, fades over fade_doublings
    beyond them, and is gone past that: the base predictor answers. The sizes persist in
    the native export; an export from before the option (no sizes) never fades."""
    from latpred.features import FEATURE_NAMES, feature_matrix
    from latpred.models.extrapolation import SIZE_DRIVERS, correction_weight
    from latpred.models.persist import export_native, load_model

    data, models = base_predictors
    base = models["gpu_total_us"]
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    F = feature_matrix(X, base.devices_, base.default_device_)
    flops = F[:, FEATURE_NAMES.index("log2_flops")]
    small = flops <= np.quantile(flops, 0.5)
    cal = RuntimeCalibrated(base, min_child_samples=5, model_type="xgboost",
                            n_estimators=60, learning_rate=0.1)
    cal.fit(X[small].reset_index(drop=True), 2.0 * base.predict(X[small]))
    assert cal.fade_doublings == 1.0 and set(cal.size_max_) == {"*", GPU_INFO["name"]}
    assert cal.size_max_["*"][0] == pytest.approx(flops[small].max())
    ratio = cal.predict(X) / base.predict(X)
    beyond = (F[:, [FEATURE_NAMES.index(c) for c in SIZE_DRIVERS]]
              - np.asarray(cal.size_max_["*"])).max(axis=1)
    assert np.median(ratio[beyond <= 0]) == pytest.approx(2.0, rel=0.05)
    far = beyond >= 1.0
    assert far.any() and np.allclose(ratio[far], 1.0)
    cal.set_params(fade_doublings=None)  # read at each prediction: never faded
    full = cal.predict(X) / base.predict(X)
    assert np.median(full[far]) > 1.5
    cal.set_params(fade_doublings=1.0)
    # in log time, each row keeps its weight's share of the correction (partly in between)
    w = correction_weight(F, (np.zeros(len(F), int), [GPU_INFO["name"]]), cal.size_max_, 1.0)
    np.testing.assert_allclose(np.log(ratio), w * np.log(full), atol=1e-9)
    assert ((w > 0.1) & (w < 0.9)).any()
    export_native(cal, tmp_path / "cal")
    got = load_model(tmp_path / "cal")
    assert got.size_max_ == cal.size_max_
    np.testing.assert_array_equal(got.predict(X), cal.predict(X))
    state = json.loads((tmp_path / "cal" / "predictor.json").read_text())
    del state["size_max"], state["init_params"]["fade_doublings"]
    (tmp_path / "cal" / "predictor.json").write_text(json.dumps(state))
    old = load_model(tmp_path / "cal")
    assert old.fade_doublings is None and "size_max_" not in old.__dict__
    assert np.median(old.predict(X)[far] / base.predict(X)[far]) > 1.5
    with pytest.raises(LatpredError, match="fade_doublings=-1"):
        RuntimeCalibrated(base, fade_doublings=-1).fit(X, base.predict(X))


def test_calibrated_refuses_bad_input(base_predictors):
    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True).iloc[:10]
    with pytest.raises(LatpredError, match="y="):
        RuntimeCalibrated(models["gpu_total_us"]).fit(X, np.r_[np.ones(9), 0.0])
    with pytest.raises(LatpredError, match="y="):
        RuntimeCalibrated(models["gpu_total_us"]).fit(X, np.ones(3))
    with pytest.raises(LatpredError, match="base="):
        RuntimeCalibrated(None).fit(X, np.ones(10))
    with pytest.raises(LatpredError, match="backend="):
        RuntimeCalibrated(models["cpu_us"]).fit(X, np.ones(10))


def _models_dir(path, models: dict, sync: dict) -> object:
    """A models directory of ``models`` (target -> predictor) for the synthetic devices."""
    path.mkdir()
    for t, model in models.items():
        joblib.dump(model, path / f"{t}.pkl")
    (path / "manifest.json").write_text(json.dumps({"devices": {"gpu": GPU_INFO,
                                                                "cpu": CPU_INFO}}))
    (path / "sync.json").write_text(json.dumps(sync))
    return path


def test_coexec_calibrate_cli_writes_a_complete_models_dir(base_predictors, tmp_path, capsys):
    _data, models = base_predictors
    m = _models_dir(tmp_path / "models", models, {})
    rng = np.random.default_rng(0)
    rows = []
    layers = {"s1": [FC, LinearLayer(4, 256, 128), CONV],
              "s2": [LinearLayer(2, 128, 64), LinearLayer(16, 256, 256),
                     ConvLayer(1, 8, 16, 28, 28, 1, 1)]}
    for suite, lays in layers.items():
        for lay in lays:
            for t in (1, 2, 4, 8):
                rows.append(_row(suite, lay, "cpu", 0, float(rng.uniform(50, 500)), threads=t))
            for mode in ("buffer", "map"):
                n = lay.out_channels if isinstance(lay, ConvLayer) else lay.n
                rows.append(_row(suite, lay, "gpu", n, float(rng.uniform(20, 200)),
                                 mem_mode=mode))
    _write(tmp_path / "bench" / "s1" / "grid", [r for r in rows if r["suite"] == "s1"])
    _write(tmp_path / "bench" / "s2" / "confirm", [r for r in rows if r["suite"] == "s2"])
    out = tmp_path / "cal"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                     str(tmp_path / "bench"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 datasets" in text and "held out suite by suite" in text
    assert sorted(p.name for p in out.iterdir()) == ["cpu_us.pkl", "gpu_total_us.pkl",
                                                     "manifest.json", "sync.json"]
    loaded = Predictors.load(out)
    assert all(isinstance(loaded.models[t], RuntimeCalibrated) for t in models)
    # refused: an existing out, a missing grid path (one line each, nothing written)
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                     str(tmp_path / "bench"), "--out", str(out)]) == 2
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                     str(tmp_path / "nope"), "--out", str(tmp_path / "cal2")]) == 2
    err = capsys.readouterr().err
    assert "out=" in err and "grid=" in err and not (tmp_path / "cal2").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cal")]
    # --relative --target: only that predictor, a ranking correction; the other copied
    rel = tmp_path / "rel"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--relative", "--target", "gpu_total_us", "--no-check", "--native",
                     "--out", str(rel)]) == 0
    assert "calibrated gpu_total_us (relative)" in capsys.readouterr().out
    assert (rel / "gpu_total_us" / "predictor.json").exists()  # --native: no pickle
    assert not (rel / "gpu_total_us.pkl").exists() and (rel / "cpu_us.pkl").exists()
    loaded = Predictors.load(rel)
    assert loaded.models["gpu_total_us"].relative
    assert not isinstance(loaded.models["cpu_us"], RuntimeCalibrated)
    # --trees: the residual's size, its learning rate scaled to keep trees x rate
    small = tmp_path / "small"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--relative", "--target", "gpu_total_us", "--no-check", "--native",
                     "--trees", "40", "--out", str(small)]) == 0
    capsys.readouterr()
    fitted = Predictors.load(small).models["gpu_total_us"]
    assert fitted.n_estimators == 40 and fitted.learning_rate == pytest.approx(0.03 * 300 / 40)
    assert fitted.booster_.num_trees() <= 40
    # --residual-model xgboost: an XGBoost residual, written as its JSON model
    xgbdir = tmp_path / "xgb"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--relative", "--target", "gpu_total_us", "--no-check", "--native",
                     "--trees", "40", "--residual-model", "xgboost", "--seed", "3",
                     "--fade-doublings", "0", "--out", str(xgbdir)]) == 0
    capsys.readouterr()
    assert (xgbdir / "gpu_total_us" / "residual.xgboost.json").exists()
    fitted = Predictors.load(xgbdir).models["gpu_total_us"]
    assert fitted.model_type == "xgboost" and fitted.booster_.n_trees == 40
    assert fitted.random_state == 3 and fitted.fade_doublings is None  # 0: no fade
    assert Predictors.load(small).models["gpu_total_us"].fade_doublings == 1.0  # the default
    for extra, field in ((["--residual-model", "xgboost", "--what", "overheads"], "what="),
                         (["--seed", "-1"], "seed="),
                         (["--fade-doublings", "-1"], "fade-doublings="),
                         (["--target", "kernel_us"], "target="),
                         (["--relative", "--what", "overheads"], "what="),
                         (["--trees", "0"], "trees="),
                         (["--learning-rate", "1.5"], "learning-rate="),
                         (["--trees", "50", "--what", "overheads"], "what=")):
        assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                         str(tmp_path / "bench"), *extra, "--out", str(tmp_path / "x")]) == 2
        assert field in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_coexec_calibrate_cpu_ranking_corrects_the_cpu_predictor_and_drops_the_factors(
        base_predictors, tmp_path, capsys):
    _data, models = base_predictors
    pair = f"{GPU_INFO['name']} | {CPU_INFO['name']}"
    sync = {"version": 1, "pairs": {pair: {
        "gpu": GPU_INFO["name"], "cpu": CPU_INFO["name"], "single": {"cpu": 2.0},
        "cpu_by_threads": {"4": {"flops": [1e6], "factor": [0.9]}}}}}
    m = _models_dir(tmp_path / "models", models, sync)
    rng = np.random.default_rng(1)
    lays = [FC, LinearLayer(4, 256, 128), CONV, LinearLayer(16, 256, 256)]
    rows = [_row("random", lay, "cpu", 0, float(rng.uniform(50, 500)), threads=t)
            for lay in lays for t in (1, 2, 4, 8)]
    _write(tmp_path / "rounds", rows)
    out = tmp_path / "ranked"
    base = ["coexec", "calibrate", "--models", str(m), "--what", "cpu-ranking"]
    assert cli_main([*base, "--cpu-rounds", str(tmp_path / "rounds"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "relative correction on 16 rows of 4 thread counts" in text
    assert "dropped sync.json's CPU-only thread factors" in text
    loaded = Predictors.load(out)
    assert isinstance(loaded.models["cpu_us"], RuntimeCalibrated)
    assert loaded.models["cpu_us"].relative
    assert not isinstance(loaded.models["gpu_total_us"], RuntimeCalibrated)
    entry = json.loads((out / "sync.json").read_text())["pairs"][pair]
    assert "cpu_by_threads" not in entry and entry["single"] == {"cpu": 2.0}
    assert SyncModel.load(out, GPU_INFO["name"], CPU_INFO["name"]).cpu_by_threads == {}
    # refused, one line naming the field, nothing written
    other = [{**r, "device": "Another CPU"} for r in rows]
    _write(tmp_path / "other", other)
    for extra, field in ((["--cpu-rounds", str(tmp_path / "other")], "device="),
                         ([], "cpu-rounds="),
                         (["--cpu-rounds", str(tmp_path / "rounds"), "--grid", "g"], "grid=")):
        assert cli_main([*base, *extra, "--out", str(tmp_path / "bad")]) == 2
        assert field in capsys.readouterr().err
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--out",
                     str(tmp_path / "bad")]) == 2
    assert "grid=" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]


def test_mode_overheads_recover_the_runtime_overhead_per_memory_mode(base_predictors):
    from latpred.planner.calibrate import RuntimeRows, mode_overheads

    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    preds = Predictors(dict(models))
    pred = models["gpu_total_us"].predict(X)
    modes = X["mem_mode"].astype(str).to_numpy()
    assert len(set(modes)) >= 2
    true = {m: 10.0 + 7.0 * i for i, m in enumerate(sorted(set(modes)))}
    wall = pred + np.array([true[m] for m in modes])
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.ones(len(X), int), wall)
    fit = mode_overheads(preds, rows, {m: 50.0 for m in true}, min_rows=5)
    for m, us in true.items():
        assert fit[m]["us"] == pytest.approx(us) and fit[m]["measured_us"] == 50.0
        assert fit[m]["offset_us"] == pytest.approx(us - 50.0)
    # too few rows of a mode: its overhead stays as measured
    few = mode_overheads(preds, rows, {}, min_rows=len(X) + 1)
    assert all(v["us"] == 0.0 and v["offset_us"] == 0.0 for v in few.values())


class _Share:
    """A component predictor: ``share`` of an end-to-end predictor's time."""

    def __init__(self, total, share: float):
        self.total, self.share = total, share

    def predict(self, df):
        return self.share * self.total.predict(df)


def test_mode_overheads_take_component_predictors(base_predictors):
    """Kernel + dispatch + transfer predictors (no end-to-end one) stand for the GPU time."""
    from latpred.planner.calibrate import RuntimeRows, mode_overheads
    from latpred.planner.predictors import GPU_COMPONENTS

    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    total = models["gpu_total_us"]
    preds = Predictors({"cpu_us": models["cpu_us"], **{
        t: _Share(total, f) for t, f in zip(GPU_COMPONENTS, (0.5, 0.3, 0.2))}})
    assert preds.gpu_mode() == "components"
    pred = total.predict(X)
    np.testing.assert_allclose(preds.predict_gpu(X), pred)
    modes = X["mem_mode"].astype(str).to_numpy()
    true = {m: 10.0 + 7.0 * i for i, m in enumerate(sorted(set(modes)))}
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.ones(len(X), int),
                       pred + np.array([true[m] for m in modes]))
    fit = mode_overheads(preds, rows, {}, min_rows=5)
    assert {m: pytest.approx(v["us"]) for m, v in fit.items()} == true


def test_mode_overheads_fit_a_size_curve_per_memory_mode(base_predictors):
    """An overhead growing with the activations moved gives knots that follow it: each
    knot the median of its (pooled) size band, increasing here."""
    from latpred.planner.calibrate import RuntimeRows, layer_of_row, mode_overheads
    from latpred.planner.split import activation_mib

    data, models = base_predictors
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    preds = Predictors(dict(models))
    pred = models["gpu_total_us"].predict(X)
    mib = np.array([activation_mib(layer_of_row(r)) for r in X.to_dict("records")])
    assert np.log2(mib).max() - np.log2(mib).min() > 2  # several octaves of sizes
    wall = pred + 20.0 + 100.0 * mib  # the overhead grows with size
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.ones(len(X), int), wall)
    fit = mode_overheads(preds, rows, {}, min_rows=5, min_band_rows=5)
    for m, v in fit.items():
        knots, us = np.array(v["by_mib"]["mib"]), np.array(v["by_mib"]["us"])
        assert len(knots) >= 2 and (np.diff(knots) > 0).all() and (np.diff(us) > 0).all()
        sel = X["mem_mode"].astype(str).to_numpy() == m
        assert 0.999 * mib[sel].min() <= knots.min() <= knots.max() <= 1.001 * mib[sel].max()
        assert us == pytest.approx(20.0 + 100.0 * knots, rel=0.5)
    # bands pooled until they hold enough rows: fewer knots, none with too few rows
    coarse = mode_overheads(preds, rows, {}, min_rows=5, min_band_rows=len(X) // 4)
    for m, v in coarse.items():
        assert len(v.get("by_mib", {"mib": []})["mib"]) <= len(fit[m]["by_mib"]["mib"])


def test_cpu_thread_factors_recover_a_runtime_factor_per_thread_count(base_predictors):
    from latpred.planner.calibrate import RuntimeRows, cpu_thread_factors

    data, models = base_predictors
    X = data[data["backend"] == "cpu"].reset_index(drop=True)
    preds = Predictors(dict(models))
    pred = models["cpu_us"].predict(X)
    threads = X["threads"].astype("int64").to_numpy()
    counts = sorted(set(threads.tolist()))
    assert len(counts) >= 2
    true = {t: 0.8 + 0.1 * i for i, t in enumerate(counts)}
    wall = pred * np.array([true[t] for t in threads])
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.ones(len(X), int), wall)
    fit = cpu_thread_factors(preds, rows, min_band_rows=5)
    for t, v in fit.items():
        assert v["factor"] == pytest.approx([true[t]] * len(v["flops"]), rel=1e-3)
        assert v["rows"] == int((threads == t).sum()) and v["flops"] == sorted(v["flops"])
    assert set(fit) == {t for t in counts if (threads == t).sum() >= 5}
    assert cpu_thread_factors(preds, rows.take(np.zeros(len(X), bool))) == {}


def test_overhead_fits_take_the_rounds_median_or_mean(base_predictors):
    """``rounds="mean"`` (default): the wall time expected over the rounds' host states, so
    a thread count (or memory mode) that is sometimes far slower pays for it; the median
    keeps the typical round. An unknown choice is one error naming it."""
    from latpred.planner.calibrate import RuntimeRows, cpu_thread_factors, mode_overheads

    data, models = base_predictors
    preds = Predictors(dict(models))
    X = data[data["backend"] == "cpu"].reset_index(drop=True)
    pred = models["cpu_us"].predict(X)
    threads = X["threads"].astype("int64").to_numpy()
    slow = threads == threads.max()  # one round in four twice as slow: mean 1.25x
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.full(len(X), 4), pred,
                       np.where(slow, 1.25 * pred, pred))
    med = cpu_thread_factors(preds, rows, min_band_rows=5, rounds="median")
    mean = cpu_thread_factors(preds, rows, min_band_rows=5)
    t = int(threads.max())
    assert med[t]["factor"] == pytest.approx([1.0] * len(med[t]["flops"]), rel=1e-3)
    assert mean[t]["factor"] == pytest.approx([1.25] * len(mean[t]["flops"]), rel=1e-3)
    assert rows.take(slow).wall("mean") == pytest.approx(1.25 * pred[slow])
    G = data[data["backend"] == "gpu"].reset_index(drop=True)
    gp = models["gpu_total_us"].predict(G)
    grows = RuntimeRows(G, gp, np.array(["s"] * len(G)), np.full(len(G), 4), gp + 10.0,
                        gp + 40.0)
    fit = mode_overheads(preds, grows, {}, min_rows=5)
    assert all(v["us"] == pytest.approx(40.0) for v in fit.values())
    fit = mode_overheads(preds, grows, {}, min_rows=5, rounds="median")
    assert all(v["us"] == pytest.approx(10.0) for v in fit.values())
    with pytest.raises(LatpredError, match="rounds.*median, mean"):
        mode_overheads(preds, grows, {}, min_rows=5, rounds="max")
    no_mean = RuntimeRows(G, gp, np.array(["s"] * len(G)), np.ones(len(G), int), gp + 1.0)
    assert np.array_equal(no_mean.wall("mean"), gp + 1.0)  # defaults to the median's values


def _sync_models_dir(tmp_path, models) -> tuple[str, dict, object]:
    """(pair key, GPU-only overheads, a models directory whose sync.json has them) for the
    GPU_INFO / CPU_INFO pair."""
    key = f"{GPU_INFO['name']} | {CPU_INFO['name']}"
    single = {"cpu": 1.0, "buffer": 40.0, "map": 30.0}
    return key, single, _models_dir(tmp_path / "models", models, {"version": 1, "pairs": {
        key: {"gpu": GPU_INFO["name"], "cpu": CPU_INFO["name"], "modes": {},
              "single": single}}})


def test_coexec_calibrate_refits_overheads_from_confirmation_rounds(base_predictors, tmp_path,
                                                                   capsys):
    key, single, m = _sync_models_dir(tmp_path, base_predictors[1])
    rows = []
    for i in range(30):  # GPU-only plans of a confirmation round (n_total left empty)
        lay = LinearLayer(4 + i, 256, 128)
        for mode in ("buffer", "map"):
            r = _row("s", lay, "gpu", 256, 50.0 + i, mem_mode=mode)
            r["kernel_breakdown_us"] = json.dumps({**json.loads(r["kernel_breakdown_us"]),
                                                   "n_total": None})
            rows.append(r)
    _write(tmp_path / "bench" / "s" / "confirm", rows)
    _write(tmp_path / "bench" / "s" / "grid", rows[:4])
    out = tmp_path / "ov"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "overheads", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "refitted on runtime rows" in printed
    entry = json.loads((out / "sync.json").read_text())["pairs"][key]
    assert set(entry["single_refit"]) == {"buffer", "map"}
    assert entry["single_refit"]["buffer"]["rows"] == 30  # the confirmation round's rows only
    assert entry["single"]["cpu"] == 1.0 and entry["single"]["buffer"] != 40.0
    assert set(entry["single_by_mib"]) <= {"buffer", "map"}  # written where a curve fits
    assert all(f"{m} by activation MiB" in printed for m in entry["single_by_mib"])
    assert "cpu_by_threads" in entry  # (the round has no CPU-only rows here: empty)
    assert SyncModel.load(out, GPU_INFO["name"], CPU_INFO["name"]).single_by_mib.keys() \
        == entry["single_by_mib"].keys()
    assert not isinstance(Predictors.load(out).models["gpu_total_us"], RuntimeCalibrated)
    # gpu-overheads: the GPU-only overheads refitted, the CPU and split factors kept as they were
    kept = {"cpu_by_threads": {"8": {"flops": [1e6, 1e8], "factor": [1.1, 0.9]}},
            "split_factor": {"buffer": {"factor": 1.2, "rows": 9}}}
    data = json.loads((m / "sync.json").read_text())
    data["pairs"][key].update(kept)
    (m / "sync.json").write_text(json.dumps(data))
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "gpu-overheads", "--out", str(tmp_path / "gov")]) == 0
    gentry = json.loads((tmp_path / "gov" / "sync.json").read_text())["pairs"][key]
    assert gentry["single"] == entry["single"] and gentry["single_refit"] == entry["single_refit"]
    assert {k: gentry[k] for k in kept} == kept
    # refused: no confirmation round; a models directory without the pair's sync entry
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                     str(tmp_path / "bench" / "s" / "grid"), "--what", "overheads",
                     "--out", str(tmp_path / "ov2")]) == 2
    (m / "sync.json").write_text(json.dumps({"version": 1, "pairs": {}}))
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "overheads", "--out", str(tmp_path / "ov3")]) == 2
    err = capsys.readouterr().err
    assert "confirmation round" in err and "no entry" in err
    assert not (tmp_path / "ov2").exists() and not (tmp_path / "ov3").exists()


def test_models_dir_reads_native_exports(base_predictors, tmp_path):
    """A target may be a native export directory (booster file + predictor.json, no
    pickle); it predicts as the pickle did. A target given both ways, or a broken export, is
    one error naming it."""
    from latpred.models.persist import export_native

    data, models = base_predictors
    m = tmp_path / "native"
    for t, model in models.items():
        export_native(model, m / t)
    loaded = Predictors.load(m)
    X = data[data["backend"] == "gpu"].reset_index(drop=True)
    np.testing.assert_allclose(loaded.predict("gpu_total_us", X),
                               models["gpu_total_us"].predict(X), rtol=1e-6)
    assert loaded.device("GPU")["name"] == GPU_INFO["name"]  # devices from the exports
    joblib.dump(models["cpu_us"], m / "cpu_us.pkl")
    with pytest.raises(LatpredError, match="cpu_us.pkl both hold cpu_us"):
        Predictors.load(m)
    (m / "cpu_us.pkl").unlink()
    (m / "cpu_us" / "predictor.json").write_text("{")
    with pytest.raises(LatpredError, match="not a native latpred export"):
        Predictors.load(m)


def test_shipped_h100_models_plan():
    """datasets/h100/models/v3all (native exports + sync.json) loads with this machine's
    library versions and plans layers on its own device pair."""
    from pathlib import Path

    from latpred.planner.cli import load_models
    from latpred.planner.planner import Planner, PlannerOptions

    root = Path(__file__).resolve().parents[1] / "datasets" / "h100" / "models" / "v3all"
    preds, gpu, cpu, sync = load_models(str(root))
    assert "H100" in gpu["name"] and sync.cpu_by_threads and sync.single_by_mib
    assert set(sync.split_factor) == {"buffer", "map", "svm_coarse"}
    layers = [("fc", 1, LinearLayer(1, 1000, 2048)), ("conv", 1, ConvLayer(1, 64, 64, 56, 56, 3, 3, 1, 1))]
    choices = Planner(preds, gpu, cpu, sync, PlannerOptions(steps=8)).plan_layers(layers)
    assert all(c.plan_us > 0 and c.plan.kind in ("cpu", "gpu", "split") for c in choices)


def _split_rows(suite: str, ratio: float, modes: tuple[str, ...], layers: int) -> list[dict]:
    """Co-executed plans of ``layers`` linear layers at three splits per mode, each timed
    ``ratio`` x 1e6 us (the split prediction under a 1e6 us sync, to 1e-3)."""
    rows = []
    for i in range(layers):
        lay = LinearLayer(4 + i, 256, 128)
        for mode in modes:
            for s in (64, 128, 192):
                r = _row(suite, lay, "coexec", s, ratio * 1e6 - 20.0, threads=2, mem_mode=mode)
                r["layer"] = f"l{i}"
                r["config_key"] += f"-l{i}"  # one row per layer (keys are unique)
                rows.append(r)
    return rows


def test_split_factors_fit_measured_over_predicted_splits_per_mode(base_predictors, tmp_path):
    from latpred.planner.calibrate import split_factors

    _data, models = base_predictors
    preds = Predictors(dict(models))
    rows = (_split_rows("s", 2.0, ("buffer",), 30) + _split_rows("s", 3.0, ("map",), 30)
            + _split_rows("s", 5.0, ("svm_coarse",), 2)  # too few rows for a factor
            + _split_rows("x", 9.0, ("buffer",), 30)      # an excluded suite
            + [_row("s", FC, "cpu", 0, 100.0, threads=4), _row("s", FC, "gpu", 512, 30.0)])
    _write(tmp_path / "g", rows)
    grid = load_grid(tmp_path / "g")
    sync = SyncModel.constant(1e6)  # the split's prediction: the sync, to 1e-3
    fit = split_factors(preds, sync, [grid], GPU_INFO, CPU_INFO, exclude_suites=["x"], top_k=2)
    assert set(fit) == {"buffer", "map"}
    assert fit["buffer"]["factor"] == pytest.approx(2.0, rel=1e-3)
    assert fit["map"]["factor"] == pytest.approx(3.0, rel=1e-3)
    assert fit["buffer"]["rows"] == 30 * 2  # each layer's two predicted fastest splits
    both = split_factors(preds, sync, [grid], GPU_INFO, CPU_INFO, top_k=2)
    assert both["buffer"]["factor"] == pytest.approx(np.sqrt(2.0 * 9.0), rel=1e-2)  # median
    assert split_factors(preds, sync, [grid], GPU_INFO, CPU_INFO, exclude_suites=["s", "x"]) \
        == {}


def test_coexec_calibrate_writes_split_factors_and_keeps_native_exports(base_predictors,
                                                                        tmp_path, capsys):
    """A models directory of native exports comes out complete (its exports copied), with
    the split plans' factors in its sync.json, and plans with them."""
    from latpred.models.persist import export_native

    _data, models = base_predictors
    key = f"{GPU_INFO['name']} | {CPU_INFO['name']}"
    m = tmp_path / "native"
    for t, model in models.items():
        export_native(model, m / t)
    (m / "sync.json").write_text(json.dumps({"version": 1, "pairs": {key: {
        "gpu": GPU_INFO["name"], "cpu": CPU_INFO["name"], "modes": {},
        "single": {"buffer": 40.0}}}}))
    confirm = []
    for i in range(30):
        r = _row("s", LinearLayer(4 + i, 256, 128), "gpu", 256, 50.0 + i)
        r["kernel_breakdown_us"] = json.dumps({**json.loads(r["kernel_breakdown_us"]),
                                               "n_total": None})
        confirm.append(r)
    _write(tmp_path / "bench" / "s" / "confirm", confirm)
    _write(tmp_path / "bench" / "s" / "grid", _split_rows("s", 1.0, ("buffer",), 30))
    out = tmp_path / "ov"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "overheads", "--out", str(out)]) == 0
    assert "split plans, runtime / predicted per memory mode" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["cpu_us", "gpu_total_us", "sync.json"]
    entry = json.loads((out / "sync.json").read_text())["pairs"][key]
    assert entry["split_factor"]["buffer"]["rows"] == 30 * 3  # all three splits (top 5)
    loaded = Predictors.load(out)
    assert set(loaded.models) == {"cpu_us", "gpu_total_us"}
    sync = SyncModel.load(out, GPU_INFO["name"], CPU_INFO["name"])
    assert sync.split_factor == {"buffer": entry["split_factor"]["buffer"]["factor"]}


def test_coexec_calibrate_fits_memory_mode_ratios_from_pairs(base_predictors, tmp_path,
                                                             capsys):
    """``--what mode-ratios``: per memory mode, the median log ratio of a GPU-only plan's
    wall time to the same configuration's in buffer mode, per size band; the rest of
    sync.json kept; the planner loads it. Too few pairs: one error, nothing written."""
    from latpred.planner.calibrate import RuntimeRows, mode_ratios

    key, single, m = _sync_models_dir(tmp_path, base_predictors[1])
    rows = []
    for i in range(60):  # small layers: map 20 % slower than buffer; large ones 20 % faster
        lay = LinearLayer(4 + i, 256, 128) if i < 30 else LinearLayer(2048 + 64 * i, 512, 512)
        for mode, f in (("buffer", 1.0), ("map", 1.2 if i < 30 else 1 / 1.2)):
            # wall time (``_row``'s total_us, 20 us over the GPU time) in the ratio
            r = _row("s", lay, "gpu", lay.n, (70.0 + i) * f - 20.0, mem_mode=mode)
            r["kernel_breakdown_us"] = json.dumps({**json.loads(r["kernel_breakdown_us"]),
                                                   "n_total": None})
            rows.append(r)
    _write(tmp_path / "bench" / "s" / "confirm", rows)
    out = tmp_path / "ratio"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "mode-ratios", "--out", str(out)]) == 0
    assert "map / buffer by activation MiB (60 pairs)" in capsys.readouterr().out
    entry = json.loads((out / "sync.json").read_text())["pairs"][key]
    assert entry["single"] == single  # nothing else refitted
    fit = entry["single_ratio_by_mib"]["modes"]["map"]
    assert fit["log_ratio"][0] == pytest.approx(np.log(1.2), abs=1e-3)
    assert fit["log_ratio"][-1] == pytest.approx(-np.log(1.2), abs=1e-3)
    assert fit["mib"] == sorted(fit["mib"])
    sync = SyncModel.load(out, GPU_INFO["name"], CPU_INFO["name"])
    assert sync.ratio_by_mib["map"][1] == tuple(fit["log_ratio"])
    # the function: a mode needs min_pairs pairs with the reference mode
    empty = RuntimeRows(pd.DataFrame({"mem_mode": []}), np.zeros(0), np.zeros(0, str),
                        np.zeros(0, int), np.zeros(0))
    assert mode_ratios(empty) == {}
    few = tmp_path / "few"
    _write(few / "s" / "confirm", rows[:10])
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(few),
                     "--what", "mode-ratios", "--out", str(tmp_path / "none")]) == 2
    assert "too few GPU-only plans" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_coexec_calibrate_fits_thread_neighbours(base_predictors, tmp_path, capsys):
    """``--what thread-neighbours``: every layer the datasets timed CPU-only at each of
    --threads becomes a reference profile in sync.json (the rest of it kept) that the
    planner loads; no such layer: one error, nothing written."""
    key, single, m = _sync_models_dir(tmp_path, base_predictors[1])
    rows = []
    for i in range(5):  # 8 threads fastest on every layer; one layer lacks 16 threads
        lay = LinearLayer(4 + i, 256, 128)
        for t, us in ((4, 30.0), (8, 20.0), (16, 25.0)):
            if not (i == 4 and t == 16):
                rows.append(_row("s", lay, "cpu", 0, us + i, threads=t))
    _write(tmp_path / "bench" / "s" / "grid", rows)
    out = tmp_path / "nb"
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "thread-neighbours", "--threads", "4,8,16", "--neighbours", "3",
                     "--out", str(out)]) == 0
    assert "4 layers timed at 4, 8, 16 threads" in capsys.readouterr().out
    entry = json.loads((out / "sync.json").read_text())["pairs"][key]
    assert entry["single"] == single  # nothing else refitted
    assert entry["cpu_thread_neighbours"]["k"] == 3
    nb = SyncModel.load(out, GPU_INFO["name"], CPU_INFO["name"]).cpu_neighbours
    assert nb.threads == (4, 8, 16) and len(nb.shapes) == 4
    f = nb.log_factor(LinearLayer(6, 256, 128), np.array([4, 8, 16]))
    assert np.argmin(f) == 1
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
                     "--what", "thread-neighbours", "--threads", "4,12", "--out",
                     str(tmp_path / "none")]) == 2
    assert "every one of 4, 12 threads" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_keep_curves_below_joins_the_old_small_knots_and_the_new_large_ones():
    """``keep_curves_below``: a mode's knots at or below the size from the old curve, above
    it from the new; a mode in one curve only keeps that side; a mode left empty is dropped."""
    from latpred.planner.calibrate import keep_curves_below

    old = {"map": {"mib": [0.5, 3.0, 12.0], "us": [1.0, 90.0, 100.0]},
           "buffer": {"mib": [0.5, 2.0], "us": [5.0, 10.0]},
           "svm_coarse": {"mib": [8.0], "us": [50.0]}}
    new = {"map": {"mib": [1.0, 6.0, 24.0], "us": [7.0, 230.0, 1500.0]},
           "svm_coarse": {"mib": [2.0], "us": [60.0]}}
    out = keep_curves_below(old, new, 4.0)
    assert out["map"] == {"mib": [0.5, 3.0, 6.0, 24.0], "us": [1.0, 90.0, 230.0, 1500.0]}
    assert out["buffer"] == old["buffer"]  # no new knot above 4 MiB: the old small ones
    assert "svm_coarse" not in out  # old knot above, new knot below: nothing left
    assert keep_curves_below(old, new, 4.0) == out and old["map"]["mib"] == [0.5, 3.0, 12.0]


def test_mode_overheads_knots_from_enough_layers_one_vote_each(base_predictors):
    """``min_band_layers``: a knot's band holds rows of at least that many distinct layers
    (sparser octaves pooled), and its value is the median over its layers of each layer's
    median, so one layer timed in many configurations does not make the knot alone."""
    from latpred.planner.calibrate import RuntimeRows, layer_of_row, mode_overheads
    from latpred.planner.split import activation_mib

    data, models = base_predictors
    X = data[(data["backend"] == "gpu") & (data["mem_mode"] == "buffer")].reset_index(drop=True)
    preds = Predictors(dict(models))
    pred = models["gpu_total_us"].predict(X)
    layers = [layer_of_row(r) for r in X.to_dict("records")]
    mib = np.array([activation_mib(lay) for lay in layers])
    shape = np.array([str(lay) for lay in layers])
    big = shape == shape[np.argmax(mib)]  # the largest layer's rows
    gap = np.where(big, 5000.0, 20.0)     # that one layer far slower than the rest
    rows = RuntimeRows(X, pred, np.array(["s"] * len(X)), np.ones(len(X), int), pred + gap)
    few = mode_overheads(preds, rows, {}, min_rows=5, min_band_rows=1)["buffer"]["by_mib"]
    many = mode_overheads(preds, rows, {}, min_rows=5, min_band_rows=1,
                          min_band_layers=3)["buffer"]["by_mib"]
    assert few["us"][-1] == pytest.approx(5000.0)  # its own band: the knot is that layer
    assert many["us"][-1] == pytest.approx(20.0)   # pooled with 2+ layers, one vote each
    assert len(many["mib"]) < len(few["mib"])
    n_layers = len(set(shape))
    none = mode_overheads(preds, rows, {}, min_rows=5, min_band_layers=n_layers + 1)
    assert "by_mib" not in none["buffer"]  # no band reaches that many layers: no curve


def test_coexec_calibrate_refits_curves_above_a_size_only(base_predictors, tmp_path, capsys):
    """``--keep-below-mib``: the curves' knots at or below it and the modes' constants kept,
    larger knots refitted; ``--split-floor`` written to the entry; bad values refused with
    one line and nothing written."""
    key, single, m = _sync_models_dir(tmp_path, base_predictors[1])
    rows = []
    for i in range(30):
        lay = LinearLayer(4 + 40 * i, 256, 128)
        for mode in ("buffer", "map"):
            r = _row("s", lay, "gpu", 256, 50.0 + 3 * i, mem_mode=mode)
            r["kernel_breakdown_us"] = json.dumps({**json.loads(r["kernel_breakdown_us"]),
                                                   "n_total": None})
            rows.append(r)
    _write(tmp_path / "bench" / "s" / "confirm", rows)
    data = json.loads((m / "sync.json").read_text())
    small = {"mib": [0.001, 0.01], "us": [1.0, 2.0]}
    data["pairs"][key]["single_by_mib"] = {"map": small}
    (m / "sync.json").write_text(json.dumps(data))
    args = ["coexec", "calibrate", "--models", str(m), "--grid", str(tmp_path / "bench"),
            "--what", "gpu-overheads", "--min-band-layers", "2"]
    assert cli_main([*args, "--out", str(tmp_path / "all")]) == 0
    full = json.loads((tmp_path / "all" / "sync.json").read_text())["pairs"][key]
    assert cli_main([*args, "--keep-below-mib", "0.05", "--split-floor", "single",
                     "--out", str(tmp_path / "above")]) == 0
    assert "refitted above 0.05 MiB" in capsys.readouterr().out
    part = json.loads((tmp_path / "above" / "sync.json").read_text())["pairs"][key]
    assert part["single"] == data["pairs"][key]["single"] != full["single"]
    assert part["split_floor"] == "single" and "split_floor" not in full
    for mode, curve in part["single_by_mib"].items():
        want = [(k, u) for k, u in zip(*full["single_by_mib"][mode].values()) if k > 0.05]
        mine = list(zip(curve["mib"], curve["us"]))
        assert mine == ([(0.001, 1.0), (0.01, 2.0)] if mode == "map" else []) + want
    assert SyncModel.load(tmp_path / "above", GPU_INFO["name"], CPU_INFO["name"]).split_floor \
        == "single"
    for bad, field in ((["--keep-below-mib", "0"], "keep-below-mib"),
                       (["--min-band-layers", "0"], "min-band-layers")):
        assert cli_main([*args, *bad, "--out", str(tmp_path / "bad")]) == 2
        assert f"{field}=" in capsys.readouterr().err
    assert cli_main(["coexec", "calibrate", "--models", str(m), "--grid",
                     str(tmp_path / "bench"), "--what", "correction", "--split-floor", "single",
                     "--out", str(tmp_path / "bad")]) == 2
    assert "split-floor='single'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()

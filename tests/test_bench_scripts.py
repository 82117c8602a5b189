"""scripts/bench_table.py and scripts/replay_bench.py on the committed H100 benches."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latpred.errors import LatpredError

ROOT = Path(__file__).resolve().parents[1]
COEXEC = ROOT / "datasets" / "h100" / "coexec"


def _rows(text: str) -> dict[tuple[str, str], list[str]]:
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 11 and cells[2].isdigit():
            out[(cells[0], cells[1])] = cells
    return out


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_bench_table_matches_each_suites_summary():
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_table.py"),
                          "--coexec", str(COEXEC)], capture_output=True, text=True, check=True)
    rows = _rows(res.stdout)
    folder = {who: sub for who, sub, _suites in _script("bench_table").GROUPS}
    checked = 0
    for (who, suite), cells in rows.items():
        base = COEXEC / folder[who] / suite
        if not (base / "summary.json").exists():
            continue  # the aggregate rows
        s = json.loads((base / "summary.json").read_text())
        assert int(cells[2]) == s["layers"]
        assert float(cells[4].rstrip(" %")) == pytest.approx(s["efficiency_geomean_pct"], abs=0.06)
        assert int(cells[5]) == s["layers_slower_than_single"]
        assert float(cells[8].rstrip(" %")) == pytest.approx(
            s["efficiency_tuned_geomean_pct"], abs=0.06)
        checked += 1
    assert checked >= 12 + 18  # session 3's blocks and session 4's


def _script(name: str):
    """scripts/<name>.py imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_replay_bench_runs_a_planner_against_the_committed_measurements(tmp_path):
    """Stub predictors whose GPU is the committed bench's own (its device metadata): every
    layer is planned and looked up; measure-and-pick is never worse than the plan."""
    d = _stub_models(tmp_path)
    # session 4's benches are stored without their grids (reused unchanged from COEXEC)
    for bench in (COEXEC, COEXEC / "session4" / "run1"):
        res = subprocess.run([sys.executable, str(ROOT / "scripts" / "replay_bench.py"),
                              "--models", str(d), "--shortlist", "4", "--bench", str(bench)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        last = res.stdout.strip().splitlines()[-1].split()
        n_layers = sum(len(pd.read_csv(p / "bench.csv"))
                       for p in bench.iterdir() if (p / "bench.csv").exists())
        assert last[0] == "all" and int(last[1]) == n_layers and int(last[2]) > 0
        eff_plan, eff_short = float(last[3].rstrip("%")), float(last[5].rstrip("%"))
        assert 0 < eff_plan <= eff_short <= 100


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_replay_bench_answers_with_measurements_where_it_has_them(tmp_path):
    """--measured: rows the datasets hold are answered by their measurement, so stub models
    that know nothing of the hardware plan what those measurements say."""
    d = _stub_models(tmp_path)
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "vgg16_fc").symlink_to(COEXEC / "session4" / "run1" / "vgg16_fc")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "replay_bench.py"),
                          "--models", str(d), "--shortlist", "1", "--bench", str(bench),
                          "--measured", str(ROOT / "datasets" / "h100" / "linear_cpu_live"),
                          "--measured", str(ROOT / "datasets" / "h100" / "linear")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    hits = {line.split(":")[0]: [int(w) for w in line.split() if w.isdigit()]
            for line in res.stdout.splitlines() if "answered by a measurement" in line}
    assert set(hits) == {"cpu_us", "gpu_total_us"}
    for answered, rows in hits.values():
        assert 0 < answered < rows  # full-layer rows measured, split parts not
    last = res.stdout.strip().splitlines()[-1].split()
    assert last[0] == "all" and int(last[1]) == 3


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_replay_bench_grid_best_takes_the_grids_fastest_plan(tmp_path):
    """--grid-best ignores the models: stub models and real ones give the same table, and
    every layer's grid-best plan was confirmed by the bench (found)."""
    import joblib
    from latpred.planner.benchmark import StubPredictor

    d = _stub_models(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text((d / "manifest.json").read_text())
    joblib.dump(StubPredictor(2e7, 1.0, True), other / "cpu_us.pkl")  # a far faster CPU
    joblib.dump(StubPredictor(2e3, 300.0, False), other / "gpu_total_us.pkl")
    out = []
    for models in (d, other):
        res = subprocess.run([sys.executable, str(ROOT / "scripts" / "replay_bench.py"),
                              "--models", str(models), "--shortlist", "1", "--grid-best",
                              "--bench", str(COEXEC / "session4" / "run1")],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        out.append(res.stdout.strip().splitlines()[-1].split())
    last = out[0]
    assert out[0] == out[1]
    assert last[0] == "all" and last[1] == last[2] == "76"
    assert 0 < float(last[3].rstrip("%")) <= 100


def _stub_models(tmp_path: Path) -> Path:
    """A models directory of analytic stub predictors for the committed bench's devices."""
    import joblib
    from latpred.datasets import load
    from latpred.planner.benchmark import StubPredictor

    meta = load(COEXEC / "resnet50_fc" / "grid").attrs["meta"]["devices"]
    gpu = next(v for v in meta.values() if str(v.get("type", "")).upper().endswith("GPU"))
    cpu = next(v for v in meta.values() if v is not gpu)
    d = tmp_path / "models"
    d.mkdir()
    joblib.dump(StubPredictor(2e4, 5.0, True), d / "cpu_us.pkl")
    joblib.dump(StubPredictor(2e5, 30.0, False), d / "gpu_total_us.pkl")
    (d / "manifest.json").write_text(json.dumps({"devices": {"gpu": gpu, "cpu": cpu}}))
    return d


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_plan_cold_plans_every_layer_of_a_network_seen_first(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "plan_cold.py"), "--models",
                          str(_stub_models(tmp_path)), "--suite", "resnet50_fc",
                          "--warm-suite", "mobilenetv2_fc", "--breakdown", "--repeat", "2",
                          "--geometry-memoised"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert "resnet50_fc, first time seen" in res.stdout and "each of its 1 layers" in res.stdout
    assert "each layer's best of 2" in res.stdout
    geo = [line for line in res.stdout.splitlines() if "geometry already memoised" in line]
    assert len(geo) == 1 and float(geo[0].split("median ")[1].split(" ms")[0]) > 0
    # --breakdown: one line per stage, for the batch, then per layer; stub predictors take
    # no booster or feature path
    lines = [line for line in res.stdout.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 * 9 and "the batch once more, timers on" in res.stdout
    for part in (lines[:9], lines[9:]):
        stages = {line[:36].strip(): float(line.split()[-2]) for line in part}
        assert len(stages) == 9 and stages["GPU configuration enumeration"] > 0
        assert stages["decisions"] > 0 and stages["second-stage rows"] > 0
        assert stages["booster calls"] == stages["feature pass, geometry included"] == 0


def test_diag_blas_spin_dry_run(pocl_device):
    """scripts/diag_blas_spin.py's flow on tiny layers and the PoCL device: one line per
    (layer, memory mode), every time positive."""
    import os

    env = {**os.environ, "DIAG_DEVICE": "pocl", "DIAG_SMALL": "1"}
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "diag_blas_spin.py")],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [(r["layer"], r["mode"]) for r in rows] == [
        (layer, mode) for layer in ("vgg16.features.2", "mnv2.features.15.conv.1.0")
        for mode in ("buffer", "map", "svm_coarse")]
    for r in rows:
        assert all(r[k] > 0 for k in ("openclrun_total", "coexec_gpu_only", "after_blas_total"))


def test_diag_split_dry_run(pocl_device):
    """scripts/diag_split.py on a tiny layer and PoCL: one line per (mode, side); the CPU
    side alone has no GPU time, the GPU side alone no CPU time."""
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "diag_split.py"), "--device",
                          "pocl", "--small", "--rounds", "2", "--mode", "buffer"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    rows = {r["side"]: r for r in (json.loads(line) for line in res.stdout.splitlines()
                                   if line.startswith("{"))}
    assert set(rows) == {"both", "gpu", "cpu"}
    assert rows["cpu"]["gpu_total_us"] == 0 and rows["gpu"]["cpu_us"] == 0
    assert rows["both"]["cpu_us"] > 0 and rows["both"]["gpu_total_us"] > 0


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_replay_lono_plans_each_network_with_predictors_that_never_saw_it(tmp_path):
    """One network (gpt2: its decode suite), the linear data only, 2-fold intervals: the
    predictors are trained without gpt2's layer shapes and its 5 layers are replayed."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "gpt2_small_decode").symlink_to(COEXEC / "session4" / "run1" / "gpt2_small_decode")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "replay_lono.py"),
                          "--bench", str(bench), "--sync", str(COEXEC / "session5" / "sync.json"),
                          "--gpu-data", str(ROOT / "datasets" / "h100" / "linear"),
                          "--cpu-data", str(ROOT / "datasets" / "h100" / "linear_cpu_live"),
                          "--cv-splits", "2", "--keep", str(tmp_path / "keep")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    lines = {ln.split()[0]: ln.split() for ln in res.stdout.splitlines() if ln.strip()}
    assert lines["gpt2"][1] == "5" and lines["all"][1] == "5"
    assert 0 < float(lines["all"][3].rstrip("%")) <= 100
    kept = tmp_path / "keep" / "gpt2"  # a models directory the planner CLI can load
    assert sorted(p.name for p in kept.iterdir()) == ["cpu_us.pkl", "gpu_total_us.pkl",
                                                      "sync.json"]


def test_replay_lono_leaves_out_every_shape_of_the_network():
    mod = _script("replay_lono")
    from latpred.datasets import load
    from latpred.datasets.schema import shape_id

    df = load(ROOT / "datasets" / "h100" / "linear_cpu_live")
    out = mod.without(df, "gpt2")
    gone = set(shape_id(df[df["suite"].isin(["gpt2_small", "gpt2_small_decode"])]))
    assert gone and not gone & set(shape_id(out)) and len(out) < len(df)
    assert out.attrs["meta"] == df.attrs["meta"]


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_session_drift_compares_confirmations_with_the_grid(tmp_path):
    """A grid whose CPU rows are the confirmed times / 1.25 and GPU rows x 1.25: every CPU
    row moved +25 %, every GPU row -20 %, the CPU side +56.25 % against the GPU side."""
    import shutil

    from latpred.datasets import load
    from latpred.datasets.store import write_parquet

    mod = _script("session_drift")
    src = COEXEC / "session5" / "run1" / "resnet50" / "confirm"
    run = tmp_path / "runs" / "run1" / "resnet50"
    shutil.copytree(src, run / "confirm")
    rows = load(src)
    factor = rows["backend"].map({"cpu": 1 / 1.25, "gpu": 1.25}).fillna(1.0)
    rows["total_us"] = rows["total_us"] * factor
    (tmp_path / "grids" / "resnet50" / "grid").mkdir(parents=True)
    write_parquet(rows, tmp_path / "grids" / "resnet50" / "grid" / "part-0.parquet",
                  rows.attrs.get("meta", {}))
    table = mod.drift_table(tmp_path / "grids", tmp_path / "runs").set_index("backend")
    ok = load(src).query("status == 'ok'")
    assert set(table.index) == set(ok["backend"])
    assert table.loc["cpu", "rows"] == (ok["backend"] == "cpu").sum() > 0
    for backend, pct in (("cpu", 25.0), ("gpu", -20.0)):
        assert table.loc[backend, ["q25_pct", "median_pct", "q75_pct"]].tolist() == \
            pytest.approx([pct] * 3)
    assert table["cpu_vs_gpu_pct"].tolist() == pytest.approx([56.25] * len(table))


def test_replay_bench_scale_multiplies_one_predictor_and_refuses_bad_entries():
    from latpred.planner.benchmark import StubPredictor

    mod = _script("replay_bench")
    targets = ["cpu_us", "gpu_total_us"]
    assert mod.parse_scales(["cpu_us=0.9", "gpu_total_us=2"], targets) == \
        {"cpu_us": 0.9, "gpu_total_us": 2.0}
    for bad, msg in (("gpu_kernel_us=1", "target must be one of"), ("cpu_us=x", "a number"),
                     ("cpu_us=0", "> 0"), ("cpu_us", "a number")):
        with pytest.raises(SystemExit, match=msg):
            mod.parse_scales([bad], targets)
    df = pd.DataFrame({"flops": [1e6, 4e6], "threads": [1, 2]})
    base = StubPredictor(1e3, 5.0, True)
    scaled = mod.Scaled(base, 0.5)
    assert scaled.predict(df).tolist() == pytest.approx((0.5 * base.predict(df)).tolist())
    lo, hi = scaled.predict_interval(df)
    assert hi.tolist() == pytest.approx((0.5 * base.predict_interval(df)[1]).tolist())


def _small_models(d: Path, seed: int = 3) -> Path:
    """A models directory of real (small) XGBoost predictors on synthetic data drawn with
    ``seed``: they take the feature path, so geometry rows are computed."""
    import joblib
    from latpred.models import LatencyPredictor
    from latpred.models.synthetic import make_synthetic_dataset

    data = make_synthetic_dataset(n_random=4, suites=("mlp",), gpu_configs_per_layer=10,
                                  seed=seed)
    params = {"n_estimators": 10, "learning_rate": 0.3, "max_depth": 3,
              "min_child_weight": 1.0, "subsample": 1.0, "colsample": 1.0, "reg_lambda": 0.1}
    d.mkdir()
    for target in ("cpu_us", "gpu_total_us"):
        joblib.dump(LatencyPredictor(target=target, model="xgboost", params=params,
                                     cv_splits=2).fit(data), d / f"{target}.pkl")
    return d


def test_plan_diff_counts_the_layers_whose_plan_another_models_dir_changes(tmp_path):
    """A directory against itself changes no plan; against predictors fitted on other data,
    the "all" row adds up its suites and every changed plan is counted."""
    from latpred.datasets.suites import suite_layers

    a, b = _small_models(tmp_path / "a"), _small_models(tmp_path / "b", seed=5)
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "plan_diff.py"),
                          "--models", str(a), "--models", str(a), "--models", str(b),
                          "--suite", "resnet50_fc", "--suite", "vgg16_fc", "--steps", "4"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in res.stdout.splitlines() if line.startswith(f"| {tmp_path}")]
    same = [r for r in rows if r[0] == str(a)]
    other = [r for r in rows if r[0] == str(b)]
    assert [r[1] for r in same] == ["resnet50_fc", "vgg16_fc", "all"] == [r[1] for r in other]
    assert all(r[3:] == ["0", "0", "0", "0"] for r in same)
    counts = np.array([[int(v) for v in r[2:]] for r in other])
    np.testing.assert_array_equal(counts[:2].sum(axis=0), counts[2])
    assert counts[2, 0] == len(list(suite_layers("resnet50_fc"))) + len(list(suite_layers(
        "vgg16_fc")))
    assert counts[2, 1] > 0, "predictors fitted on other data changed no plan"
    assert (counts[:, 2:] <= counts[:, 1:2]).all()
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "plan_diff.py"),
                          "--models", str(a)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "two --models" in bad.stderr


def test_plan_identity_dump_then_check(tmp_path):
    """The same code checks IDENTICAL against its own dump; a changed choice or geometry row
    in the reference is a MISMATCH with exit status 1."""
    script = str(ROOT / "scripts" / "plan_identity.py")
    models = str(_small_models(tmp_path / "models"))
    ref = tmp_path / "ref.json"
    args = ["--models", models, "--suite", "resnet50_fc"]
    subprocess.run([sys.executable, script, "dump", str(ref), *args], check=True, cwd=ROOT,
                   capture_output=True)
    ok = subprocess.run([sys.executable, script, "check", str(ref), *args], cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "IDENTICAL" in ok.stdout
    dump = json.loads(ref.read_text())
    assert set(dump["choices"]) == {"batch resnet50_fc", "cold resnet50_fc", "warm resnet50_fc"}
    key = next(iter(dump["geometry"]))
    dump["geometry"][key] = "00" * 8
    dump["choices"]["cold resnet50_fc"][0] += " "
    ref.write_text(json.dumps(dump))
    bad = subprocess.run([sys.executable, script, "check", str(ref), *args], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "MISMATCH" in bad.stdout
    assert "choices of cold resnet50_fc" in bad.stdout and "geometry row" in bad.stdout


TUNE = COEXEC / "session7" / "tune"


@pytest.mark.skipif(not TUNE.is_dir(), reason="no committed plan --tune outputs")
def test_tune_table_and_the_committed_tuned_plans():
    from latpred.datasets.suites import suite_layers
    from latpred.planner.runtime import plan_from_row
    from latpred.profiler.kernels import get

    found = _script("tune_table").runs(TUNE)
    assert set(found) == {1, 2} and all(len(s) == 8 for s in found.values())
    for suites in found.values():
        for suite, df in suites.items():
            layers = {name: layer for name, _c, layer in suite_layers(suite)}
            assert list(df["layer"]) == list(layers)
            # the pick is the fastest of the rounds that timed the predicted plan too
            assert (df["measured_us"] <= df["predicted_plan_measured_us"]).all()
            for row in df.to_dict("records"):  # a scheduler rebuilds every tuned plan
                plan = plan_from_row(layers[row["layer"]], row)
                assert plan.kind == row["kind"]
                if plan.gpu is not None:  # a kernel of the library, with legal parameters
                    assert plan.gpu.params in get(plan.gpu.impl).params_space()
            s = _script("tune_table").summarize(df)
            assert s["changed"] == int((df["tune_pick"] > 0).sum())
            assert s["pick_us"] <= s["plan_us"] and s["gain_geomean"] >= 1.0
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "tune_table.py"), "--dir",
                          str(TUNE)], capture_output=True, text=True, check=True)
    assert res.stdout.count("**all 76 layers**") == 2


def test_make_suites_writes_the_committed_suites(tmp_path):
    from latpred.datasets.suites import load_suite, suite_layers

    mod = _script("make_suites")
    for name in mod.SUITES:  # the committed JSON is the script's output
        assert mod.suite(name) == load_suite(name)
    assert {n: sum(x.count for x in suite_layers(n)) for n in mod.SUITES} == {
        "efficientnet_b0": 81, "resnext50_32x4d": 53, "vit_b16": 49, "densenet121": 120,
        "convnext_tiny": 22, "convnext_tiny_mlp": 37, "googlenet": 57, "squeezenet1_1": 26,
        "shufflenet_v2_x1_0": 56, "regnet_y_400mf": 85, "mobilenet_v3_large": 62, "swin_t": 52,
        "mnasnet1_0": 52, "efficientnet_b2": 115, "alexnet": 5, "vit_l16": 97,
        "inception_v3": 94, "mobilenet_v3_small": 52, "efficientnet_v2_s": 170,
        "tinyllama_decode": 155, "tinyllama_prefill": 155, "qwen25_05b_prefill": 169,
        "llama32_1b_prefill": 113, "squeezenet1_0": 26, "mobilenet_v1": 27, "unet": 19,
        "bert_large": 145, "whisper_tiny_encoder": 24, "smollm_135m_decode": 211,
        "efficientnet_b1": 115, "wide_resnet50_2": 53, "deit_small": 49,
        "gpt2_medium_decode": 97, "efficientnet_b3": 130, "resnet18": 20,
        "qwen25_15b_decode": 197, "llama32_3b_decode": 197, "xception": 74, "yolov8n": 63,
        "vit_b32": 49, "t5_small_encoder": 36, "regnet_x_800mf": 53, "phi2_decode": 193,
        "linear_large": 20}
    xc = {x.name: x.layer for x in suite_layers("xception")}
    assert (xc["conv2"].out_h, xc["block1.rep.0.conv1"].groups, xc["block12.skip"].out_h,
            xc["conv4.pointwise"].out_channels) == (147, 64, 10, 2048)
    yolo = {x.name: x.layer for x in suite_layers("yolov8n")}
    assert (yolo["model.0.conv"].out_h, yolo["model.9.cv2.conv"].in_channels,
            yolo["model.22.cv3.2.2"].out_channels) == (320, 512, 80)
    assert {x.layer.m for x in suite_layers("vit_b32")} == {1, 50}
    wide = {x.name: x.layer for x in suite_layers("wide_resnet50_2")}["layer4.0.conv2"]
    assert (wide.in_channels, wide.stride, wide.height, wide.out_h) == (1024, 2, 14, 7)
    sq = {x.name: x.layer for x in suite_layers("squeezenet1_0")}["features.0"]
    assert (sq.out_channels, sq.kernel_h, sq.out_h) == (96, 7, 109)
    mb = {x.name: x.layer for x in suite_layers("mobilenet_v1")}
    assert (mb["block12.dw"].groups, mb["block12.dw"].out_h, mb["block13.pw"].in_channels) \
        == (512, 7, 1024)
    up = {x.name: x.layer for x in suite_layers("unet")}["up0.conv1"]
    assert (up.in_channels, up.out_channels, up.height, up.out_h) == (64, 32, 256, 256)
    big = [x.layer for x in suite_layers("linear_large")]
    assert all(12 * 2**20 <= 4 * b.m * b.n <= 256 * 2**20 and b.flops <= 1.2e11 for b in big)
    head = {x.name: x.layer for x in suite_layers("qwen25_05b_prefill")}["lm_head"]
    assert (head.m, head.n, head.k) == (128, 151936, 896)
    head = {x.name: x.layer for x in suite_layers("llama32_1b_prefill")}["lm_head"]
    assert (head.m, head.n, head.k) == (64, 128256, 2048)
    iv = {x.name: x.layer for x in suite_layers("inception_v3")}
    c17 = iv["Mixed_6b.branch7x7_2.conv"]  # 1x7, padded (0, 3): pre-padded to 17 x 23
    assert (c17.kernel_h, c17.kernel_w, c17.padding, c17.out_h, c17.out_w) == (1, 7, 0, 17, 17)
    c71 = iv["Mixed_6b.branch7x7_3.conv"]
    assert (c71.height, c71.width, c71.out_h, c71.out_w, c71.out_channels) == (23, 17, 17, 17, 192)
    assert (iv["Conv2d_4a_3x3.conv"].out_h, iv["Mixed_7a.branch3x3_2.conv"].out_h) == (71, 8)
    assert iv["Mixed_7b.branch3x3_2a.conv"].in_channels == 384
    ev = {x.name: x.layer for x in suite_layers("efficientnet_v2_s")}
    assert (ev["features.2.0.block.0"].out_channels, ev["features.2.0.block.0"].out_h) == (96, 96)
    assert ev["features.5.1.block.2.fc1"].out_channels == 40  # max(1, 160 // 4)
    assert (ev["features.7.0"].height, ev["features.7.0"].in_channels) == (12, 256)
    ms = {x.name: x.layer for x in suite_layers("mobilenet_v3_small")}
    assert ms["features.1.block.1.fc1"].out_channels == 8  # _make_divisible(16 / 4, 8)
    assert (ms["features.9.block.1.0"].stride, ms["features.9.block.1.0"].out_h) == (2, 7)
    tl = {x.name: (x.count, x.layer) for x in suite_layers("tinyllama_decode")}
    assert tl["model.layers.0.self_attn.k_proj"][0] == 44  # k and v: one shape
    assert (tl["lm_head"][1].n, tl["model.layers.0.mlp.down_proj"][1].k) == (32000, 5632)
    assert {x.layer.m for x in suite_layers("tinyllama_prefill")} == {512}
    mn = {x.name: x.layer for x in suite_layers("mnasnet1_0")}
    assert (mn["layers.12.0.layers.3"].kernel_h, mn["layers.12.0.layers.3"].groups) == (5, 576)
    assert mn["layers.12.0.layers.3"].out_h == 7 and mn["layers.14"].in_channels == 320
    b2 = {x.name: x.layer for x in suite_layers("efficientnet_b2")}
    assert (b2["features.0.0"].height, b2["features.8.0"].out_channels) == (288, 1408)
    assert b2["features.3.0.block.3.0"].out_channels == 48  # _make_divisible(40 x 1.1, 8)
    assert b2["features.8.0"].out_h == 9 and "features.7.1.block.3.0" in b2  # depth 1.2: 2
    ax = {x.name: x.layer for x in suite_layers("alexnet")}
    assert (ax["features.0"].kernel_h, ax["features.0"].stride, ax["features.0"].out_h) \
        == (11, 4, 55)
    vl = {x.name: x.layer for x in suite_layers("vit_l16")}
    assert (vl["encoder.layers.encoder_layer_0.mlp.3"].k, vl["heads.head"].k) == (4096, 1024)
    rg = {x.name: x.layer for x in suite_layers("regnet_y_400mf")}
    b = rg["trunk_output.block4.block4-1.f.b.0"]
    assert (b.groups, b.in_channels, b.height) == (55, 440, 7)  # group width 8
    assert rg["trunk_output.block4.block4-1.f.se.fc1"].out_channels == 110  # 0.25 x 440
    mv = {x.name: x.layer for x in suite_layers("mobilenet_v3_large")}
    assert mv["features.4.block.2.fc1"].out_channels == 24  # _make_divisible(72 / 4, 8)
    assert (mv["features.13.block.1.0"].kernel_h, mv["features.13.block.1.0"].out_h) == (5, 7)
    sh = {x.name: x.layer for x in suite_layers("shufflenet_v2_x1_0")}
    assert (sh["stage3.0.branch1.0"].groups, sh["stage3.0.branch1.0"].out_h) == (116, 14)
    sq = {x.name: x.layer for x in suite_layers("squeezenet1_1")}
    assert (sq["features.0"].out_h, sq["features.11.expand3x3"].in_channels) == (111, 64)
    sw = {x.name: x.layer for x in suite_layers("swin_t")}
    assert (sw["features.2.reduction"].m, sw["features.2.reduction"].k) == (784, 384)
    gn = {x.name: x.layer for x in suite_layers("googlenet")}
    assert gn["inception5b.branch3.1.conv"].kernel_h == 3  # torchvision's "5x5" branch
    assert (gn["inception4e.branch1.conv"].in_channels, gn["inception4e.branch1.conv"].height) \
        == (528, 14)
    dn = {x.name: x.layer for x in suite_layers("densenet121")}
    assert dn["features.denseblock4.denselayer16.conv1"].in_channels == 992  # 512 + 15 x 32
    assert dn["features.transition3.conv"].out_channels == 512
    cn = {x.name: x.layer for x in suite_layers("convnext_tiny")}
    stem, down = cn["features.0.0"], cn["features.6.1"]
    assert (stem.kernel_h, stem.stride, stem.padding, stem.out_h) == (4, 4, 0, 56)
    assert (down.in_channels, down.out_channels, down.out_h) == (384, 768, 7)
    assert cn["features.7.0.block.0"].groups == 768
    mlp = {x.name: x.layer for x in suite_layers("convnext_tiny_mlp")}
    assert (mlp["features.1.0.block.3"].m, mlp["features.5.0.block.5"].k) == (3136, 1536)
    eff = [x.layer for x in suite_layers("efficientnet_b0")]
    assert eff[-1].out_h == 7 and eff[-1].out_channels == 1280
    assert any(c.kernel_h == 5 and c.groups == c.in_channels > 1 for c in eff)
    assert any(c.height == 1 and c.out_channels < c.in_channels for c in eff)  # SE squeeze
    rx = {x.name: x.layer for x in suite_layers("resnext50_32x4d")}
    assert rx["layer1.0.conv2"].groups == 32 and rx["layer1.0.conv2"].in_channels == 128
    assert rx["layer4.0.conv2"].out_h == 7 and rx["layer4.0.downsample.0"].out_channels == 2048
    # 18 of the 75 shapes are shared with the development suites' networks (in the data)
    seen = _script("bench_table").trained_shapes(COEXEC)
    assert len(seen) == 18 and ("resnext50_32x4d", "conv1") in seen
    assert not {layer for suite, layer in seen if suite == "vit_b16"}
    vit = suite_layers("vit_b16")
    assert [x.count for x in vit] == [12, 12, 12, 12, 1] and vit[0].layer.m == 197
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_suites.py"), "--out",
                    str(tmp_path)], check=True, capture_output=True)
    for name in mod.SUITES:
        assert (tmp_path / f"{name}.json").read_text() == \
            (ROOT / "datasets" / "suites" / f"{name}.json").read_text()


@pytest.mark.skipif(not (COEXEC / "session10").is_dir(), reason="no committed paired bench")
def test_compare_table_matches_the_paired_benchs_summaries():
    """googlenet is a suite group of its own: the script's efficiencies per planner are the
    bench's summary.json ones; a variant's paired ratio is 1 where it planned no layer
    differently."""
    run = COEXEC / "session10" / "paired" / "run1"
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_table.py"), str(run)],
                         capture_output=True, text=True, check=True)
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in res.stdout.splitlines()
            if line.startswith("| session 9, googlenet")]
    summary = json.loads((run / "googlenet" / "summary.json").read_text())
    got = {r[3]: r for r in rows}
    assert set(got) == {"main", *summary["compare"]}
    assert float(got["main"][4].rstrip(" %")) == pytest.approx(
        summary["efficiency_geomean_pct"], abs=0.06)
    for name, v in summary["compare"].items():
        assert int(got[name][2]) == v["layers"]
        assert float(got[name][4].rstrip(" %")) == pytest.approx(v["efficiency_geomean_pct"],
                                                                 abs=0.06)
        assert int(got[name][5]) == v["layers_slower_than_single"]
        assert int(got[name][6]) == v["layers"] - v["same_plan_layers"]
        if v["same_plan_layers"] == v["layers"]:
            assert got[name][7] == "1.000 [1.000, 1.000]"


def test_bench_table_plots_a_runs_bench_csv(tmp_path):
    csv = next(COEXEC.rglob("bench.csv"), None)
    if csv is None:
        pytest.skip("no committed bench")
    out = tmp_path / "b.png"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_table.py"), "--plot", str(csv),
                    "--out", str(out)], check=True, capture_output=True)
    assert out.stat().st_size > 1000 and out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_bench_table_status_pools_the_shipped_runs():
    """--status: one row per STATUS run, the pooled row's efficiency is the geometric mean of
    every layer bench of those runs, and its interval holds it; then the same for the planner
    shipped now over the STATUS runs and the LATER ones (session 40's fadelong columns),
    replayed where it plans differently: the plan's confirmed median, or the bench's time,
    counted, where the rounds did not time that plan."""
    mod = _script("bench_table")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_table.py"),
                          "--status", "--coexec", str(COEXEC)], capture_output=True, text=True,
                         check=True)
    lines = res.stdout.splitlines()
    runs = [ln.split("|")[1].strip() for ln in lines if ln.startswith("| session")]
    later = [run for _who, which in mod.LATER for run, _name in which]
    assert runs == [*mod.STATUS, *mod.STATUS, *later]
    d = mod.status_frame(COEXEC)
    groups = mod.later_frames(COEXEC)
    assert [who for who, _f in groups] == ["session 40", "session 42", "session 44"]
    both = pd.concat([d, *(f for _who, f in groups)], ignore_index=True)
    replayed, n_replaced, n_untimed = mod.replay_shipped(both, COEXEC)
    pooled = [ln for ln in lines if ln.startswith("| **all")]
    assert len(pooled) == 2
    for frame, line in zip((d, replayed), pooled):
        eff = 100 * np.exp(np.log(frame["efficiency"]).mean())
        assert f"**{eff:.1f} %**" in line
        assert f"{len(frame)} layer benches" in line
        lo, hi = mod.suite_bootstrap(frame)
        assert lo <= eff / 100 <= hi
    assert (f"the {n_replaced} layer benches it plans differently taken from the same runs' "
            f"confirmation rounds ({n_untimed} not timed there, kept as benched)") in res.stdout
    at = len(d)
    for who, frame in groups:
        fresh = replayed.iloc[at:at + len(frame)]
        at += len(frame)
        assert (fresh["layer"].to_numpy() == frame["layer"].to_numpy()).all()
        assert (f"{who}'s runs alone (networks no earlier run saw): {len(fresh)} layer "
                f"benches, {100 * np.exp(np.log(fresh['efficiency']).mean()):.1f} %"
                ) in res.stdout
    # the replay moves only the layers planned differently and timed, each to a time of its
    # rounds; the ones it planned differently but the rounds did not time keep their bench
    moved = replayed["plan"] != both["plan"]
    assert moved.sum() == n_replaced > 0
    assert (replayed.loc[~moved, "t_plan_us"] == both.loc[~moved, "t_plan_us"]).all()
    m = replayed[moved]
    assert np.allclose(m["efficiency"], m["t_oracle_us"] / m["t_plan_us"])
    assert (m["t_plan_us"] >= m["t_oracle_us"]).all()
    # each suite's row: its layer benches over all its runs
    suite_rows = {ln.split("|")[1].strip(): ln for ln in lines
                  if ln.count("|") == 6 and not ln.startswith(("| run", "| suite", "|-"))}
    assert set(suite_rows) == set(replayed["suite"]) >= set(d["suite"])


def test_suite_bootstrap_resamples_whole_suites():
    mod = _script("bench_table")
    same = pd.DataFrame({"suite": list("aabbc"), "efficiency": [0.9] * 5})
    lo, hi = mod.suite_bootstrap(same)
    assert lo == pytest.approx(0.9) and hi == pytest.approx(0.9)
    # two suites: every draw is a mix of their losses, so the interval stays between them
    two = pd.DataFrame({"suite": ["a"] * 3 + ["b"] * 3, "efficiency": [0.8] * 3 + [1.0] * 3})
    lo, hi = mod.suite_bootstrap(two, n=500)
    assert 0.8 <= lo < hi <= 1.0


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_loss_breakdown_shares_add_up_to_the_runs_efficiency():
    """The loss shares of the plan-kind table sum to 1; the efficiency printed is the
    geometric mean of the bench's per-layer efficiencies; the thread confusion holds CPU-only
    plans of CPU-only oracles only; the thread ceiling is a ratio >= 1."""
    mod = _script("loss_breakdown")
    run = COEXEC / "session11" / "paired_mean" / "run1"
    d = mod.benches([run], {"googlenet", "vit_b16"})
    direct = pd.concat([pd.read_csv(run / s / "bench.csv") for s in ("googlenet", "vit_b16")])
    assert len(d) == len(direct)
    assert np.exp(-d["loss"].mean()) == pytest.approx(
        np.exp(np.log(np.minimum(direct["efficiency"], 1.0)).mean()))
    kinds = mod.by_kind(d)
    assert kinds["loss_share"].sum() == pytest.approx(1.0)
    assert kinds["layers"].sum() == pytest.approx(len(d))
    conf = mod.thread_confusion(d)
    assert set(conf.index.get_level_values(0)) <= {4.0, 8.0, 12.0, 15.0, 16.0}
    assert (conf["loss_share"] > 0).all() and conf["loss_share"].sum() <= kinds.loc[
        ("cpu", "cpu"), "loss_share"] + 1e-12
    assert (mod.ratio_kind(0.0), mod.ratio_kind(1.0), mod.ratio_kind(0.5)) == (
        "cpu", "gpu", "split")
    # the kinds are the bench's: its plan_kind, and its oracle's GPU share as its text says
    assert set(d["plan_kind"]) <= {"cpu", "gpu", "split"}
    assert (d["plan"].str.startswith("CPU") == (d["plan_kind"] == "cpu")).all()
    assert (d["oracle_config"].str.startswith("CPU") == (d["oracle_kind"] == "cpu")).all()
    runs = [COEXEC / "session11" / "paired_mean" / f"run{i}" for i in (1, 2, 3)]
    ceil, within, n = mod.thread_ceiling(runs, {"googlenet"})
    assert n > 20 and ceil >= 1.0 and 0.0 <= within <= 1.0
    # recurring loss: layers over the threshold in every run, a share of the whole loss
    three = mod.benches(runs, {"googlenet"})
    rec = mod.recurrent(three)
    per = three.groupby(["suite", "layer"])["loss"]
    expect = per.min() > 0.01
    assert rec.loc["all", "layers"] == expect.sum()
    assert rec.loc["all", "loss_share"] == pytest.approx(
        per.sum()[expect].sum() / three["loss"].sum())
    assert rec.drop(index="all")["layers"].sum() == expect.sum()
    assert mod.recurrent(three, threshold=1.0).loc["all", "layers"] == 0


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_replay_bench_finds_a_reused_grid_stored_elsewhere():
    """Session 11's never-seen benches were stored without their grids (reused unchanged
    from session 7 / 9): grid_dir finds them as device_coexec.sh's REUSE_GRID did."""
    mod = _script("replay_bench")
    bench = COEXEC / "session11" / "recipe" / "run1"
    got = mod.grid_dir(bench / "googlenet", COEXEC)
    assert got.is_dir() and got.name == "grid" and got.parent.name == "googlenet"
    assert got != bench / "googlenet" / "grid"
    assert mod.grid_dir(bench / "resnet50", COEXEC) == COEXEC / "resnet50" / "grid"


@pytest.mark.skipif(not COEXEC.is_dir(), reason="no committed H100 bench")
def test_pack_bench_keeps_the_committed_layout(tmp_path):
    """A run's suite (bench.csv, summary.json, confirm/ as journal + parts, grid/, plans/,
    a plot) packs to bench.csv, summary.json and one consolidated confirm part with the same
    rows; an existing destination suite is refused."""
    from latpred.datasets.store import load

    mod = _script("pack_bench")
    src = COEXEC / "session12" / "split_factor" / "run1" / "vit_b16"
    run = tmp_path / "run"
    shutil.copytree(src, run / "vit_b16")
    (run / "vit_b16" / "bench.png").write_bytes(b"png")
    shutil.copytree(src / "confirm", run / "vit_b16" / "grid")
    assert mod.pack(run, tmp_path / "out") == ["vit_b16"]
    got = tmp_path / "out" / "vit_b16"
    assert sorted(p.name for p in got.iterdir()) == ["bench.csv", "confirm", "summary.json"]
    assert len(list((got / "confirm").glob("part-*.parquet"))) == 1
    assert len(load(got / "confirm")) == len(load(src / "confirm"))
    with pytest.raises(LatpredError, match="already exists"):
        mod.pack(run, tmp_path / "out")
    with pytest.raises(LatpredError, match="holds no"):
        mod.pack(tmp_path / "nothing", tmp_path / "out2")


def test_thread_choice_measured_picker_reads_a_datasets_own_times(tmp_path):
    from latpred.datasets.store import DatasetWriter

    tc = _script("thread_choice")
    w = DatasetWriter(tmp_path / "d")
    base = {"op": "conv2d", "pass": None, "batch": 1, "in_channels": 8, "out_channels": 4,
            "height": 7, "width": 7, "kernel_h": 1, "kernel_w": 1, "stride": 1,
            "padding": 0, "dilation": 1, "groups": 1, "backend": "cpu", "impl": "blas",
            "status": "ok"}
    for t, us in ((4, 30.0), (8, 20.0), (8, 25.0)):  # a thread count timed twice: its min
        w.append({**base, "threads": t, "total_us": us, "config_key": f"k{t}{us}"})
    w.append({**base, "threads": 16, "total_us": 1.0, "backend": "gpu", "config_key": "g"})
    w.close()
    rows = pd.DataFrame({"op": ["conv2d"] * 3 + ["linear"],
                         "m": [np.nan] * 3 + [1], "n": [np.nan] * 3 + [8],
                         "k": [np.nan] * 3 + [8], "in_channels": [8.0] * 3 + [np.nan],
                         "out_channels": [4.0] * 3 + [np.nan], "height": [7.0] * 3 + [np.nan],
                         "width": [7.0] * 3 + [np.nan], "kernel_h": [1.0] * 3 + [np.nan],
                         "stride": [1.0] * 3 + [np.nan], "groups": [1.0] * 3 + [np.nan],
                         "threads": [4, 8, 16, 4]})
    rows["shape"] = tc.shape_keys(rows)
    name, times = tc.measured_picker(f"b2b={tmp_path / 'd'}", rows)
    assert name == "b2b"
    assert times[:2].tolist() == [30.0, 20.0] and np.isnan(times[2:]).all()  # GPU row: not CPU


def test_thread_choice_held_out_ranking_never_fits_on_the_group_it_scores(monkeypatch):
    """Each suite group's rows are predicted by a correction fitted on the other groups'
    rows only, grouped by shape."""
    import latpred.models.calibrated as cal

    tc = _script("thread_choice")
    fits = []

    class Fake:
        def __init__(self, base, **kw):
            assert kw["relative"] is True and base == "base"

        def fit(self, X, y, groups):
            self.rows = set(X["i"])
            fits.append((self.rows, set(groups)))
            return self

        def predict(self, X):
            assert not self.rows & set(X["i"])  # no row it was fitted on
            return np.full(len(X), float(len(fits)))

    monkeypatch.setattr(cal, "RuntimeCalibrated", Fake)
    suites = ["resnet50", "resnet50", "googlenet", "efficientnet_b0", "densenet121"]
    df = pd.DataFrame({"suite": suites, "y_us": [1.0, 2, 3, 4, 5],
                       "shape": ["a", "a", "b", "c", "d"]})
    out = tc.held_out_ranking("base", pd.DataFrame({"i": range(5)}), df)
    groups = {tc.group(s) for s in suites}
    assert len(fits) == len(groups) == 4  # development, googlenet, session 7, session 9
    assert np.isfinite(out).all()
    assert set().union(*(rows for rows, _g in fits)) == set(range(5))
    assert out[0] == out[1]  # one group, one fit


def test_thread_choice_fewest_threads_picks_the_fewest_among_near_ties():
    tc = _script("thread_choice")
    df = pd.DataFrame({"shape": ["a"] * 3 + ["b"] * 2, "threads": [4, 8, 16, 4, 16],
                       "pred": [103.0, 101.0, 100.0, 200.0, 100.0]})
    col = tc.fewest_threads(df, "pred", 0.05)
    picks = df.assign(col=col).groupby("shape")["col"].idxmin()
    assert picks["a"] == 0  # 4 threads: within 5 % of 16's 100 us
    assert picks["b"] == 4  # 4 threads predicted 2x slower: not a tie
    assert np.isinf(col[3])
    assert df.assign(col=tc.fewest_threads(df, "pred", 0.0)).groupby("shape")["col"].idxmin()["a"] == 2


@pytest.mark.skipif(not (COEXEC / "session12" / "shipped").is_dir(),
                    reason="no committed session 12 runs")
def test_oracle_noise_scores_each_run_with_an_oracle_chosen_in_the_others():
    on = _script("oracle_noise")
    runs = [COEXEC / "session12" / "shipped" / f"run{i}" for i in (1, 2, 3)]
    h = on.held_out(runs, {"gpt2_small_decode"})
    bench = pd.read_csv(runs[0] / "gpt2_small_decode" / "bench.csv")
    assert len(h) == 3 * len(bench)  # every layer of every run has its plan timed
    mine = h[h["run"] == str(runs[0])].set_index("layer")
    assert np.allclose(mine.loc[bench["layer"], "efficiency"], bench["efficiency"])
    assert (h["held_out"] > 0).all()
    # the bench's oracle is the run's own minimum: never above the held-out one's time
    assert (h["held_out"] >= h["efficiency"] - 1e-12).all()


@pytest.mark.skipif(not (COEXEC / "session13" / "shipped").is_dir(),
                    reason="no committed session 13 run")
def test_oracle_noise_prints_a_runs_own_split_half_check():
    run = COEXEC / "session13" / "shipped" / "run1"
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "oracle_noise.py"), str(run),
                          "--suites", "gpt2_small_decode,vgg16_fc"],
                         capture_output=True, text=True, check=True)
    bench = pd.concat([pd.read_csv(run / s / "bench.csv") for s in ("gpt2_small_decode",
                                                                      "vgg16_fc")])
    (row,) = [line for line in res.stdout.splitlines() if line.startswith(f"| {run} |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[1]) == len(bench)
    assert cells[3] == f"{100 * np.exp(np.log(bench['efficiency_split_half']).mean()):.2f} %"
    assert int(cells[5]) == int((bench["plan_vs_single_split_half"] > 1.02).sum())


def test_gpu_choice_scores_each_shapes_pick_against_its_fastest():
    gc = _script("gpu_choice")
    df = pd.DataFrame({"shape": ["a"] * 5 + ["b"] * 5 + ["c"] * 2,
                       "suite": ["resnet50"] * 10 + ["vit_b16"] * 2,
                       "wall_us": [10.0, 12, 20, 30, 40, 5, 6, 7, 8, 9, 1, 2],
                       "pred": [3.0, 1, 5, 6, 7, 1, 2, 3, 4, 5, 2, 1]})
    s = gc.score(df, "pred", min_configs=5)
    assert s.index.tolist() == ["development"]  # shape c: too few configurations
    r = s.loc["development"]
    assert r.shapes == 2 and r.loss == pytest.approx(np.sqrt(12 / 10 * 1.0))
    assert r.within_2pct == 0.5


def test_thread_drift_reports_the_cpu_thread_profile_change_between_runs(tmp_path):
    """A copy of a run whose CPU rows at 12+ threads take 1.5x and at 4 threads 0.5x: the
    ratios per thread count are exactly those, and a layer's fastest count moves to 4 where
    4 was timed."""
    from latpred.datasets import load
    from latpred.datasets.store import write_parquet

    mod = _script("thread_drift")
    src = COEXEC / "session16" / "probe" / "run1" / "googlenet" / "confirm"
    ref, run = tmp_path / "ref" / "googlenet", tmp_path / "run" / "googlenet"
    shutil.copytree(src, ref / "confirm")
    rows = load(src)
    scale = np.where(rows["threads"].fillna(0) >= 12, 1.5,
                     np.where(rows["threads"].fillna(0) == 4, 0.5, 1.0))
    rows["total_us"] = rows["total_us"] * np.where(rows["impl"] == "blas", scale, 1.0)
    (run / "confirm").mkdir(parents=True)
    write_parquet(rows, run / "confirm" / "part-0.parquet", rows.attrs.get("meta", {}))
    table, same, layers = mod.drift(tmp_path / "run", tmp_path / "ref", [0.0, np.inf])
    want = {4: 0.5, 8: 1.0, 12: 1.5, 15: 1.5, 16: 1.5}
    assert {int(t): v for t, v in table.iloc[0].items()} == pytest.approx(
        {t: want[t] for t in table.columns})
    cpu = load(src).query("status == 'ok' and impl == 'blas'")
    assert layers == cpu.groupby("layer").ngroups
    with_4 = cpu.groupby("layer")["threads"].apply(lambda t: 4 in set(t))
    assert same <= 1 - with_4.mean() + 1e-9  # every layer timed at 4 threads now moves to 4
    with pytest.raises(LatpredError, match="run="):
        mod.drift(tmp_path / "nope", tmp_path / "ref", [0.0, np.inf])


def test_choice_floor_scores_every_picker_on_the_configurations_both_datasets_timed():
    """Shape s timed in datasets 0 and 1 (configs x, y, z in both, w only in 0): each
    ordered pair scores a pick among x, y, z by B's time over B's best."""
    cf = _script("choice_floor")
    t = {0: {"x": 10.0, "y": 11.0, "z": 30.0, "w": 1.0}, 1: {"x": 12.0, "y": 10.0, "z": 20.0}}
    table = pd.DataFrame([{"shape": "s", "config": c, "ds": ds, "suite": "vit_b16",
                           "wall_us": v} for ds, cs in t.items() for c, v in cs.items()])
    scores = {"m": {("s", "x"): 5.0, ("s", "y"): 6.0, ("s", "z"): 1.0, ("s", "w"): 0.1}}
    pairs = cf.pair_scores(table, scores, min_configs=3).set_index(["shape", "n_configs"])
    assert len(pairs) == 2 and (pairs["group"] == "session 7").all()
    # A = 0 picks x (10 us there), in B = 1: 12 / 10; A = 1 picks y, in B = 0: 11 / 10
    assert sorted(pairs[cf.MEASURED]) == pytest.approx([1.1, 1.2])
    # the model picks z in both (w is not common): 20 / 10 and 30 / 10
    assert sorted(pairs["m"]) == pytest.approx([2.0, 3.0])
    assert cf.pair_scores(table, scores, min_configs=4).empty


def test_choice_floor_keeps_whole_layer_single_device_rows():
    cf = _script("choice_floor")
    g = pd.DataFrame({"status": ["ok"] * 5 + ["error"],
                      "backend": ["gpu", "gpu", "gpu", "cpu", "cpu", "gpu"],
                      "split_n": [64, 32, np.nan, 0, np.nan, 64],
                      "n_total": [64, 64, np.nan, 64, np.nan, 64],
                      "total_us": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]})
    assert cf.single_device_rows(g, "gpu").index.tolist() == [0, 2]  # not the split one
    assert cf.single_device_rows(g, "cpu").index.tolist() == [3, 4]


def test_choice_floor_profile_reports_each_configuration_against_each_datasets_best():
    cf = _script("choice_floor")
    t = {0: {"4": 10.0, "8": 20.0}, 1: {"4": 30.0, "8": 15.0}, 2: {"4": 9.0}}
    table = pd.DataFrame([{"shape": "conv|7", "config": c, "ds": ds, "suite": "densenet121",
                           "wall_us": v} for ds, cs in t.items() for c, v in cs.items()])
    table = pd.concat([table, table.assign(shape="conv|14")])
    out = cf.profile(table, {"m": {("conv|7", "4"): 70.0}}, r"\|7$")
    assert out.index.get_level_values("shape").unique().tolist() == ["conv|7"]
    r4, r8 = out.loc[("densenet121", "conv|7", "4")], out.loc[("densenet121", "conv|7", "8")]
    assert r4["datasets"] == 3 and r8["datasets"] == 2
    assert r4["time / best"] == pytest.approx(round(2 ** (1 / 3), 3))  # 1, 2, 1
    assert r8["time / best"] == pytest.approx(round(np.sqrt(2), 3))  # 2, 1
    assert r4["m"] == 70.0 and np.isnan(r8["m"])
    with pytest.raises(SystemExit, match="no shape"):
        cf.profile(table, {}, "nothing")


def test_choice_floor_spread_is_the_range_of_the_draws_geometric_means():
    cf = _script("choice_floor")
    per_shape = pd.DataFrame({"group": ["a", "a", "b"], "shape": ["s", "t", "u"],
                              "m1": [1.0, 1.21, 1.5], "m2": [1.0, 1.0, 1.1],
                              "m3": [1.44, 1.0, 1.2]})
    out = cf.spread([cf.summarise(list(zip(per_shape["group"], per_shape[m])))
                     for m in ("m1", "m2", "m3")])
    assert out.loc["a", "shapes"] == 2 and out.loc["b", "shapes"] == 1
    assert (out["draws"] == 3).all()
    # group a: geometric means 1.1, 1.0, 1.2; group b: the single shape's values
    assert out.loc["a", ["min", "median", "max"]].tolist() == pytest.approx([1.0, 1.1, 1.2])
    assert out.loc["b", ["min", "median", "max"]].tolist() == pytest.approx([1.1, 1.2, 1.5])


def test_with_checkout_imports_every_stage_package_from_the_checkout(tmp_path):
    """A minimal checkout (latpred/ and stage folders beside it): the stage packages come
    from it, not from the installed tree."""
    co = tmp_path / "co"
    (co / "latpred").mkdir(parents=True)
    shutil.copy(ROOT / "latpred" / "__init__.py", co / "latpred" / "__init__.py")
    (co / "setup.cfg").write_text("")
    for stage in ("profiler", "planner"):
        (co / stage).mkdir()
        (co / stage / "__init__.py").write_text(f"MARK = '{stage} of the checkout'\n")
    probe = tmp_path / "probe.py"
    probe.write_text("import sys, latpred.planner as p\nprint(p.MARK, p.__file__, sys.argv[1:])\n")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "with_checkout.py"), str(co),
                          str(probe), "--x", "1"], capture_output=True, text=True, check=True)
    assert res.stdout.startswith(f"planner of the checkout {co / 'planner' / '__init__.py'}")
    assert res.stdout.rstrip().endswith("['--x', '1']")
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "with_checkout.py"),
                          str(tmp_path / "nope"), str(probe)], capture_output=True, text=True)
    assert bad.returncode != 0 and "checkout=" in bad.stderr


def test_train_seeds_writes_one_models_directory_per_seed_and_refuses_to_overwrite(tmp_path):
    """Two seeds of the CPU predictor on the shipped linear CPU data: each a copy of the
    base models directory with its own cpu_us export; a second run refuses."""
    import os

    env = {**os.environ, "OUT": str(tmp_path / "seeds"), "SEEDS": "0 1", "N_JOBS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = ["bash", str(ROOT / "scripts" / "train_seeds.sh"),
           "--data", str(ROOT / "datasets" / "h100" / "linear_cpu_live")]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    base = ROOT / "datasets" / "h100" / "models" / "v3gpurel"
    models = [tmp_path / "seeds" / f"seed{s}" for s in (0, 1)]
    for d in models:
        assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in base.iterdir())
        assert (d / "sync.json").read_bytes() == (base / "sync.json").read_bytes()
        assert not (d / "cpu_us.pkl").exists()
    a, b = ((d / "cpu_us" / "model.xgboost.json").read_bytes() for d in models)
    assert a != b  # the seeds' boosters differ
    assert a != (base / "cpu_us" / "model.xgboost.json").read_bytes()  # retrained
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "seed0 exists" in again.stderr
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["seed0", "seed1"]
    nodata = subprocess.run(cmd[:2], cwd=ROOT, env={**env, "OUT": str(tmp_path / "x")},
                            capture_output=True, text=True)
    assert nodata.returncode == 2 and "no --data" in nodata.stderr
    bad = subprocess.run(cmd + ["--data", str(tmp_path / "missing")], cwd=ROOT,
                         env={**env, "OUT": str(tmp_path / "y"), "SEEDS": "3"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and list((tmp_path / "y").iterdir()) == []  # no partial seed


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs git and the repository's history")
def test_device_tree_lean_leaves_out_bench_records_and_full_brings_them_back(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(clone)], check=True)
    sessions = clone / "datasets" / "h100" / "coexec"
    before = sorted(p.name for p in sessions.glob("session*"))
    assert {"session7", "session9", "session27", "session28", "session32"} < set(before) \
        and len(before) > 5

    def tree(mode: str) -> str:
        return subprocess.run(["bash", "scripts/device_tree.sh", mode], cwd=clone, check=True,
                              capture_output=True, text=True,
                              env={**os.environ, "CARRY": ""}).stdout

    out = tree("lean")
    assert sorted(p.name for p in sessions.glob("session*")) == ["session27", "session28",
                                                                  "session32", "session7",
                                                                  "session9"]
    for kept in ("session27", "session28", "session32"):  # their grids
        assert [p.name for p in (sessions / kept).iterdir()] == ["run1"]
    assert (clone / "datasets" / "h100" / "models" / "v3gpurel").is_dir()
    assert "MiB of 64" in out
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                          text=True, check=True).stdout == ""
    tree("full")
    assert sorted(p.name for p in sessions.glob("session*")) == before
    bad = subprocess.run(["bash", "scripts/device_tree.sh", "bogus"], cwd=clone,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_average_seeds_predicts_the_mean_of_its_boosters_in_one_call():
    import xgboost as xgb

    avg = _script("average_seeds")
    rng = np.random.default_rng(0)
    X = rng.random((300, 5)).astype(np.float32)
    y = X @ np.arange(1.0, 6.0) + rng.normal(0, 0.1, 300)
    raws, preds = [], []
    for seed in (0, 1, 2):
        b = xgb.train({"max_depth": 3, "subsample": 0.7, "seed": seed, "nthread": 1},
                      xgb.DMatrix(X, y), num_boost_round=7 + seed)
        raws.append(json.loads(bytes(b.save_raw("json"))))
        preds.append(b.inplace_predict(X))
    merged = xgb.Booster()
    merged.load_model(bytearray(json.dumps(avg.average_boosters(raws)).encode()))
    assert merged.num_boosted_rounds() == 7 + 8 + 9
    np.testing.assert_allclose(merged.inplace_predict(X), np.mean(preds, axis=0), atol=1e-5)
    other = copy.deepcopy(raws[1])
    other["learner"]["objective"]["name"] = "reg:absoluteerror"
    with pytest.raises(ValueError, match="objective"):
        avg.average_boosters([raws[0], other])


def test_new_pair_train_step_writes_a_models_directory_a_planner_loads(tmp_path):
    """new_pair.sh's train step on the committed H200 sweeps: native exports (with the GPU
    sweep's kernel work-group limits) in models/, pickles apart (a models directory holds
    one form of each predictor); a data folder the run lacks is left out, not an error."""
    from latpred.planner.predictors import Predictors

    runs = tmp_path / "pair"
    runs.mkdir()
    for name, src in (("linear", "linear"), ("conv", "conv"), ("conv_cpu", "conv_cpu_live")):
        (runs / name).symlink_to(ROOT / "datasets" / "h200" / src)  # no linear_cpu/
    env = {**os.environ, "RUNS": str(runs), "STEPS": "train",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    res = subprocess.run(["bash", str(ROOT / "scripts" / "new_pair.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    log = (runs / "progress.log").read_text()
    assert log.count("done (0)") == 2, log
    assert sorted(p.name for p in (runs / "models").iterdir()) == ["cpu_us", "gpu_total_us"]
    assert sorted(p.name for p in (runs / "pickles").iterdir()) == ["cpu_us.pkl",
                                                                    "gpu_total_us.pkl"]
    preds = Predictors.load(runs / "models")
    assert preds.work_group_limits()[("gemm_naive", "{}")] == 256
    assert preds.device("GPU")["name"] == "NVIDIA H200"


def test_the_device_scripts_bench_options_are_coexec_bench_options():
    """scripts/lib.sh's bench_opts (every device script's `coexec bench` options) parse as
    `latpred coexec bench` options, COMPARE and BENCH_ARGS included."""
    from latpred.cli import build_parser

    env = {**os.environ, "COMPARE": "h100=datasets/h100/models/v3gpurel other=/x",
           "BENCH_ARGS": "--as-trained", "THREADS": "4,16"}
    res = subprocess.run(["bash", "-c", f'R=/tmp; . "{ROOT}/scripts/lib.sh"; bench_opts'],
                         env=env, capture_output=True, text=True, check=True)
    args = build_parser().parse_args(["coexec", "bench", "--models", "m", "--suite", "s",
                                      "--out", "o", *res.stdout.split()])
    assert (args.steps, args.threads, args.max_local_sizes, args.shortlist) == (8, "4,16", 2, 6)
    assert args.compare == ["h100=datasets/h100/models/v3gpurel", "other=/x"]
    assert args.as_trained and args.quick and args.confirm_seconds == 2


def test_new_pair_calibrate_step_is_the_documented_recipe(tmp_path):
    """new_pair.sh's calibrate step on the H200's committed development-suite rounds: the
    same files as `coexec calibrate` with v3gpurel's recipe over those rounds in name order,
    and close to the committed datasets/h200/models/calibrated, which was fitted with the
    rounds in another order (the residual subsamples rows by position; BENCHMARKS.md
    section 5, session 30)."""
    from latpred.datasets.store import load
    from latpred.models.persist import load_model

    h200 = ROOT / "datasets" / "h200"
    runs = tmp_path / "pair"
    (runs / "dev").mkdir(parents=True)
    shutil.copytree(h200 / "models" / "newpair", runs / "models")
    rounds = h200 / "coexec" / "session30"
    for s in ("bert_base", "gpt2_small_decode", "mobilenetv2_fc", "resnet50", "resnet50_fc",
              "vgg16_fc"):
        (runs / "dev" / s).symlink_to(rounds / "dev8" / s)
    for s in ("mobilenetv2", "vgg16"):
        (runs / "dev" / s).symlink_to(rounds / "dev8b" / s)
    env = {**os.environ, "RUNS": str(runs), "STEPS": "calibrate",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    res = subprocess.run(["bash", str(ROOT / "scripts" / "new_pair.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "done (0)" in (runs / "progress.log").read_text()
    out = runs / "models.calibrated"
    grids = [a for d in sorted((runs / "dev").iterdir()) for a in ("--grid", str(d))]
    subprocess.run([sys.executable, "-m", "latpred", "coexec", "calibrate", "--models",
                    str(runs / "models"), *grids, "--what", "both", "--relative", "--target",
                    "gpu_total_us", "--native", "--trees", "100", "--residual-model", "xgboost",
                    "--no-check", "--out", str(tmp_path / "direct")], check=True,
                   capture_output=True)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "direct")
                           for p in (tmp_path / "direct").rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (tmp_path / "direct" / f).read_bytes(), f
    model = load_model(out / "gpu_total_us")
    assert model.relative
    rows = load(h200 / "linear")
    rows = rows[rows["status"] == "ok"].head(200)
    ref = load_model(h200 / "models" / "calibrated" / "gpu_total_us").predict(rows)
    np.testing.assert_allclose(model.predict(rows), ref, rtol=0.1)


S31_GRID = COEXEC / "session31" / "run1" / "tinyllama_prefill" / "grid"


@pytest.mark.skipif(not S31_GRID.is_dir(), reason="no committed session-31 grid")
def test_grid_vs_predicted_groups_the_whole_layer_gpu_rows():
    import warnings

    from latpred.models.persist import load_model
    from latpred.planner.oracle import load_grid

    from latpred.errors import LatpredError

    mod = _script("grid_vs_predicted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(ROOT / "datasets" / "h100" / "models" / "v3gpurel" / "gpu_total_us")
    grid = load_grid(S31_GRID)
    t = mod.table(model, grid, "lm_head")
    # timed GPU configurations of the whole head only (no split shares, no CPU rows, no
    # configuration the compiler refused)
    whole = grid[(grid.layer == "lm_head") & (grid.impl != "blas") & (grid.status == "ok")
                 & grid.params.str.contains('"_split_n": 32000')]
    assert t.configs.sum() == len(whole) > 0
    assert (grid[(grid.layer == "lm_head") & grid.params.str.contains('"_split_n": 32000')]
            .status != "ok").any()  # the grid does hold refused ones, left out
    assert ("gemm_regblock", "buffer") in t.index
    lo, hi = (float(v) for v in t.loc[("gemm_regblock", "buffer"), "total_us"].split("-"))
    sel = whole[(whole.impl == "gemm_regblock") & (whole.mem_mode == "buffer")].total_us
    assert (lo, hi) == (round(sel.min()), round(sel.max()))
    # the roofline prior the booster corrects: one value per configuration, positive
    plo, phi = (float(v) for v in t.loc[("gemm_regblock", "buffer"), "prior_us"].split("-"))
    assert 0 < plo <= phi
    assert "overhead_us" not in t
    # with the planner's overheads: each memory mode's at the head's activations (66.5 MiB:
    # 4 MiB in, 62.5 out), a curve faded to its constant a doubling past its last knot
    from latpred.planner.sync import SyncModel

    sync = SyncModel(single={"buffer": 25.0, "map": 28.0, "svm_coarse": 26.0},
                     single_by_mib={"map": ((1.0, 12.0), (20.0, 500.0))})
    t = mod.table(model, grid, "lm_head", sync)
    assert t.overhead_us.xs("buffer", level="mem_mode").unique().tolist() == [25]
    assert t.loc[("gemm_regblock", "map"), "overhead_us"] == 28
    with pytest.raises(LatpredError, match="layer"):
        mod.table(model, grid, "no_such_layer")


def test_fade_diff_reports_the_plans_the_fades_move(monkeypatch, capsys):
    """fade_diff.py: the same models before and after, on a suite whose activations stay
    within the overhead curves' knots, move nothing."""
    mod = _script("fade_diff")
    monkeypatch.setattr(mod, "list_suites", lambda: ["mnist_mlp", "linear_large"])
    models = str(ROOT / "datasets" / "h100" / "models" / "v3gpurel")
    monkeypatch.setattr("sys.argv", ["fade_diff.py", "--before", models, "--after", models])
    mod.main()
    assert capsys.readouterr().out.startswith("0 of 3 layers planned differently")


def test_lib_bench_suites_benches_each_suite_within_one_cap(tmp_path):
    """lib.sh's bench_suites (new_pair.sh's dev and bench steps): one `coexec bench` per
    suite with the options as given, into OUT/<suite>, the cap shared by all of them."""
    script = (f'R={tmp_path}; . scripts/lib.sh; run() {{ echo "$1|${{*:2}}"; }}; '
              'bench_suites 100 /o "--models M --device g" s1 s2')
    out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == 2
    for line, suite in zip(out, ("s1", "s2")):
        cap, cmd = line.split("|")
        assert 98 <= int(cap) <= 100
        assert cmd == (f"python3 -m latpred coexec bench --models M --device g --suite {suite} "
                       f"--out /o/{suite}")


def test_family_bias_relative_errors_are_per_shape_and_by_parity():
    """The relative error subtracts each shape's mean (so a shape's errors sum to 0) and
    families split by the GEMM a conv_winograd / conv_im2col row names; parity is the
    output width's."""
    fb = _script("family_bias")
    rows = pd.DataFrame({
        "op": "conv2d", "in_channels": 8, "out_channels": 8, "height": [13, 13, 14, 14],
        "width": [13, 13, 14, 14], "kernel_h": 3, "kernel_w": 3, "stride": 1,
        "padding": 1, "dilation": 1, "groups": 1, "m": np.nan, "n": np.nan, "k": np.nan,
        "impl": ["conv_winograd", "conv_direct", "conv_winograd", "conv_direct"],
        "params": ['{"gemm": "gemm_regblock"}', "{}", '{"gemm": "gemm_tiled"}', "{}"]})
    out = fb.relative_errors(rows, np.array([1.0, 2.0, 4.0, 4.0]), np.full(4, 2.0))
    assert out["family"].tolist() == ["conv_winograd gemm_regblock", "conv_direct",
                                      "conv_winograd gemm_tiled", "conv_direct"]
    assert out["odd"].tolist() == [True, True, False, False]
    assert out["rel"].to_numpy() == pytest.approx([-np.log(2) / 2, np.log(2) / 2, 0, 0])
    assert fb.convs(rows.assign(backend="gpu"), 3, 1).all()
    assert not fb.convs(rows.assign(backend="gpu"), 3, 2).any()
    text = fb.table([("a", out)])
    assert "| conv_winograd gemm_regblock | odd | -0.347 (" in text


def test_family_bias_logo_offsets_learn_on_the_other_groups_only():
    """Group A's pick changes only by what group B's rows say of a cell: B says cell x runs
    e times slower than predicted, so A's fastest-predicted x row loses its pick."""
    fb = _script("family_bias")
    a = pd.DataFrame({"suite": "squeezenet1_1", "shape": "a", "cell": ["x", "y", "y", "y", "y"],
                      "wall_us": [10.0, 5, 6, 7, 8], "rel": 0.0})
    b = pd.DataFrame({"suite": "alexnet", "shape": "b", "cell": ["x", "y", "y", "y", "y"],
                      "wall_us": [1.0, 2, 3, 4, 5], "rel": [-1.0, 0, 0, 0, 0]})
    df = pd.concat([a, b], ignore_index=True)
    pred = np.array([1.0, 2, 3, 4, 5, 1, 2, 3, 4, 5])
    res = fb.logo_offsets(df, pred, np.zeros(10), shrink_rows=0.0).set_index("group")
    assert res.loc["session 27", "as is"] == pytest.approx(2.0)
    assert res.loc["session 27", "offsets"] == pytest.approx(1.0)
    assert res.loc["session 28", "as is"] == res.loc["session 28", "offsets"] == 1.0


def test_counter_cost_prints_one_row_per_kernel_on_pocl():
    """scripts/counter_cost.py on the PoCL device: a row per kernel, with its launches and
    three positive times; too few runs are refused."""
    script = str(ROOT / "scripts" / "counter_cost.py")
    res = subprocess.run([sys.executable, script, "--device", "pocl", "--runs", "11"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    rows = [line.split("|")[1:-1] for line in res.stdout.splitlines()
            if line.startswith("| conv_")]
    assert [(r[0].strip(), int(r[1])) for r in rows] == [
        ("conv_direct", 1), ("conv_im2col", 2), ("conv_winograd", 4)]
    assert all(float(v) > 0 for r in rows for v in r[2:])
    bad = subprocess.run([sys.executable, script, "--runs", "10"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--runs must be > 10" in bad.stderr


@pytest.mark.skipif(not (COEXEC / "session42").is_dir(), reason="no committed session-42 bench")
def test_mode_pairs_pairs_one_configuration_timed_in_both_modes():
    """scripts/mode_pairs.py: one row per (round, layer, configuration) with GPU-only
    medians in map and in buffer; the ratio is theirs, the MiB the layer's activations."""
    from latpred.datasets.suites import suite_layers
    from latpred.planner.oracle import load_grid
    from latpred.planner.split import activation_mib

    mod = _script("mode_pairs")
    pr = mod.pairs([str(COEXEC / "session42")], 36)
    assert len(pr) > 10 and not pr.duplicated(mod.KEYS).any()
    assert np.allclose(pr["ratio"], pr["map"] / pr["buffer"])
    row = pr.iloc[0]
    layers = {n: layer for n, _c, layer in suite_layers(row["suite"])}
    assert row["mib"] == activation_mib(layers[row["layer"]])
    g = load_grid(row["src"])
    g = g[(g["status"] == "ok") & (g["backend"] == "gpu") & (g["layer"] == row["layer"])
          & (g["impl"] == row["impl"]) & (g["local_size"] == row["local_size"])
          & (g["gpu_params"] == row["gpu_params"])]
    for mode in ("map", "buffer"):
        assert row[mode] == g[g["mem_mode"] == mode]["total_us"].median()
    assert mod.pairs([str(COEXEC / "session42")], 43).empty  # rounds before session 43 left out


def test_diag_cpu_cache_times_each_shape_hot_cold_and_idle():
    """--quick: one JSON line per shape with positive medians of the three timings and the
    weight's size; a bad shape is refused with a one-line error naming it."""
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "diag_cpu_cache.py"), "--quick",
                          "--repeats", "3"], capture_output=True, text=True, check=True)
    rows = [json.loads(ln) for ln in res.stdout.splitlines()]
    mod = _script("diag_cpu_cache")
    assert [r["shape"] for r in rows[:-1]] == list(mod.QUICK_SHAPES) and "seconds" in rows[-1]
    for r, text in zip(rows, mod.QUICK_SHAPES):
        m, n, k = mod.parse_shape(text)
        assert r["weight_mib"] == round(n * k * 4 / 2**20, 2)
        assert min(r["hot_us"], r["cold_us"], r["idle_us"]) > 0 and r["threads"] == 1
    bad = subprocess.run([sys.executable, str(ROOT / "scripts" / "diag_cpu_cache.py"), "--shape",
                          "1x0x4"], capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip() == "error: shape='1x0x4': sizes must be positive"

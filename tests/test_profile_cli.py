"""`latpred profile` / `latpred devices` end to end on PoCL: output, resume after a kill,
bad-argument errors that write nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from latpred.datasets import load

from latpred.cli import main

SWEEP = ["profile", "--op", "linear", "--suite", "mnist_mlp", "--passes",
         "forward,backward_weight", "--impl", "gemm_naive", "--impl", "gemm_tiled",
         "--threads", "1", "--pocl-threads", "1", "--max-local-sizes", "2", "--quick",
         "--no-progress"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    return subprocess.run([sys.executable, "-m", "latpred", *args], capture_output=True,
                          text=True, timeout=300, env=env)


def test_devices_json_lists_pocl_and_cpu():
    res = _cli("devices", "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    pocl = [d for d in info["opencl"] if "Portable" in d["platform"]]
    assert pocl and pocl[0]["compute_units"] >= 1 and pocl[0]["max_work_group_size"] >= 1
    assert info["cpu"]["cpu_cores"] >= 1 and "blas" in info["cpu"]


def test_profile_quick_writes_valid_rows(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main([*SWEEP, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "by status" in text and "best configuration per shape" in text
    df = load(out)
    ok = df[df.status == "ok"]
    assert len(ok) > 0
    assert set(df["backend"]) == {"gpu", "cpu"}
    assert set(df["pass"]) == {"forward", "backward_weight"}
    gpu = ok[ok.backend == "gpu"]
    assert (gpu["kernel_us"] > 0).all() and (gpu["total_us"] >= gpu["kernel_us"]).all()
    assert (gpu["repeats"] >= 3).all()
    assert set(gpu["mem_mode"]) >= {"buffer", "map"}  # the best config re-run per memory mode
    blas = ok[ok.impl == "blas"]
    assert len(blas) == 6 and (blas["threads"] == 1).all()
    assert df["config_key"].is_unique
    assert any("Portable" in d.get("platform", "") for d in df.attrs["meta"]["devices"].values())
    # resume: the same command again measures nothing new
    assert main([*SWEEP, "--out", str(out)]) == 0
    assert "profiled 0 new configurations" in capsys.readouterr().out
    assert len(load(out)) == len(df)


def test_readme_quick_command(tmp_path):
    """The README's first command: a quick linear sweep on the default device."""
    res = _cli("profile", "--op", "linear", "--quick", "--out", str(tmp_path / "quick"))
    assert res.returncode == 0, res.stderr
    assert "best configuration per shape" in res.stdout
    df = load(tmp_path / "quick")
    assert (df["status"] == "ok").sum() > 20
    assert set(df["suite"]) == {"mnist_mlp", "random"}


def test_conv_sweep_resumes(tmp_path, capsys):
    """A conv sweep's configurations are stable keys: the same command again adds nothing."""
    args = ["profile", "--op", "conv2d", "--samples", "1", "--seed", "3", "--quick",
            "--impl", "conv_direct", "--impl", "conv_winograd", "--max-local-sizes", "1",
            "--threads", "1", "--pocl-threads", "none", "--no-progress", "--out",
            str(tmp_path / "c")]
    assert main(args) == 0
    first = load(tmp_path / "c")
    assert (first["status"] == "ok").any()
    capsys.readouterr()
    assert main(args) == 0
    assert "profiled 0 new configurations" in capsys.readouterr().out
    assert len(load(tmp_path / "c")) == len(first)


@pytest.mark.parametrize("args, field", [
    (["--op", "lstm"], "op='lstm'"),
    (["--op", "linear", "--suite", "nosuch"], "suite='nosuch'"),
    (["--op", "conv2d", "--suite", "mnist_mlp"], "suite='mnist_mlp'"),
    (["--op", "linear", "--samples", "-3"], "samples=-3"),
    (["--op", "linear", "--samples", "0"], "samples=0"),
    (["--op", "linear", "--device", "no-such-gpu"], "device='no-such-gpu'"),
    (["--op", "linear", "--threads", "0"], "threads='0'"),
    (["--op", "linear", "--impl", "gemm_magic"], "impl='gemm_magic'"),
    (["--op", "linear", "--passes", "sideways"], "passes='sideways'"),
    (["--op", "linear", "--backend", "tpu"], "backend='tpu'"),
    (["--op", "linear", "--backend", "cpu", "--gpu-context"], "gpu-context=True"),
    (["--op", "linear", "--backend", "gpu", "--device", "portable", "--gpu-context"],
     "gpu-context=True"),
    (["--op", "linear", "--backend", "cpu", "--gpu-touch", "run"], "gpu-touch='run'"),
])
def test_bad_arguments_one_line_exit_2_nothing_written(tmp_path, capsys, args, field):
    out = tmp_path / "never"
    assert main(["profile", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err
    assert not out.exists()


def test_cpu_sweep_with_a_live_gpu_context(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["profile", "--op", "linear", "--backend", "cpu", "--device", "portable",
                 "--gpu-context", "--threads", "1,2", "--pocl-threads", "none", "--suite",
                 "mnist_mlp", "--quick", "--no-progress", "--out", str(out)]) == 0
    df = load(out)
    assert set(df["impl"]) == {"blas"} and (df["status"] == "ok").all()
    assert sorted(set(df["threads"])) == [1, 2]
    from latpred.profiler.devices import select_device

    held = str(select_device("portable").name).strip()
    assert df.attrs["meta"]["gpu_context"] == held
    assert json.loads((out / "meta.json").read_text())["gpu_context"] == held
    assert df.attrs["meta"]["gpu_touch"] == "config"


def test_gpu_touch_before_every_timed_run(tmp_path, monkeypatch):
    from latpred.profiler.sweep import Sweeper

    touches = []
    real = Sweeper._touch_gpu
    monkeypatch.setattr(Sweeper, "_touch_gpu", lambda self: (touches.append(1), real(self)))
    out = tmp_path / "ds"
    assert main(["profile", "--op", "linear", "--backend", "cpu", "--device", "portable",
                 "--gpu-context", "--gpu-touch", "run", "--threads", "1", "--pocl-threads",
                 "none", "--suite", "mnist_mlp", "--quick", "--no-progress",
                 "--out", str(out)]) == 0
    df = load(out)
    assert (df["status"] == "ok").all() and df.attrs["meta"]["gpu_touch"] == "run"
    # one touch per configuration, then one before every timed run
    assert len(touches) == len(df) + int(df["repeats"].sum())


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["profile", "--op", "linear", "--quick", "--out", str(blocker)]) == 2
    assert "out=" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_resume_after_kill_matches_uninterrupted_sweep(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    res = _cli(*SWEEP, "--out", str(full))
    assert res.returncode == 0, res.stderr
    n_full = len(load(full))

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "latpred", *SWEEP, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    journal = killed / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(load(killed))
    assert 5 <= partial < n_full

    res = _cli(*SWEEP, "--out", str(killed))
    assert res.returncode == 0, res.stderr
    df = load(killed)
    assert len(df) == n_full
    assert df["config_key"].is_unique
    # the grid itself is deterministic; the memory-mode re-runs follow the layer's measured
    # fastest configuration, which may differ between runs, so compare those by count
    ref = load(full)
    grid = lambda d: set(d.loc[d["mem_mode"].isin(["buffer", "host"]), "config_key"])  # noqa: E731
    assert grid(df) == grid(ref)
    assert df["mem_mode"].value_counts().to_dict() == ref["mem_mode"].value_counts().to_dict()


def test_export_to_a_missing_directory_is_one_line(tmp_path, capsys):
    data = Path(__file__).resolve().parents[1] / "datasets" / "h100" / "linear_cpu_live"
    assert main(["export", "--data", str(data), "--csv",
                 str(tmp_path / "nope" / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "csv=" in err[0] and not (tmp_path / "nope").exists()

"""Which devices the planner plans for (``planner.cli.device_pair``): a live GPU the
predictors were not trained on is refused with one line, or planned as the trained GPU."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from latpred.planner.cli import device_pair
from latpred.planner.predictors import Predictors

from latpred.errors import LatpredError

H100 = {"name": "NVIDIA H100", "type": "GPU", "max_work_group_size": 1024}
XEON = {"name": "Xeon A", "type": "CPU", "platform": "numpy", "cpu_cores": 16}


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch):
    """Make the 'live' GPU the given metadata and this host's CPU 'Xeon A'."""
    import latpred.profiler.devices as devices

    def set_live(info: dict) -> SimpleNamespace:
        monkeypatch.setattr(devices, "cl_device_info", lambda _dev: dict(info))
        return SimpleNamespace(device=object())

    monkeypatch.setattr(devices, "cpu_info", lambda: dict(XEON))
    return set_live


def _preds() -> Predictors:
    return Predictors(models={}, devices={H100["name"]: H100, XEON["name"]: XEON},
                      source="models/x")


def test_no_live_gpu_plans_the_manifest_pair() -> None:
    assert device_pair(_preds(), None) == (H100, XEON)


def test_several_gpus_and_no_live_one_warns_which_is_planned(caplog) -> None:
    h200 = {**H100, "name": "NVIDIA H200"}
    preds = Predictors(models={}, devices={H100["name"]: H100, h200["name"]: h200,
                                           XEON["name"]: XEON}, source="m")
    with caplog.at_level(logging.WARNING):
        gpu, _cpu = device_pair(preds, None)
    assert gpu == H100 and "first of the 2 GPUs" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        device_pair(_preds(), None)
    assert caplog.text == ""


def test_live_gpu_of_the_training_data_is_planned_with_its_own_metadata(live) -> None:
    dev = live({**H100, "max_work_group_size": 512})
    gpu, cpu = device_pair(_preds(), dev)
    assert gpu["max_work_group_size"] == 512 and cpu == XEON


def test_devices_are_known_by_their_name_not_their_manifest_key(live) -> None:
    """A manifest.json may label its devices ("gpu", "cpu"); the names inside count."""
    preds = Predictors(models={}, devices={"gpu": H100, "cpu": XEON}, source="m")
    gpu, _cpu = device_pair(preds, live(H100))
    assert gpu["name"] == "NVIDIA H100"


def test_unknown_live_gpu_is_refused_in_one_line(live) -> None:
    dev = live({"name": "NVIDIA H200", "type": "GPU", "max_work_group_size": 1024})
    with pytest.raises(LatpredError) as err:
        device_pair(_preds(), dev)
    msg = str(err.value)
    assert "\n" not in msg and "device='NVIDIA H200'" in msg and "NVIDIA H100" in msg
    assert "--as-trained" in msg


def test_as_trained_plans_the_live_limits_under_the_trained_name(live, caplog) -> None:
    dev = live({"name": "NVIDIA H200", "type": "GPU", "max_work_group_size": 256})
    with caplog.at_level(logging.WARNING):
        gpu, _cpu = device_pair(_preds(), dev, as_trained=True)
    assert gpu["name"] == "NVIDIA H100" and gpu["max_work_group_size"] == 256
    assert "--as-trained" in caplog.text


def test_other_cpu_on_a_live_run_warns(live, monkeypatch, caplog) -> None:
    import latpred.profiler.devices as devices

    dev = live(H100)
    monkeypatch.setattr(devices, "cpu_info", lambda: {**XEON, "name": "Xeon B"})
    with caplog.at_level(logging.WARNING):
        _gpu, cpu = device_pair(_preds(), dev)
    assert cpu == XEON and "Xeon B" in caplog.text and "Xeon A" in caplog.text


def test_sync_too_slow_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys) -> None:
    """`coexec sync` on a device whose probe runs past the timing policy's limit."""
    import latpred.planner.cli as pcli
    import latpred.planner.sync as psync
    from latpred.profiler.harness import RunTimeout

    from latpred.cli import main

    def too_slow(*_a, **_k):
        raise RunTimeout("one run took 25.0 s > 20.0 s")

    monkeypatch.setattr(pcli, "gpu_device", lambda _args: SimpleNamespace(name="Slow GPU"))
    monkeypatch.setattr(psync, "measure_sync", too_slow)
    assert main(["coexec", "sync", "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "device='Slow GPU'" in err and "25.0 s" in err
    assert list(tmp_path.iterdir()) == []


def test_committed_models_on_the_h200(live) -> None:
    """The pooled H200 predictors (trained on both hosts' GPU sweeps) know the H200; the
    H100's shipped ones refuse it unless --as-trained (BENCHMARKS.md section 5, session 30)."""
    from latpred.planner.cli import load_models

    dev = live({"name": "NVIDIA H200", "type": "GPU", "max_work_group_size": 1024})
    preds, gpu, _cpu, sync = load_models("datasets/h200/models/pooled", dev)
    assert gpu["name"] == "NVIDIA H200" and "NVIDIA H100 80GB HBM3" in preds.devices
    assert preds.work_group_limits()[("gemm_tiled", '{"TS": 32}')] == 256
    with pytest.raises(LatpredError, match="--as-trained"):
        load_models("datasets/h100/models/v3gpurel", dev)
    _p, gpu, _c, _s = load_models("datasets/h100/models/v3gpurel", dev, as_trained=True)
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"


def test_a_manifest_naming_one_of_several_gpus_plans_it_quietly(caplog) -> None:
    from latpred.planner.cli import load_models

    with caplog.at_level(logging.WARNING):
        _p, gpu, _c, _s = load_models("datasets/h200/models/pooled")
    assert gpu["name"] == "NVIDIA H200" and "first of the" not in caplog.text

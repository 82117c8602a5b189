"""The shipped H100 models on layer shapes no suite holds: every plan is one the runtime
accepts on the H100 host (no device needed: the GPU's limits come from the models'
metadata)."""

from __future__ import annotations

import math
import random
import warnings
from types import SimpleNamespace

import pytest
from latpred.planner.candidates import device_limits
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions
from latpred.planner.runtime import validate_plan
from latpred.profiler.problems import ConvLayer, LinearLayer

from latpred.errors import LatpredError

MODELS = "datasets/h100/models/v3gpurel"


def random_layers(seed: int, n: int) -> list[ConvLayer | LinearLayer]:
    """``n`` valid layers: convs with odd kernels (1 x k, k x 1, 11 x 11), strides up to 4,
    dilations up to 4, grouped and depthwise; linear layers from a GEMV to a 32k vocabulary
    head."""
    rng = random.Random(seed)
    out: list[ConvLayer | LinearLayer] = []
    while len(out) < n:
        if rng.random() < 0.3:
            out.append(LinearLayer(rng.choice([1, 2, 7, 64, 197, 512, 4096]),
                                   rng.choice([1, 3, 10, 100, 1000, 3072, 5000, 32000]),
                                   rng.choice([1, 3, 64, 100, 768, 4096, 11008])))
            continue
        c = rng.choice([1, 3, 12, 24, 30, 64, 100, 160, 384, 1024, 2048])
        o = rng.choice([1, 2, 10, 24, 40, 96, 200, 512, 1000, 2048])
        g = rng.choice([1, 1, 1, 2, 4, 8, 32, "depthwise"])
        if g == "depthwise":
            o = g = c
        h = rng.choice([1, 3, 7, 13, 17, 35, 73, 150, 300])
        w = rng.choice([h, h, 1, 7, 100])
        kh = rng.choice([1, 1, 3, 5, 7, 11])
        kw = rng.choice([kh, kh, 1, 7])
        try:
            out.append(ConvLayer(1, c, o, h, w, kh, kw, rng.choice([1, 1, 2, 3, 4]),
                                 rng.choice([0, 1, 3, kh // 2]), rng.choice([1, 1, 2, 4]), g))
        except LatpredError:
            continue  # groups not dividing the channels, a kernel larger than the input
    return out


@pytest.fixture(scope="module")
def shipped():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exports written by other library versions
        preds, gpu, cpu, sync = load_models(MODELS)
    planner = Planner(preds, gpu, cpu, sync, PlannerOptions())
    device = SimpleNamespace(name=gpu["name"], limits=device_limits(gpu),
                             mem_modes=tuple(planner.space.mem_modes))
    return planner, device, int(cpu["cpu_cores"])


@pytest.mark.parametrize("seed", [0, 1])
def test_shipped_models_plan_unseen_shapes_into_plans_the_runtime_accepts(shipped, seed):
    planner, device, cores = shipped
    for layer in random_layers(seed, 40):
        choice = planner.plan_layer(layer)
        for plan in (choice.plan, choice.single):
            validate_plan(layer, plan, device, sides="gpu")  # LatpredError if illegal
            if plan.split_n < plan.n_total:
                assert 1 <= plan.cpu.threads <= cores, (layer, plan.cpu)
        assert math.isfinite(choice.plan_us) and choice.plan_us > 0, (layer, choice)
        assert choice.plan_us <= choice.single_us * (1 + 1e-9), (layer, choice)

"""Run one kernel implementation on tiny problems on the Oclgrind simulator.

Usage: ``python tests/oclgrind_worker.py IMPL_NAME``, started by ``test_oclgrind.py`` with
``OCLGRIND_DATA_RACES=1`` etc. in the environment. Oclgrind writes its reports (invalid
accesses, data races, uninitialized values) to stderr; this script writes only to stdout:
one ``OK``/``MISMATCH`` line per problem and a final JSON summary. Exit code 0 when every
result matched its reference, 1 on a mismatch, 2 when no legal problem/config was found.

Problems by ``impl.op``: "gemm" -> small LinearLayer passes and batched GemmProblems with
edge sizes; "conv2d" -> a few small ConvLayer candidates, kept when ``shape_reason`` and
``local_sizes`` accept them. One config per implementation: the smallest parameters that
are legal on the Oclgrind device, with its first explicit local size.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np

PLATFORM = "Oclgrind"


def gemm_candidates() -> list[Any]:
    """Tiny GEMM problems: all linear-layer passes, M == 1, multiples of 4, batches."""
    from latpred.profiler.problems import GemmProblem, LinearLayer

    out: list[Any] = []
    for m, n, k in ((9, 13, 7), (6, 12, 20)):
        out += [LinearLayer(m, n, k, p).gemm() for p in ("forward", "backward_input",
                                                          "backward_weight")]
    out += [LinearLayer(1, 13, 37, "forward").gemm(), LinearLayer(1, 8, 12, "backward_input").gemm()]
    out += [GemmProblem(5, 9, 12, trans_a=True, batch=2),
            GemmProblem(1, 9, 12, trans_b=True, batch=2),
            GemmProblem(35, 40, 19, trans_a=True, trans_b=True)]  # several work-groups
    return out


def conv_candidates() -> list[Any]:
    """Tiny conv problems of several kinds (plain, 1x1, strided, depthwise, grouped)."""
    from latpred.profiler.problems import ConvLayer

    return [
        ConvLayer(1, 3, 4, 6, 7, 3, 3, stride=1, padding=1),
        ConvLayer(2, 4, 8, 5, 5, 1, 1),
        ConvLayer(1, 4, 4, 7, 6, 3, 3, stride=2, padding=1, groups=4),
        ConvLayer(1, 8, 8, 6, 6, 3, 3, padding=1),
        ConvLayer(1, 4, 6, 6, 6, 3, 3, padding=2, dilation=2, groups=2),
        ConvLayer(1, 16, 16, 4, 4, 3, 3, padding=1),
    ]


def _size_key(params: dict) -> tuple:
    vals = [float(v) for v in params.values() if isinstance(v, (int, float))]
    return (math.prod(vals) if vals else 0.0, sum(vals), repr(sorted(params.items())))


def choose(impl: Any, candidates: list[Any], limits: Any, max_problems: int
           ) -> tuple[dict, Any, list[Any]] | None:
    """The smallest legal params, a local size and the legal problems for them."""
    for params in sorted(impl.params_space(), key=_size_key):
        probs = [p for p in candidates if impl.shape_reason(p, params) is None]
        probs = [p for p in probs if impl.local_sizes(p, params, limits)]
        if not probs:
            continue
        locals_ = impl.local_sizes(probs[0], params, limits)
        explicit = [loc for loc in locals_ if loc is not None]
        local = explicit[0] if explicit else locals_[0]
        probs = [p for p in probs if local in impl.local_sizes(p, params, limits)]
        return params, local, probs[:max_problems]
    return None


def main(argv: list[str]) -> int:
    import pyopencl as cl
    from latpred.profiler.backends.opencl import OpenCLDevice, execute
    from latpred.profiler.kernels import get

    impl = get(argv[1])
    plats = [p for p in cl.get_platforms() if PLATFORM.lower() in p.name.lower()]
    if not plats:
        print(json.dumps({"impl": impl.name, "status": "no_platform"}))
        return 3
    dev = OpenCLDevice(plats[0].get_devices()[0])
    candidates = gemm_candidates() if impl.op == "gemm" else conv_candidates()
    picked = choose(impl, candidates, dev.limits, max_problems=12 if impl.op == "gemm" else 3)
    if picked is None:
        print(json.dumps({"impl": impl.name, "status": "no_legal_problem"}))
        return 2
    params, local, problems = picked
    rng = np.random.default_rng(1234)
    bad = 0
    for prob in problems:
        arrays = prob.arrays(rng)
        out = execute(dev, impl, prob, params, local, arrays)
        err = float(np.max(np.abs(out - prob.reference(arrays))))
        ok = bool(np.isfinite(err) and err <= prob.tolerance())
        bad += not ok
        print(f"{'OK' if ok else 'MISMATCH'} {prob} err={err:.3g}", flush=True)
    print(json.dumps({"impl": impl.name, "params": params, "local": local,
                      "problems": len(problems), "mismatches": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Same plans, bit for bit? Dump every plan choice and every launch-geometry row of a few
suites with one version of the code, check them with another (for speed changes that
must not move a plan).

    python scripts/plan_identity.py dump REF.json --models DIR [--suite resnet50 ...]
    python scripts/plan_identity.py check REF.json --models DIR [--suite ...]

Each suite is planned three ways: in one batch, layer by layer by a planner that has only
seen another network, and in one batch again in the same process (memoised); a choice is
compared by its repr (plans and predicted times, exact floats), a geometry row by its
bytes. ``check`` prints IDENTICAL or MISMATCH (exit status 1) with what differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import latpred.features.core as core
from latpred.datasets.suites import suite_layers
from latpred.features.geometry import clear_caches
from latpred.planner.cli import load_models
from latpred.planner.planner import Planner, PlannerOptions

SUITES = ("resnet50", "vgg16", "mobilenetv2", "bert_base")


def record_geometry(rows: dict[str, str]) -> None:
    """Make ``features.core`` store every raw geometry row it computes in ``rows`` (key ->
    hex bytes), refusing a row that comes out differently twice."""
    original = core.raw_geometry

    def recorded(impl: Any, params: Any, local: Any, layout_code: Any, layouts: Any,
                 shapes: Any, gemm_eq: Any, is_blas: Any) -> Any:
        out = original(impl, params, local, layout_code, layouts, shapes, gemm_eq, is_blas)
        (ci, iu), (cp, pu), (cl, lu) = impl, params, local
        for r in range(len(ci)):
            key = repr((iu[ci[r]], pu[cp[r]], lu[cl[r]], layouts[layout_code[r]],
                        shapes[r].tolist(), gemm_eq[r].tolist(), bool(is_blas[r])))
            value = out[r].tobytes().hex()
            if rows.setdefault(key, value) != value:
                raise SystemExit(f"geometry row {key} differs within one run")
        return out

    core.raw_geometry = recorded


def plan_suites(models: str, suites: list[str]) -> dict[str, list[str]]:
    """"<way> <suite>" -> the reprs of its plan choices, for the three ways."""
    preds, gpu, cpu, sync = load_models(models)

    def planner() -> Planner:
        return Planner(preds, gpu, cpu, sync, PlannerOptions())

    out: dict[str, list[str]] = {}
    for s in suites:
        clear_caches()
        out[f"batch {s}"] = [repr(c) for c in planner().plan_layers(suite_layers(s))]
    for s in suites:
        clear_caches()
        p = planner()
        p.plan_layers(suite_layers("mobilenetv2" if s != "mobilenetv2" else "resnet50"))
        out[f"cold {s}"] = [repr(p.plan_layer(lay, n, c)) for n, c, lay in suite_layers(s)]
    for s in suites:
        out[f"warm {s}"] = [repr(c) for c in planner().plan_layers(suite_layers(s))]
    return out


def compare(ref: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two dumps (empty: identical)."""
    bad = [f"choices of {k}" for k in sorted(set(ref["choices"]) | set(now["choices"]))
           if ref["choices"].get(k) != now["choices"].get(k)]
    rg, ng = ref["geometry"], now["geometry"]
    if set(rg) != set(ng):
        bad.append(f"geometry rows: {len(rg)} in the reference, {len(ng)} now, "
                   f"{len(set(rg) & set(ng))} in both")
    bad += [f"geometry row {k}" for k in sorted(set(rg) & set(ng)) if rg[k] != ng[k]][:10]
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("dump", "check"))
    ap.add_argument("ref", type=Path, help="the reference dump (JSON)")
    ap.add_argument("--models", required=True)
    ap.add_argument("--suite", action="append", default=None,
                    help=f"suites (default: {', '.join(SUITES)})")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # pickles saved with other library versions
    geometry: dict[str, str] = {}
    record_geometry(geometry)
    now = {"choices": plan_suites(args.models, args.suite or list(SUITES)),
           "geometry": geometry}
    n = sum(len(v) for v in now["choices"].values())
    if args.action == "dump":
        args.ref.write_text(json.dumps(now))
        print(f"dumped {n} choices and {len(geometry)} geometry rows to {args.ref}")
        return
    bad = compare(json.loads(args.ref.read_text()), now)
    print(f"{n} choices, {len(geometry)} geometry rows: " + ("IDENTICAL" if not bad else
                                                             "MISMATCH"))
    for line in bad:
        print("  " + line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""Record in a GPU predictor's native export the work-group limits its training sweep found.

OpenCL reports a compiled kernel's own work-group limit (CL_KERNEL_WORK_GROUP_SIZE) only
once the kernel is built; the profiler records each refusal ("local size ... exceeds
kernel limit N"). ``latpred train`` keeps those limits in the predictor, and the planner
keeps its local sizes within them. Exports written before that (session 29) have none;
this adds them from the training datasets, without retraining:

    python scripts/add_work_group_limits.py EXPORT_DIR DATASET [DATASET ...]
    # e.g. the shipped H100 GPU predictor:
    python scripts/add_work_group_limits.py datasets/h100/models/v3gpurel/gpu_total_us \\
        datasets/h100/linear datasets/h100/conv

Only rows of the export's own GPU(s) count; a limit found on several is their smallest.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from latpred.datasets.store import load
from latpred.models.persist import load_native, set_work_group_limits
from latpred.models.targets import work_group_limits

from latpred.errors import LatpredError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", help="native export directory of a GPU predictor")
    ap.add_argument("datasets", nargs="+", help="its training datasets")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # exports saved with other library versions
    try:
        pred = load_native(args.export)
        gpus = [n for n, info in pred.devices_.items()
                if str(info.get("type", "")).upper() == "GPU"]
        if not gpus:
            raise LatpredError(f"export={args.export!r}: no GPU among its devices")
        df = load(args.datasets)
        limits: dict[tuple[str, str], int] = {}
        for gpu in gpus:
            for key, n in work_group_limits(df, pred.target, gpu).items():
                limits[key] = min(limits.get(key, n), n)
        path = set_work_group_limits(args.export, limits)
    except LatpredError as err:
        print(f"add_work_group_limits: error: {err}", file=sys.stderr)
        return 2
    for (impl, params), n in sorted(limits.items()):
        print(f"{impl:14s} {params:26s} {n:5d} work-items")
    print(f"wrote {len(limits)} limits ({', '.join(gpus)}) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

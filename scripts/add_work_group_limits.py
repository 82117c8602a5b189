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

The limits are the ones `latpred train` would have recorded: from the rows of the
predictor's own device selection, the smallest each kernel reported.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from latpred.datasets.store import load
from latpred.models.persist import load_native, set_work_group_limits
from latpred.models.targets import get_target, work_group_limits

from latpred.errors import LatpredError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", help="native export directory of a GPU predictor")
    ap.add_argument("datasets", nargs="+", help="its training datasets")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # exports saved with other library versions
    try:
        pred = load_native(args.export)
        if get_target(pred.target).backend != "gpu":
            raise LatpredError(f"export={args.export!r}: a {pred.target} predictor, not a "
                               "GPU one")
        # what `latpred train` records: the rows of the predictor's own device selection
        # (a RuntimeCalibrated export keeps them in its base predictor)
        base = getattr(pred, "base", pred)
        limits = work_group_limits(load(args.datasets), base.target, base.device)
        path = set_work_group_limits(args.export, limits)
    except LatpredError as err:
        print(f"add_work_group_limits: error: {err}", file=sys.stderr)
        return 2
    for (impl, params), n in limits.items():
        print(f"{impl:14s} {params:26s} {n:5d} work-items")
    print(f"wrote {len(limits)} limits to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

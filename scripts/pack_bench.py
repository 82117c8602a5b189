"""Copy a device run's ``coexec bench`` output into the committed layout.

    python scripts/pack_bench.py RUN_BENCH_DIR DEST_DIR

For every ``<suite>/`` of RUN_BENCH_DIR holding a bench.csv: bench.csv, summary.json and the
confirmation rounds (``confirm/``, consolidated into one zstd parquet part) go to
``DEST_DIR/<suite>/``. Left out: the oracle grid (committed once per suite, reused by
``REUSE_GRID``), ``plans/`` (first quick timings the rounds time again; bench.csv keeps the
values it used), the parquet copy of bench.csv and the bar plot (``bench_table.py --plot``
draws it from bench.csv). Refuses a DEST_DIR suite that already exists (nothing
overwritten).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from latpred.datasets.store import consolidate

from latpred.errors import bad_value

KEPT_FILES = ("bench.csv", "summary.json")


def pack(src: Path, dst: Path) -> list[str]:
    """Pack every suite of ``src`` into ``dst``; returns the suites packed."""
    suites = sorted(p for p in src.iterdir() if (p / "bench.csv").is_file()) \
        if src.is_dir() else []
    if not suites:
        raise bad_value("src", str(src), "holds no <suite>/bench.csv")
    for suite in suites:
        if (dst / suite.name).exists():
            raise bad_value("dst", str(dst / suite.name), "already exists")
    for suite in suites:
        out = dst / suite.name
        out.mkdir(parents=True)
        for f in KEPT_FILES:
            if (suite / f).is_file():
                shutil.copy2(suite / f, out / f)
        if (suite / "confirm").is_dir():
            consolidate(suite / "confirm", out / "confirm")
    return [s.name for s in suites]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, metavar="RUN_BENCH_DIR")
    ap.add_argument("dst", type=Path, metavar="DEST_DIR")
    args = ap.parse_args()
    print(f"packed {', '.join(pack(args.src, args.dst))} into {args.dst}")


if __name__ == "__main__":
    main()

"""Fetch the wheels the H100 host lacks into ``.whl/`` and shrink them (LZMA).

    python scripts/device_wheels.py [--dest .whl] [--tune .whl-tune]

The device (see ``../shared/device/README.md``) reaches no package registry and a call
carries at most 64 MiB with the working tree, so its packages travel as wheels in an
ignored folder. This downloads pyopencl and its needs, LightGBM and ``xgboost-cpu`` for
CPython 3.12 on manylinux x86-64 (versions pinned below, the ones the committed runs
used), then rewrites every wheel with LZMA zip entries: the same files and RECORD, about
30 % smaller (pip installs them byte for byte as the originals). With
``--tune`` it also fetches optuna and its needs (only the tuning imports it) into a
second folder, carried only by calls that tune.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

log = logging.getLogger("device_wheels")

WHEELS = ("pyopencl==2026.1.4", "pytools==2026.1.1", "platformdirs==4.14.7", "siphash24==1.9",
          "lightgbm==4.7.0", "xgboost-cpu==3.4.1")
TUNE_WHEELS = ("optuna", "alembic", "colorlog", "sqlalchemy", "mako", "greenlet")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def download(names: tuple[str, ...], dest: Path) -> None:
    """``pip download`` the given requirements (no dependencies) for the host's Python."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + list(names), check=True)


def repack_lzma(wheel: Path) -> tuple[int, int]:
    """Rewrite ``wheel`` in place with LZMA entries; returns (bytes before, bytes after)."""
    before = wheel.stat().st_size
    tmp = wheel.with_name(wheel.name + ".tmp")
    with zipfile.ZipFile(wheel) as src, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_LZMA) as out:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_LZMA
            out.writestr(entry, src.read(info))
    tmp.replace(wheel)
    return before, wheel.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=Path(".whl"))
    ap.add_argument("--tune", type=Path, default=None,
                    help="also fetch optuna and its needs into this folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.dest.mkdir(parents=True, exist_ok=True)
    download(WHEELS, args.dest)
    if args.tune is not None:
        args.tune.mkdir(parents=True, exist_ok=True)
        download(TUNE_WHEELS, args.tune)
    for wheel in sorted(args.dest.glob("*.whl")):
        with zipfile.ZipFile(wheel) as z:
            packed = all(i.compress_type == zipfile.ZIP_LZMA for i in z.infolist())
        if not packed:
            before, after = repack_lzma(wheel)
            log.info("%s: %.1f -> %.1f MiB", wheel.name, before / 2**20, after / 2**20)
    total = sum(w.stat().st_size for w in args.dest.glob("*.whl"))
    log.info("%s: %.1f MiB of wheels", args.dest, total / 2**20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

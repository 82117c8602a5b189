"""Parquet I/O with device metadata, crash-safe appends and resume.

A dataset is a directory::

    DIR/part-*.parquet   compacted chunks (zstd), device metadata in the schema metadata
    DIR/journal.jsonl    rows since the last compaction, one JSON line per configuration,
                         flushed and fsynced as each configuration finishes
    DIR/meta.json        sidecar: devices, host, latpred version, timestamps

A kill loses at most the configuration in flight: its row was never journaled. A torn
last journal line is ignored on load; a row in both a part and the journal (a crash
between compaction and truncation) is kept once.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from latpred.datasets.schema import COLUMNS, conform, empty_frame

from latpred.errors import bad_value

log = logging.getLogger(__name__)

META_KEY = b"latpred"
JOURNAL = "journal.jsonl"
META_FILE = "meta.json"


def check_writable(out_dir: str | os.PathLike) -> Path:
    """Raise LatpredError unless ``out_dir`` exists as a writable dir or can be created.

    Creates nothing (so a bad command line writes nothing).
    """
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise bad_value("out", str(out_dir), "exists and is not a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise bad_value("out", str(out_dir), "is not writable")
    return path


def _merge_meta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, val in new.items():
        if key == "devices":
            out["devices"] = {**old.get("devices", {}), **val}
        elif key == "created" and "created" in old:
            continue
        else:
            out[key] = val
    return out


class DatasetWriter:
    """Append rows to a dataset directory, one configuration at a time.

    Args:
        out_dir: the dataset directory (created on the first append).
        meta: metadata to merge into the sidecar (``devices``: name -> info dict, ...).
        chunk_rows: journal rows compacted into one parquet part.
    """

    def __init__(self, out_dir: str | os.PathLike, meta: dict[str, Any] | None = None,
                 chunk_rows: int = 500):
        self.path = check_writable(out_dir)
        self.meta = dict(meta or {})
        self.chunk_rows = chunk_rows
        self._journal: Any = None
        self._pending = 0
        self._done: set[str] | None = None

    # -- resume -----------------------------------------------------------------------
    def done_keys(self) -> set[str]:
        """config_key of every configuration already stored (any status)."""
        if self._done is None:
            if self.path.is_dir():
                df = load(self.path)
                self._done = set(df["config_key"].dropna().astype(str))
            else:
                self._done = set()
        return self._done

    # -- writing ----------------------------------------------------------------------
    def _open(self) -> None:
        if self._journal is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._write_meta()
            jpath = self.path / JOURNAL
            self._pending = _count_lines(jpath)
            self._journal = open(jpath, "a", encoding="utf-8")  # noqa: SIM115

    def append(self, row: dict[str, Any]) -> None:
        """Journal one finished configuration (durable when this returns)."""
        self._open()
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise bad_value("row", sorted(unknown), "columns not in the dataset schema")
        self._journal.write(json.dumps(row, default=_json_default) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        self._pending += 1
        if self._done is not None and row.get("config_key"):
            self._done.add(str(row["config_key"]))
        if self._pending >= self.chunk_rows:
            self.compact()

    def compact(self) -> None:
        """Move the journal's rows into a new parquet part, then empty the journal."""
        jpath = self.path / JOURNAL
        rows = _read_journal(jpath)
        if not rows.empty:
            part = self.path / f"part-{_stamp()}-{uuid.uuid4().hex[:6]}.parquet"
            write_parquet(rows, part, self._full_meta())
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if jpath.exists():
            jpath.write_text("")
        self._pending = 0

    def close(self) -> None:
        """Compact what is left and update the sidecar."""
        if self._journal is not None or (self.path / JOURNAL).exists():
            if self.path.is_dir():
                self.compact()
                self._write_meta()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _full_meta(self) -> dict[str, Any]:
        side = self.path / META_FILE
        old = json.loads(side.read_text()) if side.exists() else {}
        return _merge_meta(old, {**self.meta, "updated": _now()})

    def _write_meta(self) -> None:
        meta = self._full_meta()
        meta.setdefault("created", _now())
        tmp = self.path / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1, default=_json_default))
        os.replace(tmp, self.path / META_FILE)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike, meta: dict[str, Any],
                  level: int | None = None) -> None:
    """Write a conformed frame to parquet (zstd; ``level``: its compression level, default
    the library's) atomically, metadata in the schema."""
    table = pa.Table.from_pandas(conform(df), preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[META_KEY] = json.dumps(meta, default=_json_default).encode()
    table = table.replace_schema_metadata(md)
    tmp = Path(str(path) + ".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=level)
    os.replace(tmp, path)


def load(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Load one or more datasets (directories or .parquet files) into one frame.

    Returns a frame conforming to ``schema.COLUMNS``, duplicates (same config_key) kept
    once (the last), with ``df.attrs["meta"]`` = the merged metadata (``devices`` etc.).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    frames, meta = [], {}
    for p in map(Path, paths):
        if p.is_dir():
            parts = sorted(p.glob("part-*.parquet"))
            for part in parts:
                frames.append(pq.read_table(part).to_pandas())
            frames.append(_read_journal(p / JOURNAL))
            side = p / META_FILE
            if side.exists():
                meta = _merge_meta(meta, json.loads(side.read_text()))
            elif parts:
                meta = _merge_meta(meta, _parquet_meta(parts[-1]))
        elif p.suffix == ".parquet" and p.exists():
            frames.append(pq.read_table(p).to_pandas())
            meta = _merge_meta(meta, _parquet_meta(p))
        else:
            raise bad_value("data", str(p), "no such dataset directory or .parquet file")
    frames = [f for f in frames if not f.empty]
    df = conform(pd.concat(frames, ignore_index=True)) if frames else empty_frame()
    if not df.empty:
        df = df.drop_duplicates("config_key", keep="last").reset_index(drop=True)
    df.attrs["meta"] = meta
    return df


def _stamp() -> str:
    """Local time to the nanosecond, from one clock reading: part names sort in write order
    (``load`` keeps the last row of a configuration stored twice)."""
    ns = time.time_ns()
    return time.strftime("%Y%m%dT%H%M%S", time.localtime(ns // 10**9)) + f".{ns % 10**9:09d}"


#: zstd level of consolidated datasets: written once, committed, carried to every device
#: call (whose working tree must stay under 64 MiB); ~5 % smaller than the default level
COMMIT_ZSTD_LEVEL = 19


def consolidate(src: str | os.PathLike, dst: str | os.PathLike | None = None) -> Path:
    """Rewrite a dataset as one parquet part (+ sidecar): compact for committing.

    ``dst`` defaults to ``src`` (in place: the new part is written before old files go).
    """
    src = Path(src)
    dst = Path(dst) if dst is not None else src
    df = load(src)
    dst.mkdir(parents=True, exist_ok=True)
    old = sorted(dst.glob("part-*.parquet")) + [dst / JOURNAL]
    part = dst / f"part-{time.strftime('%Y%m%dT%H%M%S')}-all.parquet"
    write_parquet(df, part, df.attrs["meta"], level=COMMIT_ZSTD_LEVEL)
    (dst / META_FILE).write_text(json.dumps(df.attrs["meta"], indent=1, default=_json_default))
    for f in old:
        if f.exists() and f != part:
            f.unlink()
    return part


def export_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a dataset frame as CSV (for people who want it)."""
    df.to_csv(path, index=False)


def _parquet_meta(path: Path) -> dict[str, Any]:
    md = pq.read_schema(path).metadata or {}
    return json.loads(md[META_KEY]) if META_KEY in md else {}


def _read_journal(path: Path) -> pd.DataFrame:
    if not path.exists():
        return empty_frame()
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a torn last line from a kill
                log.warning("ignoring a torn journal line in %s", path)
    return conform(pd.DataFrame(rows)) if rows else empty_frame()


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if o is pd.NA:
        return None
    return str(o)

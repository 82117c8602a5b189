"""Dataset schema round-trip, journal/compaction, resume keys, CSV export."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from latpred.datasets.schema import COLUMNS, config_key, conform, shape_id
from latpred.datasets.store import DatasetWriter, check_writable, export_csv, load

from latpred.errors import LatpredError


def _row(i: int, **kw) -> dict:
    row = {"op": "linear", "pass": "forward", "m": i + 1, "n": 8, "k": 4, "backend": "gpu",
           "device": "dev", "impl": "gemm_naive", "params": "{}", "local_size": "driver",
           "mem_mode": "buffer", "total_us": 10.0 + i, "kernel_us": 5.0, "status": "ok",
           "error": "", "threads": None}
    row.update(kw)
    row["config_key"] = config_key(row)
    return row


def test_roundtrip_types_and_metadata(tmp_path):
    meta = {"devices": {"dev": {"name": "dev", "compute_units": 4}}}
    with DatasetWriter(tmp_path / "d", meta, chunk_rows=3) as w:
        for i in range(7):
            w.append(_row(i))
    df = load(tmp_path / "d")
    assert len(df) == 7
    assert list(df.columns)[: len(COLUMNS)] == list(COLUMNS)
    for col, dtype in COLUMNS.items():
        assert str(df[col].dtype) == dtype, col
    assert df.attrs["meta"]["devices"]["dev"]["compute_units"] == 4
    parts = sorted((tmp_path / "d").glob("part-*.parquet"))
    assert len(parts) == 3  # 3 + 3 compacted on the way, 1 on close
    md = pq.read_schema(parts[0]).metadata
    assert json.loads(md[b"latpred"])["devices"]["dev"]["name"] == "dev"
    # a single parquet file loads too, with its embedded metadata
    one = load(parts[0])
    assert len(one) == 3 and one.attrs["meta"]["devices"]["dev"]["compute_units"] == 4


def test_torn_journal_line_and_duplicates_are_tolerated(tmp_path):
    w = DatasetWriter(tmp_path / "d", {}, chunk_rows=100)
    for i in range(3):
        w.append(_row(i))
    w.append(_row(0))  # the same configuration again (a crash between compaction and truncation)
    (tmp_path / "d" / "journal.jsonl").open("a").write('{"op": "lin')  # a kill mid-write
    df = load(tmp_path / "d")
    assert len(df) == 3
    assert df["config_key"].is_unique
    assert DatasetWriter(tmp_path / "d").done_keys() == set(df["config_key"])


def test_config_key_ignores_timings_but_not_identity():
    a, b = _row(0), _row(0, total_us=99.0)
    assert a["config_key"] == b["config_key"]
    assert _row(0, local_size="8x8x1")["config_key"] != a["config_key"]
    assert _row(0, threads=2)["config_key"] != a["config_key"]


def test_shape_id_groups_by_shape_not_config():
    df = conform(pd.DataFrame([_row(0), _row(0, impl="gemm_tiled"), _row(1)]))
    ids = shape_id(df)
    assert ids[0] == ids[1] != ids[2]


def test_check_writable_rejects_files_and_readonly(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(LatpredError, match="out="):
        check_writable(f)
    assert check_writable(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()


def test_load_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(LatpredError, match="data="):
        load(tmp_path / "nope")


def test_csv_export(tmp_path):
    with DatasetWriter(tmp_path / "d", {}) as w:
        w.append(_row(0))
    export_csv(load(tmp_path / "d"), tmp_path / "x.csv")
    back = pd.read_csv(tmp_path / "x.csv")
    assert back.loc[0, "impl"] == "gemm_naive" and back.loc[0, "total_us"] == 10.0


def test_unknown_column_refused(tmp_path):
    w = DatasetWriter(tmp_path / "d", {})
    with pytest.raises(LatpredError, match="row="):
        w.append({"op": "linear", "bogus": 1})


def test_a_configuration_stored_twice_keeps_its_newest_row(tmp_path):
    """Parts written within one second still sort in write order, so the re-measured row
    wins whatever the parts' random suffixes."""
    with DatasetWriter(tmp_path / "d", {}, chunk_rows=1) as w:
        for v in range(6):
            w.append(_row(0, total_us=100.0 + v))
    parts = sorted((tmp_path / "d").glob("part-*.parquet"))
    assert len(parts) == 6
    assert [load(p)["total_us"].iloc[0] for p in parts] == [100.0 + v for v in range(6)]
    df = load(tmp_path / "d")
    assert len(df) == 1 and df["total_us"].iloc[0] == 105.0

"""Raw configurations + device metadata -> the feature frame (the one function used at fit and
predict time).

A configuration is a dataset row without its timings (``datasets.schema``): the layer shape
(op, pass, m/n/k or the conv2d columns), the backend and device, the implementation with
its parameters and local size, the CPU threads and the memory mode. Every feature is a
float64, finite for every legal layer (m=1, huge k, depthwise, ...), and the same inputs
always give the same features (no randomness, no dependence on row order or batch size).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from latpred.features.blas_threads import SWITCH_RATIOS, blas_thread_features
from latpred.features.geometry import RAW_FIELDS, parse_params, raw_geometry

from latpred.errors import LatpredError, bad_value

#: bump when a feature's meaning changes (a fitted model refuses a different version)
#: 2: BLAS conv rows carry their workspace (im2col) as scratch; 3: the BLAS thread grid
#: (``features.blas_threads``), appended: a version-2 model reads the first columns
FEATURES_VERSION = 3
#: versions whose features are a prefix of today's, unchanged in meaning
PREFIX_VERSIONS = (2, 3)

#: implementation vocabulary, APPEND-ONLY: code = position + 1, 0 = not in the list
IMPL_VOCAB = (
    "blas", "gemm_naive", "gemm_tiled", "gemm_regblock", "gemm_vec4", "gemv",
    "conv_direct", "conv_im2col", "conv_1x1", "conv_winograd", "conv_depthwise",
)
#: memory-mode vocabulary, APPEND-ONLY: code = position + 1, 0 = not in the list
MEM_MODE_VOCAB = ("host", "buffer", "map", "svm_coarse", "svm_fine")
PASS_VOCAB = ("forward", "backward_input", "backward_weight")

#: (name, meaning) of every feature, in column order
FEATURES: tuple[tuple[str, str], ...] = (
    # problem size
    ("log2_flops", "log2 of floating-point operations (2 per multiply-add)"),
    ("log2_bytes_in", "log2 bytes of the activation inputs (every 'in' operand)"),
    ("log2_bytes_weight", "log2(1 + bytes of the resident weights)"),
    ("log2_bytes_out", "log2 bytes of the output"),
    ("log2_bytes_total", "log2 bytes of inputs + weights + output"),
    ("log2_arith_intensity", "log2 of flops / bytes_total (flop per byte)"),
    ("log2_gemm_m", "log2 rows of the (implicit) GEMM"),
    ("log2_gemm_n", "log2 columns of the (implicit) GEMM"),
    ("log2_gemm_k", "log2 reduction depth of the (implicit) GEMM"),
    ("log2_gemm_batch", "log2 batch count of the (implicit) GEMM"),
    ("pass_code", "0 forward, 1 backward_input, 2 backward_weight"),
    ("is_conv", "1 for conv2d, 0 for linear"),
    ("conv_kernel_hw", "kernel_h * kernel_w (0 for linear)"),
    ("conv_stride", "conv stride (0 for linear)"),
    ("log2_groups", "log2 conv groups (0 for linear)"),
    ("is_depthwise", "1 if groups == in_channels > 1"),
    # kernel launch geometry
    ("n_launches", "kernel launches of the configuration"),
    ("log2_work_items", "log2 global work-items summed over launches"),
    ("log2_workgroups", "log2 work-groups summed over launches (driver local sizes estimated)"),
    ("log2_workgroups_main", "log2 work-groups of the main (GEMM / largest) launch"),
    ("group_items", "work-items per work-group of the main launch"),
    ("local_x", "local size, dimension 0, of the main launch"),
    ("local_y", "local size, dimension 1, of the main launch"),
    ("is_driver_local", "1 if the driver chooses the main launch's local size"),
    ("log2_work_per_item", "log2 output elements per work-item"),
    ("local_mem_kib", "local memory per work-group (KiB)"),
    ("local_mem_frac", "local memory per work-group / device local memory"),
    ("pad_waste", "share of computed outputs that are padding (tile / work-group rounding)"),
    ("k_pad_waste", "share of the reduction depth that is padding (K tile rounding)"),
    ("log2_scratch_bytes", "log2(1 + scratch bytes: im2col columns, Winograd buffers; BLAS "
                           "conv: the workspace's columns + padded input, 0 for 1x1 stride 1)"),
    ("log2_flops_per_item", "log2 flops per work-item (serial work of one work-item)"),
    ("tile_m", "tile multiple of the output rows / channels (tile_multiples M or O; 1 if none)"),
    ("tile_n", "tile multiple of the output columns / pixels (N, P or OW; 1 if none)"),
    ("tile_k", "tile multiple of the reduction depth (K; 1 if none)"),
    # parallelism
    ("threads", "CPU threads / sub-device compute units (0 = whole device)"),
    ("units", "parallel units the work spreads over: threads, else compute units"),
    ("waves", "main-launch work-groups / units"),
    ("log2_waves", "log2 of waves"),
    ("tail_occupancy", "occupied share of the last wave, in (0, 1]"),
    ("wave_efficiency", "waves / ceil(waves): 1 when the last wave is full"),
    ("log2_flops_per_unit", "log2 flops per parallel unit"),
    ("log2_bytes_transfer", "log2(1 + bytes moved host<->device per run: inputs + output)"),
    # device
    ("dev_is_gpu", "1 for GPU devices"),
    ("dev_compute_units", "device compute units (CPU: cores)"),
    ("dev_clock_mhz", "device max clock (MHz)"),
    ("log2_dev_local_mem", "log2(1 + device local memory bytes)"),
    ("dev_max_work_group", "device max work-group size"),
    ("dev_host_unified", "1 if device memory is the host memory"),
    ("dev_is_numpy", "1 for the numpy/BLAS backend"),
    # analytic time terms (roofline-like, device metadata only)
    ("log2_t_compute", "log2 flops / (units * clock_mhz): cycles per unit at 1 flop/cycle"),
    ("log2_t_waves", "log2_t_compute corrected for the idle tail of the last wave"),
    # categoricals
    ("impl_code", "implementation (categorical: IMPL_VOCAB position + 1, 0 = other)"),
    ("mem_mode_code", "memory mode (categorical: MEM_MODE_VOCAB position + 1, 0 = other)"),
    ("sub_impl_code", "GEMM kernel inside a GEMM-based conv (params 'gemm'; categorical like "
                      "impl_code, 0 = none)"),
    # BLAS thread grid (features.blas_threads; version 3, appended): 0 on other backends
    *((name.format(sr), what.format(sr)) for sr in SWITCH_RATIOS for name, what in (
        ("blas_threads_used_sr{}", "threads OpenBLAS runs the GEMM on (its thread grid, "
                                   "SWITCH_RATIO {})"),
        ("blas_threads_used_frac_sr{}", "threads used / threads allowed (SWITCH_RATIO {})"),
        ("log2_blas_rows_per_thread_sr{}", "log2 OpenBLAS m (GEMM N) per thread-grid row "
                                           "(SWITCH_RATIO {})"),
        ("log2_blas_cols_per_thread_sr{}", "log2 OpenBLAS n (GEMM M) per thread-grid column "
                                           "(SWITCH_RATIO {})"))),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
CATEGORICAL: tuple[str, ...] = ("impl_code", "mem_mode_code", "sub_impl_code")

#: the columns a configuration frame may carry (others are ignored)
INPUT_COLUMNS = (
    "op", "pass", "m", "n", "k", "batch", "in_channels", "out_channels", "height", "width",
    "kernel_h", "kernel_w", "stride", "padding", "dilation", "groups", "out_h", "out_w",
    "backend", "device", "platform", "impl", "params", "local_size", "threads", "mem_mode",
)

_LAYOUTS: list[tuple] = [
    ("linear", "forward", False, True),
    ("linear", "backward_input", False, False),
    ("linear", "backward_weight", True, False),
    ("conv2d",),
]
_CONV_COLS = ("batch", "in_channels", "out_channels", "height", "width", "kernel_h",
              "kernel_w", "stride", "padding", "dilation", "groups")
_CONV_DEFAULTS = {"batch": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}
#: per _CONV_COLS row, shape (11, 1): value of a missing entry (NaN: none), smallest legal
#: value, and the value of linear-only batches
_CONV_FILL = np.array([[float(_CONV_DEFAULTS.get(c, np.nan))] for c in _CONV_COLS])
_CONV_MIN = np.array([[0.0 if c == "padding" else 1.0] for c in _CONV_COLS])
_CONV_LINEAR = np.array([[float(_CONV_DEFAULTS.get(c, 1))] for c in _CONV_COLS])


def feature_schema() -> dict[str, Any]:
    """What a fitted model depends on: names, categorical vocabularies, version (JSON-able)."""
    return {
        "version": FEATURES_VERSION,
        "names": list(FEATURE_NAMES),
        "categorical": list(CATEGORICAL),
        "vocab": {"impl_code": list(IMPL_VOCAB), "mem_mode_code": list(MEM_MODE_VOCAB),
                  "sub_impl_code": list(IMPL_VOCAB)},
    }


def schema_compatible(stored: Mapping[str, Any]) -> str | None:
    """None if a model fitted with ``stored`` (a feature_schema()) can use today's features,
    else the reason. Vocabularies may have grown at their end (append-only)."""
    now = feature_schema()
    names = list(stored.get("names", []))
    prefix = stored.get("version") in PREFIX_VERSIONS and names == now["names"][:len(names)]
    if stored.get("version") != now["version"] and not prefix:
        return f"feature version {stored.get('version')} != {now['version']}"
    if names != now["names"] and not prefix:
        diff = sorted(set(names) ^ set(now["names"]))
        return f"feature names differ ({', '.join(diff) or 'order'})"
    for key, vocab in stored.get("vocab", {}).items():
        cur = now["vocab"].get(key, [])
        if list(vocab) != cur[: len(vocab)]:
            return f"vocabulary of {key} changed (not append-only)"
    return None


#: configuration rows: a DataFrame, or a column mapping (name -> array of one value per row:
#: numbers as a numpy array, NaN for missing; strings as a pandas Categorical, or any array)
Configs = pd.DataFrame | Mapping[str, Any]


# -- column access (fast paths: this runs on every predict call) ---------------------------------
def _n_rows(df: Configs) -> int:
    """Rows of a DataFrame or of a column mapping (the length of its columns)."""
    if isinstance(df, pd.DataFrame):
        return len(df)
    return len(next(iter(df.values()))) if len(df) else 0


def _column(df: Configs, col: str) -> Any:
    """The column's backing array (pandas ExtensionArray or ndarray), or None if absent."""
    if not isinstance(df, pd.DataFrame):
        return df.get(col)
    try:
        loc = df.columns.get_loc(col)
    except KeyError:
        return None
    if isinstance(loc, int):
        getter = getattr(df, "_get_column_array", None)  # ~0.5 us instead of ~30 us
        if getter is not None:
            try:
                return getter(loc)
            except Exception:  # pragma: no cover - other pandas versions
                pass
        return df.iloc[:, loc].array
    return df.loc[:, col].iloc[:, 0].array  # duplicated name: the first


def _num(df: Configs, col: str, n: int) -> np.ndarray:
    """Column as float64 (NaN for missing); all-NaN if the column is absent."""
    arr = _column(df, col)
    if arr is None:
        return np.full(n, np.nan)
    data, mask = getattr(arr, "_data", None), getattr(arr, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):  # Int64 / Float64
        out = data.astype(np.float64)
        if mask.any():
            out[mask] = np.nan
        return out
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "iufb":
        return arr.astype(np.float64)
    return pd.to_numeric(pd.Series(np.asarray(arr, dtype=object)), errors="coerce") \
        .to_numpy(dtype=np.float64, na_value=np.nan)


def _nums(df: Configs, cols: tuple[str, ...], n: int) -> np.ndarray:
    """Columns as float64 rows, shape (len(cols), n), like ``_num``; numeric columns (numpy
    or pandas' masked Int64 / Float64) are converted in one pass."""
    datas, masks = [], []
    for j, col in enumerate(cols):
        arr = _column(df, col)
        data, mask = getattr(arr, "_data", None), getattr(arr, "_mask", None)
        if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
            datas.append(data)
            masks.append((j, mask))
        elif isinstance(arr, np.ndarray) and arr.dtype.kind in "iufb":
            datas.append(arr)
        else:  # absent, object, arrow-backed, ...: column by column
            return np.stack([_num(df, c, n) for c in cols])
    out = np.array(datas, dtype=np.float64)
    if masks:
        rows = [j for j, _ in masks]
        missing = np.array([mask for _, mask in masks])
        if missing.any():
            out[rows] = np.where(missing, np.nan, out[rows])
    return out


def _cat(df: Configs, col: str, n: int, default: str = "") -> tuple[np.ndarray, list[str]]:
    """String column as (codes (n,) int64, uniques: the values present, in order of appearance
    (of a Categorical: in category order)): missing values and non-strings -> ``default``."""
    arr = _column(df, col)
    if arr is None:
        return np.zeros(n, np.int64), [default]
    if isinstance(arr, pd.Categorical):  # already encoded: keep the categories in use
        return _categorical_cat(arr, default)
    pa_arr = getattr(arr, "_pa_array", None)  # pyarrow-backed strings: encode in arrow
    if pa_arr is not None:
        try:
            return _arrow_cat(pa_arr, n, default)
        except Exception:  # pragma: no cover - unusual arrow layouts
            pass
    codes, uniques = pd.factorize(np.asarray(arr, dtype=object), use_na_sentinel=True)
    return _with_default(codes, list(uniques), default)


def _arrow_cat(pa_arr: Any, n: int, default: str) -> tuple[np.ndarray, list[str]]:
    """``_cat`` of a pyarrow ChunkedArray of n rows."""
    chunk = pa_arr.chunk(0) if pa_arr.num_chunks == 1 else pa_arr.combine_chunks()
    same = _arrow_constant(chunk)
    if same is not None:
        return np.zeros(n, np.int64), [same]
    enc = chunk.dictionary_encode()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    if enc.indices.null_count:
        codes = np.where(np.asarray(enc.indices.is_null()), -1, codes)
    return _with_default(codes, enc.dictionary.to_pylist(), default)


def _categorical_cat(arr: pd.Categorical, default: str) -> tuple[np.ndarray, list[str]]:
    """``_cat`` of a pandas Categorical: its codes, with the unused categories dropped."""
    codes = arr.codes.astype(np.int64)  # -1: missing
    uniques = arr.categories.to_numpy()
    used = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:] > 0
    if not used.all():
        remap = np.full(len(used) + 1, -1)  # code -> position among the used; -1 -> -1
        remap[:-1] = np.cumsum(used) - 1
        codes, uniques = remap[codes], uniques[used]
    return _with_default(codes, uniques.tolist(), default)


def _with_default(codes: Any, uniques: list, default: str) -> tuple[np.ndarray, list[str]]:
    """(codes, uniques) with non-string uniques and missing values (code < 0) -> ``default``."""
    codes = np.asarray(codes, dtype=np.int64)
    uniques = [u if isinstance(u, str) else default for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(uniques), codes)
        uniques.append(default)
    return codes, uniques


def _arrow_constant(chunk: Any) -> str | None:
    """The string in every row of a pyarrow string array, else None (also for nulls and no
    rows). Compares the raw offset and data buffers in numpy: cheaper than hashing
    (``dictionary_encode``), and configuration columns are mostly constant."""
    import pyarrow.types as pat

    n = len(chunk)
    if n == 0 or chunk.null_count:
        return None
    if pat.is_large_string(chunk.type):
        dtype = np.int64
    elif pat.is_string(chunk.type):
        dtype = np.int32
    else:
        return None
    first = chunk[0].as_py()
    if chunk[n - 1].as_py() != first:  # early exit for most varying columns
        return None
    _, offsets, data = chunk.buffers()
    off = np.frombuffer(offsets, dtype, n + 1, chunk.offset * np.dtype(dtype).itemsize)
    start, width = int(off[0]), int(off[1] - off[0])
    if off[n] - start != n * width or ((off[1:] - off[:-1]) != width).any():
        return None
    if width and n > 1:  # n equal rows <=> the bytes repeat with period `width`
        text = np.frombuffer(data, np.uint8, n * width, start)
        if (text[width:] != text[:-width]).any():
            return None
    return first


def column_codes(df: Configs, col: str, default: str = "") -> tuple[np.ndarray, list[str]]:
    """A string column as (codes (n,), uniques list[str]); missing values -> ``default``."""
    return _cat(df, col, _n_rows(df), default)


def _cat_lookup(cat: tuple[np.ndarray, list[str]], table: Mapping[str, int],
                default: int) -> np.ndarray:
    codes, uniques = cat
    return np.array([table.get(u, default) for u in uniques], dtype=np.int64)[codes]


def _cat_eq(cat: tuple[np.ndarray, list[str]], value: str) -> np.ndarray:
    codes, uniques = cat
    return np.array([u == value for u in uniques], dtype=bool)[codes]


_IMPL_CODES = {v: i + 1 for i, v in enumerate(IMPL_VOCAB)}
_MODE_CODES = {v: i + 1 for i, v in enumerate(MEM_MODE_VOCAB)}
_PASS_CODES = {v: i for i, v in enumerate(PASS_VOCAB)}


def _fill(x: np.ndarray, value: float) -> np.ndarray:
    """x with NaN replaced by value (a copy only if needed)."""
    bad = np.isnan(x)
    return np.where(bad, value, x) if bad.any() else x


# -- devices -----------------------------------------------------------------------------------
_DEV_FIELDS = ("is_gpu", "compute_units", "clock_mhz", "local_mem", "max_wg", "unified",
               "is_numpy")


def device_vector(info: Mapping[str, Any]) -> np.ndarray:
    """The numbers the features take from one device's metadata (see _DEV_FIELDS)."""
    is_numpy = str(info.get("platform", "")) == "numpy"
    cu = info.get("compute_units") or info.get("cpu_cores") or 1
    clock = info.get("max_clock_mhz") or 1000
    return np.array([
        1.0 if str(info.get("type", "")).upper() == "GPU" else 0.0,
        float(max(int(cu), 1)),
        float(clock),
        float(info.get("local_mem_bytes") or 0),
        float(info.get("max_work_group_size") or (1 if is_numpy else 256)),
        1.0 if info.get("host_unified_memory") else 0.0,
        1.0 if is_numpy else 0.0,
    ])


def _device_rows(df: Configs, n: int, devices: Mapping[str, Mapping[str, Any]],
                 default_device: str | None) -> tuple[np.ndarray, tuple[np.ndarray, list[str]]]:
    """Per-row device vectors, field-major: shape (len(_DEV_FIELDS), n), and the device
    labels."""
    if not devices:
        raise LatpredError("no device metadata: pass devices={name: info} (df.attrs['meta'])")
    names = list(devices)
    table = np.array([device_vector(devices[d]) for d in names]).T  # (fields, devices)
    if default_device is None and len(names) == 1:
        default_device = names[0]
    codes, uniques = _cat(df, "device", n)
    idx = np.empty(len(uniques), np.int64)
    for i, u in enumerate(uniques):
        name = u if u in devices else None
        if name is None and u == "" and default_device in devices:
            name = default_device
        if name is None:
            raise bad_value("device", u, f"no metadata for this device (known: {', '.join(names)})")
        idx[i] = names.index(name)
    rows = idx[codes]
    return table.take(rows, axis=1), (rows, names)


# -- the feature function ------------------------------------------------------------------------
def feature_matrix(
    configs: Configs,
    devices: Mapping[str, Mapping[str, Any]],
    default_device: str | None = None,
) -> np.ndarray:
    """Features of configuration rows as a float64 array of shape (n_rows, len(FEATURE_NAMES)).

    Args:
        configs: dataset rows or layer specs (INPUT_COLUMNS; timing columns are ignored), a
            DataFrame or a column mapping (``Configs``).
        devices: device name -> metadata dict (``df.attrs["meta"]["devices"]``).
        default_device: device for rows whose ``device`` is missing or empty (default: the
            only device in ``devices``, if there is one).

    Raises:
        LatpredError: unknown op/pass, missing or non-positive shape values, unknown device.
    """
    return feature_matrix_and_labels(configs, devices, default_device)[0]


def feature_matrix_and_labels(
    configs: Configs,
    devices: Mapping[str, Mapping[str, Any]],
    default_device: str | None = None,
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, list[str]]]]:
    """``feature_matrix`` plus the rows' labels used on the way: {"device": (codes,
    uniques with missing names resolved to the default device), "impl": (codes, uniques),
    "mem_mode": (codes, uniques)}.

    ``configs`` may also be a column mapping (see ``Configs``): the same features, without
    building a DataFrame.
    """
    n = _n_rows(configs)
    if n == 0:
        empty = (np.zeros(0, np.int64), [""])
        return np.zeros((0, len(FEATURE_NAMES))), {"device": empty, "impl": empty,
                                                   "mem_mode": empty}
    df = configs
    op = _cat(df, "op", n, "linear")
    for u in op[1]:
        if u not in ("linear", "conv2d"):
            raise bad_value("op", u, "must be 'linear' or 'conv2d'")
    is_conv = _cat_eq(op, "conv2d")
    any_conv, any_lin = "conv2d" in op[1], "linear" in op[1]  # uniques are the values present
    pas = _cat(df, "pass", n, "forward")
    pass_table = np.array([_PASS_CODES.get(u, -1) for u in pas[1]])
    if (pass_table < 0).any():
        raise bad_value("pass", pas[1][int(np.argmin(pass_table))],
                        f"must be one of {', '.join(PASS_VOCAB)}")
    pass_code = pass_table[pas[0]]
    if any_conv:
        pass_code = np.where(is_conv, 0, pass_code)

    # -- shapes ------------------------------------------------------------------------------
    if any_lin:
        mnk = _nums(df, ("m", "n", "k"), n)
        bad = ~is_conv & ~(mnk >= 1)
        if bad.any():
            j = int(bad.any(axis=1).argmax())
            raise bad_value(("m", "n", "k")[j], mnk[j][bad[j]][0],
                            "linear layers need a positive integer")
    if any_conv:
        vals = _nums(df, (*_CONV_COLS, "out_h", "out_w"), n)  # (13, n)
        conv = np.where(np.isnan(vals[:-2]), _CONV_FILL, vals[:-2])  # (11, n)
        bad = is_conv & ~(conv >= _CONV_MIN)
        if bad.any():
            j = int(bad.any(axis=1).argmax())
            raise bad_value(_CONV_COLS[j], conv[j][bad[j]][0], "missing or out of range for conv2d")
        _, _, _, height, width, kh, kw, st, pad, dil, _ = conv
        oh, ow = vals[-2:]
        with np.errstate(invalid="ignore"):
            oh_c = np.floor((height + 2 * pad - dil * (kh - 1) - 1) / st) + 1
            ow_c = np.floor((width + 2 * pad - dil * (kw - 1) - 1) / st) + 1
        oh = np.where(np.isnan(oh), oh_c, oh)
        ow = np.where(np.isnan(ow), ow_c, ow)
        if (is_conv & ~((oh >= 1) & (ow >= 1))).any():
            raise bad_value("kernel_h", "", "conv2d output is empty (kernel larger than the input)")
    else:  # linear rows only: skip the conv columns (speed)
        conv = np.broadcast_to(_CONV_LINEAR, (len(_CONV_COLS), n))
        oh = ow = np.ones(n)
    cin, grp = conv[1], conv[10]
    grp_c = np.where(is_conv, grp, 1.0) if any_lin else grp

    # implicit GEMM (M, N, K, batch) and bytes (in, weight, out)
    if not any_conv:
        terms = _linear_terms(mnk, pass_code, pas[1])
    elif not any_lin:
        terms = _conv_terms(conv, oh, ow)
    else:
        terms = np.where(is_conv, _conv_terms(conv, oh, ow), _linear_terms(mnk, pass_code, pas[1]))
    gemm = _fill(terms[:4], 1.0)
    gm, gn, gk, gb = gemm
    flops = 2.0 * gm * gn * gk * gb
    b_in, b_w, b_out = _fill(4.0 * terms[4:], 4.0)
    b_tot = b_in + b_w + b_out

    # -- configuration -------------------------------------------------------------------------
    impl = _cat(df, "impl", n)
    mode = _cat(df, "mem_mode", n)
    dev, dev_labels = _device_rows(df, n, devices, default_device)
    dev_is_gpu, dev_cu, dev_clock, dev_lmem, dev_maxwg, dev_unified, dev_numpy = dev
    is_blas = _cat_eq(impl, "blas") | (dev_numpy > 0)
    threads = _num(df, "threads", n)
    has_threads = threads > 0  # False for NaN
    threads = np.where(has_threads, threads, 0.0)
    units = np.where(has_threads, threads, dev_cu)

    # -- launch geometry ---------------------------------------------------------------------
    layout_code = np.where(is_conv, 3, pass_code).astype(np.int64)
    # ConvLayer arguments of conv rows, (m, n, k, 0, ...) of linear rows, (11, n)
    if any_lin:
        shape_t = np.zeros((len(_CONV_COLS), n))
        shape_t[:3] = mnk
        if any_conv:
            shape_t = np.where(is_conv, conv, shape_t)
    else:
        shape_t = conv
    params = _cat(df, "params", n, "{}")
    raw = raw_geometry(impl, params, _cat(df, "local_size", n), layout_code, _LAYOUTS,
                       shape_t.astype(np.int64).T, gemm.T, is_blas)
    r = {name: raw[:, i] for i, name in enumerate(RAW_FIELDS)}
    g0, g1, g2 = r["g0"], r["g1"], r["g2"]
    driver = r["l0"] <= 0
    maxwg = np.maximum(dev_maxwg, 1.0)
    l0e = np.minimum(_pow2_divisor(g0), maxwg)
    l1e = np.minimum(_pow2_divisor(g1), np.maximum(np.floor(maxwg / l0e), 1.0))
    l0 = np.where(driver, l0e, r["l0"])
    l1 = np.where(driver, l1e, np.maximum(r["l1"], 1.0))
    l2 = np.where(driver, 1.0, np.maximum(r["l2"], 1.0))
    group_items = l0 * l1 * l2
    wg_main = np.ceil(g0 / l0) * np.ceil(g1 / l1) * np.ceil(g2 / l2)
    wg_total = np.maximum(r["wg_known"] + np.ceil(r["items_driver"] / group_items), 1.0)
    computed = np.maximum(g0 * g1 * g2 * r["work_per_item"], 1.0)
    pad_waste = np.minimum(np.maximum(1.0 - gm * gn * gb / computed, 0.0), 1.0)  # np.clip: slower
    tile_k = np.maximum(r["tile_k"], 1.0)
    k_pad_waste = 1.0 - gk / (np.ceil(gk / tile_k) * tile_k)
    waves = wg_main / units
    full = np.ceil(waves)
    t_compute = flops / (units * np.maximum(dev_clock, 1.0))
    b_transfer = np.where(is_blas | _cat_eq(mode, "host"), 0.0, b_in + b_out)

    # -- assembly: one log2 call per group (numpy's per-call overhead dominates at n ~ 1,000)
    at_least_1 = np.maximum(np.stack([flops, b_in, b_out, b_tot, gm, gn, gk, gb, grp_c,
                                      r["items_total"], wg_total, wg_main, r["work_per_item"],
                                      flops / units]), 1.0)
    (lg_flops, lg_in, lg_out, lg_tot, lg_m, lg_n, lg_k, lg_b, lg_grp, lg_items, lg_wg_total,
     lg_wg_main, lg_wpi, lg_flops_unit) = np.log2(at_least_1)
    lg1_w, lg1_scratch, lg1_transfer, lg1_lmem = np.log2(  # log2(1 + x)
        1.0 + np.stack([b_w, 4.0 * r["scratch_elems"], b_transfer, dev_lmem]))
    cols = [
        lg_flops, lg_in, lg1_w, lg_out, lg_tot, np.log2(at_least_1[0] / at_least_1[3]),
        lg_m, lg_n, lg_k, lg_b,
        pass_code, is_conv, np.where(is_conv, conv[5] * conv[6], 0.0),
        np.where(is_conv, conv[7], 0.0), lg_grp, is_conv & (grp_c == cin) & (grp_c > 1),
        r["n_launches"], lg_items, lg_wg_total, lg_wg_main,
        group_items, l0, l1, driver, lg_wpi,
        r["local_mem_bytes"] / 1024.0,
        np.where(dev_lmem > 0, r["local_mem_bytes"] / np.maximum(dev_lmem, 1.0), 0.0),
        pad_waste, k_pad_waste, lg1_scratch,
        np.log2(np.maximum(flops / np.maximum(r["items_total"], 1.0), 1e-3)),
        r["tile_m"], r["tile_n"], tile_k,
        threads, units, waves, np.log2(np.maximum(waves, 1e-6)), waves - (full - 1.0),
        waves / full, lg_flops_unit, lg1_transfer,
        dev_is_gpu, dev_cu, dev_clock, lg1_lmem, dev_maxwg, dev_unified, dev_numpy,
        np.log2(np.maximum(t_compute, 1e-9)), np.log2(np.maximum(t_compute * full / waves, 1e-9)),
        _cat_lookup(impl, _IMPL_CODES, 0), _cat_lookup(mode, _MODE_CODES, 0),
        _sub_impl_codes(params),
        *_blas_grid(is_blas, gm, gn, gk, threads),
    ]
    out_t = np.empty((len(cols), n))  # feature-major: contiguous writes; .T is (n, F)
    for j, col in enumerate(cols):
        out_t[j] = col
    if not np.isfinite(out_t).all():  # defensive: never hand a model NaN/inf
        bad = np.argwhere(~np.isfinite(out_t.T))[0]
        raise LatpredError(f"feature {FEATURE_NAMES[bad[1]]} is not finite for row {bad[0]}")
    return out_t.T, {"device": dev_labels, "impl": impl, "mem_mode": mode}


def _blas_grid(is_blas: np.ndarray, gm: np.ndarray, gn: np.ndarray, gk: np.ndarray,
               threads: np.ndarray) -> list[np.ndarray]:
    """The BLAS thread-grid features of BLAS rows (``blas_thread_features``), 0 elsewhere."""
    width = 4 * len(SWITCH_RATIOS)
    if not is_blas.any():
        return [np.zeros(len(is_blas))] * width
    idx = np.flatnonzero(is_blas)
    cols = blas_thread_features(gm[idx], gn[idx], gk[idx], threads[idx])
    out = []
    for c in cols:
        full = np.zeros(len(is_blas))
        full[idx] = c
        out.append(full)
    return out


def _linear_terms(mnk: np.ndarray, pass_code: np.ndarray, passes: list[str]) -> np.ndarray:
    """Implicit GEMM (M, N, K, batch) and bytes / 4 (in, weight, out) of linear layers,
    shape (7, n), from their (m, n, k) ``mnk`` (3, n) and pass; ``passes``: the pass names
    present (only those are computed)."""
    m, nn, k = mnk
    one = np.ones(len(m))

    def terms(p: int) -> np.ndarray:
        if p == 0:  # forward: y (m, n) = x (m, k) W^T
            return np.stack([m, nn, k, one, m * k, nn * k, m * nn])
        if p == 1:  # backward_input: dx (m, k) = dy (m, n) W
            return np.stack([m, k, nn, one, m * nn, nn * k, m * k])
        # backward_weight: dW (n, k) = dy^T (n, m) x (m, k), no resident weight
        return np.stack([nn, k, m, one, m * nn + m * k, np.zeros(len(m)), nn * k])

    present = sorted({_PASS_CODES[u] for u in passes})
    if len(present) == 1:
        return terms(present[0])
    return np.choose(pass_code, [terms(p) if p in present else one for p in range(3)])


def _conv_terms(conv: np.ndarray, oh: np.ndarray, ow: np.ndarray) -> np.ndarray:
    """Implicit GEMM (M, N, K, batch) and bytes / 4 (in, weight, out) of conv layers,
    shape (7, n), from their ConvLayer arguments ``conv`` (11, n) and output size."""
    bsz, cin, cout, height, width, kh, kw, _, _, _, grp = conv
    return np.stack([cout / grp, oh * ow, cin / grp * kh * kw, bsz * grp,
                     bsz * cin * height * width, cout * cin / grp * kh * kw,
                     bsz * cout * oh * ow])


def make_features(
    configs: pd.DataFrame,
    devices: Mapping[str, Mapping[str, Any]],
    default_device: str | None = None,
) -> pd.DataFrame:
    """Feature frame of configuration rows: columns FEATURE_NAMES (float64), same index.

    See ``feature_matrix`` for the arguments; ``FEATURES`` documents every column.
    """
    return pd.DataFrame(feature_matrix(configs, devices, default_device),
                        columns=list(FEATURE_NAMES), index=configs.index)


def _sub_impl_codes(params: tuple[np.ndarray, list[str]]) -> np.ndarray:
    """IMPL_VOCAB code of each row's params["gemm"] (GEMM-based convs), 0 if none."""
    codes, uniques = params
    table = np.zeros(len(uniques))
    for i, text in enumerate(uniques):
        if '"gemm"' in text:
            parsed = dict(parse_params(text) or ())
            table[i] = _IMPL_CODES.get(str(parsed.get("gemm")), 0)
    return table[codes]


def _pow2_divisor(x: np.ndarray) -> np.ndarray:
    """Largest power of two dividing each (positive integer-valued) element."""
    xi = np.maximum(x, 1).astype(np.int64)
    return (xi & -xi).astype(np.float64)

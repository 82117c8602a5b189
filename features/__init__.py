"""Describe configurations: raw configuration rows + device metadata -> feature frame.

``make_features`` (a DataFrame) and ``feature_matrix`` (a float64 array, the fast path)
are the one function used at fit and at predict time; ``FEATURES`` lists every column.
"""

from latpred.features.core import (
    CATEGORICAL,
    FEATURE_NAMES,
    FEATURES,
    FEATURES_VERSION,
    IMPL_VOCAB,
    INPUT_COLUMNS,
    MEM_MODE_VOCAB,
    Configs,
    column_codes,
    device_vector,
    feature_matrix,
    feature_matrix_and_labels,
    feature_schema,
    make_features,
    schema_compatible,
)

__all__ = [
    "CATEGORICAL", "Configs", "FEATURES", "FEATURES_VERSION", "FEATURE_NAMES", "IMPL_VOCAB",
    "INPUT_COLUMNS", "MEM_MODE_VOCAB", "column_codes", "device_vector", "feature_matrix", "feature_matrix_and_labels", "feature_schema",
    "make_features", "schema_compatible",
]

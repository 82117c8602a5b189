"""Dataset schema, parquet I/O with device metadata, and the layer suites we ship."""

from latpred.datasets.schema import COLUMNS, STATUSES
from latpred.datasets.store import DatasetWriter, load

__all__ = ["COLUMNS", "STATUSES", "DatasetWriter", "load"]

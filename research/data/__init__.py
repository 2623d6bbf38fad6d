"""Data: raw sources (registered in `DATASETS`) and tabular preprocessing."""

from research.data import series  # noqa: F401  (registers elecdemand)
from research.data.sources import get_loader, load_rdataset  # noqa: F401
from research.data.tabular import (  # noqa: F401
    Preprocessor, TabularData, encode_features, encode_table, fit_preprocessor, stratified_split)

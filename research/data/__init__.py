"""Data: raw sources (registered in `DATASETS`) and tabular preprocessing."""

from research.data import series, wind_farm  # noqa: F401  (register elecdemand, la_haute_borne)
from research.data.sources import get_loader, load_rdataset  # noqa: F401
from research.data.tabular import (  # noqa: F401
    Preprocessor, TabularData, encode_features, encode_table, fit_preprocessor, stratified_split)

"""Summaries across seeds: mean, spread and a bootstrap confidence interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = ("model", "metric", "mean", "std", "min", "max", "ci_low", "ci_high", "n")


def bootstrap_ci(values: np.ndarray, confidence: float = 0.95, seed: int = 0,
                 num_resamples: int = 9999) -> tuple[float, float]:
  """BCa bootstrap confidence interval of the mean, reproducible for `seed`.

  With fewer than two values there is no interval (NaN); with identical
  values the interval is that value.
  """
  values = np.asarray(values, dtype=np.float64)
  if values.size < 2:
    return float("nan"), float("nan")
  if np.all(values == values[0]):
    return float(values[0]), float(values[0])
  result = stats.bootstrap((values,), np.mean, confidence_level=confidence,
                           n_resamples=num_resamples, method="BCa",
                           rng=np.random.default_rng(seed))
  low, high = result.confidence_interval
  return float(low), float(high)


def summarize(rows: pd.DataFrame, metrics: Sequence[str], seed: int = 0) -> pd.DataFrame:
  """Long-form summary per model and metric over the rows (one per seed).

  Rows with `diverged` set are left out; the caller reports how many.
  """
  if "diverged" in rows:
    rows = rows[~rows["diverged"].astype(bool)]
  records = []
  for model, group in rows.groupby("model", sort=False):
    for metric in metrics:
      values = group[metric].to_numpy(dtype=np.float64)
      values = values[np.isfinite(values)]
      low, high = bootstrap_ci(values, seed=seed)
      records.append({
          "model": model, "metric": metric,
          "mean": values.mean() if values.size else np.nan,
          "std": values.std(ddof=1) if values.size > 1 else np.nan,
          "min": values.min() if values.size else np.nan,
          "max": values.max() if values.size else np.nan,
          "ci_low": low, "ci_high": high, "n": int(values.size)})
  return pd.DataFrame.from_records(records, columns=SUMMARY_COLUMNS)

"""Tables across seeds: summaries, paired comparisons, variance by source of randomness."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from research.inference import (finite_pairs, mean_interval, min_wilcoxon_p,
                                variance_ratio_interval)
from research.results import COMPARISON_COLUMNS, SUMMARY_COLUMNS, VARIANCE_COLUMNS


def summarize(rows: pd.DataFrame, metrics: Sequence[str], seed: int = 0) -> pd.DataFrame:
  """Long-form summary per model and metric over the rows (one per seed).

  Rows with `diverged` set, and non-finite values, are left out (`n` counts
  what is left). The 95% interval of the mean is the one `mean_interval`
  chooses (a t interval: it holds its coverage at 3 seeds, where BCa's falls
  to 71%), and `ci_method` names it.
  """
  if "diverged" in rows:
    rows = rows[~rows["diverged"].astype(bool)]
  records = []
  for model, group in rows.groupby("model", sort=False):
    for metric in metrics:
      values = group[metric].to_numpy(dtype=np.float64)
      values = values[np.isfinite(values)]
      low, high, method = mean_interval(values, seed=seed)
      empty = values.size == 0
      records.append({
          "model": model, "metric": metric,
          "mean": np.nan if empty else values.mean(),
          "std": values.std(ddof=1) if values.size > 1 else np.nan,
          "min": np.nan if empty else values.min(),
          "max": np.nan if empty else values.max(),
          "ci_low": low, "ci_high": high, "ci_method": method, "n": int(values.size),
          "median": np.nan if empty else np.median(values),
          "iqm": np.nan if empty else interquartile_mean(values)})
  return pd.DataFrame.from_records(records, columns=SUMMARY_COLUMNS)


def interquartile_mean(values: np.ndarray) -> float:
  """Mean of the middle 50% (Agarwal et al., 2021): robust to a few outlying seeds."""
  return float(stats.trim_mean(np.asarray(values, dtype=np.float64), 0.25))


def probability_of_improvement(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> float:
  """The share of paired runs (seeds) on which A is better than B, ties counted half."""
  diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  if not higher_is_better:
    diff = -diff
  return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


# scipy's `wilcoxon` (method 'auto') tests differences with ties or zeros by flipping
# the signs in every one of the 2^n ways when n is at most this, else asymptotically.
SIGN_FLIP_MAX_SIZE = 13


def wilcoxon_p_value(a: np.ndarray, b: np.ndarray) -> float:
  """Two-sided Wilcoxon signed-rank p-value of paired runs; 1 if they never differ.

  scipy's `wilcoxon(a - b, zero_method='wilcox')`, bit for bit; differences with ties
  or zeros (up to `SIGN_FLIP_MAX_SIZE` of them) are tested by `sign_flip_p_value`,
  which gives scipy's permutation test's p-value without its cost (19 ms a pair at
  8 seeds, 0.3-0.6 s at 12-13).
  """
  diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  if diff.size == 0 or np.all(diff == 0):
    return 1.0
  if _test_kind(diff) == "sign_flip":
    return sign_flip_p_value(diff)
  return float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)


def _test_kind(diff: np.ndarray) -> str:
  """How scipy tests `diff`: 'exact' (no zeros, no ties), 'sign_flip' (its permutation
  test over every sign flip) or 'scipy' (anything else: asymptotic, NaN, empty)."""
  magnitudes = np.sort(np.abs(diff))
  if not diff.size or np.isnan(magnitudes[-1]):
    return "scipy"
  if magnitudes[0] > 0 and np.all(np.diff(magnitudes) > 0):
    return "exact" if diff.size <= 50 else "scipy"
  return "sign_flip" if diff.size <= SIGN_FLIP_MAX_SIZE else "scipy"


def sign_flip_p_value(diff: np.ndarray) -> float:
  """Two-sided p-value of the signed-rank sum over all 2^n sign flips of `diff`.

  What scipy's `wilcoxon` computes with `permutation_test` for differences with ties or
  zeros, as a count: zeros are dropped (each doubles both counts), the ranks are
  averaged over ties (halves, so every sum is exact in float64), and the null
  distribution is the sums of every subset of the ranks. Equal to scipy's bit for bit
  (tests/test_stats.py).
  """
  nonzero = diff[diff != 0]
  if not nonzero.size:
    return 1.0
  ranks = stats.rankdata(np.abs(nonzero))
  observed = ranks[nonzero > 0].sum()
  sums = _subsets(nonzero.size) @ ranks
  extreme = min(np.count_nonzero(sums <= observed), np.count_nonzero(sums >= observed))
  return float(min(1.0, 2 * extreme / 2**nonzero.size))


@functools.lru_cache(maxsize=None)
def _subsets(size: int) -> np.ndarray:
  """`[2^size, size]` 0/1: every subset of `size` items, one per row."""
  return ((np.arange(2**size)[:, None] >> np.arange(size)) & 1).astype(np.float64)


def wilcoxon_p_values(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
  """`wilcoxon_p_value` of every pair `(a, b)`: the same numbers, fewer calls.

  A call to scipy's test costs about 4 ms whatever the size (the 126 pairs
  of an 18-trial study took 0.5 s). Pairs whose differences have no zeros and
  no ties, which scipy tests exactly, are tested together, one vectorized call
  per number of seeds (its p-values equal the single calls' bit for bit,
  tests/test_stats.py); the others one at a time.
  """
  diffs = [np.asarray(a, np.float64) - np.asarray(b, np.float64) for a, b in pairs]
  p_values = np.empty(len(diffs))
  exact: dict[int, list[int]] = {}
  for number, diff in enumerate(diffs):
    if _test_kind(diff) == "exact":
      exact.setdefault(diff.size, []).append(number)
    else:
      p_values[number] = wilcoxon_p_value(*pairs[number])
  for numbers in exact.values():
    p_values[numbers] = stats.wilcoxon(np.stack([diffs[n] for n in numbers]),
                                       zero_method="wilcox", axis=1).pvalue
  return p_values


def compare(rows: pd.DataFrame, metrics: Sequence[str], lower_is_better: frozenset[str],
            seed: int = 0, anchor: str | None = None) -> pd.DataFrame:
  """Every pair of models, paired by seed: `model_a - model_b` per metric.

  With `anchor`, only the pairs `(anchor, other)`: a study's best trial
  against every other trial and baseline, not every pair of trials.

  `mean_diff` is in the metric's units (A minus B) with its 95% interval
  (`ci_method`, as in `summarize`); `p_improve` is the share of seeds on which
  A is better than B (ties count half), already oriented for metrics where
  lower is better; `p_value` is the two-sided Wilcoxon signed-rank test and
  `min_p` the smallest p it can give with `n` seeds. Seeds where either model
  diverged or a value is not finite are left out; `n` counts those used.
  """
  if "diverged" in rows:
    rows = rows[~rows["diverged"].astype(bool)]
  models = list(dict.fromkeys(rows["model"]))
  records, samples = [], []
  pairs = ([(anchor, other) for other in models if other != anchor] if anchor is not None
           else [(a, b) for i, a in enumerate(models) for b in models[i + 1:]])
  for model_a, model_b in pairs:
    paired = pd.merge(rows[rows["model"] == model_a], rows[rows["model"] == model_b],
                      on="seed", suffixes=("_a", "_b"))
    for metric in metrics:
      a, b, _ = finite_pairs(paired[f"{metric}_a"].to_numpy(), paired[f"{metric}_b"].to_numpy())
      low, high, method = mean_interval(a - b, seed=seed)
      samples.append((a, b))
      records.append({
          "model_a": model_a, "model_b": model_b, "metric": metric,
          "mean_diff": float(np.mean(a - b)) if a.size else np.nan,
          "ci_low": low, "ci_high": high, "ci_method": method,
          "p_improve": probability_of_improvement(a, b, metric not in lower_is_better)
                       if a.size else np.nan,
          "min_p": min_wilcoxon_p(a.size), "n": int(a.size)})
  for record, p_value in zip(records, wilcoxon_p_values(samples)):
    record["p_value"] = float(p_value)
  return pd.DataFrame.from_records(records, columns=COMPARISON_COLUMNS)


def oriented_pair(comparison: pd.DataFrame, metric: str, a: str, b: str) -> dict | None:
  """comparison.csv's row for models `a` and `b` on `metric`, as `a` against `b`
  whichever order it was stored in (None if the pair is absent)."""
  rows = comparison[comparison["metric"] == metric]
  forward = rows[(rows["model_a"] == a) & (rows["model_b"] == b)]
  if not forward.empty:
    return forward.iloc[0].to_dict()
  backward = rows[(rows["model_a"] == b) & (rows["model_b"] == a)]
  if backward.empty:
    return None
  pair = backward.iloc[0].to_dict()
  return {**pair, "model_a": a, "model_b": b, "mean_diff": -pair["mean_diff"],
          "ci_low": -pair["ci_high"], "ci_high": -pair["ci_low"],
          "p_improve": 1 - pair["p_improve"]}


def variance_by_source(rows: pd.DataFrame, metrics: Sequence[str],
                       total_source: str = "all") -> pd.DataFrame:
  """Spread across seeds when only one source of randomness varies.

  `rows` holds one row per member with `model`, `source` (the source varied
  in that member's group, or `total_source` for the main group, which varies
  all of them) and the metrics; the groups' seeds are disjoint. Each group's
  `variance_share` is its variance divided by the main group's, with a 95%
  interval (`share_low`, `share_high`) from the F distribution of a ratio of
  two independent sample variances: with 16 and 32 seeds a true share of 1 is
  measured anywhere in [0.38, 2.29]. The shares need not add up to 1: they do
  only when the metric is additive in the sources (no interaction).
  """
  if "diverged" in rows:
    rows = rows[~rows["diverged"].astype(bool)]
  records = []
  for model, by_model in rows.groupby("model", sort=False):
    for metric in metrics:
      spread = {source: group[metric].to_numpy(np.float64)
                for source, group in by_model.groupby("source", sort=False)}
      spread = {source: values[np.isfinite(values)] for source, values in spread.items()}
      sample_variance = lambda v: np.var(v, ddof=1) if v.size > 1 else np.nan
      main = spread.get(total_source, np.array([]))
      total = sample_variance(main)
      for source, values in spread.items():
        variance = sample_variance(values)
        low, high = (variance_ratio_interval(variance, values.size, total, main.size)
                     if source != total_source and total > 0 and values.size > 1
                     else (np.nan, np.nan))
        records.append({"model": model, "metric": metric, "source": source,
                        "std": float(np.sqrt(variance)),
                        "variance_share": float(variance / total) if total > 0 else np.nan,
                        "share_low": low, "share_high": high, "n": int(values.size)})
  return pd.DataFrame.from_records(records, columns=VARIANCE_COLUMNS)

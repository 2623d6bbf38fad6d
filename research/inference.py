"""Inference that holds at few seeds and on time series of forecast errors.

What `research.stats` builds its tables from: intervals of a mean that keep their coverage
at 3 to 8 seeds, the limits of the Wilcoxon test at few seeds, the
Diebold-Mariano test and a block bootstrap for autocorrelated error series,
an interval for a variance share, and pairing that drops non-finite runs.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

INTERVAL_METHODS = ("t", "bca")

# Seeds from which mean_interval(method="auto") uses BCa instead of t; None:
# never. Measured by benchmarks/interval_coverage.py (its docstring has the
# table): at 3 to 128 seeds BCa covered less than t on normal and on
# lognormal(0.5) data (72% against 95% at 3 normal seeds, 94.4% against 95.2%
# at 64) and never reached 93% on the lognormal up to 32 seeds; it led t only
# on very skewed lognormal(1) data from 16 seeds on, by 0.3 to 1.6 points.
AUTO_BCA_MIN_SEEDS: int | None = None


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


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
  """Student t confidence interval of the mean.

  Exact for normal values at any sample size, which is why it is preferred to
  the bootstrap at few seeds (see `mean_interval`).

  Args:
    values: 1-D sample (one value per seed), finite.
    confidence: Two-sided confidence level.

  Returns:
    (low, high); (nan, nan) with fewer than two values, (v, v) when every
    value is v.
  """
  values = np.asarray(values, dtype=np.float64)
  if values.size < 2:
    return float("nan"), float("nan")
  if np.all(values == values[0]):
    return float(values[0]), float(values[0])
  low, high = stats.t.interval(confidence, values.size - 1, loc=values.mean(),
                               scale=stats.sem(values))
  return float(low), float(high)


def mean_interval(values: np.ndarray, confidence: float = 0.95, seed: int = 0,
                  method: str = "auto") -> tuple[float, float, str]:
  """Confidence interval of the mean by the method that holds at this many seeds.

  BCa (`bootstrap_ci`) undercovers badly at few seeds (about
  71% at 3 seeds for a nominal 95%); the t interval does not.

  Args:
    values: 1-D sample (one value per seed), finite.
    confidence: Two-sided confidence level.
    seed: Seed of the bootstrap (unused by "t").
    method: "t", "bca", or "auto": "t" below `AUTO_BCA_MIN_SEEDS` values,
      "bca" from there on; that constant is None, so "auto" is "t" at every
      size (BCa never covered better on normal or moderately skewed data).

  Returns:
    (low, high, method used), the method as "t" or "bca".
  """
  if method not in (*INTERVAL_METHODS, "auto"):
    raise ValueError(f"method must be one of {INTERVAL_METHODS} or 'auto', not {method!r}")
  values = np.asarray(values, dtype=np.float64)
  if method == "auto":
    method = ("bca" if AUTO_BCA_MIN_SEEDS is not None and values.size >= AUTO_BCA_MIN_SEEDS
              else "t")
  if method == "t":
    return (*t_interval(values, confidence), "t")
  return (*bootstrap_ci(values, confidence, seed=seed), "bca")


def min_wilcoxon_p(n: int) -> float:
  """Smallest two-sided p the exact Wilcoxon signed-rank test can give on n pairs.

  Reached when every difference has the same sign (no ties, no zeros): the
  rank sum is then the largest of the 2**n equally likely sign patterns, and
  the two-sided p doubles that one pattern's probability. At 5 seeds it is
  0.0625, so no result can be significant at 0.05 however large the effect.
  """
  if n < 0:
    raise ValueError(f"n must be >= 0, not {n}")
  return min(1.0, 2.0 / 2.0 ** n)


def min_seeds_for_p(alpha: float = 0.05) -> int:
  """Fewest pairs at which the exact Wilcoxon test can give p strictly below `alpha`."""
  if not 0 < alpha <= 1:
    raise ValueError(f"alpha must be in (0, 1], not {alpha}")
  n = 1
  while min_wilcoxon_p(n) >= alpha:
    n += 1
  return n


def diebold_mariano(errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1,
                    power: float = 2) -> tuple[float, float]:
  """Diebold-Mariano test of equal accuracy, with the Harvey-Leybourne-Newbold correction.

  As R's `forecast::dm.test` (two-sided, varestimator "acf"): the loss
  differential d = |e_a|**power - |e_b|**power, its long-run variance from
  the autocovariances (divided by n) up to lag horizon - 1, the statistic
  scaled by sqrt((n + 1 - 2h + h(h - 1)/n) / n) and compared with Student t
  on n - 1 degrees of freedom. Where that variance comes out <= 0 (possible
  for horizon > 1) the test falls back to horizon 1, as dm.test does.

  Args:
    errors_a: Forecast A's errors, 1-D in time order (one series; callers with
      several steps or examples pick or average them into one series first).
    errors_b: Forecast B's errors on the same time points.
    horizon: Forecast horizon h: h-step errors are autocorrelated up to lag h - 1.
    power: Loss exponent (2: squared error, 1: absolute error).

  Returns:
    (statistic, two-sided p). Negative statistic: A has the smaller loss.
    Identical losses: (0, 1); a constant non-zero differential: (+-inf, 0).
  """
  errors_a = np.asarray(errors_a, dtype=np.float64)
  errors_b = np.asarray(errors_b, dtype=np.float64)
  if errors_a.ndim != 1 or errors_a.shape != errors_b.shape:
    raise ValueError(f"errors {errors_a.shape} and {errors_b.shape} must be equal 1-D shapes")
  return diebold_mariano_differential(np.abs(errors_a) ** power - np.abs(errors_b) ** power,
                                      horizon)


def diebold_mariano_differential(d: np.ndarray, horizon: int = 1) -> tuple[float, float]:
  """`diebold_mariano` on a loss differential `d` (loss of A minus loss of B, 1-D in
  time order), e.g. when A's loss is already averaged over seeds."""
  d = np.asarray(d, dtype=np.float64)
  n = d.size
  if not 1 <= horizon < n:
    raise ValueError(f"horizon must be in [1, {n}) for {n} time points, not {horizon}")
  if np.all(d == d[0]):  # no variance: the sign of d decides, and 0 means no difference
    return (0.0, 1.0) if d[0] == 0 else (float(np.copysign(np.inf, d[0])), 0.0)
  centered = d - d.mean()
  autocovariances = [centered[lag:] @ centered[:n - lag] / n for lag in range(horizon)]
  variance = (autocovariances[0] + 2 * sum(autocovariances[1:])) / n
  if variance <= 0:
    warnings.warn(f"long-run variance <= 0 at horizon {horizon}; using horizon 1")
    return diebold_mariano_differential(d, 1)
  correction = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
  statistic = d.mean() / np.sqrt(variance) * correction
  return float(statistic), float(2 * stats.t.sf(abs(statistic), n - 1))


def _circular_block_means(values: np.ndarray, block_length: int, num_resamples: int,
                          seed: int) -> np.ndarray:
  """Means of circular moving-block resamples of a 1-D series.

  Each resample joins ceil(n / block_length) blocks of consecutive values,
  starting at `rng.integers(0, n, (num_resamples, num_blocks))` and wrapping
  past the end, cut to n values. Wrapping (Politis and Romano, 1992) gives
  every value the same weight, so the resampled means centre on the mean.
  """
  n = values.size
  if not 1 <= block_length <= n:
    raise ValueError(f"block_length must be in [1, {n}], not {block_length}")
  num_blocks = -(-n // block_length)
  starts = np.random.default_rng(seed).integers(0, n, size=(num_resamples, num_blocks))
  # Block sums from prefix sums of the series wrapped once: a resample then
  # costs num_blocks look-ups, not n. Centred first so the sums stay small.
  mean = values.mean()
  prefix = np.concatenate([[0.0], np.cumsum(np.tile(values - mean, 2))])
  def block_sums(length):
    return prefix[np.arange(n) + length] - prefix[np.arange(n)]
  last_length = n - (num_blocks - 1) * block_length
  totals = block_sums(block_length)[starts[:, :-1]].sum(axis=1)
  return mean + (totals + block_sums(last_length)[starts[:, -1]]) / n


def block_bootstrap_interval(differences: np.ndarray, block_length: int,
                             confidence: float = 0.95, seed: int = 0,
                             num_resamples: int = 9999) -> tuple[float, float]:
  """Percentile interval of the mean of an autocorrelated series (circular block bootstrap).

  An iid bootstrap of a positively autocorrelated series (errors of
  consecutive forecasts) makes the interval too narrow; resampling blocks of
  consecutive values keeps the dependence within a block. Reproducible for
  `seed`.

  Args:
    differences: 1-D series in time order, e.g. loss_a - loss_b per time point.
    block_length: Values per block, at least the lag at which the
      autocorrelation has died out (an n**(1/3) rule of thumb is common).
    confidence: Two-sided confidence level.
    seed: Seed of the resampling.
    num_resamples: Bootstrap resamples.

  Returns:
    (low, high); (nan, nan) with fewer than two values.
  """
  differences = np.asarray(differences, dtype=np.float64)
  if differences.ndim != 1:
    raise ValueError(f"differences must be 1-D, not {differences.shape}")
  if differences.size < 2:
    return float("nan"), float("nan")
  means = _circular_block_means(differences, block_length, num_resamples, seed)
  low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
  return float(low), float(high)


def block_bootstrap_p(differences: np.ndarray, block_length: int, seed: int = 0,
                      num_resamples: int = 9999) -> float:
  """Two-sided p of mean 0 for an autocorrelated series, by the circular block bootstrap.

  The resampled means minus the sample mean stand in for the sampling error
  under the null: p = (1 + #{|mean* - mean| >= |mean|}) / (num_resamples + 1).
  Arguments as `block_bootstrap_interval`; NaN with fewer than two values.
  """
  differences = np.asarray(differences, dtype=np.float64)
  if differences.ndim != 1:
    raise ValueError(f"differences must be 1-D, not {differences.shape}")
  if differences.size < 2:
    return float("nan")
  mean = differences.mean()
  means = _circular_block_means(differences, block_length, num_resamples, seed)
  return float((1 + np.sum(np.abs(means - mean) >= abs(mean))) / (num_resamples + 1))


def variance_ratio_interval(var_source: float, n_source: int, var_main: float, n_main: int,
                            confidence: float = 0.95) -> tuple[float, float]:
  """Confidence interval of a ratio of two variances (a variance share), from F.

  For two independent groups of normal values, (s1^2 / s2^2) / (sigma1^2 /
  sigma2^2) follows F(n1 - 1, n2 - 1), so the interval is
  [r / F_{1-a/2}, r / F_{a/2}] with r = var_source / var_main. Few seeds make
  it wide: a true share of 1 measured on 16 and 32 seeds lands anywhere in
  about [0.38, 2.29]. The F interval assumes normal values and is sensitive to
  heavy tails, more so than the t interval of a mean.

  Args:
    var_source: Sample variance (ddof=1) of the group varying one source.
    n_source: Seeds in that group.
    var_main: Sample variance (ddof=1) of the group varying all sources.
    n_main: Seeds in that group.
    confidence: Two-sided confidence level.

  Returns:
    (low, high); (nan, nan) with fewer than two seeds in a group or var_main <= 0.
  """
  if n_source < 2 or n_main < 2 or not var_main > 0:
    return float("nan"), float("nan")
  ratio = var_source / var_main
  upper_quantile, lower_quantile = stats.f.ppf(
      [(1 + confidence) / 2, (1 - confidence) / 2], n_source - 1, n_main - 1)
  return float(ratio / upper_quantile), float(ratio / lower_quantile)


def finite_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
  """The pairs (a[i], b[i]) where both values are finite, and how many were dropped.

  A seed that diverged in either model (NaN or inf metric) says nothing about
  the paired difference; dropping it keeps the others usable.

  Returns:
    (a kept, b kept, number of pairs dropped), both float64 and in the input order.
  """
  a = np.asarray(a, dtype=np.float64)
  b = np.asarray(b, dtype=np.float64)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f"a {a.shape} and b {b.shape} must be equal 1-D shapes")
  keep = np.isfinite(a) & np.isfinite(b)
  return a[keep], b[keep], int(np.count_nonzero(~keep))

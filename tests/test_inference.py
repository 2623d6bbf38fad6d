import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.special import expit
from sklearn import metrics as skm

from research import inference, metrics


# Intervals of a mean at few seeds.

def test_t_interval_matches_scipy():
  values = np.random.default_rng(0).normal(0.8, 0.01, 7)
  expected = scipy_stats.t.interval(0.9, 6, loc=values.mean(), scale=scipy_stats.sem(values))
  assert inference.t_interval(values, 0.9) == pytest.approx(expected, rel=1e-12)


def test_t_interval_matches_a_t_table():
  # mean 3, sd sqrt(2.5), sem sqrt(0.5); t(0.975, 4 df) = 2.776 in printed tables.
  low, high = inference.t_interval([1, 2, 3, 4, 5])
  assert low == pytest.approx(3 - 2.776 * np.sqrt(0.5), abs=1e-3)
  assert high == pytest.approx(3 + 2.776 * np.sqrt(0.5), abs=1e-3)


def test_intervals_degenerate_inputs():
  assert np.isnan(inference.t_interval([0.8])).all()
  assert inference.t_interval([0.8, 0.8, 0.8]) == (0.8, 0.8)
  low, high, method = inference.mean_interval([0.8])
  assert np.isnan([low, high]).all() and method == "t"
  assert inference.mean_interval([0.8] * 3, method="bca") == (0.8, 0.8, "bca")


def test_mean_interval_auto_covers_at_four_seeds():
  rng = np.random.default_rng(5)
  replications, hits = 4000, 0
  for replication in range(replications):
    low, high, _ = inference.mean_interval(rng.normal(0.8, 0.01, 4), seed=replication)
    hits += low <= 0.8 <= high
  # Nominal 95%, Monte Carlo standard error 0.35 points; BCa gives about 80% here.
  assert 0.93 <= hits / replications <= 0.97


def test_mean_interval_methods():
  values = np.random.default_rng(6).normal(size=40)
  assert inference.mean_interval(values, method="t") == (*inference.t_interval(values), "t")
  assert inference.mean_interval(values, seed=2, method="bca") == (
      *inference.bootstrap_ci(values, seed=2), "bca")
  threshold = inference.AUTO_BCA_MIN_SEEDS
  for n in (3, 8, 32, 40):
    expected = "bca" if threshold is not None and n >= threshold else "t"
    assert inference.mean_interval(values[:n])[2] == expected
  with pytest.raises(ValueError, match="method"):
    inference.mean_interval(values, method="percentile")


# Wilcoxon at few seeds.

@pytest.mark.parametrize("n", range(3, 11))
@pytest.mark.parametrize("sign", [1, -1])
def test_min_wilcoxon_p_matches_scipy_exact(n, sign):
  differences = sign * np.arange(1.0, n + 1) * 0.01  # one sign, no ties, no zeros
  expected = scipy_stats.wilcoxon(differences, method="exact").pvalue
  assert inference.min_wilcoxon_p(n) == pytest.approx(expected, rel=1e-12)


def test_min_seeds_for_p():
  assert inference.min_seeds_for_p(0.05) == 6  # 5 seeds: 0.0625 at best
  assert inference.min_seeds_for_p(0.0625) == 6  # strictly below
  for alpha in (0.2, 0.05, 0.01, 0.001):
    n = inference.min_seeds_for_p(alpha)
    assert inference.min_wilcoxon_p(n) < alpha <= inference.min_wilcoxon_p(n - 1)
  with pytest.raises(ValueError):
    inference.min_seeds_for_p(0.0)


# Diebold-Mariano.

def _dm_by_loops(errors_a, errors_b, horizon, power):
  """The textbook DM statistic with the HLN correction, written out term by term."""
  d = [abs(x) ** power - abs(y) ** power for x, y in zip(errors_a, errors_b)]
  n = len(d)
  mean = sum(d) / n
  gamma = []
  for lag in range(horizon):
    total = 0.0
    for t in range(lag, n):
      total += (d[t] - mean) * (d[t - lag] - mean)
    gamma.append(total / n)
  variance = (gamma[0] + 2 * sum(gamma[1:])) / n
  statistic = mean / variance ** 0.5
  statistic *= ((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n) ** 0.5
  return statistic, 2 * scipy_stats.t.cdf(-abs(statistic), n - 1)


@pytest.mark.parametrize("horizon,power", [(1, 2), (1, 1), (3, 2), (6, 1)])
def test_diebold_mariano_matches_the_formula(horizon, power):
  rng = np.random.default_rng(horizon * 10 + power)
  errors_a = rng.normal(0, 1.0, 120)
  errors_b = rng.normal(0, 1.2, 120)
  expected = _dm_by_loops(errors_a.tolist(), errors_b.tolist(), horizon, power)
  assert inference.diebold_mariano(errors_a, errors_b, horizon, power) == pytest.approx(
      expected, rel=1e-10)


def test_diebold_mariano_matches_a_published_example():
  # The example of the `dieboldmariano` package (pypi.org/project/dieboldmariano):
  # squared error, horizon 1, HLN; it reports (-2.2229922805746782,
  # 0.04515565862099125) one-sided, so the two-sided p is twice that.
  actual = np.array([10, 20, 30, 40, 50.0])
  statistic, p_value = inference.diebold_mariano(actual - [11, 21, 29, 42, 53],
                                                 actual - [13, 26, 24, 40, 59])
  assert statistic == pytest.approx(-2.2229922805746782, rel=1e-12)
  assert p_value == pytest.approx(2 * 0.04515565862099125, rel=1e-10)


def test_diebold_mariano_properties():
  rng = np.random.default_rng(7)
  errors = rng.normal(size=200)
  assert inference.diebold_mariano(errors, errors) == (0.0, 1.0)
  assert inference.diebold_mariano(-errors, errors) == (0.0, 1.0)  # same loss
  better = 0.5 * errors + rng.normal(0, 0.1, 200)
  statistic, p_value = inference.diebold_mariano(better, errors)
  assert statistic < 0 and p_value < 1e-6  # negative: A (the first) is better
  assert inference.diebold_mariano(errors, better) == pytest.approx((-statistic, p_value))
  with pytest.raises(ValueError):
    inference.diebold_mariano(errors, errors[:-1])


def test_diebold_mariano_size_under_the_null():
  rng = np.random.default_rng(8)
  replications = 1000
  rejections = sum(inference.diebold_mariano(rng.normal(size=50), rng.normal(size=50))[1] < 0.05
                   for _ in range(replications))
  assert 0.03 <= rejections / replications <= 0.07


# Block bootstrap.

def _ar1(rng, n, rho):
  noise = rng.normal(size=n)
  series = np.empty(n)
  series[0] = noise[0] / np.sqrt(1 - rho ** 2)  # stationary start
  for t in range(1, n):
    series[t] = rho * series[t - 1] + noise[t]
  return series


def test_block_means_match_explicit_resampling():
  values = np.random.default_rng(9).normal(size=23)
  block_length, num_resamples, seed = 5, 50, 4
  means = inference._circular_block_means(values, block_length, num_resamples, seed)  # pylint: disable=protected-access
  # The same draws, documented in `_circular_block_means`, resampled index by index.
  starts = np.random.default_rng(seed).integers(0, 23, size=(num_resamples, 5))
  for resample, row in enumerate(starts):
    indices = [(start + offset) % 23 for start in row for offset in range(block_length)][:23]
    assert means[resample] == pytest.approx(values[indices].mean(), rel=1e-12, abs=1e-14)


def test_block_bootstrap_covers_an_autocorrelated_mean():
  rng = np.random.default_rng(10)
  replications, hits_block, hits_iid = 400, 0, 0
  for replication in range(replications):
    series = _ar1(rng, 300, 0.6)  # true mean 0
    low, high = inference.block_bootstrap_interval(series, 10, seed=replication,
                                                   num_resamples=2000)
    hits_block += low <= 0 <= high
    iid = scipy_stats.bootstrap((series,), np.mean, method="percentile", n_resamples=2000,
                                rng=np.random.default_rng(replication)).confidence_interval
    hits_iid += iid.low <= 0 <= iid.high
  # With rho 0.6 the iid bootstrap sees a quarter of the variance of the mean: ~68%.
  assert hits_block / replications >= 0.88
  assert hits_iid / replications <= 0.78


def test_block_bootstrap_is_reproducible_and_tests_the_mean():
  series = _ar1(np.random.default_rng(11), 200, 0.5)
  interval = inference.block_bootstrap_interval(series, 8, seed=1)
  assert interval == inference.block_bootstrap_interval(series, 8, seed=1)
  assert interval != inference.block_bootstrap_interval(series, 8, seed=2)
  assert inference.block_bootstrap_p(series + 3.0, 8) == pytest.approx(1 / 10000)
  assert inference.block_bootstrap_p(np.zeros(50), 5) == 1.0
  assert np.isnan(inference.block_bootstrap_interval([1.0], 1)).all()
  with pytest.raises(ValueError, match="block_length"):
    inference.block_bootstrap_interval(series, 201)


def test_block_bootstrap_p_size_under_the_null():
  rng = np.random.default_rng(12)
  series = [_ar1(rng, 300, 0.6) for _ in range(300)]
  def rejection_rate(block_length):
    return np.mean([inference.block_bootstrap_p(values, block_length, seed=replication,
                                                num_resamples=1000) < 0.05
                    for replication, values in enumerate(series)])
  # Nominal 0.05. Blocks of 10 still miss some of the dependence (measured
  # 0.097); blocks of 1, an iid bootstrap, miss most of it (measured 0.34).
  assert rejection_rate(10) <= 0.13
  assert rejection_rate(1) >= 0.25


# Variance share.

def test_variance_ratio_sampling_range_and_coverage():
  rng = np.random.default_rng(13)
  replications = 20000
  var_source = rng.normal(size=(replications, 16)).var(axis=1, ddof=1)
  var_main = rng.normal(size=(replications, 32)).var(axis=1, ddof=1)
  low, high = np.quantile(var_source / var_main, [0.025, 0.975])
  assert low == pytest.approx(0.38, abs=0.02) and high == pytest.approx(2.29, abs=0.06)
  # The interval of a measured ratio of 1 inverts that range.
  assert inference.variance_ratio_interval(1.0, 16, 1.0, 32) == pytest.approx(
      (1 / 2.2907, 1 / 0.37932), rel=1e-3)
  # True ratio 0.5 (source variance 0.5, main 1): the interval covers it ~95%.
  hits = 0
  for source, main in zip(0.5 * var_source[:4000], var_main[:4000]):
    low, high = inference.variance_ratio_interval(source, 16, main, 32)
    hits += low <= 0.5 <= high
  assert 0.94 <= hits / 4000 <= 0.96
  assert np.isnan(inference.variance_ratio_interval(1.0, 1, 1.0, 32)).all()


# Log loss.

def test_log_loss_from_logits_matches_sklearn():
  rng = np.random.default_rng(14)
  labels = rng.integers(0, 2, 1000)
  logits = rng.uniform(-12, 12, 1000)
  assert metrics.log_loss_from_logits(labels, logits) == pytest.approx(
      skm.log_loss(labels, expit(logits)), abs=1e-6)


def test_log_loss_from_logits_is_not_capped():
  labels = np.array([1, 0, 1, 0])
  logits = np.array([-30.0, 30.0, -30.0, 30.0])  # every example confidently wrong
  assert metrics.log_loss_from_logits(labels, logits) == pytest.approx(30.0, rel=1e-12)
  # The probability path (float64) agrees; the old clip at 1e-7 capped it at 16.1.
  assert metrics.log_loss(labels, expit(logits)) == pytest.approx(30.0, rel=1e-4)


def test_log_loss_from_probs_equals_sklearn_exactly():
  rng = np.random.default_rng(15)
  labels = np.concatenate([[1, 0, 1, 0], rng.integers(0, 2, 200)])
  # Not rng.uniform: its values are multiples of 2**-53, for which 1 - p is
  # exact and a different clipping order would go unnoticed.
  probs = np.concatenate([[0.0, 1.0, 1.0, 0.0, 1e-20, 1 - 1e-16], expit(rng.normal(0, 3, 198))])
  assert metrics.log_loss(labels, probs) == skm.log_loss(labels, probs)
  for label, prob in zip(labels, probs):  # each example, where a mean could hide a last bit
    assert metrics.log_loss([label], [prob]) == skm.log_loss([label], [prob],
                                                                        labels=[0, 1])
  assert metrics.log_loss([1, 0], [0.0, 1.0]) == pytest.approx(-np.log(2.0 ** -52))


# Percentage errors.

def test_masked_percentage_errors_match_sklearn_on_the_kept_part():
  rng = np.random.default_rng(16)
  actual = rng.normal(0, 5, 300)
  predicted = actual + rng.normal(0, 1, 300)
  kept = np.abs(actual) >= 1.0
  value, num_masked = metrics.masked_mape(actual, predicted, floor=1.0)
  assert num_masked == int((~kept).sum()) > 0
  assert value == pytest.approx(
      100 * skm.mean_absolute_percentage_error(actual[kept], predicted[kept]), rel=1e-12)
  largest, _ = metrics.masked_maxpe(actual, predicted, floor=1.0)
  assert largest == pytest.approx(100 * np.max(np.abs(actual[kept] - predicted[kept])
                                              / np.abs(actual[kept])), rel=1e-12)


def test_percentage_errors_with_zero_actuals():
  actual = np.array([0.0, 0.0, 10.0, 20.0])
  predicted = np.array([0.0, 1.0, 11.0, 18.0])
  with np.errstate(divide="ignore", invalid="ignore"):  # the problem: plain MAPE is not finite
    assert not np.isfinite(100 * np.mean(np.abs(actual - predicted) / np.abs(actual)))
  assert metrics.masked_mape(actual, predicted, floor=0.5) == (pytest.approx(10.0), 2)
  assert metrics.masked_maxpe(actual, predicted, floor=0.5) == (pytest.approx(10.0), 2)
  value, num_masked = metrics.masked_mape(np.zeros(3), np.ones(3), floor=0.5)
  assert np.isnan(value) and num_masked == 3
  assert metrics.wape(actual, predicted) == pytest.approx(100 * 4 / 30)
  assert np.isnan(metrics.wape(np.zeros(3), np.ones(3)))
  # Terms 0 (0/0), 2, 2/21, 4/38.
  assert metrics.smape(actual, predicted) == pytest.approx(100 * (0 + 2 + 2 / 21 + 4 / 38) / 4)
  with pytest.raises(ValueError, match="floor"):
    metrics.masked_mape(actual, predicted, floor=0.0)


def test_smape_zero_safe():
  assert metrics.smape(np.zeros(5), np.zeros(5)) == 0.0  # 0/0 counts as a perfect forecast
  rng = np.random.default_rng(17)
  actual, predicted = rng.uniform(1, 2, 50), rng.uniform(1, 2, 50)
  assert metrics.smape(actual, predicted) == pytest.approx(
      100 * np.mean(2 * np.abs(actual - predicted) / (actual + predicted)), rel=1e-12)
  assert np.isnan(metrics.smape([1.0, np.nan], [1.0, 1.0]))


# Pairs with non-finite values.

def test_finite_pairs():
  a = np.array([0.8, np.nan, 0.7, np.inf, 0.9, 0.6])
  b = np.array([0.7, 0.6, -np.inf, 0.5, 0.8, np.nan])
  a_kept, b_kept, num_dropped = inference.finite_pairs(a, b)
  np.testing.assert_array_equal(a_kept, [0.8, 0.9])
  np.testing.assert_array_equal(b_kept, [0.7, 0.8])
  assert num_dropped == 4
  a_kept, b_kept, num_dropped = inference.finite_pairs([1, 2], [3, 4])
  assert a_kept.dtype == np.float64 and num_dropped == 0
  with pytest.raises(ValueError):
    inference.finite_pairs(a, b[:-1])

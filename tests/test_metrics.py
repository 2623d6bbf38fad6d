import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from research import metrics


def _scores(seed, n=500, ties=False):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, n)
  probs = 1 / (1 + np.exp(-(labels * 1.2 + rng.normal(size=n))))
  if ties:
    probs = np.round(probs, 1)  # many tied scores across classes
  return labels, probs.astype(np.float32)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_sklearn(seed, ties):
  labels, probs = _scores(seed, ties=ties)
  assert metrics.roc_auc(labels, probs) == pytest.approx(skm.roc_auc_score(labels, probs), abs=1e-6)
  assert metrics.gini(labels, probs) == pytest.approx(2 * skm.roc_auc_score(labels, probs) - 1,
                                                      abs=1e-6)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ks_matches_scipy(seed, ties):
  labels, probs = _scores(seed, ties=ties)
  expected = stats.ks_2samp(probs[labels == 1], probs[labels == 0]).statistic
  assert metrics.ks_statistic(labels, probs) == pytest.approx(expected, abs=1e-6)


def test_log_loss_brier_accuracy_match_sklearn():
  labels, probs = _scores(3)
  assert metrics.log_loss(labels, probs) == pytest.approx(skm.log_loss(labels, probs), abs=1e-6)
  assert metrics.brier(labels, probs) == pytest.approx(
      skm.brier_score_loss(labels, probs), abs=1e-6)
  assert metrics.accuracy(labels, probs) == pytest.approx(
      skm.accuracy_score(labels, probs >= 0.5), abs=1e-12)


def test_perfect_and_reversed_ranking():
  labels = np.array([0, 0, 1, 1])
  assert metrics.roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
  assert metrics.roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
  assert metrics.ks_statistic(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
  assert metrics.roc_auc(labels, np.full(4, 0.5)) == 0.5  # all tied


def test_saturated_probabilities_give_finite_log_loss():
  assert np.isfinite(metrics.log_loss(np.array([0, 1]), np.array([1.0, 0.0])))


def test_one_class_gives_nan_auc():
  assert np.isnan(metrics.roc_auc(np.ones(3), np.array([0.1, 0.5, 0.9])))


def test_the_classification_task_scores_log_loss_from_the_networks_logits():
  # Confident mistakes: a float32 sigmoid rounds logit 40 to probability 1, and
  # clipped probabilities cap each mistake's loss (at 16.1 with eps 1e-7).
  from research.tasks.classification import Classification  # pylint: disable=import-outside-toplevel
  from tests.conftest import load_config  # pylint: disable=import-outside-toplevel
  task = Classification()
  data = task.load(load_config("credit").data.to_dict())
  rows = np.arange(300)
  labels = data.table.labels[rows].astype(np.float64)
  logits = np.where(labels == 1, 3.0, -3.0)
  logits[:20] = np.where(labels[:20] == 1, -40.0, 40.0)  # 20 confident mistakes
  predictions = task.host_predictions({"test_logit": logits[None].astype(np.float32),
                                       "test_index": rows[None]}, data)
  scored = task.metric_rows(predictions, data)
  exact = np.mean(np.logaddexp(0.0, np.where(labels == 1, -logits, logits)))
  assert scored["log_loss"].iloc[0] == pytest.approx(exact, rel=1e-6)
  assert exact > 20 / 300 * 39  # the mistakes count in full, not capped

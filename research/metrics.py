"""Evaluation metrics on NumPy arrays, computed in float64 on the host.

Binary classification metrics take labels in {0, 1} and predicted
probabilities of class 1; forecast metrics take actual and predicted values in
data units. Which direction is better is the task's to say
(`research.tasks.base.Task.lower_is_better`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats



def _as_arrays(labels, probs) -> tuple[np.ndarray, np.ndarray]:
  labels = np.asarray(labels)
  probs = np.asarray(probs, dtype=np.float64)
  if labels.shape != probs.shape or labels.ndim != 1:
    raise ValueError(f"labels {labels.shape} and probs {probs.shape} must be equal 1-D shapes")
  return labels.astype(bool), probs


def roc_auc(labels, probs) -> float:
  """Area under the ROC curve, exact, ties counted half (Mann-Whitney U)."""
  positive, probs = _as_arrays(labels, probs)
  num_pos, num_neg = positive.sum(), (~positive).sum()
  if num_pos == 0 or num_neg == 0:
    return float("nan")
  ranks = stats.rankdata(probs)  # average ranks for ties
  u_statistic = ranks[positive].sum() - num_pos * (num_pos + 1) / 2
  return float(u_statistic / (num_pos * num_neg))


def ks_statistic(labels, probs) -> float:
  """Kolmogorov-Smirnov: the largest gap between the classes' score CDFs."""
  positive, probs = _as_arrays(labels, probs)
  pos, neg = np.sort(probs[positive]), np.sort(probs[~positive])
  if pos.size == 0 or neg.size == 0:
    return float("nan")
  thresholds = np.concatenate([pos, neg])
  cdf_pos = np.searchsorted(pos, thresholds, side="right") / pos.size
  cdf_neg = np.searchsorted(neg, thresholds, side="right") / neg.size
  return float(np.max(np.abs(cdf_pos - cdf_neg)))


def gini(labels, probs) -> float:
  """Gini coefficient (accuracy ratio), 2 AUC - 1."""
  return 2.0 * roc_auc(labels, probs) - 1.0


def accuracy(labels, probs, threshold: float = 0.5) -> float:
  """Share of examples classified correctly at `threshold`."""
  positive, probs = _as_arrays(labels, probs)
  return float(np.mean((probs >= threshold) == positive))


# Probabilities are clipped to [eps, 1 - eps] as scikit-learn's `log_loss` clips
# them (eps the machine epsilon of float64): one example costs at most 36.04.
SKLEARN_LOG_LOSS_EPS = float(np.finfo(np.float64).eps)


def log_loss_from_logits(labels, logits) -> float:
  """Mean cross-entropy from logits, uncapped and stable for any logit.

  -log sigmoid(z) = softplus(-z) for positives and softplus(z) for negatives,
  computed as logaddexp(0, .) in float64: a confident mistake at logit 30
  costs 30; from a float32 probability it could not (sigmoid rounds to 1 above 17).
  """
  positive, logits = _as_arrays(labels, logits)
  return float(np.mean(np.logaddexp(0.0, np.where(positive, -logits, logits))))


def log_loss(labels, probs) -> float:
  """Mean cross-entropy with probabilities clipped as scikit-learn's `log_loss` clips them.

  Equal to `sklearn.metrics.log_loss(labels, probs)` on float64 inputs (on
  float32 inputs scikit-learn clips at float32's epsilon, 1.2e-7, instead).
  Unlike it, this does not refuse probabilities outside [0, 1] or a single class.
  """
  positive, probs = _as_arrays(labels, probs)
  eps = SKLEARN_LOG_LOSS_EPS
  # p and 1 - p are clipped separately, as scikit-learn does; 1 - clip(p)
  # would differ in the last bits.
  return float(-np.mean(np.where(positive, np.log(np.clip(probs, eps, 1 - eps)),
                                 np.log(np.clip(1 - probs, eps, 1 - eps)))))


def brier(labels, probs) -> float:
  """Mean squared error of the probabilities (Brier score)."""
  positive, probs = _as_arrays(labels, probs)
  return float(np.mean((probs - positive) ** 2))


CLASSIFICATION: dict[str, Callable[..., float]] = {
    "auc": roc_auc,
    "accuracy": accuracy,
    "log_loss": log_loss,
    "brier": brier,
    "ks": ks_statistic,
    "gini": gini,
}

def classification_metrics(labels, probs, logits=None) -> dict[str, float]:
  """Every metric in `CLASSIFICATION`, by its plain name; the log loss from `logits`
  when given (a network's), which keeps confident mistakes at their full cost."""
  scores = {name: fn(labels, probs) for name, fn in CLASSIFICATION.items()}
  if logits is not None:
    scores["log_loss"] = log_loss_from_logits(labels, logits)
  return scores


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
  actual = np.asarray(actual, np.float64).ravel()
  predicted = np.asarray(predicted, np.float64).ravel()
  if actual.shape != predicted.shape:
    raise ValueError(f"actual {actual.shape} and predicted {predicted.shape} differ")
  return actual, predicted


def mae(actual, predicted) -> float:
  """Mean absolute error, in data units."""
  a, p = _pair(actual, predicted)
  return float(np.mean(np.abs(a - p)))


def mse(actual, predicted) -> float:
  a, p = _pair(actual, predicted)
  return float(np.mean((a - p) ** 2))


def rmse(actual, predicted) -> float:
  return float(np.sqrt(mse(actual, predicted)))


def nmse(actual, predicted) -> float:
  """The textbook's normalised MSE: MSE divided by the squared mean of the actual
  values of the forecast period (the load-forecasting chapter the load study
  follows); not MSE over the variance, which is 1 - `r2`."""
  a, _ = _pair(actual, predicted)
  return mse(actual, predicted) / float(np.mean(a)) ** 2


def r2(actual, predicted) -> float:
  """Coefficient of determination."""
  a, p = _pair(actual, predicted)
  return float(1 - np.sum((a - p) ** 2) / np.sum((a - a.mean()) ** 2))


def _masked_percentage_errors(actual, predicted, floor: float) -> tuple[np.ndarray, int]:
  """|a - p| / |a| in percent where |a| >= floor, and how many examples fell below it."""
  if not floor > 0:
    raise ValueError(f"floor must be > 0, not {floor}")
  a, p = _pair(actual, predicted)
  keep = np.abs(a) >= floor  # a NaN actual fails this too and counts as masked
  return 100 * np.abs(a[keep] - p[keep]) / np.abs(a[keep]), int(a.size - keep.sum())


def masked_mape(actual, predicted, floor: float) -> tuple[float, int]:
  """MAPE in percent over the examples with |actual| >= floor, and how many were left out.

  An actual of 0 makes the plain MAPE infinite (0/0: NaN); near-zero actuals
  dominate it. Returns (NaN, count) when every example is left out.
  """
  errors, num_masked = _masked_percentage_errors(actual, predicted, floor)
  return (float(np.mean(errors)) if errors.size else float("nan")), num_masked


def masked_maxpe(actual, predicted, floor: float) -> tuple[float, int]:
  """Largest absolute percentage error where |actual| >= floor, as `masked_mape`."""
  errors, num_masked = _masked_percentage_errors(actual, predicted, floor)
  return (float(np.max(errors)) if errors.size else float("nan")), num_masked


def wape(actual, predicted) -> float:
  """Weighted absolute percentage error: 100 sum|a - p| / sum|a|; NaN when sum|a| is 0.

  Finite with zero actuals as long as some are not zero, and weights each
  example by its size instead of dividing by it.
  """
  a, p = _pair(actual, predicted)
  total = np.sum(np.abs(a))
  return float(100 * np.sum(np.abs(a - p)) / total) if total > 0 else float("nan")


def smape(actual, predicted) -> float:
  """Symmetric MAPE in percent, as `smape`, with 0/0 terms (a = p = 0) counted as 0.

  A forecast of exactly 0 where the actual is 0 is perfect, not undefined.
  NaN for empty inputs.
  """
  a, p = _pair(actual, predicted)
  denominator = np.abs(a) + np.abs(p)
  with np.errstate(invalid="ignore"):  # the 0/0 terms, replaced below
    terms = np.where(denominator == 0, 0.0, 2 * np.abs(a - p) / denominator)
  return float(100 * np.mean(terms)) if a.size else float("nan")


FORECAST = ("mae", "rmse", "mape", "wape", "maxpe", "mse", "nmse", "smape", "r2")


def forecast_metrics(actual, predicted, mape_floor: float = 0.0) -> dict[str, float]:
  """Every metric in `FORECAST`, in data units or percent.

  `mape` and `maxpe` leave out the actual values with |actual| < `mape_floor`
  (0: only exact zeros, where a percentage error is undefined); `wape` and
  `smape` need no floor.
  """
  floor = mape_floor if mape_floor > 0 else np.finfo(np.float64).tiny
  return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted),
          "mape": masked_mape(actual, predicted, floor)[0], "wape": wape(actual, predicted),
          "maxpe": masked_maxpe(actual, predicted, floor)[0], "mse": mse(actual, predicted),
          "nmse": nmse(actual, predicted), "smape": smape(actual, predicted),
          "r2": r2(actual, predicted)}

"""Evaluation metrics on NumPy arrays, computed in float64 on the host.

Binary classification metrics take labels in {0, 1} and predicted
probabilities of class 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

# Probabilities are clipped this far from 0 and 1 for the log loss: float32
# sigmoids round to exactly 1.0 for logits above ~17.
PROBABILITY_EPS = 1e-7


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


def log_loss(labels, probs) -> float:
  """Mean negative log-likelihood (cross-entropy), probabilities clipped."""
  positive, probs = _as_arrays(labels, probs)
  probs = np.clip(probs, PROBABILITY_EPS, 1 - PROBABILITY_EPS)
  return float(-np.mean(np.where(positive, np.log(probs), np.log1p(-probs))))


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

LOWER_IS_BETTER = frozenset({"log_loss", "brier"})


def classification_metrics(labels, probs) -> dict[str, float]:
  """Every metric in `CLASSIFICATION`, by its plain name."""
  return {name: fn(labels, probs) for name, fn in CLASSIFICATION.items()}

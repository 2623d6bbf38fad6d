"""Turns the compiled run's stacked arrays into per-member rows, on the host."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research import metrics


def member_rows(model: str, seeds: Sequence[int], labels: np.ndarray, test_index: np.ndarray,
                test_prob: np.ndarray, train_seconds: Sequence[float] | float,
                diverged: Sequence[bool] | None = None,
                diverged_epoch: Sequence[int] | None = None) -> pd.DataFrame:
  """One row per member: model, seed, every classification metric, time, divergence.

  Args:
    labels: `[n]` labels of the whole table.
    test_index: `[members, n_test]` rows of each member's test split.
    test_prob: `[members, n_test]` predicted probabilities of the positive class.
  """
  num_members = len(seeds)
  seconds = np.broadcast_to(np.asarray(train_seconds, np.float64), (num_members,))
  diverged = np.zeros(num_members, bool) if diverged is None else np.asarray(diverged, bool)
  epochs = np.full(num_members, -1) if diverged_epoch is None else np.asarray(diverged_epoch)
  return pd.DataFrame([{
      "model": model, "seed": int(seeds[m]),
      **metrics.classification_metrics(labels[test_index[m]], test_prob[m]),
      "train_seconds": float(seconds[m]), "diverged": bool(diverged[m]),
      "diverged_epoch": int(epochs[m])} for m in range(num_members)])


def curves(model: str, seeds: np.ndarray, train_loss: np.ndarray,
           eval_loss: np.ndarray) -> pd.DataFrame:
  """Per-epoch losses in long form: model, seed, epoch, train_loss, eval_loss."""
  num_members, epochs = train_loss.shape
  return pd.DataFrame({
      "model": model, "seed": np.repeat(seeds, epochs),
      "epoch": np.tile(np.arange(1, epochs + 1), num_members),
      "train_loss": train_loss.ravel(), "eval_loss": eval_loss.ravel()})


def predictions(model: str, seeds: np.ndarray, test_index: np.ndarray,
                labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
  """Test-set predictions in long form: model, seed, row, label, prob."""
  num_test = test_index.shape[1]
  return pd.DataFrame({
      "model": model, "seed": np.repeat(seeds, num_test), "row": test_index.ravel(),
      "label": labels[test_index].ravel(), "prob": np.asarray(probs, np.float64).ravel()})

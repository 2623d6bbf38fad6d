"""Figures of a classifier's test scores: ROC, KS and calibration, from predictions.csv."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve

from research.report.files import RunFiles
from research.report.render import mean_std
from research.report.style import best_models, colors

_FPR_GRID = np.linspace(0.0, 1.0, 201)
_SCORE_GRID = np.linspace(0.0, 1.0, 1001)


def kept_predictions(files: RunFiles) -> pd.DataFrame | None:
  """predictions.csv without the diverged members and non-finite scores (None unless
  it holds a classifier's labels and probabilities)."""
  if (files.predictions is None or files.predictions.empty
      or not {"label", "prob"} <= set(files.predictions.columns)):  # not a classifier's
    return None
  diverged = files.seeds.loc[files.seeds["diverged"].astype(bool), ["model", "seed"]]
  frame = files.predictions.merge(diverged.assign(_diverged=True), on=["model", "seed"],
                                  how="left")
  frame = frame[frame["_diverged"].isna() & np.isfinite(frame["prob"])]
  return frame.drop(columns="_diverged") if not frame.empty else None


def _mean_std(files: RunFiles, model: str, metric: str) -> str:
  """The model's `metric` as mean ± std from summary.csv, for legends."""
  rows = files.summary[(files.summary["model"] == model) & (files.summary["metric"] == metric)]
  return "n/a" if rows.empty else mean_std(rows.iloc[0]["mean"], rows.iloc[0]["std"], 3)


def _positive_name(files: RunFiles) -> str:
  positive = files.run.get("data", {}).get("positive")
  return f"'{positive}'" if positive not in (None, "", True, 1) else "positive"


def _unit_square(files: RunFiles, diagonal: str):
  """The kept predictions, the models to draw (and the note on those left out), their
  colours, and a square figure with the diagonal drawn; None without predictions."""
  frame = kept_predictions(files)
  if frame is None:
    return None
  models, left_out = best_models(files, list(dict.fromkeys(frame["model"])))
  figure = Figure(figsize=(7.0, 6.2), layout="constrained")
  axes = figure.add_subplot()
  axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label=diagonal)
  return frame, models, left_out, colors(files.models), figure, axes


def roc(files: RunFiles) -> tuple[Figure, str] | None:
  """Per model the mean ROC curve across seeds with its min–max band."""
  square = _unit_square(files, "chance")
  if square is None:
    return None
  frame, models, left_out, palette, figure, axes = square
  for model in models:
    tprs = []
    for _, member in frame[frame["model"] == model].groupby("seed", sort=True):
      fpr, tpr, _ = roc_curve(member["label"], member["prob"])
      tprs.append(np.interp(_FPR_GRID, fpr, tpr))
    tprs = np.array(tprs)
    color = palette[model]
    axes.fill_between(_FPR_GRID, tprs.min(0), tprs.max(0), color=color, alpha=0.18,
                      linewidth=0)
    axes.plot(_FPR_GRID, tprs.mean(0), color=color, linewidth=1.8,
              label=f"{model}: AUC {_mean_std(files, model, 'auc')} ({len(tprs)} seeds)")
  axes.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal",
           xlabel="false positive rate (share of negatives flagged)",
           ylabel="true positive rate (share of positives flagged)",
           title=f"ROC on the test split: mean across seeds, band = min–max{left_out}")
  axes.legend(loc="lower right", title="model: AUC mean ± std")
  return figure, ("ROC curves: each seed's curve interpolated on a common false-positive "
                  "grid; the line is their mean, the band their range. AUC mean ± std "
                  "across seeds in the legend.")


def _ecdf(scores: np.ndarray) -> np.ndarray:
  return np.searchsorted(np.sort(scores), _SCORE_GRID, side="right") / max(scores.size, 1)


def ks(files: RunFiles) -> tuple[Figure, str] | None:
  """Per model the score CDFs of the two classes, the largest gap marked."""
  frame = kept_predictions(files)
  if frame is None:
    return None
  models, left_out = best_models(files, list(dict.fromkeys(frame["model"])))
  rows = math.ceil(len(models) / 4)
  columns = math.ceil(len(models) / rows)  # 5 models: 3 + 2, not 4 + 1
  figure = Figure(figsize=(3.6 * columns + 0.4, 3.3 * rows + 0.9), layout="constrained")
  grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
  positive = _positive_name(files)
  for i, axes in enumerate(grid.ravel()):
    axes.set_visible(i < len(models))
    if i >= len(models):
      continue
    # Pooling the seeds' test scores gives the mean of their CDFs (equal test sizes).
    member = frame[frame["model"] == models[i]]
    labels = member["label"].to_numpy().astype(bool)
    cdf_pos = _ecdf(member["prob"].to_numpy()[labels])
    cdf_neg = _ecdf(member["prob"].to_numpy()[~labels])
    gap = int(np.argmax(np.abs(cdf_neg - cdf_pos)))
    axes.plot(_SCORE_GRID, cdf_neg, color="tab:green", label="negatives")
    axes.plot(_SCORE_GRID, cdf_pos, color="tab:red", label=f"positives ({positive})")
    axes.vlines(_SCORE_GRID[gap], cdf_pos[gap], cdf_neg[gap], color="black", linewidth=2,
                label=f"max gap {abs(cdf_neg[gap] - cdf_pos[gap]):.3f} at {_SCORE_GRID[gap]:.2f}")
    axes.set_title(f"{models[i]}: KS {_mean_std(files, models[i], 'ks')}")
    axes.set_xlabel(f"predicted probability of {positive}")
    axes.legend(loc="lower right")
  for axes in grid[:, 0]:
    axes.set_ylabel("cumulative share of the class")
  figure.suptitle("KS curves: the test scores of all seeds pooled; each panel's title gives "
                  f"KS mean ± std across seeds{left_out}")
  return figure, ("Kolmogorov–Smirnov curves: the cumulative distribution of the scores of "
                  "positives and negatives; the bar marks the largest gap (the KS statistic "
                  "of the pooled predictions).")


def calibration(files: RunFiles) -> tuple[Figure, str] | None:
  """Observed share of positives against the predicted probability, per model."""
  square = _unit_square(files, "perfectly calibrated")
  if square is None:
    return None
  frame, models, left_out, palette, figure, axes = square
  for model in models:
    member = frame[frame["model"] == model]
    observed, predicted = calibration_curve(member["label"], member["prob"], n_bins=10,
                                            strategy="uniform")
    axes.plot(predicted, observed, color=palette[model], marker="o", markersize=4,
              linewidth=1.5, label=f"{model} (Brier {_mean_std(files, model, 'brier')})")
  positive = _positive_name(files)
  axes.set(xlim=(0, 1), ylim=(0, 1), aspect="equal",
           xlabel=f"mean predicted probability of {positive} (10 equal-width bins)",
           ylabel=f"observed share of {positive} in the bin",
           title=f"Calibration on the test split, all seeds pooled{left_out}")
  axes.legend(loc="upper left")
  return figure, ("Reliability curves: in ten equal-width bins of predicted probability, the "
                  "share of positives actually observed; on the diagonal is calibrated.")

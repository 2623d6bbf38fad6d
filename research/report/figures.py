"""The run's figures as PNGs in RUN_DIR/figures/, drawn from its files alone.

Figures are built on `matplotlib.figure.Figure` and saved through the Agg
canvas, never through pyplot: no global state, no display needed. Each PNG is
saved without the Software/date metadata and with a fixed jitter seed, so the
same files always give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from research.report import curves, scores
from research.report.files import RunFiles
from research.report.style import best_models, colors, save, style, value_label

FIGURES_DIR = "figures"
MAX_FORECAST_PANELS = 6
_HEADLINE_LABEL = {"auc": "ROC AUC (0.5 = chance, 1 = perfect)", "mae": "MAE"}


def make_figures(files: RunFiles) -> dict[str, str]:
  """Draws every figure the run's files allow into `RUN_DIR/figures/`.

  Returns:
    Figure file name -> caption, in the order the report shows them.
  """
  folder = files.path(FIGURES_DIR)
  os.makedirs(folder, exist_ok=True)
  # Each draws what the run's files allow (ROC needs predictions.csv, the
  # forecast week forecasts.csv) and returns None otherwise.
  drawers: list[tuple[str, Callable[[RunFiles], tuple[Figure, str] | None]]] = [
      ("roc.png", scores.roc), ("metric_box.png", metric_box), ("ks.png", scores.ks),
      ("calibration.png", scores.calibration), ("forecast_week.png", forecast_week),
      ("loss.png", curves.loss_curves), ("trial_curves.png", curves.trial_curves),
      ("variance.png", variance_shares)]
  written = {}
  for name, draw in drawers:
    with style():
      drawn = draw(files)
      if drawn is not None:
        figure, caption = drawn
        save(figure, os.path.join(folder, name))
        written[name] = caption
  return written


def metric_box(files: RunFiles) -> tuple[Figure, str] | None:
  """The headline metric of every seed, one box per model, seeds as jittered dots."""
  metric, kept = files.headline, files.kept_seeds()
  models = [m for m in files.models if (kept["model"] == m).any()]
  if not models:
    return None
  palette = colors(files.models)
  values = [kept.loc[kept["model"] == m, metric].to_numpy(np.float64) for m in models]
  values = [v[np.isfinite(v)] for v in values]
  labels = [f"{m} (n={v.size})" for m, v in zip(models, values)]
  # Many or long labels read best down the side, one box per row.
  across = len(models) <= 6 and max(len(m) for m in models) <= 22
  if across:
    figure = Figure(figsize=(max(6.0, 1.2 * len(models) + 1.5), 5.0), layout="constrained")
  else:
    figure = Figure(figsize=(9.0, 0.42 * len(models) + 1.6), layout="constrained")
  axes = figure.add_subplot()
  positions = np.arange(len(models))
  # Whiskers at min and max: every seed is drawn as a dot, so no fliers.
  axes.boxplot(values, positions=positions, widths=0.55, whis=(0, 100), showfliers=False,
               medianprops={"color": "black"},
               orientation="vertical" if across else "horizontal")
  jitter = np.random.default_rng(0)  # fixed: a rebuilt figure is the same file
  for i, (model, points) in enumerate(zip(models, values)):
    spread = i + jitter.uniform(-0.16, 0.16, points.size)
    axes.scatter(*((spread, points) if across else (points, spread)), s=16, alpha=0.8,
                 color=palette[model], edgecolor="black", linewidth=0.4, zorder=3)
  label = _HEADLINE_LABEL.get(metric, metric.upper())
  label = f"{label}: {value_label(files)}" if files.forecasts is not None else label
  model_label = "model (n = seeds kept)"
  if across:
    axes.set_xticks(positions, [t.replace(" (n=", "\n(n=") for t in labels])
    axes.set(xlabel=model_label, ylabel=label)
  else:
    axes.set_yticks(positions, labels)
    axes.set_ylim(len(models) - 0.5, -0.5)  # the first model on top, as in the tables
    axes.set(xlabel=label, ylabel=model_label)
  axes.set_title(f"{metric.upper()} on the {files.held_out} across seeds")
  figure.legend(handles=[
      Line2D([], [], marker="o", linestyle="", markersize=5, markerfacecolor="grey",
             markeredgecolor="black", markeredgewidth=0.4, label="one seed"),
      Line2D([], [], color="black", label="median; box = quartiles; whiskers = min–max")],
      loc="outside lower center", ncols=2, frameon=False)
  caption = (f"{metric.upper()} of every seed (dots) and its quartiles (boxes), one box per "
             "model; diverged seeds left out.")
  return figure, caption


def variance_shares(files: RunFiles) -> tuple[Figure, str] | None:
  """Each source's variance alone as a share of the variance with all sources varying."""
  if files.variance is None or files.variance.empty:
    return None
  frame = files.variance
  models = list(dict.fromkeys(frame["model"]))
  metrics = [m for m in files.metrics if m in set(frame["metric"])]
  figure = Figure(figsize=(max(6.5, 1.1 * len(metrics) + 2), 3.8 * len(models) + 0.6),
                  layout="constrained")
  grid = figure.subplots(len(models), 1, squeeze=False)
  for axes, model in zip(grid[:, 0], models):
    group = frame[frame["model"] == model]
    total = group.iloc[0]["source"]  # the main group, written first
    sources = [s for s in dict.fromkeys(group["source"]) if s != total]
    width = 0.8 / max(len(sources), 1)
    shares = group.set_index(["metric", "source"])["variance_share"]
    seeds = int(group[group["source"] != total]["n"].max())
    for i, source in enumerate(sources):
      heights = [shares.get((m, source), np.nan) for m in metrics]
      axes.bar(np.arange(len(metrics)) + (i - (len(sources) - 1) / 2) * width, heights, width,
               label=f"only {source} varies", color=colormaps["Set2"](i))
    axes.axhline(1.0, color="black", linewidth=1, linestyle="--",
                 label=f"main group, all sources vary ({total!r}) = 1")
    axes.set_xticks(np.arange(len(metrics)), metrics)
    axes.set_xlabel("metric")
    axes.set_ylabel("variance share (ratio, 1 = main group)")
    axes.set_title(f"{model}: variance when one source varies, as a share of the main "
                   f"group's ({seeds} seeds per group)")
    axes.legend(loc="upper right")
  return figure, ("Each source of randomness varied alone: its variance across seeds as a "
                  "share of the variance when all vary together. Shares near 1 mean that "
                  "source explains the spread; with few seeds they are noisy.")


def forecast_week(files: RunFiles) -> tuple[Figure, str] | None:
  """The first test week, one step ahead: actual against each model's mean and band."""
  if files.forecasts is None or files.forecasts.empty:
    return None
  frame = files.forecasts[files.forecasts["horizon_step"] == 1]
  # Numbers are step indices of a series without timestamps, not dates.
  dated = not pd.api.types.is_numeric_dtype(frame["timestamp"])
  times = pd.to_datetime(frame["timestamp"], errors="coerce") if dated else None
  if dated and times.notna().all():
    frame = frame.assign(time=times)
    frame = frame[frame["time"] < frame["time"].min() + pd.Timedelta(days=7)]
    x_label, span = "time (first 7 days of the test period)", "first test week"
  else:
    frame = frame.assign(time=pd.to_numeric(frame["timestamp"], errors="coerce"))
    frame = frame[frame["time"].isin(np.sort(frame["time"].unique())[:168])]
    x_label = "time step (the data has no timestamps)"
    span = "first 168 steps of the test period"
  candidates = list(dict.fromkeys(frame["model"]))
  models, left_out = best_models(files, candidates, MAX_FORECAST_PANELS)
  palette = colors(files.models)
  figure = Figure(figsize=(10, 2.1 * len(models) + 1.0), layout="constrained")
  grid = figure.subplots(len(models), 1, squeeze=False, sharex=True, sharey=True)
  seeds = files.seeds.groupby("model")["seed"].nunique()
  for axes, model in zip(grid[:, 0], models):
    group = frame[frame["model"] == model].sort_values("time")
    color = palette.get(model, "tab:blue")
    spread, count = bool((group["max"] > group["min"]).any()), seeds.get(model, 1)
    axes.plot(group["time"], group["actual"], color="black", linewidth=1.3, label="actual")
    axes.plot(group["time"], group["mean"], color=color, linewidth=1.3,
              label=(f"mean of {count} seeds" if spread else "forecast (1 seed)" if count == 1
                     else "forecast (the same for every seed)"))
    if spread:
      axes.fill_between(group["time"], group["min"], group["max"], color=color, alpha=0.3,
                        linewidth=0, label="min–max across seeds")
    axes.set_title(model, loc="left", fontweight="bold")
    axes.set_ylabel(value_label(files))
    # Above the panel, beside its title: the curves fill the whole axes.
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, frameon=False,
                borderaxespad=0.1)
  grid[-1, 0].set_xlabel(x_label)
  ahead = ("day ahead (each hour forecast the day before)"
           if files.config.get("data", {}).get("mode") == "day_profile" else "one step ahead")
  figure.suptitle(f"Forecast against actual, {ahead}, {span}{left_out}")
  return figure, (f"Forecasts {ahead} over the {span} against the actual series; the band "
                  "spans the seeds' forecasts.")

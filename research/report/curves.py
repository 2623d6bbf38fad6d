"""Figures of training over epochs, from curves.csv (and a study's trials.csv)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from research.report.files import RunFiles
from research.report.style import MAX_LINES


def loss_curves(files: RunFiles) -> tuple[Figure, str] | None:
  """Train and test loss per epoch, one panel per model: seeds thin, the mean bold."""
  if files.curves is None or files.curves.empty:
    return None
  frame = files.curves
  models = list(dict.fromkeys(frame["model"]))
  columns = min(len(models), 3)
  rows = math.ceil(len(models) / columns)
  figure = Figure(figsize=(max(4.3 * columns + 0.4, 7.5), 3.1 * rows + 1.0),
                  layout="constrained")
  # Shared y so models compare at a glance; x not shared, as a hidden spare
  # panel would take the tick labels of the one above it.
  grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
  epochs = int(frame["epoch"].max())
  log_scale = _wide_range(pd.concat([frame["train_loss"], frame["eval_loss"]]))
  for axes, model in zip(grid.ravel(), models):
    group = frame[frame["model"] == model]
    for column, color in (("train_loss", "tab:blue"), ("eval_loss", "tab:orange")):
      table = group.pivot(index="epoch", columns="seed", values=column)
      # Epochs without a held-out loss (train.eval_every) are left out, not gaps.
      table = table.where(np.isfinite(table)).dropna(how="all")
      marker = "o" if len(table) <= 3 else None
      axes.plot(table.index, table.to_numpy(), color=color, linewidth=0.7, alpha=0.3,
                marker=marker, markersize=2)
      axes.plot(table.index, table.mean(axis=1), color=color, linewidth=2.2, marker=marker)
    count = group["seed"].nunique()
    axes.set_title(f"{model} ({count} seed{'s' if count != 1 else ''})")
    if epochs <= 10:  # few epochs: one tick each, and room around a single one
      axes.set_xticks(range(1, epochs + 1))
      axes.set_xlim(0.7, epochs + 0.3)
    else:
      axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_scale:
      axes.set_yscale("log")
  for i, axes in enumerate(grid.ravel()):
    axes.set_visible(i < len(models))
    if i + columns >= len(models):  # the lowest panel of its column
      axes.set_xlabel("epoch")
  # One legend for all panels, below them (above, it would collide with the title).
  figure.legend(handles=[
      Line2D([], [], color="tab:blue", linewidth=2.2, label="train loss, mean across seeds"),
      Line2D([], [], color="tab:orange", linewidth=2.2, label="test loss, mean across seeds"),
      Line2D([], [], color="grey", linewidth=0.7, label="one seed")],
      loc="outside lower center", ncols=3, frameon=False)
  for axes in grid[:, 0]:
    axes.set_ylabel(files.run.get("loss_name", "loss"))
  figure.suptitle("Loss per epoch: every seed a thin line, the mean bold\n"
                  f"(train = training loss of the epoch; test = loss on the {files.held_out} "
                  "after it)")
  return figure, ("Training and test loss per epoch for each network: every seed a thin "
                  "line, the mean across seeds bold.")


def trial_curves(files: RunFiles) -> tuple[Figure, str] | None:
  """A study's training loss per epoch: one panel per network, one line per value of
  the fields the study varies (e.g. the optimizer), the band spanning the seeds."""
  if files.trials is None or files.curves is None or files.curves.empty:
    return None
  varied = _varied_columns(files)
  networks = list(files.config.get("models") or {}) or [""]
  panels: dict[str, list[str]] = {}
  for label in dict.fromkeys(files.trials["model"]):
    network = next((n for n in networks if n and (label == n or label.startswith(n + " "))), "")
    panels.setdefault(network, []).append(label)
  if not varied or max(len(labels) for labels in panels.values()) > MAX_LINES:
    return None  # loss.png has a panel per trial
  values = files.trials.drop_duplicates("model").set_index("model")[varied]
  line_names = {label: ", ".join(str(v) for v in values.loc[label]) for label in values.index}
  palette = {name: colormaps["tab10"](i % 10)
             for i, name in enumerate(dict.fromkeys(line_names.values()))}
  figure = Figure(figsize=(max(4.6 * len(panels), 7.0), 4.4), layout="constrained")
  grid = figure.subplots(1, len(panels), squeeze=False, sharey=True)
  log_scale = _wide_range(files.curves["train_loss"])
  for axes, (network, labels) in zip(grid[0], panels.items()):
    for label in labels:
      table = files.curves[files.curves["model"] == label].pivot(
          index="epoch", columns="seed", values="train_loss")
      table = table.where(np.isfinite(table))
      color = palette[line_names[label]]
      axes.plot(table.index, table.mean(axis=1), color=color, linewidth=2.0)
      axes.fill_between(table.index, table.min(axis=1), table.max(axis=1), color=color,
                        alpha=0.25, linewidth=0)
    axes.set_title(network or (networks[0] if len(networks) == 1 else "every trial"))
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_scale:
      axes.set_yscale("log")
  grid[0, 0].set_ylabel(files.run.get("loss_name", "loss"))
  figure.legend(handles=[Line2D([], [], color=c, linewidth=2.0, label=name)
                         for name, c in palette.items()] +
                [Patch(color="grey", alpha=0.25, label="min–max across seeds")],
                loc="outside lower center", ncols=min(len(palette) + 1, 5), frameon=False,
                title=" · ".join(varied))
  seeds = files.trials["seed"].nunique()
  figure.suptitle(f"Training loss per epoch by {' · '.join(varied)}\nthe mean of {seeds} "
                  "seeds; the band from the lowest to the highest seed")
  return figure, (f"Training loss per epoch for each value of {', '.join(varied)}: the mean "
                  f"across {seeds} seeds, and a band from the lowest to the highest seed; a "
                  "flat line is an optimizer that does not make progress.")


def _varied_columns(files: RunFiles) -> list[str]:
  """trials.csv's columns of the fields the study varies (between `seed` and the metrics)."""
  columns = list(files.trials.columns)
  first_metric = min((columns.index(m) for m in files.metrics if m in columns),
                     default=len(columns))
  return columns[columns.index("seed") + 1:first_metric]


def _wide_range(values: pd.Series) -> bool:
  """Whether positive values span more than a factor of 20 (draw them on a log scale)."""
  finite = values.to_numpy(np.float64)
  finite = finite[np.isfinite(finite)]
  return bool(finite.size) and finite.min() > 0 and finite.max() / finite.min() > 20

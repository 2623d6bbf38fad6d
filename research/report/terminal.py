"""Compact tables of a run's results for the terminal."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from research.report.render import mean_std
from research.results import RANKING_COLUMNS
from research.stats import oriented_pair


def _render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
  widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
  line = lambda row: "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
  return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


# More columns than this do not fit a terminal: the rest are in the files and the report.
SHOWN_METRICS = 6


def format_summary(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
  """One line per model: `mean ± std` per metric (the first `SHOWN_METRICS`), and the
  95% CI of the first."""
  metrics, more = list(metrics[:SHOWN_METRICS]), len(metrics) - SHOWN_METRICS
  head = metrics[0]
  rows = []
  for model, group in summary.groupby("model", sort=False):
    by_metric = group.set_index("metric")
    low, high = by_metric.loc[head, "ci_low"], by_metric.loc[head, "ci_high"]
    rows.append([str(model), str(int(by_metric.loc[head, "n"]))] +
                [mean_std(by_metric.loc[m, "mean"], by_metric.loc[m, "std"], 4) for m in metrics] +
                [f"[{low:.4f}, {high:.4f}]" if np.isfinite(low) else "-"])
  table = _render(["model", "n", *metrics, f"{head} 95% CI"], rows)
  return table + (f"\n({more} more metrics in summary.csv and report.html)" if more > 0 else "")


def _oriented(comparison: pd.DataFrame, metric: str, a: str, b: str) -> list[str] | None:
  """`a` minus `b` on `metric` as table cells, whichever order the pair was stored in."""
  pair = oriented_pair(comparison, metric, a, b)
  if pair is None:
    return None
  low, high = pair["ci_low"], pair["ci_high"]
  floor = pair.get("min_p", np.nan)
  return [f"{pair['mean_diff']:+.4f}",
          f"[{low:+.4f}, {high:+.4f}]" if np.isfinite(low) else "-",
          f"{pair['p_improve']:.2f}",
          f"{pair['p_value']:.2g}" + (f" (>= {floor:.2g})" if np.isfinite(floor) else "")]


# P(better) is the share of seeds on which the first model is better (ties count
# half); the Wilcoxon p comes with the smallest p its number of seeds can give.
COMPARISON_HEADER = ["metric", "model", "vs", "diff", "95% CI", "P(better)", "Wilcoxon p"]


def format_comparison(summary: pd.DataFrame, comparison: pd.DataFrame, metrics: Sequence[str],
                      lower_is_better: Collection[str]) -> str:
  """Per metric the best model against the runner-up; then the first model (the
  network) against each other model on the first metric. Differences are
  paired by seed; P(better) is the share of seeds on which the first-named model
  is better, and each Wilcoxon p shows the smallest p its seeds allow."""
  rows = []
  metrics = metrics[:SHOWN_METRICS]
  for metric in metrics:
    means = summary[summary["metric"] == metric].set_index("model")["mean"].dropna()
    ranked = means.sort_values(ascending=metric in lower_is_better).index
    if len(ranked) > 1 and (cells := _oriented(comparison, metric, ranked[0], ranked[1])):
      rows.append([metric, f"{ranked[0]} (best)", ranked[1], *cells])
  models = list(dict.fromkeys(summary["model"]))
  for other in models[1:]:
    if cells := _oriented(comparison, metrics[0], models[0], other):
      rows.append([metrics[0], models[0], other, *cells])
  return _render(COMPARISON_HEADER, rows) if rows else ""


def format_variance(variance: pd.DataFrame, metric: str) -> str:
  """One line per model: the metric's std across seeds, then by source."""
  lines = []
  for model, group in variance[variance["metric"] == metric].groupby("model", sort=False):
    parts = [f"{r.source} {r.std:.4f} ({r.variance_share:.0%} of variance"
             + (f", 95% [{r.share_low:.0%}, {r.share_high:.0%}])" if np.isfinite(r.share_low)
                else ")")
             for r in group.itertuples() if r.source != group.iloc[0]["source"]]
    lines.append(f"{model} {metric} std {group.iloc[0]['std']:.4f}: " + ", ".join(parts))
  return "\n".join(lines)


def format_study(ranking: pd.DataFrame, summary: pd.DataFrame, comparison: pd.DataFrame,
                 metrics: Sequence[str]) -> str:
  """A study's trials best first (then the other models), and the best against the rest.

  Columns: the ranking metric on the part the trials were selected on (when
  that is a validation part), then it and the next two of `metrics` on the
  test split, as mean ± std; seconds of training per member and of compiling
  the trial's program.
  """
  metric = ranking["metric"].iloc[0]
  on_validation = ranking["selected_on"].iloc[0] == "validation"
  selection = lambda r: [mean_std(r["mean"], r["std"], 4)] if on_validation else []
  shown = list(dict.fromkeys([metric, *metrics]))[:3]
  by_model = {model: group.set_index("metric") for model, group in
              summary.groupby("model", sort=False)}
  cells = lambda model: [mean_std(by_model[model].loc[m, "mean"], by_model[model].loc[m, "std"], 4)
                         if model in by_model and m in by_model[model].index else "-"
                         for m in shown]
  # Sampled trials are named trial-NNN: show what they tried.
  fields = [c for c in ranking.columns[len(RANKING_COLUMNS):]
            if not ranking["model"].str.contains("=").any()]
  value = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
  rows = [[str(r["rank"]), str(r["model"]), *[value(r[f]) for f in fields], str(int(r["n"])),
           *selection(r), *cells(r["model"]), f"{r['train_seconds']:.2f}",
           f"{r['compile_seconds']:.1f}", "<- best" if r["rank"] == 1 else ""]
          for _, r in ranking.iterrows()]
  others = [m for m in by_model if m not in set(ranking["model"])]
  rows += [["", m, *[""] * len(fields), str(int(by_model[m].loc[metric, "n"])),
            *[""] * on_validation, *cells(m), "", "", ""] for m in others]
  selected = [f"validation {metric}"] if on_validation else []
  table = _render(["rank", "model", *[f.split(".")[-1] for f in fields], "n", *selected,
                   *shown, "train s/member", "compile s", ""], rows)
  best = ranking["model"].iloc[0]
  # A study's comparison pairs one model (its best trial, or the per-seed
  # search's selection) with every other.
  anchor = comparison["model_a"].iloc[0] if len(comparison) else best
  versus = [ranking["model"].iloc[1]] if len(ranking) > 1 and anchor == best else []
  lines = [[metric, anchor, other, *cell] for other in versus + others if other != anchor
           and (cell := _oriented(comparison, metric, anchor, other))]
  return table + ("\n\n" + _render(COMPARISON_HEADER, lines) if lines else "")

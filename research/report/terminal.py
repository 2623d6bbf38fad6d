"""A compact table of a summary for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def format_summary(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
  """One line per model: `mean ± std` per metric, and the 95% CI of the first."""
  head = metrics[0]
  header = ["model", "n"] + list(metrics) + [f"{head} 95% CI"]
  lines = []
  for model, group in summary.groupby("model", sort=False):
    by_metric = group.set_index("metric")
    cells = [str(model), str(int(by_metric.loc[head, "n"]))]
    for metric in metrics:
      mean, std = by_metric.loc[metric, "mean"], by_metric.loc[metric, "std"]
      cells.append(f"{mean:.4f}" + (f" ± {std:.4f}" if np.isfinite(std) else ""))
    low, high = by_metric.loc[head, "ci_low"], by_metric.loc[head, "ci_high"]
    cells.append(f"[{low:.4f}, {high:.4f}]" if np.isfinite(low) else "-")
    lines.append(cells)
  widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
  render = lambda row: "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
  return "\n".join([render(header), render(["-" * w for w in widths])] + [render(r) for r in lines])

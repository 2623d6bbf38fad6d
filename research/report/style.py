"""What every figure of a report shares: look, colours, which models to draw, saving."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import matplotlib
from matplotlib import colormaps
from matplotlib.figure import Figure

from research import results
from research.report.files import RunFiles

# More lines than this on one axes stop being readable: the best ones by the
# headline metric are drawn, and the title says so.
MAX_LINES = 8
_DPI = 100
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
       "legend.fontsize": 8, "legend.framealpha": 0.85, "figure.facecolor": "white"}


@contextlib.contextmanager
def style() -> Iterator[None]:
  """The report's matplotlib settings, for the figures built inside only."""
  with matplotlib.rc_context(_RC):
    yield


def save(figure: Figure, path: str) -> None:
  """Writes `figure` as a PNG with no version or date inside, atomically.

  Saving goes through the Agg canvas (a `Figure` made without pyplot), so no
  display is needed and nothing global changes.
  """
  results.write_atomic(path, lambda f: figure.savefig(
      f, format="png", dpi=_DPI, metadata={"Software": None}), binary=True)


def colors(models: Sequence[str]) -> dict[str, tuple]:
  """One colour per model, the same in every figure of the run."""
  cmap = colormaps["tab10" if len(models) <= 10 else "tab20"]
  return {model: cmap(i % cmap.N) for i, model in enumerate(models)}


def best_models(files: RunFiles, candidates: Sequence[str],
                limit: int = MAX_LINES) -> tuple[list[str], str]:
  """At most `limit` of `candidates` (in their order), the best by the headline
  metric, and a title suffix saying what was left out ('' when nothing was)."""
  if len(candidates) <= limit:
    return list(candidates), ""
  metric = files.headline
  means = files.summary[files.summary["metric"] == metric].set_index("model")["mean"]
  sign = 1 if metric in files.lower_is_better else -1
  score = lambda m: sign * means.get(m, math.nan)
  ranked = sorted(candidates, key=lambda m: (math.isnan(score(m)), score(m)))
  kept = set(ranked[:limit])
  return ([m for m in candidates if m in kept],
          f" (best {limit} of {len(candidates)} by {metric.upper()})")


def value_label(files: RunFiles) -> str:
  """The forecast target's name with its units, for axis labels."""
  column = files.config.get("data", {}).get("value_column") or "value"
  return f"{column} (units of the data)"

"""Each claim's statistic and test, from a finished run's files alone; a verdict.

Every function takes the run's files (`research.report.files.RunFiles`) and the
claim's parameters (`research.replicate.claims`), and returns a `Finding`:
ours as numbers and text, the test and its result, and the verdict. Paired
tests pair by seed: every trial and baseline of a run shares its seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from research import inference, stats
from research.report.files import RunFiles

SUPPORTED, NOT_SUPPORTED, CONTRADICTED, NOT_COMPARABLE = (
    "supported", "not supported", "contradicted", "not comparable")


@dataclasses.dataclass(frozen=True)
class Finding:
  """What a run says of a claim.

  Attributes:
    ours: our number(s) as text, e.g. 'mean ± std [95% CI]'.
    test: the test and its result, in words.
    verdict: supported, not supported, contradicted or not comparable.
    reason: why, in a sentence.
    values: the numbers behind it (for tests and replication.json).
  """
  ours: str
  test: str
  verdict: str
  reason: str
  values: dict


def interval_text(values: np.ndarray, places: int = 4) -> str:
  """'0.8421 ± 0.0108 [0.8384, 0.8457]': mean ± std with the 95% t interval."""
  values = np.asarray(values, np.float64)
  low, high = inference.t_interval(values)
  std = values.std(ddof=1) if values.size > 1 else np.nan
  return f"{values.mean():.{places}f} ± {std:.{places}f} [{low:.{places}f}, {high:.{places}f}]"


def per_seed(files: RunFiles, model: str, metric: str) -> pd.Series:
  """`model`'s `metric` by seed (diverged members left out)."""
  rows = files.kept_seeds()
  rows = rows[rows["model"] == model]
  if rows.empty:
    raise KeyError(f"{files.workdir} has no model {model!r}")
  return rows.set_index("seed")[metric].astype(np.float64)


def trial_rows(files: RunFiles) -> pd.DataFrame:
  """trials.csv without diverged members."""
  if files.trials is None:
    raise KeyError(f"{files.workdir} holds no study (no trials.csv)")
  return files.trials[~files.trials["diverged"].astype(bool)]


def best_network(files: RunFiles, metric: str, select: str = "validation",
                 among: Sequence[str] | None = None) -> str:
  """The trial with the best mean `metric`, on the validation part when the run has
  one (`select`), so that its test score is not chosen on test."""
  rows = trial_rows(files)
  if among is not None:
    rows = rows[rows["model"].isin(among)]
  column = f"val_{metric}" if select == "validation" and f"val_{metric}" in rows else metric
  means = rows.groupby("model")[column].mean()
  return str(means.idxmin() if metric in files.lower_is_better else means.idxmax())


def paired_difference(a: pd.Series, b: pd.Series, higher_is_better: bool = True) -> dict:
  """A − B over the seeds both have: mean, 95% and 90% t intervals, Wilcoxon p, and
  P(better): the share of seeds on which A is better (ties half)."""
  joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
  diff = (joined["a"] - joined["b"]).to_numpy()
  low95, high95 = inference.t_interval(diff, 0.95)
  low90, high90 = inference.t_interval(diff, 0.90)
  return {"mean_diff": float(diff.mean()), "ci95": (low95, high95), "ci90": (low90, high90),
          "p_value": stats.wilcoxon_p_value(joined["a"], joined["b"]),
          "min_p": inference.min_wilcoxon_p(diff.size),
          "p_improve": stats.probability_of_improvement(joined["a"], joined["b"],
                                                        higher_is_better),
          "n": int(diff.size)}


def significance(d: dict, alpha: float, higher_is_better: bool = True) -> str:
  """supported (A better), contradicted (A worse) or not supported, by the 95% CI and
  the Wilcoxon p together."""
  low, high = d["ci95"]
  if d["p_value"] < alpha and (low > 0 if higher_is_better else high < 0):
    return SUPPORTED
  if d["p_value"] < alpha and (high < 0 if higher_is_better else low > 0):
    return CONTRADICTED
  return NOT_SUPPORTED


def difference_text(d: dict, places: int = 4) -> str:
  low, high = d["ci95"]
  return (f"{d['mean_diff']:+.{places}f} [{low:+.{places}f}, {high:+.{places}f}], "
          f"Wilcoxon p = {d['p_value']:.2g} (smallest possible {d['min_p']:.2g}), "
          f"P(better) = {d['p_improve']:.2f}, {d['n']} seeds")

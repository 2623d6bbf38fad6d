"""The report's tables of results, as text cells, from a finished run's files."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from research import stats
from research.report.files import RunFiles
from research.report.render import mean_std, number

# Metrics scored at one step of a multi-step forecast are named `<metric>_h<step>`.
_HORIZON = re.compile(r"^(?P<metric>.+)_h(?P<step>\d+)$")


def decimals(values) -> int:
  """Decimals that show four significant digits of the smallest value (at most 6),
  the same for a whole column so that its numbers line up."""
  values = np.abs(np.asarray(values, np.float64))
  values = values[np.isfinite(values) & (values > 0)]
  if values.size == 0:
    return 4
  return int(np.clip(3 - math.floor(math.log10(values.min())), 0, 6))


def interval_text(low: float, high: float, places: int, sign: bool = False) -> str:
  if not (np.isfinite(low) and np.isfinite(high)):
    return "–"
  return f"[{number(low, places, sign)}, {number(high, places, sign)}]"


def overall_metrics(files: RunFiles) -> list[str]:
  """The run's metrics over every output, without those of single forecast steps."""
  return [m for m in files.metrics if not _HORIZON.match(m)]


def horizons(files: RunFiles) -> dict[int, list[str]]:
  """`{step: [metric names of that step]}` of a multi-step forecast (empty otherwise)."""
  steps: dict[int, list[str]] = {}
  for name in files.metrics:
    match = _HORIZON.match(name)
    if match:
      steps.setdefault(int(match["step"]), []).append(match["metric"])
  return steps


def horizon_table(files: RunFiles) -> pd.DataFrame:
  """One row per model and forecast step: each step's metrics as `mean ± std [CI]`."""
  summary = files.summary.set_index(["model", "metric"])
  steps = horizons(files)
  names = list(dict.fromkeys(m for metrics in steps.values() for m in metrics))
  places = {m: decimals(files.summary.loc[files.summary["metric"].str.fullmatch(
      rf"{re.escape(m)}_h\d+"), "mean"]) for m in names}
  rows = []
  for model in [m for m in files.models if m in set(files.summary["model"])]:
    for step in sorted(steps):
      cells = {}
      for metric in names:
        key = (model, f"{metric}_h{step}")
        if key in summary.index:
          r = summary.loc[key]
          arrow = "↓" if key[1] in files.lower_is_better else "↑"
          cells[f"{metric} {arrow}"] = (f"{mean_std(r['mean'], r['std'], places[metric])} "
                                        f"{interval_text(r['ci_low'], r['ci_high'], places[metric])}")
      rows.append({"model": model, "steps ahead": step, **cells})
  return pd.DataFrame(rows).fillna("–")


def against_reference_table(files: RunFiles, reference: str, metric: str = "rmse"
                            ) -> pd.DataFrame:
  """Each other model against `reference` on `metric` at every forecast step, paired
  by seed: the mean difference with its CI, P(better), the Wilcoxon p (and its floor)."""
  rows = []
  for step in sorted(horizons(files)):
    name = f"{metric}_h{step}"
    for model in [m for m in files.models if m != reference]:
      pair = stats.oriented_pair(files.comparison, name, model, reference)
      if pair is None or not np.isfinite(pair["mean_diff"]):
        continue
      places = decimals([pair["mean_diff"]])
      rows.append({"steps ahead": step, "model": model, f"{metric} − {reference}'s":
                   number(pair["mean_diff"], places, sign=True),
                   "95% CI": interval_text(pair["ci_low"], pair["ci_high"], places, sign=True),
                   "P(better)": number(pair["p_improve"], 2),
                   "Wilcoxon p": f"{pair['p_value']:.2g}",
                   "smallest p": f"{pair.get('min_p', np.nan):.2g}", "seeds": int(pair["n"])})
  return pd.DataFrame(rows)


def reference_table(files: RunFiles) -> pd.DataFrame | None:
  """Each model's mean [CI] beside the published figures of `config.reference`."""
  published = (files.config.get("reference") or {}).get("values") or {}
  metrics = [m for m in published if m in set(files.summary["metric"])]
  if not metrics:
    return None
  summary = files.summary.set_index(["model", "metric"])
  rows = [{"model": "published", **{m: f"{published[m]:.4g}" for m in metrics}}]
  for model in [m for m in files.models if (m, metrics[0]) in summary.index]:
    cells = {}
    for metric in metrics:
      r = summary.loc[(model, metric)]
      places = decimals([r["mean"]])
      cells[metric] = (f"{number(r['mean'], places)} "
                       f"{interval_text(r['ci_low'], r['ci_high'], places)}")
    rows.append({"model": model, **cells})
  return pd.DataFrame(rows)


def headline_table(files: RunFiles) -> pd.DataFrame:
  """One row per model, best first: the headline metric's mean ± std, CI and spread."""
  metric = files.headline
  rows = files.summary[files.summary["metric"] == metric].sort_values(
      "mean", ascending=metric in files.lower_is_better, kind="stable")
  places = decimals(rows["mean"])
  return pd.DataFrame([{
      "rank": rank, "model": r["model"], "seeds": int(r["n"]), "mean ± std": mean_std(r["mean"], r["std"], places),
      "95% CI": interval_text(r["ci_low"], r["ci_high"], places), "median": number(r["median"], places),
      "IQM": number(r["iqm"], places), "min": number(r["min"], places),
      "max": number(r["max"], places)} for rank, (_, r) in enumerate(rows.iterrows(), 1)])


def metrics_table(files: RunFiles) -> pd.DataFrame:
  """Model by metric: `mean ± std [CI]`."""
  summary = files.summary
  table = {}
  for metric in [m for m in overall_metrics(files) if m in set(summary["metric"])]:
    rows = summary[summary["metric"] == metric].set_index("model")
    places = decimals(rows["mean"])
    arrow = "↓" if metric in files.lower_is_better else "↑"
    table[f"{metric} {arrow}"] = {
        model: f"{mean_std(r['mean'], r['std'], places)} {interval_text(r['ci_low'], r['ci_high'], places)}"
        for model, r in rows.iterrows()}
  frame = pd.DataFrame(table).reindex([m for m in files.models if m in set(summary["model"])])
  return frame.fillna("–").rename_axis("model").reset_index()


def comparison_table(files: RunFiles) -> pd.DataFrame:
  """Every model against the best on the headline metric; then, per other
  metric, the best against the runner-up."""
  summary, comparison = files.summary, files.comparison
  rows = []
  for metric in [m for m in overall_metrics(files) if m in set(comparison["metric"])]:
    means = summary[summary["metric"] == metric].set_index("model")["mean"].dropna()
    ranked = list(means.sort_values(ascending=metric in files.lower_is_better,
                                    kind="stable").index)
    if len(ranked) < 2:
      continue
    places = decimals(means)
    others = ranked[1:] if metric == files.headline else ranked[1:2]
    for other in others:
      pair = stats.oriented_pair(comparison, metric, ranked[0], other)
      if pair is not None:
        rows.append({"metric": metric, "model": f"{ranked[0]} (best)", "vs": other,
                     "diff": number(pair["mean_diff"], places, sign=True),
                     "95% CI": interval_text(pair["ci_low"], pair["ci_high"], places, sign=True),
                     "P(better)": number(pair["p_improve"], 2),
                     "Wilcoxon p": f"{pair['p_value']:.2g}",
                     "smallest p": f"{pair.get('min_p', np.nan):.2g}", "seeds": int(pair["n"])})
  return pd.DataFrame(rows, columns=["metric", "model", "vs", "diff", "95% CI", "P(better)",
                                     "Wilcoxon p", "smallest p", "seeds"])


def period_table(files: RunFiles) -> pd.DataFrame:
  """period_comparison.csv as text: a row per network, baseline and loss."""
  frame = files.period
  places = decimals(frame["mean_diff"])
  return pd.DataFrame([{
      "model": r["model_a"], "vs": r["model_b"], "loss": r["loss"],
      "mean diff": number(r["mean_diff"], places, sign=True),
      "95% CI": interval_text(r["ci_low"], r["ci_high"], places, sign=True),
      "block": int(r["block_length"]), "bootstrap p": f"{r['bootstrap_p']:.2g}",
      "DM statistic": number(r["dm_stat"], 2, sign=True),
      "DM p": f"{r['dm_p']:.2g}", "test examples": int(r["n"])} for _, r in frame.iterrows()])


def interval_name(table: pd.DataFrame) -> str:
  """How the table's intervals were made, in words."""
  names = {"t": "Student t", "bca": "BCa bootstrap"}
  methods = table["ci_method"].dropna().unique() if "ci_method" in table else ["bca"]
  return " or ".join(names.get(m, str(m)) for m in methods) or "Student t"


def variance_table(files: RunFiles) -> pd.DataFrame:
  """Model and source by metric: `std (share of variance)`."""
  frame = files.variance
  metrics = [m for m in overall_metrics(files) if m in set(frame["metric"])]
  places = {m: decimals(frame.loc[frame["metric"] == m, "std"]) for m in metrics}
  rows = []
  for (model, source), group in frame.groupby(["model", "source"], sort=False):
    by_metric = group.set_index("metric")
    rows.append({"model": model, "varies": source, "seeds": int(group["n"].max()), **{
        m: f"{number(by_metric.loc[m, 'std'], places[m])} ({_share(by_metric.loc[m])})"
        for m in metrics if m in by_metric.index}})
  return pd.DataFrame(rows).fillna("–")


def _share(row: pd.Series) -> str:
  """'62% [31%, 140%]': a variance share with its interval when there is one."""
  share = "–" if not np.isfinite(row["variance_share"]) else f"{row['variance_share']:.0%}"
  low, high = row.get("share_low", np.nan), row.get("share_high", np.nan)
  return share + (f" [{low:.0%}, {high:.0%}]" if np.isfinite(low) and np.isfinite(high) else "")

"""report.md and report.html for a finished run, from the files in its folder alone.

  python -m research.report RUN_DIR

Nothing here knows how the run trained: it reads config.json, run.json and the
CSV files, draws the figures, writes the TensorBoard events and the two
documents. The same files give the same bytes (tb/ aside: see tensorboard.py).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from research import results, stats
from research.report import figures, render, tensorboard
from research.report.files import RunFiles, read_run
from research.report.render import Heading, Image, Table, mean_std, number
from research.trees import leaves, tuples

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"


def write_report(workdir: str) -> None:
  """Writes figures/, tb/ (unless there), report.md and report.html into `workdir`.

  Raises:
    UserError: `workdir` does not hold a finished run.
  """
  files = read_run(workdir)
  drawn = figures.make_figures(files)
  tensorboard.write_events(files)
  blocks = report_blocks(files, drawn)
  title = f"Report: {os.path.basename(os.path.abspath(workdir))}"
  results.write_atomic(files.path(MARKDOWN_FILE), lambda f: f.write(render.to_markdown(blocks)))
  results.write_atomic(files.path(HTML_FILE),
                       lambda f: f.write(render.to_html(blocks, title, workdir)))


def report_blocks(files: RunFiles, drawn: dict[str, str]) -> list[render.Block]:
  """What the report says, in order: the run, the results, the figures."""
  blocks: list[render.Block] = [
      Heading(f"Report: {os.path.basename(os.path.abspath(files.workdir))}", 1),
      Heading("What was run"), Table(run_table(files))]
  metric = files.headline
  blocks += [Heading(f"{metric.upper()} across seeds"), Table(
      headline_table(files), "Best first. mean ± std across seeds (std with ddof=1); 95% CI = "
      f"{interval_name(files.summary)} interval of the mean; IQM = mean of the middle 50%; "
      "diverged members left out.")]
  blocks += [Heading("All metrics"), Table(
      metrics_table(files), "mean ± std [95% CI] per model; ↑ higher is better, ↓ lower is "
      "better.")]
  if files.comparison is not None and not files.comparison.empty:
    blocks += [Heading("Comparisons"), Table(
        comparison_table(files), "Paired by seed. diff = first model − second in the metric's "
        f"units, with its 95% {interval_name(files.comparison)} interval; P(better) = share of "
        "seeds on which the first model is better (ties count half); Wilcoxon p = two-sided "
        "signed-rank test, and the smallest p it can give with that many seeds (below 6 "
        "seeds no difference can reach p < 0.05).")]
  if files.period is not None and not files.period.empty:
    blocks += [Heading("Against fixed baselines, over the test period"), Table(
        period_table(files), "A baseline that is the same for every seed varies only with "
        "the test period, so here each example's loss difference (the network's loss "
        "averaged over its seeds, minus the baseline's) is tested over the test period: its "
        "mean with a circular block-bootstrap 95% interval (blocks of whole days), and the "
        "Diebold–Mariano test with the Harvey–Leybourne–Newbold correction. Negative: the "
        "network has the smaller loss.")]
  if files.variance is not None and not files.variance.empty:
    blocks += [Heading("Variance by source"), Table(
        variance_table(files), "std across seeds when only that source varies, and its "
        "variance as a share of the main group's (the first row: every source in config.vary "
        "varies) with a 95% F interval; each group has seeds of its own. The shares add up "
        "to 1 only when the metric is additive in the sources.")]
  if drawn:
    blocks.append(Heading("Figures"))
    blocks += [Image(f"{figures.FIGURES_DIR}/{name}", caption) for name, caption in drawn.items()]
  return blocks


def decimals(values) -> int:
  """Decimals that show four significant digits of the smallest value (at most 6),
  the same for a whole column so that its numbers line up."""
  values = np.abs(np.asarray(values, np.float64))
  values = values[np.isfinite(values) & (values > 0)]
  if values.size == 0:
    return 4
  return int(np.clip(3 - math.floor(math.log10(values.min())), 0, 6))


def _ci(low: float, high: float, places: int, sign: bool = False) -> str:
  if not (np.isfinite(low) and np.isfinite(high)):
    return "–"
  return f"[{number(low, places, sign)}, {number(high, places, sign)}]"


def headline_table(files: RunFiles) -> pd.DataFrame:
  """One row per model, best first: the headline metric's mean ± std, CI and spread."""
  metric = files.headline
  rows = files.summary[files.summary["metric"] == metric].sort_values(
      "mean", ascending=metric in files.lower_is_better, kind="stable")
  places = decimals(rows["mean"])
  return pd.DataFrame([{
      "rank": rank, "model": r["model"], "seeds": int(r["n"]), "mean ± std": mean_std(r["mean"], r["std"], places),
      "95% CI": _ci(r["ci_low"], r["ci_high"], places), "median": number(r["median"], places),
      "IQM": number(r["iqm"], places), "min": number(r["min"], places),
      "max": number(r["max"], places)} for rank, (_, r) in enumerate(rows.iterrows(), 1)])


def metrics_table(files: RunFiles) -> pd.DataFrame:
  """Model by metric: `mean ± std [CI]`."""
  summary = files.summary
  table = {}
  for metric in [m for m in files.metrics if m in set(summary["metric"])]:
    rows = summary[summary["metric"] == metric].set_index("model")
    places = decimals(rows["mean"])
    arrow = "↓" if metric in files.lower_is_better else "↑"
    table[f"{metric} {arrow}"] = {
        model: f"{mean_std(r['mean'], r['std'], places)} {_ci(r['ci_low'], r['ci_high'], places)}"
        for model, r in rows.iterrows()}
  frame = pd.DataFrame(table).reindex([m for m in files.models if m in set(summary["model"])])
  return frame.fillna("–").rename_axis("model").reset_index()


def comparison_table(files: RunFiles) -> pd.DataFrame:
  """Every model against the best on the headline metric; then, per other
  metric, the best against the runner-up."""
  summary, comparison = files.summary, files.comparison
  rows = []
  for metric in [m for m in files.metrics if m in set(comparison["metric"])]:
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
                     "95% CI": _ci(pair["ci_low"], pair["ci_high"], places, sign=True),
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
      "95% CI": _ci(r["ci_low"], r["ci_high"], places, sign=True),
      "block": int(r["block_length"]), "DM statistic": number(r["dm_stat"], 2, sign=True),
      "DM p": f"{r['dm_p']:.2g}", "test examples": int(r["n"])} for _, r in frame.iterrows()])


def interval_name(table: pd.DataFrame) -> str:
  """How the table's intervals were made, in words."""
  names = {"t": "Student t", "bca": "BCa bootstrap"}
  methods = table["ci_method"].dropna().unique() if "ci_method" in table else ["bca"]
  return " or ".join(names.get(m, str(m)) for m in methods) or "Student t"


def variance_table(files: RunFiles) -> pd.DataFrame:
  """Model and source by metric: `std (share of variance)`."""
  frame = files.variance
  metrics = [m for m in files.metrics if m in set(frame["metric"])]
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


def run_table(files: RunFiles) -> pd.DataFrame:
  """What was run, as field/value rows: task, data, models, training, seeds, software."""
  config, run = files.config, files.run
  data, facts = config.get("data", {}), run.get("data", {})
  rows = [("task", files.task),
          ("data", facts.get("summary", str(facts.get("source", data.get("name")))))]
  if "mape_floor" in facts:
    floor = facts["mape_floor"] or "exact zeros"
    rows.append(("percentage errors", f"MAPE and MAXPE leave out actual values below {floor} "
                 f"({facts.get('mape_excluded', '?')} of {facts.get('scored_values', '?')} "
                 "test values); WAPE and sMAPE use them all"))
  base = " (base of the study)" if "study" in config else ""
  models = config.get("models") or {config.get("model", {}).get("name", "?"): config.get("model", {})}
  rows += [(f"model {label}{base}", _fields(fields)) for label, fields in models.items()]
  if "study" in config:
    study = leaves(config["study"])
    rows.append(("study", f"{_count(run.get('trials', '?'), 'trial')}: "
                 + "; ".join(f"{k} {tuples(v)}" for k, v in study.items())))
  baselines = [m for m in files.models if m not in files.networks]
  if baselines:
    rows.append(("baselines", ", ".join(baselines)))
  rows.append(("optimizer" + base, _fields(config.get("optimizer", {}))))
  train = config.get("train", {})
  batch = train.get("batch_size")
  rows.append(("training", f"{_count(train.get('epochs'), 'epoch')}, batch size "
               f"{'full batch' if batch == 0 else batch}"))
  first, count = config.get("seed", 0), config.get("num_seeds", 1)
  rows.append(("seeds", f"{count} ({first}" + (f"–{first + count - 1}" if count > 1 else "")
               + "), varying: "
               f"{', '.join(config.get('vary', ())) or 'nothing'}"))
  if files.variance is not None and not files.variance.empty:
    variance = config.get("variance", {})
    rows.append(("variance by source", f"{variance.get('num_seeds')} extra seeds for each of "
                 f"{', '.join(variance.get('sources', ()))}"))
  diverged = int(files.seeds["diverged"].astype(bool).sum())
  rows.append(("diverged", f"{diverged} of {len(files.seeds)} model × seed results (left out "
               "of the statistics)"))
  if run.get("devices"):
    rows.append(("device", ", ".join(run["devices"])))
  rows += [(label, _seconds(run[key])) for key, label in
           (("compile_seconds", "compile time"), ("train_seconds", "training time"))
           if key in run]
  versions = run.get("versions", {})
  if versions:
    rows.append(("versions", ", ".join(f"{name} {versions[name]}" for name in
                                       ("jax", "flax", "optax", "numpy", "scikit-learn",
                                        "python") if name in versions)))
  return pd.DataFrame(rows, columns=["field", "value"])


def _fields(fields: dict) -> str:
  """'adam, learning_rate 0.002' from a config section with a `name`."""
  shown = lambda v: str(tuples(v))
  rest = ", ".join(f"{k} {shown(v)}" for k, v in fields.items() if k != "name")
  return f"{fields.get('name', '')}" + (f", {rest}" if rest else "")


def _count(number, noun: str) -> str:
  return f"{number} {noun}" + ("" if number == 1 else "s")


def _seconds(value) -> str:
  """Seconds, or per program seconds (their total, when there are many), as text."""
  if isinstance(value, dict) and len(value) == 1:
    value = next(iter(value.values()))
  if isinstance(value, dict) and len(value) > 4:
    return f"{sum(value.values()):.1f} s in all, over {len(value)} compiled programs"
  if isinstance(value, dict):
    return ", ".join(f"{k} {v:.1f} s" for k, v in value.items())
  return f"{value:.1f} s"

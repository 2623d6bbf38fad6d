"""report.md and report.html for a finished run, from the files in its folder alone.

  python -m research.report RUN_DIR

Nothing here knows how the run trained: it reads config.json, run.json and the
CSV files, draws the figures, writes the TensorBoard events and the two
documents. The same files give the same bytes (tb/ aside: see tensorboard.py).
"""

from __future__ import annotations

import os

import pandas as pd

from research import results
from research.report import figures, render, tensorboard
from research.report import tables as t
from research.report.files import RunFiles, read_run
from research.report.render import Heading, Image, Table
from research.trees import leaves, tuples

MARKDOWN_FILE, HTML_FILE = results.REPORT_FILES


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
  inputs = inputs_table(files)
  if inputs is not None:
    blocks += [Heading("Inputs: what is known at forecast time"), Table(
        inputs, "Each model's inputs and when they are known. An EX-POST input gives the "
        "model the actual future values of a measurement (a perfect weather forecast): "
        "usual in the load-forecasting literature, and optimistic; past-only inputs are "
        "what a forecaster has in real time. Learned baselines get the same inputs.")]
  metric = files.headline
  blocks += [Heading(f"{metric.upper()} across seeds"), Table(
      t.headline_table(files), "Best first. mean ± std across seeds (std with ddof=1); 95% "
      f"CI = {t.interval_name(files.summary)} interval of the mean; IQM = mean of the middle "
      "50%; diverged members left out.")]
  reference = t.reference_table(files)
  if reference is not None:
    source = files.config["reference"]
    blocks += [Heading("Beside the published figures"), Table(
        reference, f"Published: {source.get('source', 'a published study')}; "
        f"{source.get('note', '')}. Ours: mean [95% CI] across seeds.")]
  blocks += [Heading("All metrics"), Table(
      t.metrics_table(files), "mean ± std [95% CI] per model; ↑ higher is better, ↓ lower is "
      "better.")]
  blocks += horizon_blocks(files)
  if files.comparison is not None and not files.comparison.empty:
    blocks += [Heading("Comparisons"), Table(
        t.comparison_table(files), "Paired by seed. diff = first model − second in the "
        f"metric's units, with its 95% {t.interval_name(files.comparison)} interval; "
        "P(better) = share of seeds on which the first model is better (ties count half); "
        "Wilcoxon p = two-sided signed-rank test, and the smallest p it can give with that "
        "many seeds (below 6 seeds no difference can reach p < 0.05).")]
  if files.period is not None and not files.period.empty:
    blocks += [Heading("Against fixed baselines, over the test period"), Table(
        t.period_table(files), "A baseline that is the same for every seed varies only with "
        "the test period, so here each example's loss difference (the network's loss "
        "averaged over its seeds, minus the baseline's) is tested over the test period: its "
        "mean with a circular block-bootstrap 95% interval and p (blocks of whole days), and the "
        "Diebold–Mariano test with the Harvey–Leybourne–Newbold correction. Negative: the "
        "network has the smaller loss.")]
  if files.variance is not None and not files.variance.empty:
    blocks += [Heading("Variance by source"), Table(
        t.variance_table(files), "std across seeds when only that source varies, and its "
        "variance as a share of the main group's (the first row: every source in config.vary "
        "varies) with a 95% F interval; each group has seeds of its own. The shares add up "
        "to 1 only when the metric is additive in the sources.")]
  if drawn:
    blocks.append(Heading("Figures"))
    blocks += [Image(f"{figures.FIGURES_DIR}/{name}", caption) for name, caption in drawn.items()]
  return blocks


def horizon_blocks(files: RunFiles) -> list[render.Block]:
  """A multi-step forecast's metrics per step, and each model against persistence."""
  if not t.horizons(files):
    return []
  blocks = [Heading("By forecast step"), Table(
      t.horizon_table(files), "mean ± std [95% CI] at each scored step ahead (1 = the next "
      "step); nmae and nrmse are % of capacity; skill = 1 − RMSE / RMSE of persistence "
      "(above 0: better than persistence).")]
  if "persistence" in files.models and files.comparison is not None:
    blocks += [Heading("Against persistence, by forecast step"), Table(
        t.against_reference_table(files, "persistence"), "RMSE of each model minus "
        "persistence's, paired by seed (negative: the model beats persistence), with its 95% "
        "interval; P(better) = share of seeds on which the model's RMSE is lower; Wilcoxon "
        "p and the smallest p it can give with that many seeds.")]
  return blocks


def inputs_table(files: RunFiles) -> pd.DataFrame | None:
  """Each model's inputs, when any has more than the series (None otherwise)."""
  by_model = files.run.get("data_by_model") or {"": files.run.get("data", {})}
  rows = [{"model": label or "every model", **row} for label, facts in by_model.items()
          for row in facts.get("inputs", [])]
  if all(row["input"] == "the series" for row in rows):
    return None
  return pd.DataFrame(rows, columns=["model", "input", "given", "note"])


def run_table(files: RunFiles) -> pd.DataFrame:
  """What was run, as field/value rows: task, data, models, training, seeds, software."""
  config, run = files.config, files.run
  data, facts = config.get("data", {}), run.get("data", {})
  rows = [("task", files.task),
          ("data", facts.get("summary", str(facts.get("source", data.get("name")))))]
  if run.get("attribution"):
    rows.append(("data source", run["attribution"]))
  if "mape_floor" in facts:
    floor = (f"below {facts['mape_floor']}" if facts["mape_floor"] else "of exactly 0")
    rows.append(("percentage errors", f"MAPE and MAXPE leave out actual values {floor} "
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

"""An Optuna search's report.md and report.html, from its tables and the storage.

What the search tried and found: the sampler and budget, the history of the
selection metric with the best so far, the best trials with their values, and,
once every trial is done, the best trial rerun on the whole training data and
tested against the baselines (`best/<trial>/`, whose own report has the details).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure

from research import results
from research.report import render
from research.report.figures import FIGURES_DIR
from research.report.style import save, style

HISTORY_FILE = "search_history.png"
SHOWN_TRIALS = 10


def write(workdir: str, spec, url: str, trials: Sequence[optuna.trial.FrozenTrial], tables,
          best: results.RunResult | None) -> None:
  """Writes the search's report into `workdir`."""
  os.makedirs(os.path.join(workdir, FIGURES_DIR), exist_ok=True)
  with style():
    save(history(tables.ranking, spec), os.path.join(workdir, FIGURES_DIR, HISTORY_FILE))
  blocks = [render.Heading(f"Search {spec.name!r}", 1),
            render.Paragraph(_summary(spec, url, trials)),
            render.Image(f"{FIGURES_DIR}/{HISTORY_FILE}",
                         f"Mean {spec.metric} over seeds on the {spec.select_on} part, per "
                         "trial in the order asked, and the best so far."),
            render.Heading(f"The best {min(SHOWN_TRIALS, len(tables.ranking))} trials"),
            render.Table(_best_trials(tables.ranking), note=_selection_note(spec)),
            *_best_blocks(spec, best, tables.ranking["model"].iloc[0])]
  markdown, page = results.REPORT_FILES
  results.write_atomic(os.path.join(workdir, markdown),
                       lambda f: f.write(render.to_markdown(blocks)))
  results.write_atomic(os.path.join(workdir, page),
                       lambda f: f.write(render.to_html(blocks, f"Search {spec.name}", workdir)))


def history(ranking: pd.DataFrame, spec) -> Figure:
  """Each trial's mean (dots, by trial number) and the best found so far (a step line)."""
  ordered = ranking.sort_values("trial")
  values = ordered["mean"].to_numpy(dtype=float)
  finite = np.where(np.isfinite(values), values, np.inf if spec.lower_is_better else -np.inf)
  best = (np.minimum if spec.lower_is_better else np.maximum).accumulate(finite)
  figure = Figure(figsize=(7, 3.6))
  axes = figure.add_subplot()
  axes.scatter(ordered["trial"], values, s=18, color="#4c72b0", label="trial")
  axes.step(ordered["trial"], best, where="post", color="#c44e52", label="best so far")
  axes.set_xlabel("trial (Optuna's number)")
  axes.set_ylabel(f"{spec.metric} ({spec.select_on}, mean over seeds)")
  axes.legend(loc="lower right" if not spec.lower_is_better else "upper right")
  figure.tight_layout()
  return figure


def _summary(spec, url: str, trials: Sequence[optuna.trial.FrozenTrial]) -> str:
  states = pd.Series([t.state.name.lower() for t in trials]).value_counts()
  counts = ", ".join(f"{n} {state}" for state, n in states.items())
  return (f"Optuna's {spec.sampler} sampler (seed {spec.seed}) over "
          f"{', '.join(spec.space.distributions)}; a budget of {spec.num_trials} trials asked "
          f"{spec.batch_size} at a time, each batch trained as one run of every trial x seed "
          f"(batches/). Trials: {counts}. Storage: `{url}` (open it with "
          f"`optuna-dashboard {url}`). Trials are not pruned: the members of a program "
          "train together, so none stops early.")


def _best_trials(ranking: pd.DataFrame) -> pd.DataFrame:
  shown = ranking.head(SHOWN_TRIALS)
  fields = list(ranking.columns[len(results.RANKING_COLUMNS):])
  value = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
  return pd.DataFrame({
      "rank": shown["rank"], "trial": shown["model"],
      **{f: shown[f].map(value) for f in fields},
      "mean ± std": [render.mean_std(m, s, 4) for m, s in zip(shown["mean"], shown["std"])],
      "95% CI": [f"[{render.number(lo, 4)}, {render.number(hi, 4)}]"
                 for lo, hi in zip(shown["ci_low"], shown["ci_high"])],
      "seeds": shown["n"]})


def _selection_note(spec) -> str:
  if spec.select_on == "validation":
    return ("Ranked on a validation part held out of the training data; the test split "
            "judges the best trial's rerun below.")
  return "Ranked on the test split itself (study.select_on='test'): the winner is flattered."


def _best_blocks(spec, best: results.RunResult | None, best_label: str) -> list[render.Block]:
  if best is None:
    return [render.Paragraph("The best trial is rerun against the baselines once every "
                             "trial is done (study.rerun_best).")]
  rows = best.summary[best.summary["metric"] == spec.metric]
  table = pd.DataFrame({"model": rows["model"],
                        f"test {spec.metric}": [render.mean_std(m, s, 4) for m, s in
                                                zip(rows["mean"], rows["std"])],
                        "seeds": rows["n"]})
  pairs = best.comparison[best.comparison["metric"] == spec.metric]
  versus = pd.DataFrame({"model": pairs["model_a"], "against": pairs["model_b"],
                         "mean difference": [render.number(v, 4, sign=True)
                                             for v in pairs["mean_diff"]],
                         "95% CI": [f"[{render.number(lo, 4, True)}, {render.number(hi, 4, True)}]"
                                    for lo, hi in zip(pairs["ci_low"], pairs["ci_high"])],
                         "P(better)": pairs["p_improve"].map(lambda p: render.number(p, 2)),
                         "p": pairs["p_value"].map(lambda p: f"{p:.2g}")})
  return [render.Heading("The best trial, rerun"),
          render.Paragraph(f"best_config.py trained on the whole training data, on the same "
                           f"seeds, and tested beside the baselines "
                           f"(best/{best_label}/report.md)."),
          render.Table(table), render.Table(versus)]


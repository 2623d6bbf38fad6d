"""A run's result files, from its outcome and tables: the same for every task.

`write` puts everything in the workdir, seeds.csv last, since it marks a run
finished; `run_facts` is run.json: what the run was and what it took.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd

from research import malloc, results
from research.data.sources import RDATASETS_PREFIX
from research.registry import DATASETS
from research.rows import Outcome, Tables, distinct, predictions_of
from research.study import tables as study_tables
from research.tasks.base import Task

if TYPE_CHECKING:
  from research.pipeline import Variant
  from research.plan import Plan


def curves(trials: Sequence[Any], outputs: Mapping[int, Mapping[str, np.ndarray]]
           ) -> pd.DataFrame:
  """Per-epoch losses of every trial's main group, in long form (`CURVES_COLUMNS`)."""
  frames = []
  for trial in trials:
    count = len(trial.seeds)
    train_loss = outputs[trial.index]["train_loss"][:count]
    epochs = train_loss.shape[1]
    frames.append(pd.DataFrame(dict(zip(results.CURVES_COLUMNS, (
        trial.label, np.repeat(trial.seeds, epochs), np.tile(np.arange(1, epochs + 1), count),
        train_loss.ravel(), outputs[trial.index]["eval_loss"][:count].ravel())))))
  return pd.concat(frames, ignore_index=True)


def write(workdir: str, plan: "Plan", task: Task, variants: Mapping[int, "Variant"],
          outcome: Outcome, tables: Tables) -> None:
  """Every result file; seeds.csv last, since it marks the run finished."""
  path = lambda name: os.path.join(workdir, name)
  if tables.trials is not None:
    results.write_csv(path(results.TRIALS_FILE), tables.trials)
    results.write_csv(path(results.RANKING_FILE), tables.ranking)
    best = tables.ranking.iloc[0]
    source = study_tables.best_config_source(plan.trials[int(best["trial"])], best, workdir)
    results.write_atomic(path(results.BEST_CONFIG_FILE), lambda f: f.write(source))
  results.write_csv(path(results.CURVES_FILE), curves(plan.trials, outcome.outputs))
  # Every member's predictions would be huge for a large study: the best trial's.
  shown = [t for t in plan.trials
           if not len(tables.ranking) or t.label == tables.ranking["model"].iloc[0]]
  shown_variants = distinct(variants, shown)
  predictions = {t.label: (t.seeds, jax.tree_util.tree_map(
      lambda a: a[:len(t.seeds)], predictions_of(outcome.outputs[t.index]))) for t in shown}
  predictions.update({label: (plan.main_seeds, predictions_of(arrays))
                      for label, arrays in outcome.baselines.items()
                      if any(label.endswith(v.suffix) for v in shown_variants)})
  task.write_files(workdir, predictions, shown_variants[0].data)
  if len(tables.variance):
    results.write_csv(path(results.VARIANCE_MEMBERS_FILE), outcome.variance_members)
    results.write_csv(path(results.VARIANCE_FILE), tables.variance)
  if tables.period is not None:
    results.write_csv(path(results.PERIOD_FILE), tables.period)
  results.write_json(path(results.RUN_FILE), run_facts(plan, task, variants, outcome))
  results.write_csv(path(results.COMPARISON_FILE), tables.comparison)
  results.write_csv(path(results.SUMMARY_FILE), tables.summary)
  results.write_csv(path(results.SEEDS_FILE), tables.seeds)


def run_facts(plan: "Plan", task: Task, variants: Mapping[int, "Variant"],
              outcome: Outcome) -> dict[str, Any]:
  """run.json: what the run was and what it took."""
  import research  # pylint: disable=import-outside-toplevel  (the package's own version)
  return {
      "task": plan.task, "metrics": list(outcome.metrics),
      "lower_is_better": sorted(outcome.lower_is_better),
      "loss_name": task.loss_label(variants[plan.trials[0].index].data,
                                   plan.trials[0].train.loss or (task.losses or ("",))[0]),
      "compile_seconds": {b.label: outcome.compile_seconds[b.first.index] for b in plan.buckets},
      "train_seconds": {t.label: float(outcome.outputs[t.index]["seconds"].sum())
                        for t in plan.trials},
      # Trials padded into one program, or sharing one across their choices (the
      # activation), share its time: their train_seconds are the program's per
      # member, not their own network's.
      "padded_programs": {b.label: {"widths": list(b.padded_widths),
                                    "trials": [t.label for t in b.trials]}
                          for b in plan.buckets if b.width_field},
      "choice_programs": {b.label: {"choices": {f: list(names) for f, names in b.choices},
                                    "trials": [t.label for t in b.trials]}
                          for b in plan.buckets if b.choices},
      "chunk_size": plan.chunk_size, "programs": len(plan.buckets), "trials": len(plan.trials),
      "num_members": plan.num_members, "devices": [str(d) for d in jax.devices()],
      "groups": {g.source: len(g.seeds) for g in plan.trials[0].groups},
      "versions": {"research": research.__version__, **results.software_versions()},
      "malloc": malloc.in_use(),  # launch.py's (research.malloc); no effect on the numbers
      "data": task.describe(variants[plan.trials[0].index].data),
      "data_by_model": {t.label: task.describe(variants[t.index].data)
                        for t in _first_of_each_variant(plan, variants)},
      "attribution": attribution(plan.trials[0].data["name"])}


def _first_of_each_variant(plan: "Plan", variants: Mapping[int, "Variant"]) -> list[Any]:
  """The first trial of each data variant (none when there is a single one)."""
  seen, firsts = set(), []
  for trial in plan.trials:
    if id(variants[trial.index]) not in seen:
      seen.add(id(variants[trial.index]))
      firsts.append(trial)
  return firsts if len(firsts) > 1 else []


def attribution(name: str) -> str:
  """Where the data set `name` comes from and its licence ('' for a user's file)."""
  if isinstance(name, str) and name.startswith(RDATASETS_PREFIX):
    return f"{name[len(RDATASETS_PREFIX):]} from the rdatasets package (R data sets)"
  return DATASETS.info(name).attribution if name in DATASETS else ""

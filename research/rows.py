"""From a run's outputs to its tables, the same for every task.

`collect` turns the compiled runs' stacked arrays and the baselines' fits into
per-member rows (the task scores each member); `statistics` summarises and
compares them (and ranks a study's trials). `research.run_files` writes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
from absl import logging

from research import results, stats
from research.study import tables as study_tables
from research.tasks.base import Arrays, Task
from research.train.loop import LOOP_OUTPUTS

if TYPE_CHECKING:
  from research.pipeline import Variant
  from research.plan import Plan


@dataclasses.dataclass(frozen=True)
class Outcome:
  """Per-member results of a run, on the host.

  Attributes:
    seeds: one row per model × seed of the main group: every trial, then the
      baselines (seeds.csv before a per-seed search adds its selections).
    variance_members: every trial's rows of every member group, with the
      `source` each group varies (empty without a variance decomposition).
    outputs: each trial's arrays (predictions as the task gives them on the
      host, losses, divergence, seconds), all its members.
    baselines: each baseline's predictions by label, fitted ones first.
    fixed: the labels of baselines that are the same for every seed.
    compile_seconds: each trial's program's compile time.
    validation: in a study that selects on validation, each trial's main-group
      rows scored on the validation part (`model`, `seed`, the metrics).
    metrics: the metric columns (`Task.scores` of the run's data), headline first;
      `lower_is_better` those where lower is better.
  """
  seeds: pd.DataFrame
  variance_members: pd.DataFrame
  outputs: dict[int, dict[str, np.ndarray]]
  baselines: dict[str, Arrays]
  fixed: frozenset[str]
  compile_seconds: dict[int, float]
  validation: pd.DataFrame | None = None
  metrics: tuple[str, ...] = ()
  lower_is_better: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class Tables:
  """A run's statistics; `trials` and `ranking` only for a study (else None/empty);
  `period` only for tasks with fixed baselines (`Task.period_comparison`)."""
  seeds: pd.DataFrame
  summary: pd.DataFrame
  comparison: pd.DataFrame
  variance: pd.DataFrame
  ranking: pd.DataFrame
  trials: pd.DataFrame | None
  period: pd.DataFrame | None = None


def member_rows(label: str, seeds: np.ndarray, metrics: pd.DataFrame, seconds: Any,
                diverged: np.ndarray | None = None,
                diverged_epoch: np.ndarray | None = None) -> pd.DataFrame:
  """seeds.csv's rows of one model: model, seed, its metrics, time, divergence."""
  count = len(seeds)
  frame = pd.concat([pd.DataFrame({"model": label, "seed": np.asarray(seeds, np.int64)}),
                     metrics.reset_index(drop=True)], axis=1)
  return frame.assign(**dict(zip(results.MEMBER_COLUMNS, (
      np.broadcast_to(np.asarray(seconds, np.float64), (count,)),
      np.zeros(count, bool) if diverged is None else np.asarray(diverged, bool),
      np.full(count, -1, np.int64) if diverged_epoch is None
      else np.asarray(diverged_epoch, np.int64)))))


def collect(plan: "Plan", task: Task, variants: Mapping[int, "Variant"],
            done: Sequence[tuple[Mapping[str, np.ndarray], float]],
            fitted: Mapping[str, Arrays]) -> Outcome:
  """Scores every trial's members and every baseline (see `Outcome`)."""
  outputs, compile_seconds = {}, {}
  for bucket, (bucket_outputs, seconds) in zip(plan.buckets, done):
    outputs.update(bucket.per_trial(bucket_outputs))
    compile_seconds.update({t.index: seconds for t in bucket.trials})
  trial_rows, validation_rows = {}, []
  for trial in plan.trials:
    data, out = variants[trial.index].data, outputs[trial.index]
    predictions = task.host_predictions(predictions_of(out), data)
    outputs[trial.index] = {**out, **predictions}
    seeds = np.concatenate([g.seeds for g in trial.groups])
    trial_rows[trial.index] = member_rows(
        trial.label, seeds, task.metric_rows(predictions, data), out["seconds"],
        out["diverged"], out["diverged_epoch"])
    if plan.validation:
      validation_rows.append(member_rows(
          trial.label, seeds, task.metric_rows(predictions, data, part="val"), out["seconds"],
          out["diverged"], out["diverged_epoch"]).iloc[:len(trial.seeds)])
  baselines, baseline_rows, fixed_labels = {}, [], set()
  main_seeds = plan.main_seeds
  # The config's own data first: another variant's fixed baseline that forecasts
  # exactly the same (e.g. persistence, when only covariates differ) is not repeated.
  for variant in sorted(distinct(variants, plan.trials), key=lambda v: bool(v.suffix)):
    fixed = {name: arrays for name, arrays in task.fixed_baselines(variant.data).items()
             if not (variant.suffix and name in baselines and _same(baselines[name], arrays))}
    fixed_labels |= {name + variant.suffix for name in fixed}
    for label, arrays in [*((s.name + variant.suffix, fitted[s.name + variant.suffix])
                            for s in plan.baselines),
                          *((name + variant.suffix, arrays) for name, arrays in fixed.items())]:
      baselines[label] = arrays
      every_seed = jax.tree_util.tree_map(
          lambda a: np.broadcast_to(a, (len(main_seeds), *a.shape[1:])),
          {k: v for k, v in arrays.items() if k != "seconds"})
      baseline_rows.append(member_rows(label, main_seeds,
                                       task.metric_rows(every_seed, variant.data),
                                       arrays.get("seconds", 0.0)))
  seeds = pd.concat([trial_rows[t.index].iloc[:len(t.seeds)] for t in plan.trials] +
                    baseline_rows, ignore_index=True)
  variance_members = pd.concat([trial_rows[t.index].assign(source=np.concatenate(
      [[g.source] * len(g.seeds) for g in t.groups])) for t in plan.trials
      if len(t.groups) > 1], ignore_index=True) if len(plan.trials[0].groups) > 1 else (
          pd.DataFrame())
  return Outcome(seeds=seeds, variance_members=variance_members, outputs=outputs,
                 baselines=baselines, fixed=frozenset(fixed_labels),
                 compile_seconds=compile_seconds,
                 validation=pd.concat(validation_rows, ignore_index=True) if validation_rows
                 else None, **dict(zip(("metrics", "lower_is_better"),
                                       task.scores(variants[plan.trials[0].index].data))))


def _same(a: Arrays, b: Arrays) -> bool:
  """Whether two baselines made the same forecasts of the same examples."""
  return all(a[k].shape == b[k].shape and np.array_equal(a[k], b[k], equal_nan=True)
             for k in a.keys() & b.keys() if k != "seconds")


def distinct(variants: Mapping[int, "Variant"], trials: Sequence[Any]) -> list["Variant"]:
  """The data variants of `trials`, each once, in the trials' order."""
  return list({id(variants[t.index]): variants[t.index] for t in trials}.values())


def statistics(plan: "Plan", task: Task, variants: Mapping[int, "Variant"],
               outcome: Outcome) -> Tables:
  """Summary, paired comparisons, variance by source, tests over the test period;
  a study's trial table and ranking."""
  seed_table, lower, names = outcome.seeds, outcome.lower_is_better, outcome.metrics
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d of %d members diverged (non-finite loss or update) and are left "
                    "out of the statistics; see the diverged columns of seeds.csv",
                    num_diverged, len(seed_table))
  variance = (stats.variance_by_source(outcome.variance_members, names,
                                       total_source=plan.trials[0].groups[0].source)
              if len(outcome.variance_members) else pd.DataFrame(columns=results.VARIANCE_COLUMNS))
  if plan.study is None:
    return Tables(seeds=seed_table, summary=stats.summarize(seed_table, names, plan.seed),
                  comparison=stats.compare(seed_table, names, lower, seed=plan.seed),
                  variance=variance, ranking=pd.DataFrame(columns=results.RANKING_COLUMNS),
                  trials=None, period=period(plan, task, variants, outcome, plan.trials))
  metric, selection = plan.study.metric, outcome.validation
  trials = study_tables.trial_table(plan.trials, seed_table, selection, names)
  ranked_rows = seed_table if selection is None else selection
  if plan.study.search_per_seed:
    chosen = study_tables.best_per_seed(trials, metric, lower, seed_table.columns,
                                        on_validation=selection is not None)
    seed_table = pd.concat([seed_table, chosen], ignore_index=True)
  summary = stats.summarize(seed_table, names, seed=plan.seed)
  ranking = study_tables.ranking(
      plan.trials, stats.summarize(ranked_rows, [metric], seed=plan.seed), trials, metric,
      lower, outcome.compile_seconds, plan.study.select_on)
  best = study_tables.SEARCH_BEST if plan.study.search_per_seed else ranking["model"].iloc[0]
  chosen_trials = [t for t in plan.trials if t.label == ranking["model"].iloc[0]]
  return Tables(seeds=seed_table, summary=summary, variance=variance, ranking=ranking,
                comparison=stats.compare(seed_table, names, lower, seed=plan.seed,
                                         anchor=best), trials=trials,
                period=period(plan, task, variants, outcome, chosen_trials))


def period(plan: "Plan", task: Task, variants: Mapping[int, "Variant"], outcome: Outcome,
           trials: Sequence[Any]) -> pd.DataFrame | None:
  """`Task.period_comparison` of `trials` (their finished main-group members), each
  against the fixed baselines of its own data."""
  if not outcome.fixed or not trials:
    return None
  tables = []
  for variant in distinct(variants, trials):
    networks = {}
    for trial in [t for t in trials if variants[t.index] is variant]:
      out = outcome.outputs[trial.index]
      kept = ~out["diverged"][:len(trial.seeds)].astype(bool)
      if kept.any():
        networks[trial.label] = {k: v[:len(trial.seeds)][kept]
                                 for k, v in predictions_of(out).items()}
    # A baseline the config's own data shares is kept under its plain name.
    labels = [name + variant.suffix if name + variant.suffix in outcome.fixed else name
              for name in task.fixed_baselines(variant.data)]
    fixed = {label: outcome.baselines[label] for label in labels}
    if networks:
      tables.append(task.period_comparison(networks, fixed, variant.data, plan.seed))
  tables = [table for table in tables if table is not None]
  return pd.concat(tables, ignore_index=True) if tables else None


def predictions_of(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """A member's predictions: its outputs without the training loop's."""
  return {k: v for k, v in arrays.items() if k not in (*LOOP_OUTPUTS, "seconds")}

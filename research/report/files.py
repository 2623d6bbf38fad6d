"""A finished run's files, read back for the report: the report never sees training."""

from __future__ import annotations

import dataclasses
import json
import os

import pandas as pd

from research import results
from research.errors import UserError


@dataclasses.dataclass(frozen=True)
class RunFiles:
  """Everything a finished run wrote that a report shows; absent files are None."""
  workdir: str
  config: dict
  run: dict
  seeds: pd.DataFrame
  summary: pd.DataFrame
  comparison: pd.DataFrame
  curves: pd.DataFrame | None
  predictions: pd.DataFrame | None
  forecasts: pd.DataFrame | None
  variance: pd.DataFrame | None
  trials: pd.DataFrame | None  # studies only: one row per trial x seed
  period: pd.DataFrame | None = None  # forecasts against fixed baselines, over the test period

  @property
  def task(self) -> str:
    return self.config.get("task", "classification")

  @property
  def metrics(self) -> tuple[str, ...]:
    """The task's metrics, the headline first (from run.json)."""
    return tuple(self.run["metrics"])

  @property
  def lower_is_better(self) -> frozenset[str]:
    return frozenset(self.run["lower_is_better"])

  @property
  def headline(self) -> str:
    """The metric the run is judged by first: the box plot, the headline table."""
    return self.metrics[0]

  @property
  def held_out(self) -> str:
    """What the metrics are computed on, in words."""
    return "test period" if self.forecasts is not None else "held-out test split"

  @property
  def models(self) -> list[str]:
    """Model labels in the order the run wrote them: networks first, then baselines."""
    return list(dict.fromkeys(self.seeds["model"]))

  @property
  def networks(self) -> list[str]:
    """The models that trained by epochs (they have loss curves); the rest are baselines."""
    trained = set(self.curves["model"]) if self.curves is not None else set()
    return [m for m in self.models if m in trained]

  def kept_seeds(self) -> pd.DataFrame:
    """seeds.csv without the diverged members, as the statistics saw it."""
    return self.seeds[~self.seeds["diverged"].astype(bool)]

  def path(self, name: str) -> str:
    return os.path.join(self.workdir, name)


def read_run(workdir: str) -> RunFiles:
  """The files of the finished run in `workdir`.

  Raises:
    UserError: `workdir` is not a folder holding a finished run.
  """
  if not os.path.isdir(workdir):
    raise UserError(f"{workdir} is not a folder; pass the --workdir of a finished run")
  for name in (results.CONFIG_FILE, results.SEEDS_FILE, results.SUMMARY_FILE):
    if not os.path.exists(os.path.join(workdir, name)):
      raise UserError(f"{workdir} holds no finished run ({name} is missing); pass the "
                      "--workdir of a run that has ended")
  path = lambda name: os.path.join(workdir, name)
  optional = lambda name: pd.read_csv(path(name)) if os.path.exists(path(name)) else None
  try:
    with open(path(results.CONFIG_FILE)) as file:
      config = json.load(file)
    run = {}
    if os.path.exists(path(results.RUN_FILE)):
      with open(path(results.RUN_FILE)) as file:
        run = json.load(file)
    files = RunFiles(
        workdir=workdir, config=config, run=_with_metrics(run, config),
        seeds=pd.read_csv(path(results.SEEDS_FILE)),
        summary=pd.read_csv(path(results.SUMMARY_FILE)),
        comparison=optional(results.COMPARISON_FILE),
        curves=optional(results.CURVES_FILE), predictions=optional(results.PREDICTIONS_FILE),
        forecasts=optional(results.FORECASTS_FILE), variance=optional(results.VARIANCE_FILE),
        trials=optional(results.TRIALS_FILE), period=optional(results.PERIOD_FILE))
  except (ValueError, pd.errors.ParserError) as e:
    raise UserError(f"{workdir} holds a damaged file: {' '.join(str(e).split())}") from e
  missing = {"model", "seed", "diverged", files.headline} - set(files.seeds.columns)
  if missing:
    raise UserError(f"{workdir}: {results.SEEDS_FILE} lacks columns {sorted(missing)}")
  return files


def _with_metrics(run: dict, config: dict) -> dict:
  """run.json, with the task's metrics looked up for runs written before it held them."""
  if "metrics" in run:
    return run
  from research.tasks import get_task  # pylint: disable=import-outside-toplevel
  task = get_task(config.get("task", "classification"))
  return {**run, "metrics": list(task.metrics), "lower_is_better": sorted(task.lower_is_better),
          "loss_name": task.loss_name}

"""From a config to a frozen plan: every check that needs no data, then what the run does.

`make_plan(config)` refuses a bad config with one `UserError` line and
otherwise returns a `Plan`: immutable, typed, and complete (the task, every
trial with its model, optimizer, training and data settings and its members'
seeds, the compiled programs, the baselines, the study). Everything below it
takes the fields it uses; nothing reads the config again.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import types
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

import research.baselines  # noqa: F401  (registers the baselines a plan may name)
import research.models  # noqa: F401  (registers the models)
from research import checks, results, seeding
from research.errors import UserError
from research.optim import OptimizerSpec
from research.registry import MODELS
from research.study import buckets as study_buckets
from research.study import space
from research.study.spec import StudySpec, study_spec
from research.tasks import Task, get_task
from research.train import strategies
from research.trees import tuples

def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
  """A read-only view of a copy of `mapping`."""
  return types.MappingProxyType(dict(mapping))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A model of the run: its label in tables, its `MODELS` name and its fields."""
  label: str
  name: str
  fields: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class TrainSpec:
  """How a trial trains: epochs, the minibatch size (0: full batch), the loss
  ('' for the task's only or default one; `huber_delta` for 'huber'), and how
  often the held-out loss is recorded (every `eval_every` epochs, and the last)."""
  epochs: int
  batch_size: int
  loss: str = ""
  huber_delta: float = 1.0
  eval_every: int = 1


@dataclasses.dataclass(frozen=True)
class BaselineSpec:
  """A `BASELINES` entry and its fields from `config.baselines.<name>`."""
  name: str
  options: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Trial:
  """One point of the study, trained on its seeds (the whole run, without a study).

  Attributes:
    index: position in the study (0, 1, ...).
    label: its name in tables and figures.
    values: the config fields the study set, `{dotted field: value}`.
    model, optimizer, train, data: its settings; `data` is the config's data section.
    groups: its members; the first is the main group, any others vary one
      source each for the variance decomposition.
    config_json: its whole config (no study, one model) as JSON: what
      `best_config.py` writes.
  """
  index: int
  label: str
  values: Mapping[str, Any]
  model: ModelSpec
  optimizer: OptimizerSpec
  train: TrainSpec
  data: Mapping[str, Any]
  groups: tuple[seeding.MemberGroup, ...]
  config_json: str

  @property
  def seeds(self) -> np.ndarray:
    """Seeds of the main group's members."""
    return self.groups[0].seeds

  @property
  def num_members(self) -> int:
    return sum(len(g.seeds) for g in self.groups)

  def config_dict(self) -> dict[str, Any]:
    """Its config as a plain dict, with tuples where the config file had them."""
    return json.loads(self.config_json, object_hook=lambda d: {k: tuples(v) for k, v in d.items()})

  @property
  def data_key(self) -> str:
    """Trials with the same key share one loaded data set."""
    return json.dumps(dict(self.data), sort_keys=True, default=str)


@dataclasses.dataclass(frozen=True)
class Plan:
  """Everything a run will do, decided before any data is loaded.

  Attributes:
    task: the `TASKS` name.
    seed, num_seeds, vary: the members' seeds and the sources that vary.
    trials: every trial; `buckets`: the compiled programs that train them.
    baselines: the classical models fitted beside the networks.
    study: the grid or search, or None for a plain run.
    validation: the share of the training data held out to select a study's
      trial on (0 without a study, or one that selects on test).
    chunk_size: members per saved chunk (0: one chunk per program).
    strategy, vmap_size: how members share a device (`research.train.strategies`).
    progress, report: show progress lines; write the report at the end.
    estimate_time: time one epoch of each program before training, and say how
      long the run will take.
    config: the resolved config, as `config.json` holds it.
    devices: the devices the members are sharded over.
    files: the result files the run writes (the report's too, if it writes one);
      it is finished when they all exist.
  """
  task: str
  seed: int
  num_seeds: int
  vary: tuple[str, ...]
  trials: tuple[Trial, ...]
  buckets: tuple[study_buckets.Bucket, ...]
  baselines: tuple[BaselineSpec, ...]
  study: StudySpec | None
  validation: float
  chunk_size: int
  strategy: str
  vmap_size: int
  progress: bool
  report: bool
  config: Mapping[str, Any]
  estimate_time: bool = False
  devices: tuple[str, ...] = ()
  files: tuple[str, ...] = ()

  @property
  def main_seeds(self) -> np.ndarray:
    return seeding.member_seeds(self.seed, self.num_seeds)

  @property
  def num_members(self) -> int:
    return sum(trial.num_members for trial in self.trials)


def make_plan(config: ml_collections.ConfigDict) -> Plan:
  """Checks `config` and returns its plan.

  Raises:
    UserError: the first problem found, naming the field and the fix.
  """
  if config.get("study") and config.study.get("sampler"):
    raise UserError("study.sampler asks for an Optuna search, which runs batch by batch: "
                    "run it with launch.py (research.search.run_search), not as one plan")
  task = get_task(config.get("task", "classification"))
  checks.check_fields(config, task)
  variance = config.get("variance") or ml_collections.ConfigDict()
  sources, extra = tuple(variance.get("sources", ())), variance.get("num_seeds", 0)
  groups = seeding.member_groups(config.seed, config.num_seeds, config.vary, sources, extra)
  points = space.expand(config)
  in_study = space.has_study(config)
  if in_study and sources:
    logging.warning("variance.sources is ignored in a study: the decomposition is for "
                    "the models of a plain run (run best_config.py with it)")
  trials = tuple(_trial(index, point, groups if not in_study else
                        [dataclasses.replace(groups[0], seeds=point.seeds)], task)
                 for index, point in enumerate(points))
  study = study_spec(config, task) if in_study else None
  report = bool(config.get("report", True))
  files = (*results.RUN_FILES, *task.files, *(results.STUDY_FILES if study else ()),
           *(results.VARIANCE_FILES if len(trials[0].groups) > 1 else ()),
           *(results.REPORT_FILES if report else ()))
  return Plan(
      task=config.get("task", "classification"), seed=config.seed, num_seeds=config.num_seeds,
      vary=tuple(config.vary), trials=trials,
      buckets=tuple(study_buckets.buckets(trials, study is not None and study.pad_widths,
                                          study is not None and study.share_choices)),
      baselines=tuple(BaselineSpec(name, frozen(options))
                      for name, options in checks.check_baselines(config)),
      study=study, validation=study.validation if study else 0.0, chunk_size=config.chunk_size,
      strategy=strategies.resolve(config.train.members, task.model_input),
      vmap_size=config.train.vmap_size, progress=bool(config.get("progress", True)),
      report=report, config=frozen(config.to_dict()),
      estimate_time=bool(config.get("estimate_time", False)),
      devices=tuple(str(d) for d in jax.devices()), files=tuple(dict.fromkeys(files)))


def _trial(index: int, point: space.Point, groups: Sequence[seeding.MemberGroup],
           task: Task) -> Trial:
  config = point.config
  (label, fields), = space.model_sections(config).items()
  fields = dict(fields)
  name = fields.pop("name")
  if not isinstance(name, str):
    raise UserError(f"the model's name must be a string, got {name!r}")
  declared = MODELS.info(name).input
  if declared != task.model_input:
    fitting = ", ".join(MODELS.names(input=task.model_input))
    what = ("is a recurrent sequence model" if declared == "sequence"
            else f"is not a {task.model_input} model")
    raise UserError(f"model {name!r} {what}; this task needs a {task.model_input} model: "
                    f"{fitting}")
  return Trial(index=index, label=point.label, values=frozen(point.values),
               model=ModelSpec(label=label, name=name, fields=frozen(fields)),
               optimizer=OptimizerSpec.from_fields(config.optimizer.to_dict()),
               train=_train_spec(config.train, task),
               data=frozen(config.data.to_dict()), groups=tuple(groups),
               config_json=json.dumps(config.to_dict(), sort_keys=True, default=str))


def _train_spec(train: ml_collections.ConfigDict, task: Task) -> TrainSpec:
  loss = train.get("loss", "")
  if loss and loss not in task.losses:
    choices = f"one of {', '.join(task.losses)}" if task.losses else "left empty: it has one"
    raise UserError(f"train.loss={loss!r} is not a loss of this task; it must be {choices}")
  delta = train.get("huber_delta", 1.0)
  if not (isinstance(delta, (int, float)) and delta > 0):
    raise UserError(f"train.huber_delta must be > 0, got {delta!r}")
  return TrainSpec(epochs=train.epochs, batch_size=train.batch_size, loss=loss,
                   huber_delta=float(delta), eval_every=eval_every(train))


# A held-out loss curve keeps the shape of training with this many points.
CURVE_POINTS = 20


def eval_every(train: ml_collections.ConfigDict) -> int:
  """`train.eval_every`, or (0, the default) every epoch up to `CURVE_POINTS`
  epochs and then often enough for that many points."""
  every = train.get("eval_every", 0)
  if isinstance(every, bool) or not isinstance(every, int) or every < 0:
    raise UserError(f"train.eval_every must be a whole number of epochs (0: automatic), got "
                    f"{every!r}")
  return every or max(1, -(-train.epochs // CURVE_POINTS))


def sibling_config(config_file: str, name: str, variant: str | None = None
                   ) -> ml_collections.ConfigDict:
  """`get_config()` (or `get_config(variant)`) of the config file `name` beside
  `config_file` (a config's `__file__`): for configs that extend another."""
  path = os.path.join(os.path.dirname(os.path.abspath(config_file)), name)
  spec = importlib.util.spec_from_file_location(os.path.splitext(name)[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config() if variant is None else module.get_config(variant)

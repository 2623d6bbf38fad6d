"""The task interface: what differs between kinds of study, and nothing else.

`research.pipeline.run_study` runs every stage the same way for every task:
checks, plan, data, compiled programs over members, rows, baselines,
statistics, files, report. A task fills in the parts that depend on what is
learned. Register an instance, from `plugins/` for your own:

    @TASKS.register("regression")
    class Regression(Task): ...       # the class is instantiated once on registration

A config selects it with `config.task = "regression"`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import pandas as pd

from research.errors import UserError
from research.registry import MODELS
from research.train.loop import Problem

Arrays = dict[str, np.ndarray]  # output name -> array with the member axis first


@dataclasses.dataclass(frozen=True)
class BaselineMembers:
  """The members a baseline is fitted for: those of the main group.

  Attributes:
    seeds: `[members]` their seeds.
    random_states: `[members]` the estimator's `random_state` for each: its
      seed when `init` varies across members, else the base seed.
    split_keys: `[members]` each member's `split` key, for tasks that draw a
      split per member (classification); the networks draw the same split.
  """
  seeds: np.ndarray
  random_states: np.ndarray
  split_keys: jax.Array


class Task(abc.ABC):
  """A kind of study: its data, loss, predictions, metrics, baselines and files.

  Attributes:
    metrics: the metrics of a member, as columns of seeds.csv; the first is
      the headline (tables, figures, the default study metric).
    lower_is_better: those of `metrics` where lower is better.
    model_input: the models it trains declare this input ('tabular' or
      'sequence'; see `research.registry.ModelInfo`).
    data_fields: numeric fields the config's `data` section must have, with
      their type (e.g. `{'test_fraction': float}`), checked before anything runs.
    losses: the training losses `train.loss` may name (the first is the
      default); empty: the task has one loss, and `problem` takes no `loss`.
    loss_name: what the training and held-out losses are, for figure labels.
    files: the files `write_files` (and `period_comparison`) write; a run is
      finished only when they exist, and a missing one is rebuilt.
  """
  metrics: tuple[str, ...] = ()
  lower_is_better: frozenset[str] = frozenset()
  model_input: str = "tabular"
  data_fields: Mapping[str, type] = {}
  losses: tuple[str, ...] = ()
  loss_name: str = "loss"
  files: tuple[str, ...] = ()

  def scores(self, data: Any) -> tuple[tuple[str, ...], frozenset[str]]:
    """The metric columns `metric_rows` gives for this data (the headline first), and
    those where lower is better (default: `metrics` and `lower_is_better`)."""
    del data
    return self.metrics, self.lower_is_better

  @abc.abstractmethod
  def load(self, data: Mapping[str, Any], validation: float = 0.0) -> Any:
    """The data described by the config's `data` section, prepared on the host once.

    With `validation` > 0 (a study that selects on validation), that share of
    the training part is held out: the networks and the baselines train on the
    rest, and the networks also predict the held-out part (`val_*` outputs,
    scored by `metric_rows(..., part='val')`). A task that cannot hold out a
    part may refuse with a `UserError`.

    Raises:
      UserError: anything wrong with the data, naming the column or field.
    """

  @abc.abstractmethod
  def describe(self, data: Any) -> dict[str, Any]:
    """Facts about the loaded data for run.json and the report (plain JSON values)."""

  def build_model(self, name: str, fields: Mapping[str, Any], data: Any) -> nn.Module:
    """The model called `name` with the config's `fields` (override to add shapes)."""
    del data
    try:
      return MODELS.get(name)(**fields)
    except TypeError as e:
      raise UserError(f"model {name!r}: {e}; fix its config fields") from None

  @abc.abstractmethod
  def problem(self, data: Any) -> Problem:
    """What the training loop needs: member data, loss, predictions (`Problem`).

    A task with `losses` also takes `loss` (one of them) and `huber_delta`.
    """

  def loss_label(self, data: Any, loss: str) -> str:
    """The training loss in words, for figures (default: `loss_name`)."""
    del data, loss
    return self.loss_name

  def host_predictions(self, predictions: Arrays, data: Any) -> Arrays:
    """The compiled run's predictions as the metrics and files take them (e.g.
    in data units); the same form as a baseline's `fit_baseline` outputs."""
    del data
    return predictions

  @abc.abstractmethod
  def metric_rows(self, predictions: Arrays, data: Any, part: str = "test") -> pd.DataFrame:
    """One row per member: a column per name in `metrics`, on the test part or (`part`
    'val') on the validation part."""

  @abc.abstractmethod
  def fit_baseline(self, name: str, options: Mapping[str, Any], data: Any,
                   members: BaselineMembers) -> Arrays:
    """Fits the `BASELINES` entry `name` for every member on the networks' training
    data; its predictions as `host_predictions` gives them, plus `seconds`
    (`[members]` fit times)."""

  def fixed_baselines(self, data: Any) -> dict[str, Arrays]:
    """Baselines that need no fitting (e.g. persistence), by name: predictions for
    one member, the same for every seed."""
    del data
    return {}

  def period_comparison(self, networks: Mapping[str, Arrays], fixed: Mapping[str, Arrays],
                        data: Any, seed: int) -> pd.DataFrame | None:
    """Networks against the `fixed_baselines`, tested across the test period.

    A baseline that is the same for every seed varies only with the test
    period, so a comparison paired by seed shows only the network's spread;
    this one tests what else varies (`results.PERIOD_COLUMNS`). `networks`
    holds each network's predictions for its finished members. None: the task
    has no such baselines.
    """
    del networks, fixed, data, seed
    return None

  @abc.abstractmethod
  def write_files(self, workdir: str, predictions: Mapping[str, tuple[np.ndarray, Arrays]],
                  data: Any) -> None:
    """The task's own files (e.g. predictions.csv) from `{label: (seeds, predictions)}`
    of the models to show: the best trial, or every model, and the baselines."""

"""What a study (a grid, a random search or an Optuna search) ranks on and how."""

from __future__ import annotations

import dataclasses

import ml_collections

from research.errors import UserError
from research.tasks import Task

SELECT_ON = ("validation", "test")


@dataclasses.dataclass(frozen=True)
class StudySpec:
  """A grid or search.

  Attributes:
    metric: the metric trials are ranked by.
    search_per_seed: each seed runs its own search.
    select_on: 'validation' (a part held out of the training data, so the test
      split judges only the chosen trial) or 'test' (the old, optimistic way).
    validation_fraction: the share of the training data held out to select on.
    pad_widths: trials differing only in layer widths share one program, padded
      to their widest (`research.study.buckets`).
    share_choices: trials differing only in a model's choice fields (the
      activation) share one program that computes each choice and selects a
      member's own: half the compilations for two activations, a little more
      training, the same results bit for bit.
  """
  metric: str
  search_per_seed: bool
  select_on: str = "validation"
  validation_fraction: float = 0.2
  pad_widths: bool = False
  share_choices: bool = True

  @property
  def validation(self) -> float:
    """The share of the training data the networks do not train on (0: none)."""
    return self.validation_fraction if self.select_on == "validation" else 0.0


def study_spec(config: ml_collections.ConfigDict, task: Task) -> StudySpec:
  """`config.study`'s ranking metric, how it selects and how it groups trials, checked.

  Raises:
    UserError: a bad field, named with its fix.
  """
  section = config.study
  metric = (section.get("metric") or "") or task.metrics[0]
  if metric not in task.metrics:
    raise UserError(f"study.metric must be one of {', '.join(task.metrics)}, got {metric!r}")
  select_on = section.get("select_on", "validation")
  if select_on not in SELECT_ON:
    raise UserError(f"study.select_on must be one of {', '.join(SELECT_ON)}, got {select_on!r}")
  fraction = section.get("validation_fraction", 0.2)
  if select_on == "validation" and not (isinstance(fraction, float) and 0 < fraction < 1):
    raise UserError(f"study.validation_fraction must be between 0 and 1, got {fraction!r}")
  switches = {name: section.get(name, default)
              for name, default in (("pad_widths", False), ("share_choices", True))}
  for name, value in switches.items():
    if not isinstance(value, bool):
      raise UserError(f"study.{name} must be True or False, got {value!r}")
  return StudySpec(metric=metric, search_per_seed=bool(section.get("search_per_seed")),
                   select_on=select_on, validation_fraction=float(fraction), **switches)

"""Checks of a config's fields, each failing with one line that names the field and the fix.

`research.plan.make_plan` runs them before it builds anything.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import ml_collections

from research import seeding
from research.errors import UserError
from research.registry import BASELINES
from research.tasks import Task
from research.train import strategies
from research.trees import leaves

# field -> (type, lowest allowed value); bool is rejected where int is asked.
COMMON_FIELDS = {
    "num_seeds": (int, 1),
    "seed": (int, 0),
    "chunk_size": (int, 0),
    "train.epochs": (int, 1),
    "train.batch_size": (int, 0),
    "train.vmap_size": (int, 1),
}


def _lookup(config: ml_collections.ConfigDict, dotted: str) -> Any:
  value = config
  for part in dotted.split("."):
    if part not in value:
      raise UserError(f"config has no field {dotted!r}; add it to the config file "
                      f"(see configs/credit.py)")
    value = value[part]
  return value


def _check_finite(config: ml_collections.ConfigDict) -> None:
  """Refuses NaN and infinity in any field (a learning rate of inf would run and diverge)."""
  for path, value in leaves(config.to_dict()).items():
    numbers = value if isinstance(value, (tuple, list)) else (value,)
    for number in numbers:
      if isinstance(number, float) and not math.isfinite(number):
        raise UserError(f"{path} must be a finite number, got {value!r}; e.g. "
                        f"--config.{path}=0.01")


def check_fields(config: ml_collections.ConfigDict, task: Task) -> None:
  """Types and ranges of the fields every run needs, and its names and sources."""
  _check_finite(config)
  fields = {**COMMON_FIELDS, **{f"data.{name}": (kind, None)
                                for name, kind in task.data_fields.items()}}
  for dotted, (kind, lowest) in fields.items():
    value = _lookup(config, dotted)
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
      raise UserError(f"{dotted} must be {'a number' if kind is float else 'an integer'}, "
                      f"got {value!r}; e.g. --config.{dotted}=" + ("0.25" if kind is float else "8"))
    if lowest is not None and value < lowest:
      raise UserError(f"{dotted} must be at least {lowest}, got {value}")
  if (2**31 - 1) - config.seed < config.num_seeds:
    raise UserError(f"seed + num_seeds must stay below 2**31, got seed={config.seed}")
  for dotted in ("data.name", "optimizer.name"):
    if not isinstance(_lookup(config, dotted), str):
      raise UserError(f"{dotted} must be a string, got {_lookup(config, dotted)!r}")
  if "models" in config and "model" in config:
    raise UserError("the config has both model and models; keep one (models for several)")
  if "models" in config:
    models = config.models
    if not isinstance(models, ml_collections.ConfigDict) or not models:
      raise UserError("models must name at least one model: models.<label>.name = 'lstm'")
    for label, fields in models.items():
      if not isinstance(fields, ml_collections.ConfigDict) or "name" not in fields:
        raise UserError(f"models.{label} needs a 'name' field naming a registered model")
  elif not isinstance(_lookup(config, "model.name"), str):
    raise UserError(f"model.name must be a string, got {config.model.name!r}")
  seeding.check_vary(_lookup(config, "vary"))
  strategies.resolve(_lookup(config, "train.members"), task.model_input)


def check_baselines(config: ml_collections.ConfigDict) -> list[tuple[str, dict[str, Any]]]:
  """`config.baselines.names` with their fields, each checked against its factory."""
  section = config.get("baselines") or ml_collections.ConfigDict()
  names = section.get("names", ())
  if isinstance(names, str):
    raise UserError(f"baselines.names must be a tuple of names, got the string {names!r}")
  task_name = config.get("task", "classification")
  specs = []
  for name in names:
    factory = BASELINES.get(name)
    if BASELINES.info(name).task != task_name:
      fitting = ", ".join(BASELINES.names(task=task_name))
      raise UserError(f"baseline {name!r} is not for {task_name}; use one of {fitting}")
    options = section[name].to_dict() if isinstance(section.get(name),
                                                    ml_collections.ConfigDict) else {}
    accepted = [p for p in inspect.signature(factory).parameters if p != "random_state"]
    for field in options:
      if field not in accepted:
        raise UserError(f"baseline {name!r} takes no field {field!r}; its fields are "
                        f"{', '.join(accepted)}")
    specs.append((name, options))
  return specs

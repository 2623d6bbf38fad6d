"""Checks on a config before anything runs, each failing with one clear line."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import ml_collections

from research import members, seeding
from research.errors import UserError

TASKS = ("classification", "forecast")

# field -> (type, lowest allowed value); bool is rejected where int is asked.
_COMMON = {
    "num_seeds": (int, 1),
    "seed": (int, 0),
    "chunk_size": (int, 0),
    "train.epochs": (int, 1),
    "train.batch_size": (int, 0),
    "train.vmap_size": (int, 1),
}
_TASK = {
    "classification": {"data.test_fraction": (float, None)},
    "forecast": {"data.train_fraction": (float, None)},
}
_NAMES = {"classification": ("data.name", "model.name", "optimizer.name"),
          "forecast": ("data.name", "optimizer.name")}


def _lookup(config: ml_collections.ConfigDict, dotted: str) -> Any:
  value = config
  for part in dotted.split("."):
    if part not in value:
      raise UserError(f"config has no field {dotted!r}; add it to the config file "
                      f"(see configs/credit.py)")
    value = value[part]
  return value


def task_of(config: ml_collections.ConfigDict) -> str:
  """The config's task: 'classification' (the default) or 'forecast'."""
  task = config.get("task", "classification")
  if task not in TASKS:
    raise UserError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
  return task


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises `UserError` for a missing field or a value of the wrong type or range."""
  task = task_of(config)
  for dotted, (kind, lowest) in {**_COMMON, **_TASK[task]}.items():
    value = _lookup(config, dotted)
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
      raise UserError(f"{dotted} must be {'a number' if kind is float else 'an integer'}, "
                      f"got {value!r}; e.g. --config.{dotted}=" + ("0.25" if kind is float else "8"))
    if lowest is not None and value < lowest:
      raise UserError(f"{dotted} must be at least {lowest}, got {value}")
  if (2**31 - 1) - config.seed < config.num_seeds:
    raise UserError(f"seed + num_seeds must stay below 2**31, got seed={config.seed}")
  for dotted in _NAMES[task]:
    if not isinstance(_lookup(config, dotted), str):
      raise UserError(f"{dotted} must be a string, got {_lookup(config, dotted)!r}")
  if task == "forecast":
    models = _lookup(config, "models")
    if not isinstance(models, ml_collections.ConfigDict) or not models:
      raise UserError("models must name at least one model: models.<label>.name = 'lstm'")
    for label, fields in models.items():
      if not isinstance(fields, ml_collections.ConfigDict) or "name" not in fields:
        raise UserError(f"models.{label} needs a 'name' field naming a registered model")
  seeding.check_vary(_lookup(config, "vary"))
  members.resolve(_lookup(config, "train.members"), sequence_model=task == "forecast")


def sibling_config(config_file: str, name: str) -> ml_collections.ConfigDict:
  """`get_config()` of the config file `name` beside `config_file` (a config's `__file__`).

  For configs that extend another, e.g. a study over configs/credit.py.
  """
  path = os.path.join(os.path.dirname(os.path.abspath(config_file)), name)
  spec = importlib.util.spec_from_file_location(os.path.splitext(name)[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()

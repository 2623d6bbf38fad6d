"""A study's space: grids and random searches expanded into points.

A point is one set of values for some config fields; it becomes a trial (see
`research.plan`) that trains on every seed, so a member is one (trial, seed)
pair. The study is `config.study`:

  study.grid.<section>.<field> = (value, value, ...)   crossed with each other
  study.search.<section>.<field> = ('loguniform', low, high) | ('uniform', low, high)
                                   | ('randint', low, high) | ('choice', (a, b, ...))
  study.num_trials, study.seed     random search: how many points, sampled from this seed
  study.search_per_seed            sample a fresh search for every seed (see `expand`)
  study.points = ((label, {field: value, ...}), ...)   explicit points, each a trial with
                                   that label (what a search's batches are: research.search)
  study.metric                     the metric trials are ranked by

Sections are model, optimizer, data and train. A value for a whole section (a
dict) replaces it, e.g. `grid.optimizer = (dict(name='sgd', learning_rate=1e-2), ...)`.
A config with several `models` has one more axis: each point trains one of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import pprint
from collections.abc import Mapping
from typing import Any

import ml_collections
import numpy as np

from research import seeding
from research.errors import UserError
from research.trees import leaves

SECTIONS = ("model", "optimizer", "data", "train")
SEARCH_KINDS = ("loguniform", "uniform", "randint", "choice")
MODELS_AXIS = "models"  # the value of a point's model label, with several models


@dataclasses.dataclass(frozen=True)
class Point:
  """One point of the study space.

  Attributes:
    label: a name for tables and figures: the model's label without a study,
      the varied values for a grid point, `trial-<index>` for a sampled one.
    values: `{dotted field: value}` (`models`: the label of the model it trains).
    config: the config with `values` applied, no study and one model: a config
      that `launch.py` runs as it is.
    seeds: the seeds it trains on (all of them; one with `search_per_seed`).
  """
  label: str
  values: Mapping[str, Any]
  config: ml_collections.ConfigDict
  seeds: np.ndarray


def is_search(config: ml_collections.ConfigDict) -> bool:
  """Whether `config` asks for an Optuna search (`study.sampler` set)."""
  study = config.get("study")
  return bool(study) and bool(study.get("sampler"))


def has_study(config: ml_collections.ConfigDict) -> bool:
  """Whether `config.study` asks for a grid or a random search."""
  study = config.get("study")
  return bool(study) and bool(leaves(study.get("grid") or {}) or
                              leaves(study.get("search") or {}) or study.get("points"))


def model_sections(config: ml_collections.ConfigDict) -> dict[str, dict[str, Any]]:
  """The config's models by label: `models.<label>`, or `model` under its own name."""
  if "models" in config:
    return {label: fields.to_dict() for label, fields in config.models.items()}
  return {config.model.name: config.model.to_dict()}


def expand(config: ml_collections.ConfigDict) -> list[Point]:
  """The study's points, in a fixed order (grid points, then sampled points).

  Without a study there is one point per model. With `study.search_per_seed`
  the search is sampled anew for every seed (from `study.seed` and that seed)
  and each of its points trains on that seed alone, so the spread of the best
  point across seeds includes the search.
  """
  study = config.get("study") or ml_collections.ConfigDict()
  grid, search = leaves(study.get("grid") or {}), leaves(study.get("search") or {})
  check_space(config, grid, search)
  models = tuple(config.models) if "models" in config else ()
  axes = [[(MODELS_AXIS, label)] for label in models] if len(models) > 1 else [[]]
  grid_points = [dict(head + list(point)) for head in axes for point in itertools.product(
      *[[(path, v) for v in values] for path, values in grid.items()])]
  base_seeds = seeding.member_seeds(config.seed, config.num_seeds)
  if study.get("points"):
    return _explicit_points(config, study.points, grid or search, base_seeds, models)
  if not search:
    chosen = [(values, base_seeds) for values in grid_points]
  else:
    num_trials = study.get("num_trials", 0)
    if isinstance(num_trials, bool) or not isinstance(num_trials, int) or num_trials < 1:
      raise UserError(f"study.num_trials must be a positive integer, got {num_trials!r}")
    streams = ([(seed, np.random.default_rng([study.get("seed", 0), int(seed)]))
                for seed in base_seeds] if study.get("search_per_seed", False)
               else [(None, np.random.default_rng(study.get("seed", 0)))])
    chosen = [({**values, **sample(search, rng)},
               base_seeds if seed is None else np.array([seed]))
              for seed, rng in streams for _ in range(num_trials) for values in grid_points]
  points = []
  for index, (values, seeds) in enumerate(chosen):
    point_config = apply_values(config, values, models[0] if models else None)
    points.append(Point(label=_label(index, values, search, point_config), values=values,
                        config=point_config, seeds=seeds))
  return points


def _explicit_points(config: ml_collections.ConfigDict, points, other, seeds: np.ndarray,
                     models: tuple[str, ...]) -> list[Point]:
  """`study.points`, checked, in their order, each on every seed."""
  if other:
    raise UserError("study.points lists the trials itself; leave study.grid and study.search "
                    "empty beside it")
  usage = "study.points must be a tuple of (label, {field: value}) pairs"
  if not isinstance(points, (tuple, list)) or not all(
      isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str)
      and isinstance(p[1], Mapping) for p in points):
    raise UserError(f"{usage}, got {points!r}")
  labels = [label for label, _ in points]
  if len(set(labels)) != len(labels):
    raise UserError(f"{usage} with distinct labels; {labels!r} repeats one")
  for _, values in points:
    for path in values:
      if path != MODELS_AXIS:
        _check_path(config, path, "study.points")
  return [Point(label=label, values=dict(values),
                config=apply_values(config, values, models[0] if models else None), seeds=seeds)
          for label, values in points]


def sample(search: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
  """One point of the search space, fields drawn in sorted order from `rng`."""
  point = {}
  for path in sorted(search):
    kind, *args = search[path]
    if kind == "loguniform":
      point[path] = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    elif kind == "uniform":
      point[path] = float(rng.uniform(args[0], args[1]))
    elif kind == "randint":  # both ends included
      point[path] = int(rng.integers(args[0], args[1], endpoint=True))
    else:
      point[path] = args[0][int(rng.integers(len(args[0])))]
  return point


def config_source(config: Mapping[str, Any], docstring: str) -> str:
  """Python source of a config file whose `get_config()` returns `config`."""
  literal = pprint.pformat(dict(config), sort_dicts=True, width=88)
  return (f'"""{docstring}"""\n\nimport ml_collections\n\nCONFIG = {literal}\n\n\n'
          'def get_config() -> ml_collections.ConfigDict:\n'
          '  return ml_collections.ConfigDict(CONFIG)\n')


def check_space(config: ml_collections.ConfigDict, grid: Mapping[str, Any],
                 search: Mapping[str, Any]) -> None:
  for path, values in grid.items():
    _check_path(config, path, "study.grid")
    if not isinstance(values, (tuple, list)) or not values:
      raise UserError(f"study.grid.{path} must be a non-empty tuple of values, got {values!r}")
  for path, spec in search.items():
    _check_path(config, path, "study.search")
    _check_spec(path, spec)
  if set(grid) & set(search):
    raise UserError(f"{sorted(set(grid) & set(search))[0]} is both on study.grid and in "
                    "study.search; keep it in one")


def _check_path(config: ml_collections.ConfigDict, path: str, where: str) -> None:
  section, *rest = path.split(".")
  if section not in SECTIONS:
    raise UserError(f"{where}.{path}: a study varies fields of {', '.join(SECTIONS)}, "
                    f"not {section!r}")
  if section in ("model", "optimizer") or not rest:
    return  # the model or optimizer itself rejects a field it does not take
  fields = config[section]
  if rest[0] not in fields:
    close = difflib.get_close_matches(rest[0], list(fields), n=1)
    hint = f" (did you mean {section}.{close[0]}?)" if close else ""
    raise UserError(f"{where}.{path}: the config has no field {section}.{rest[0]}{hint}")


def _check_spec(path: str, spec) -> None:
  usage = (f"study.search.{path} must be ('loguniform', low, high), ('uniform', low, high), "
           "('randint', low, high) or ('choice', (a, b, ...))")
  if not isinstance(spec, (tuple, list)) or not spec or spec[0] not in SEARCH_KINDS:
    raise UserError(f"{usage}, got {spec!r}")
  kind, *args = spec
  if kind == "choice":
    if len(args) != 1 or not isinstance(args[0], (tuple, list)) or not args[0]:
      raise UserError(f"{usage}, got {spec!r}")
    return
  numbers = len(args) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                    for a in args)
  if not numbers or not args[0] < args[1] or (kind == "loguniform" and args[0] <= 0):
    raise UserError(f"{usage} with low < high (and low > 0 for loguniform), got {spec!r}")
  if kind == "randint" and not all(isinstance(a, int) for a in args):
    raise UserError(f"study.search.{path}: randint needs integer bounds, got {spec!r}")


def apply_values(config: ml_collections.ConfigDict, values: Mapping[str, Any],
           first_model: str | None) -> ml_collections.ConfigDict:
  """A copy of `config` with `values` set, no study, one model (of several `models`)."""
  point = ml_collections.ConfigDict(config.to_dict())  # a deep, unlocked copy
  if "study" in point:
    del point["study"]
  if first_model is not None:
    label = values.get(MODELS_AXIS, first_model)
    point.models = ml_collections.ConfigDict({label: config.models[label].to_dict()})
    _apply_model_data(point, label)
  for path, value in values.items():
    if path == MODELS_AXIS:
      continue
    *parents, leaf = path.split(".")
    node = point
    if parents[:1] == ["model"] and first_model is not None:
      node, parents = next(iter(point.models.values())), parents[1:]
    for parent in parents:
      node = node[parent]
    with node.ignore_type():
      node[leaf] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value
  return point


def _apply_model_data(point: ml_collections.ConfigDict, label: str) -> None:
  """Moves `models.<label>.data` into the point's data section: the fields in which
  that model's data differ (e.g. covariates), so each model of a study can have
  its own inputs, and the learned baselines get the same."""
  fields = point.models[label]
  if "data" not in fields:
    return
  overrides = fields["data"]
  if not isinstance(overrides, (ml_collections.ConfigDict, dict)):
    raise UserError(f"models.{label}.data must be a dict of data fields, got {overrides!r}")
  overrides = dict(overrides.to_dict() if isinstance(overrides, ml_collections.ConfigDict)
                   else overrides)
  del fields["data"]
  for field, value in overrides.items():
    if field not in point.data:
      close = difflib.get_close_matches(field, list(point.data), n=1)
      hint = f" (did you mean data.{close[0]}?)" if close else ""
      raise UserError(f"models.{label}.data.{field}: the config has no field data.{field}{hint}")
    with point.data.ignore_type():
      point.data[field] = value


def _label(index: int, values: Mapping[str, Any], search: Mapping[str, Any],
           config: ml_collections.ConfigDict) -> str:
  model = values.get(MODELS_AXIS)
  if search:
    return f"{model} trial-{index:03d}" if model else f"trial-{index:03d}"
  shown = [f"{path.split('.')[-1]}={_show(value)}" for path, value in values.items()
           if path != MODELS_AXIS]
  if not shown:
    return model or next(iter(model_sections(config)))
  return " ".join(([model] if model else []) + shown)


def _show(value) -> str:
  if isinstance(value, Mapping):
    return str(value.get("name", value))
  return str(tuple(value)) if isinstance(value, list) else str(value)

"""Studies: grids and random searches expanded into trials, grouped into shape buckets.

A trial is one point of the study space (values for some config fields) and
trains on every seed, so a member is one (trial, seed) pair. Floats that
`vmap` can carry (the optimizer's float fields, and the model's
`value_fields` such as dropout when the study varies them) travel as
per-member arrays. Every other field fixes shapes or the program itself, so
trials that agree on all of those share one bucket: one compilation trains
all of their members.

The study is `config.study`:

  study.grid.<section>.<field> = (value, value, ...)   crossed with each other
  study.search.<section>.<field> = ('loguniform', low, high) | ('uniform', low, high)
                                   | ('randint', low, high) | ('choice', (a, b, ...))
  study.num_trials, study.seed     random search: how many points, sampled from this seed
  study.search_per_seed            sample a fresh search for every seed (see `expand`)
  study.metric                     the metric trials are ranked by

Sections are model, optimizer, data and train. A value for a whole section (a
dict) replaces it, e.g. `grid.optimizer = (dict(name='sgd', learning_rate=1e-2), ...)`.
A forecasting config's `models` are one more axis: each trial trains one of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import pprint
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

from research import optim, seeding
from research.errors import UserError
from research.registry import MODELS

SECTIONS = ("model", "optimizer", "data", "train")
SEARCH_KINDS = ("loguniform", "uniform", "randint", "choice")
MODELS_AXIS = "models"  # the value of a forecasting trial's model label


@dataclasses.dataclass(frozen=True)
class Trial:
  """One point of the study, trained on every seed.

  Attributes:
    index: position in the study (0, 1, ...).
    label: a name for tables and figures: the model's name without a study,
      the varied values for a grid point, `trial-<index>` for a sampled one.
    values: the trial's point, `{dotted field: value}` (`models`: the label of
      the forecasting model it trains).
    config: the run's config with `values` applied and no study: a config
      that `launch.py` runs as it is.
    groups: its members; the first is the main group, any others vary one
      source each for the variance decomposition.
  """
  index: int
  label: str
  values: Mapping[str, Any]
  config: ml_collections.ConfigDict
  groups: tuple[seeding.MemberGroup, ...]

  @property
  def seeds(self) -> np.ndarray:
    """Seeds of the main group's members."""
    return self.groups[0].seeds

  @property
  def num_members(self) -> int:
    return sum(len(g.seeds) for g in self.groups)


@dataclasses.dataclass(frozen=True)
class Bucket:
  """Trials whose members run in one compiled program."""
  label: str
  trials: tuple[Trial, ...]
  vmapped_model_fields: tuple[str, ...]

  @property
  def config(self) -> ml_collections.ConfigDict:
    """A config with the static fields of every trial in the bucket."""
    return self.trials[0].config

  def keys(self) -> dict[str, Any]:
    """Every member's keys, trial after trial, stacked over members."""
    groups = [g for trial in self.trials for g in trial.groups]
    return seeding.group_keys(groups, self.config.seed)

  def per_trial(self, outputs: Mapping[str, np.ndarray]) -> dict[int, dict[str, np.ndarray]]:
    """Splits the bucket's stacked outputs into each trial's members."""
    ends = np.cumsum([trial.num_members for trial in self.trials])
    return {trial.index: {name: array[end - trial.num_members:end]
                          for name, array in outputs.items()}
            for trial, end in zip(self.trials, ends)}

  def hparams(self) -> dict[str, dict[str, np.ndarray]]:
    """Per-member float hyperparameters: `{'optimizer': {...}, 'model': {...}}`."""
    return member_hparams([trial.config for trial in self.trials for g in trial.groups
                           for _ in g.seeds], self.vmapped_model_fields)


def has_study(config: ml_collections.ConfigDict) -> bool:
  """Whether `config.study` asks for a grid or a random search."""
  study = config.get("study")
  return bool(study) and bool(_leaves(study.get("grid") or {}) or
                              _leaves(study.get("search") or {}))


def model_fields(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The trial's model section: `model`, or the one entry of a forecasting trial's `models`."""
  if "models" in config:
    return next(iter(config.models.values()))
  return config.model


def member_hparams(configs: Sequence[ml_collections.ConfigDict],
                   vmapped_model_fields: Sequence[str] = ()) -> dict[str, dict[str, np.ndarray]]:
  """Float hyperparameters, one value per member, from each member's config.

  The optimizer's float fields are always arrays (see `optim.split_hyperparameters`);
  model fields only those named, as the model treats the rest as constants.
  """
  floats = [optim.split_hyperparameters(c.optimizer.name, _optimizer_fields(c))[1]
            for c in configs]
  return {"optimizer": {name: np.array([f[name] for f in floats], np.float32)
                        for name in floats[0]},
          "model": {name: np.array([float(model_fields(c)[name]) for c in configs], np.float32)
                    for name in vmapped_model_fields}}


def expand(config: ml_collections.ConfigDict, variance_groups: Sequence[str] = (),
           variance_num_seeds: int = 0) -> list[Trial]:
  """The study's trials, in a fixed order (grid points, then sampled points).

  Without a study there is one trial: the config itself, with the variance
  decomposition's groups (`variance_groups`) beside its main group. With
  `study.search_per_seed`, the search is sampled anew for every seed (from
  `study.seed` and that seed) and each of its trials trains on that seed
  alone, so the spread of the best trial across seeds includes the search.
  """
  study = config.get("study") or ml_collections.ConfigDict()
  grid = _leaves(study.get("grid") or {})
  search = _leaves(study.get("search") or {})
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
  models = tuple(config.models) if "models" in config else ()
  axes = ([[(MODELS_AXIS, label)] for label in models] if len(models) > 1 else [[]])
  grid_points = [dict(head + list(point)) for head in axes for point in itertools.product(
      *[[(path, v) for v in values] for path, values in grid.items()])]
  base_seeds = seeding.member_seeds(config.seed, config.num_seeds)
  if not search:
    points = [(point, base_seeds) for point in grid_points]
  else:
    num_trials = study.get("num_trials", 0)
    if isinstance(num_trials, bool) or not isinstance(num_trials, int) or num_trials < 1:
      raise UserError(f"study.num_trials must be a positive integer, got {num_trials!r}")
    streams = ([(seed, np.random.default_rng([study.get("seed", 0), int(seed)]))
                for seed in base_seeds] if study.get("search_per_seed", False)
               else [(None, np.random.default_rng(study.get("seed", 0)))])
    points = [({**point, **sample(search, rng)},
               base_seeds if seed is None else np.array([seed]))
              for seed, rng in streams for _ in range(num_trials) for point in grid_points]
  groups = seeding.member_groups(config.seed, config.num_seeds, config.vary, variance_groups,
                                 variance_num_seeds)
  trials = []
  for index, (values, seeds) in enumerate(points):
    trial_config = _apply(config, values, models[0] if models else None)
    # The variance decomposition is for a single model; a study's trials vary as the main group.
    trial_groups = groups if len(points) == 1 else [dataclasses.replace(groups[0], seeds=seeds)]
    trials.append(Trial(index=index, label=_label(index, values, search, trial_config),
                        values=values, config=trial_config, groups=tuple(trial_groups)))
  return trials


@dataclasses.dataclass(frozen=True)
class DataVariant:
  """One distinct `data` section of a study, loaded once.

  Attributes:
    data: what the task's loader returned for it.
    suffix: appended to baseline names to tell variants apart ('' if only one).
    tag: the same for saved chunk names.
  """
  data: Any
  suffix: str
  tag: str


def load_data_variants(trials: Sequence[Trial], load: Callable[[ml_collections.ConfigDict], Any]
                       ) -> tuple[list[DataVariant], dict[int, DataVariant]]:
  """Calls `load(config)` once per distinct data section; the variants, and each trial's."""
  keys = {t.index: json.dumps(t.config.data.to_dict(), sort_keys=True, default=str)
          for t in trials}
  first = {}
  for trial in trials:
    first.setdefault(keys[trial.index], trial)
  several = len(first) > 1
  variants = {key: DataVariant(data=load(trial.config), suffix=f" [data {i}]" if several else "",
                               tag=f"-data{i}" if several else "")
              for i, (key, trial) in enumerate(first.items())}
  return list(variants.values()), {index: variants[key] for index, key in keys.items()}


def trial_outputs(buckets: Sequence[Bucket],
                  done: Sequence[tuple[Mapping[str, np.ndarray], float]]
                  ) -> tuple[dict[int, dict[str, np.ndarray]], dict[int, float]]:
  """Each trial's outputs and its program's compile time, from each bucket's
  `(outputs, compile_seconds)` (as `execute.run_jobs` returns them)."""
  outputs, compile_seconds = {}, {}
  for bucket, (bucket_outputs, seconds) in zip(buckets, done):
    outputs.update(bucket.per_trial(bucket_outputs))
    compile_seconds.update({t.index: seconds for t in bucket.trials})
  return outputs, compile_seconds


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


def buckets(trials: Sequence[Trial]) -> list[Bucket]:
  """Trials grouped by everything but their vmapped floats, in first-seen order."""
  varied = {path for trial in trials for path in trial.values}
  grouped: dict[str, list[Trial]] = {}
  fields_of: dict[str, tuple[str, ...]] = {}
  for trial in trials:
    model = model_fields(trial.config)
    value_fields = getattr(MODELS.get(model.name), "value_fields", ())
    vmapped = tuple(f for f in value_fields if f"model.{f}" in varied and f in model)
    key = _static_key(trial.config, vmapped)
    grouped.setdefault(key, []).append(trial)
    fields_of[key] = vmapped
  single = len(grouped) == 1
  return [Bucket(label="members" if single else f"bucket-{number:03d}", trials=tuple(group),
                 vmapped_model_fields=fields_of[key])
          for number, (key, group) in enumerate(grouped.items())]


def config_source(config: ml_collections.ConfigDict, docstring: str) -> str:
  """Python source of a config file whose `get_config()` returns `config`."""
  literal = pprint.pformat(config.to_dict(), sort_dicts=True, width=88)
  return (f'"""{docstring}"""\n\nimport ml_collections\n\nCONFIG = {literal}\n\n\n'
          'def get_config() -> ml_collections.ConfigDict:\n'
          '  return ml_collections.ConfigDict(CONFIG)\n')


def _optimizer_fields(config: ml_collections.ConfigDict) -> dict[str, Any]:
  return {k: v for k, v in config.optimizer.items() if k != "name"}


def _static_key(config: ml_collections.ConfigDict, vmapped_model_fields: Sequence[str]) -> str:
  """The trial's config as JSON with its per-member floats blanked out."""
  static = config.to_dict()
  _, floats = optim.split_hyperparameters(config.optimizer.name, _optimizer_fields(config))
  for name in floats:
    static["optimizer"][name] = "<per member>"
  model = (next(iter(static["models"].values())) if "models" in static else static["model"])
  for name in vmapped_model_fields:
    model[name] = "<per member>"
  return json.dumps(static, sort_keys=True, default=str)


def _leaves(node, prefix: str = "") -> dict[str, Any]:
  """`{dotted path: value}` of a nested ConfigDict/dict."""
  if not isinstance(node, (dict, ml_collections.ConfigDict)):
    return {prefix.rstrip("."): node}
  leaves = {}
  for key, value in node.items():
    leaves.update(_leaves(value, f"{prefix}{key}."))
  return leaves


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


def _apply(config: ml_collections.ConfigDict, values: Mapping[str, Any],
           first_model: str | None) -> ml_collections.ConfigDict:
  """A copy of `config` with `values` set, no study, one model (forecasting)."""
  trial = ml_collections.ConfigDict(config.to_dict())  # a deep, unlocked copy
  if "study" in trial:
    del trial["study"]
  if first_model is not None:
    label = values.get(MODELS_AXIS, first_model)
    trial.models = ml_collections.ConfigDict({label: config.models[label].to_dict()})
  for path, value in values.items():
    if path == MODELS_AXIS:
      continue
    *parents, leaf = path.split(".")
    node = model_fields(trial) if parents == ["model"] and first_model is not None else trial
    for parent in (parents[1:] if node is not trial else parents):
      node = node[parent]
    with node.ignore_type():
      node[leaf] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value
  return trial


def _label(index: int, values: Mapping[str, Any], search: Mapping[str, Any],
           config: ml_collections.ConfigDict) -> str:
  model = values.get(MODELS_AXIS)
  if search:
    return f"{model} trial-{index:03d}" if model else f"trial-{index:03d}"
  shown = [f"{path.split('.')[-1]}={_show(value)}" for path, value in values.items()
           if path != MODELS_AXIS]
  if not shown:
    return model or (next(iter(config.models)) if "models" in config else config.model.name)
  return " ".join(([model] if model else []) + shown)


def _show(value) -> str:
  if isinstance(value, Mapping):
    return str(value.get("name", value))
  return str(tuple(value)) if isinstance(value, list) else str(value)

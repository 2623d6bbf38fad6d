"""A search's space as Optuna distributions, its sampler and its storage.

`config.study.search` keeps the project's own space (see `research.study.space`);
here each field becomes an Optuna distribution, so any Optuna sampler can draw
it. Choices that are not plain numbers or strings (width tuples, optimizer
sections) are stored in Optuna as their text, which the dashboard shows, and
mapped back to the value here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc

from research.errors import UserError

SAMPLERS = ("random", "tpe", "cmaes", "qmc", "grid")
_PLAIN = (bool, int, float, str, type(None))


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """The fields a search samples: Optuna's distribution per dotted field, and for a
  categorical field the value behind each of its stored choices."""
  distributions: Mapping[str, optuna.distributions.BaseDistribution]
  choices: Mapping[str, Mapping[Any, Any]]

  def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's config values from the params Optuna stored."""
    return {path: self.choices[path][value] if path in self.choices else value
            for path, value in params.items()}


def search_space(search: Mapping[str, Any], models: tuple[str, ...] = ()) -> SearchSpace:
  """`study.search` (checked by `research.study.space`) as Optuna distributions; with
  several `models`, which one a trial trains is one more categorical field."""
  distributions, choices = {}, {}
  specs = dict(search)
  if len(models) > 1:
    specs["models"] = ("choice", models)
  for path in sorted(specs):
    kind, *args = specs[path]
    if kind in ("loguniform", "uniform"):
      distributions[path] = optuna.distributions.FloatDistribution(
          float(args[0]), float(args[1]), log=kind == "loguniform")
    elif kind == "randint":  # both ends included, as in the project's own sampler
      distributions[path] = optuna.distributions.IntDistribution(int(args[0]), int(args[1]))
    else:
      stored = _stored_choices(tuple(args[0]))
      choices[path] = dict(zip(stored, args[0]))
      distributions[path] = optuna.distributions.CategoricalDistribution(stored)
  return SearchSpace(distributions, choices)


def _stored_choices(options: tuple) -> tuple:
  """The choices as Optuna stores them: plain values as they are, others as text
  (their position where two texts would coincide)."""
  if all(isinstance(option, _PLAIN) for option in options):
    return options
  texts = tuple(_text(option) for option in options)
  return texts if len(set(texts)) == len(texts) else tuple(range(len(options)))


def _text(value) -> str:
  if isinstance(value, Mapping):
    return str(value.get("name", dict(value)))
  return str(tuple(value)) if isinstance(value, list) else str(value)


def make_sampler(name: str, seed: int, space: SearchSpace) -> optuna.samplers.BaseSampler:
  """Optuna's sampler `name`, seeded so that a search on one process draws the same
  trials every time, and processes sharing a search do not draw the same ones.

  Each trial's draws are seeded from (`seed`, its number): two processes asking
  at once, with the same history, still get different points (one seed for the
  whole search would give them the same). QMC keeps one seed: its points come
  from a sequence indexed in the storage, distinct across processes already.
  TPE runs with the constant liar: the trials of a batch are asked before any
  is told, and the liar keeps them from piling onto one point.
  """
  if name == "qmc":
    return _sampler(name, seed, space)
  _sampler(name, seed, space)  # a bad name or space is refused now
  return PerTrialSeed(lambda trial_seed: _sampler(name, trial_seed, space), seed)


class PerTrialSeed(optuna.samplers.BaseSampler):
  """A sampler made anew for every trial, seeded from (seed, the trial's number).

  Optuna calls `before_trial` once a trial has its number and before it samples
  anything; the samplers wrapped here keep no state but their random generator
  (TPE, random, grid, CMA-ES read the history from the storage)."""

  def __init__(self, make, seed: int):
    self._make, self._seed = make, seed
    self._inner = make(seed)

  def before_trial(self, study, trial) -> None:
    state = np.random.SeedSequence([self._seed, trial.number]).generate_state(1)[0]
    self._inner = self._make(int(state))
    self._inner.before_trial(study, trial)

  def infer_relative_search_space(self, study, trial):
    return self._inner.infer_relative_search_space(study, trial)

  def sample_relative(self, study, trial, search_space):
    return self._inner.sample_relative(study, trial, search_space)

  def sample_independent(self, study, trial, param_name, param_distribution):
    return self._inner.sample_independent(study, trial, param_name, param_distribution)

  def after_trial(self, study, trial, state, values) -> None:
    self._inner.after_trial(study, trial, state, values)

  def reseed_rng(self) -> None:
    self._inner.reseed_rng()


def _sampler(name: str, seed: int, space: SearchSpace) -> optuna.samplers.BaseSampler:
  if name == "random":
    return optuna.samplers.RandomSampler(seed=seed)
  if name == "tpe":
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
  if name == "cmaes":
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
  if name == "qmc":
    return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False,
                                      warn_asynchronous_seeding=False)
  if name == "grid":
    continuous = [p for p, d in space.distributions.items()
                  if isinstance(d, optuna.distributions.FloatDistribution)]
    if continuous:
      raise UserError(f"study.sampler='grid' needs a finite space, but study.search."
                      f"{continuous[0]} is continuous; make it ('choice', (a, b, ...))")
    grid = {path: (list(d.choices) if isinstance(d, optuna.distributions.CategoricalDistribution)
                   else list(range(d.low, d.high + 1)))
            for path, d in space.distributions.items()}
    return optuna.samplers.GridSampler(grid, seed=seed)
  raise UserError(f"study.sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")


def grid_size(space: SearchSpace) -> int | None:
  """The number of points of a finite space (None if a field is continuous)."""
  size = 1
  for d in space.distributions.values():
    if isinstance(d, optuna.distributions.FloatDistribution):
      return None
    size *= (len(d.choices) if isinstance(d, optuna.distributions.CategoricalDistribution)
             else d.high - d.low + 1)
  return size


def open_storage(url: str) -> optuna.storages.BaseStorage:
  """An Optuna storage: a database URL (sqlite:///, postgresql://, mysql://), or a
  journal file (a path ending in .log, or journal:PATH) for a disk several
  machines share."""
  if url.startswith("journal:") or url.endswith(".log"):
    path = url[len("journal:"):] if url.startswith("journal:") else url
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
  if "://" not in url:
    raise UserError(f"study.storage must be a database URL (sqlite:///search.db, "
                    f"postgresql://user@host/db) or a journal file (*.log), got {url!r}")
  # A long SQLite timeout: processes sharing one file wait for each other's writes.
  engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
  for attempt in range(_ATTEMPTS):
    try:
      return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except (ImportError, ModuleNotFoundError) as e:
      raise UserError(f"study.storage {url!r} needs a database driver that is not installed "
                      f"({e.name}); pip install it") from None
    except sqlalchemy.exc.IntegrityError:  # another process created the schema meanwhile
      if attempt == _ATTEMPTS - 1:
        raise
      time.sleep(0.2 * (attempt + 1))
  raise AssertionError("unreachable")


_ATTEMPTS = 5

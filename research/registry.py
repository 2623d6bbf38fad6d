"""Named registries: tasks, models, optimizers, data sets, activations, baselines.

Each registry maps a name to an object and is filled by a decorator. What an
entry declares about itself is a typed record, checked when it registers:

    @MODELS.register("mlp", input="tabular", value_fields=("dropout",))
    class MLP(nn.Module): ...

    MODELS.get("mlp")    # the class
    MODELS.info("mlp")   # ModelInfo(input='tabular', value_fields=('dropout',))

Registering a name twice, or declaring a field the registry does not know,
raises a `UserError` naming the entry; looking up an unknown name raises one
that lists the known names, suggests the closest and points at `plugins/`.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from research.errors import UserError

T = TypeVar("T")

INPUTS = ("tabular", "sequence")


@dataclasses.dataclass(frozen=True)
class NoInfo:
  """Entries of this registry declare nothing."""

  def check(self, name: str, obj: Any) -> None:
    del name, obj


@dataclasses.dataclass(frozen=True)
class TaskInfo:
  """A task declares itself in its class attributes (`research.tasks.base.Task`);
  they are checked here, and the class must fill in the whole task interface."""

  def check(self, name: str, obj: Any) -> None:
    what = f"task {name!r}"
    metrics = getattr(obj, "metrics", None)
    if not (isinstance(metrics, tuple) and metrics and all(isinstance(m, str) for m in metrics)):
      raise UserError(f"{what} declares metrics={metrics!r}; use a non-empty tuple of "
                      "names, the headline first")
    lower = getattr(obj, "lower_is_better", frozenset())
    if not isinstance(lower, (frozenset, set)) or not set(lower) <= set(metrics):
      raise UserError(f"{what} declares lower_is_better={lower!r}; use a frozenset of some "
                      "of its metrics")
    if getattr(obj, "model_input", None) not in INPUTS:
      raise UserError(f"{what} declares model_input={getattr(obj, 'model_input', None)!r}; "
                      f"use one of {', '.join(INPUTS)}")
    fields = getattr(obj, "data_fields", {})
    if not isinstance(fields, Mapping) or not all(
        isinstance(k, str) and isinstance(v, type) for k, v in fields.items()):
      raise UserError(f"{what} declares data_fields={fields!r}; use {{field: type}}")
    for attribute in ("losses", "files"):
      value = getattr(obj, attribute, ())
      if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{what} declares {attribute}={value!r}; use a tuple of names")
    try:
      obj()
    except TypeError as e:  # e.g. abstract methods left out
      raise UserError(f"{what} cannot be created: {e}; implement every method of "
                      "research.tasks.base.Task") from None


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What a model declares.

  Attributes:
    input: 'tabular' (`[batch, features]`, e.g. classification) or 'sequence'
      (`[batch, time, features]`, forecasting).
    value_fields: float fields that a study may vary per member inside one
      compiled program; the model must accept traced arrays for them.
    width_field: a field of layer widths (a tuple of ints) that the model can
      pad ('' if none): built at a study bucket's widest widths, it computes a
      member's own network given its widths as ints in `true_<width_field>`
      (`study.pad_widths`; see `research.models.padding`).
    choice_fields: fields naming one of several functions (e.g. the activation)
      that a study may vary per member inside one compiled program: the model
      is built with the bucket's names as a tuple in the field and takes each
      member's position in it as an int in `<field>_index`.
  """
  input: str = "tabular"
  value_fields: tuple[str, ...] = ()
  width_field: str = ""
  choice_fields: tuple[str, ...] = ()

  def check(self, name: str, obj: Any) -> None:
    if self.input not in INPUTS:
      raise UserError(f"model {name!r} declares input={self.input!r}; use one of "
                      f"{', '.join(INPUTS)}")
    _check_names(f"model {name!r}", "value_fields", self.value_fields, obj)
    if not isinstance(self.width_field, str):
      raise UserError(f"model {name!r} declares width_field={self.width_field!r}; use a "
                      "field name, or '' for none")
    if self.width_field:
      _check_names(f"model {name!r}", "width_field",
                   (self.width_field, f"true_{self.width_field}"), obj)
    _check_names(f"model {name!r}", "choice_fields", self.choice_fields, obj)
    _check_names(f"model {name!r}", "choice_fields",
                 tuple(f"{field}_index" for field in self.choice_fields), obj)


@dataclasses.dataclass(frozen=True)
class OptimizerInfo:
  """What an optimizer declares.

  Attributes:
    full_batch: every step must see the whole training set (L-BFGS's line
      search); `train.batch_size` is then ignored.
  """
  full_batch: bool = False

  def check(self, name: str, obj: Any) -> None:
    if not isinstance(self.full_batch, bool):
      raise UserError(f"optimizer {name!r} declares full_batch={self.full_batch!r}; "
                      "use True or False")
    del obj


@dataclasses.dataclass(frozen=True)
class BaselineInfo:
  """What a baseline declares.

  Attributes:
    task: the `TASKS` name whose studies it serves ('classification', 'forecast').
  """
  task: str

  def check(self, name: str, obj: Any) -> None:
    _check_task(f"baseline {name!r}", self.task)
    if parameters(obj) is not None and "random_state" not in parameters(obj):
      raise UserError(f"baseline {name!r} must take a random_state argument (the member's "
                      "seed, for estimators with randomness of their own)")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a data set declares.

  Attributes:
    task: the `TASKS` name it is meant for, or None for any (a CSV file).
    covariates: columns a forecast may use as inputs besides the series, with a
      description (unit, and whether they are measured or a forecast):
      `config.data.covariates` may name only these.
    attribution: where the data come from and under what licence, as the
      report's data section states it ('' for a user's own file).
  """
  task: str | None = None
  covariates: Mapping[str, str] = dataclasses.field(default_factory=dict)
  attribution: str = ""

  def check(self, name: str, obj: Any) -> None:
    if self.task is not None:
      _check_task(f"dataset {name!r}", self.task)
    if not isinstance(self.covariates, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in self.covariates.items()):
      raise UserError(f"dataset {name!r} declares covariates={self.covariates!r}; use "
                      "{column: description}")
    if not isinstance(self.attribution, str):
      raise UserError(f"dataset {name!r} declares attribution={self.attribution!r}; use a "
                      "sentence naming the source and its licence")
    del obj


def _check_task(what: str, task: Any) -> None:
  if not isinstance(task, str) or not task:
    raise UserError(f"{what} declares task={task!r}; use a task name such as "
                    "'classification' or 'forecast'")


class Registry:
  """A name -> object mapping for one kind of thing, with declared metadata."""

  def __init__(self, kind: str, info: type = NoInfo):
    self.kind = kind
    self._info_type = info
    self._entries: dict[str, Any] = {}
    self._infos: dict[str, Any] = {}

  def register(self, name: str, **declared: Any) -> Callable[[T], T]:
    """Returns a decorator that registers its argument under `name`.

    `declared` are the fields of this registry's info record (see
    `MODELS.info_fields()`); unknown fields or bad values raise a `UserError`.
    """
    if not isinstance(name, str) or not name:
      raise TypeError(f"{self.kind} names must be non-empty strings, got {name!r}")
    try:
      info = self._info_type(**declared)
    except TypeError:
      fields = ", ".join(self.info_fields()) or "nothing"
      raise UserError(f"{self.kind} {name!r} declares {', '.join(sorted(declared))}; a "
                      f"{self.kind} declares {fields}") from None

    def decorator(obj: T) -> T:
      if name in self._entries:
        raise UserError(f"{self.kind} {name!r} is registered twice (again by "
                        f"{_where(obj)}); rename one of them")
      info.check(name, obj)
      self._entries[name] = obj
      self._infos[name] = info
      return obj

    return decorator

  def get(self, name: str) -> Any:
    """Returns the entry called `name`, or raises a did-you-mean `UserError`."""
    try:
      return self._entries[name]
    except (KeyError, TypeError):
      raise UserError(self._unknown_message(name)) from None

  def info(self, name: str) -> Any:
    """What the entry called `name` declared (its info record)."""
    self.get(name)
    return self._infos[name]

  def info_fields(self) -> list[str]:
    """The fields an entry of this registry may declare."""
    return [f.name for f in dataclasses.fields(self._info_type)]

  def names(self, **declared: Any) -> list[str]:
    """Registered names, sorted; with `declared`, those whose info matches it."""
    return sorted(name for name, info in self._infos.items()
                  if all(getattr(info, k) == v for k, v in declared.items()))

  def _unknown_message(self, name: Any) -> str:
    known = self.names()
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown {self.kind} {name!r}: {hint}known: {', '.join(known)}; "
            f"add your own with a file in plugins/ (see README, 'Adding a plugin')")

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {self.names()})"


def parameters(factory: Callable) -> list[str] | None:
  """The keyword parameters `factory` takes, or None when it takes `**kwargs`."""
  try:
    params = inspect.signature(factory).parameters.values()
  except (TypeError, ValueError):
    return None
  if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
    return None
  return [p.name for p in params]


def _check_names(what: str, field: str, names: Any, factory: Any) -> None:
  if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
    raise UserError(f"{what} declares {field}={names!r}; use a tuple of field names")
  known = parameters(factory)
  unknown = [n for n in names if known is not None and n not in known]
  if unknown:
    raise UserError(f"{what} declares {field} {unknown[0]!r}, which it does not take")


def _where(obj: Any) -> str:
  module = getattr(obj, "__module__", None) or "?"
  return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"


TASKS = Registry("task", TaskInfo)
MODELS = Registry("model", ModelInfo)
OPTIMIZERS = Registry("optimizer", OptimizerInfo)
DATASETS = Registry("dataset", DatasetInfo)
ACTIVATIONS = Registry("activation")
BASELINES = Registry("baseline", BaselineInfo)

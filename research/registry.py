"""Named registries of models, optimizers, data sets, activations and baselines.

Each registry maps a name to a factory and is filled by a decorator::

    @MODELS.register("mlp")
    class MLP(nn.Module): ...

Registering a name twice raises; looking up an unknown name raises a
`UserError` that lists the known names, suggests the closest one and points
at `plugins/`, where users add their own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from research.errors import UserError

T = TypeVar("T")


class Registry:
  """A name -> object mapping for one kind of thing (models, optimizers...)."""

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, Any] = {}

  def register(self, name: str) -> Callable[[T], T]:
    """Returns a decorator that registers its argument under `name`."""
    if not isinstance(name, str) or not name:
      raise TypeError(f"{self.kind} names must be non-empty strings, got {name!r}")

    def decorator(obj: T) -> T:
      if name in self._entries:
        raise UserError(
            f"{self.kind} {name!r} is registered twice (again by "
            f"{_where(obj)}); rename one of them")
      self._entries[name] = obj
      return obj

    return decorator

  def get(self, name: str) -> Any:
    """Returns the entry called `name`, or raises a did-you-mean `UserError`."""
    try:
      return self._entries[name]
    except (KeyError, TypeError):
      raise UserError(self._unknown_message(name)) from None

  def _unknown_message(self, name: Any) -> str:
    known = sorted(self._entries)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown {self.kind} {name!r}: {hint}known: {', '.join(known)}; "
            f"add your own with a file in plugins/ (see README, 'Adding a plugin')")

  def names(self) -> list[str]:
    """Registered names, sorted."""
    return sorted(self._entries)

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {self.names()})"


def _where(obj: Any) -> str:
  module = getattr(obj, "__module__", None) or "?"
  return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"


MODELS = Registry("model")
OPTIMIZERS = Registry("optimizer")
DATASETS = Registry("dataset")
ACTIVATIONS = Registry("activation")
BASELINES = Registry("baseline")

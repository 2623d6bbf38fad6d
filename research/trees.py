"""Nested config values (ConfigDicts, dicts) as flat `{dotted path: value}` maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
  """`{'optimizer.learning_rate': 0.002, ...}`: every non-mapping value by its dotted path.

  A value that is not a mapping (a number, a string, a tuple) is a leaf;
  an empty mapping has no leaves.
  """
  if not isinstance(tree, Mapping) and not hasattr(tree, "items"):
    return {prefix.rstrip("."): tree}
  flat = {}
  for key, value in tree.items():
    flat.update(leaves(value, f"{prefix}{key}."))
  return flat


def tuples(value: Any) -> Any:
  """JSON lists back to the tuples the config file wrote: (50, 100), not [50, 100]."""
  return tuple(tuples(v) for v in value) if isinstance(value, (list, tuple)) else value

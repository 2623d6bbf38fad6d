"""Fingerprints of what produces a run's results: its config, its data, its code.

A saved chunk records the fingerprint it was made with; a resume uses it only
under the same one (`research.workdir`). Data are hashed as the arrays
actually loaded (so an edited CSV is caught, not just a renamed one), and
code as the package's and libraries' versions plus the source files of the
plugins whose entries the run uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

_LIBRARIES = ("jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
  """Hashes of a run's config, data and code (`code_detail`: what the code hash covers)."""
  config: str
  data: str
  code: str
  code_detail: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

  @property
  def value(self) -> str:
    """One hash of all three: what a saved chunk records."""
    return hashlib.sha256(f"{self.config}/{self.data}/{self.code}".encode()).hexdigest()

  def differences(self, recorded: Mapping[str, Any]) -> list[str]:
    """Which of config, data and code differ from a recorded `as_json()`."""
    return [part for part in ("config", "data", "code")
            if recorded.get(part) != getattr(self, part)]

  def as_json(self) -> dict[str, Any]:
    return {"config": self.config, "data": self.data, "code": self.code,
            "code_detail": dict(self.code_detail)}


def make(config: Mapping[str, Any], data: Iterable[Any], modules: Iterable[str]) -> Fingerprint:
  """The fingerprint of a run.

  Args:
    config: its resolved config, without the fields that only change display.
    data: every data set it loaded (in a fixed order).
    modules: the modules that define the registry entries it uses; those that
      are not part of this package are hashed by their source file.
  """
  detail = {"versions": versions(("research", *_LIBRARIES)), "plugins": plugin_files(modules)}
  return Fingerprint(config=content_hash(dict(config)), data=content_hash(list(data)),
                     code=content_hash(detail), code_detail=detail)


def content_hash(value: Any) -> str:
  """SHA-256 of a value's content: arrays by dtype, shape and bytes; dataclasses,
  mappings, sequences and objects by their parts; scalars by their repr."""
  digest = hashlib.sha256()
  _update(digest, value)
  return digest.hexdigest()


def _update(digest, value: Any) -> None:
  if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
    value = value.to_numpy()
  if isinstance(value, np.ndarray):
    array = np.ascontiguousarray(value)
    digest.update(f"array:{array.dtype.str}:{array.shape}:".encode())
    digest.update(array.astype(str).tobytes() if array.dtype == object else array.tobytes())
  elif dataclasses.is_dataclass(value) and not isinstance(value, type):
    _update(digest, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
  elif isinstance(value, Mapping):
    digest.update(b"map:")
    for key in sorted(value, key=str):
      _update(digest, str(key))
      _update(digest, value[key])
  elif isinstance(value, (list, tuple)):
    digest.update(f"seq:{len(value)}:".encode())
    for item in value:
      _update(digest, item)
  elif isinstance(value, (str, bytes, int, float, bool, type(None), np.generic)):
    digest.update(f"{type(value).__name__}:{value!r};".encode())
  elif callable(value):
    digest.update(f"callable:{getattr(value, '__qualname__', type(value).__name__)};".encode())
  else:
    _update(digest, vars(value))


def versions(names: Iterable[str]) -> dict[str, str]:
  """`{distribution: installed version}` ('not installed' for those that are not)."""
  found = {}
  for name in names:
    try:
      found[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      found[name] = "not installed"
  return found


def plugin_files(modules: Iterable[str]) -> dict[str, str]:
  """`{source file: sha256}` of the modules outside this package."""
  files = {}
  for name in sorted(set(modules)):
    if name == "research" or name.startswith("research."):
      continue  # the package's version stands for its code
    path = getattr(sys.modules.get(name), "__file__", None)
    if path:
      with open(path, "rb") as file:
        files[path] = hashlib.sha256(file.read()).hexdigest()
  return files


"""Fitted baselines kept across runs: a rerun of the same study refits nothing.

A classical baseline is deterministic: the same estimator, options and
`random_state` on the same rows give the same predictions. With the cache on,
a baseline's outputs for one data variant (every member's test predictions
and fit seconds) are kept in `~/.cache/research/baselines` (`$XDG_CACHE_HOME`
respected), under a hash of everything they depend on: the task, the
baseline's name and options, the members' seeds, random states and split keys,
the data as loaded, the installed libraries' versions, and the source of every
file of this package and of the plugin modules that define the task and the
baseline (so an edit to any of that code fits again). `launch.py
--baseline_cache=DIR` (or `RESEARCH_BASELINE_CACHE=DIR`) moves it and
`--baseline_cache=` turns it off; library
calls (`research.run_study`) leave it off unless `enable` was called. Cached
and uncached runs give identical result files (tested).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from absl import logging

from research import compile_cache, fingerprint

DEFAULT_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                           "research", "baselines")
ENVIRONMENT = "RESEARCH_BASELINE_CACHE"  # the default of --baseline_cache, if set
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "xgboost", "lightgbm", "jax", "jaxlib")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_folder: list[str] = []  # the enabled folder, if any


def default_dir() -> str:
  """The cache folder when none is given: $RESEARCH_BASELINE_CACHE, or the user's."""
  return os.environ.get(ENVIRONMENT, DEFAULT_DIR)


def enable(path: str) -> str | None:
  """Turns the cache on in `path` ('' leaves it off); returns the folder, or None when
  it is off or cannot be used (then with a warning: the run goes on without it)."""
  _folder.clear()
  if not compile_cache.private_folder(path, "baseline cache", "fitting"):
    return None
  _folder.append(path)
  return path


def cached(what: Mapping[str, Any], modules: Iterable[str],
           fit: Callable[[], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], bool]:
  """`fit()`'s arrays, or the ones kept for the same `what` and code; and whether
  they came from the cache.

  Args:
    what: everything the fit depends on besides code (task, baseline, options,
      members, data), hashed by content.
    modules: the modules whose entries it uses (the task's, the baseline's);
      those outside this package are hashed by their source.
    fit: computes the arrays.
  """
  if not _folder:
    return fit(), False
  key = fingerprint.content_hash({"what": dict(what), "code": _code(tuple(sorted(modules)))})
  path = os.path.join(_folder[0], f"{key}.npz")
  try:
    with np.load(path) as saved:
      return {name: saved[name] for name in saved.files}, True
  except (OSError, ValueError, EOFError, zipfile.BadZipFile):
    pass  # not there, or unreadable: fit again and replace it
  arrays = fit()
  handle, partial = tempfile.mkstemp(dir=_folder[0], suffix=".partial")
  try:
    with os.fdopen(handle, "wb") as file:
      np.savez(file, **arrays)
    os.replace(partial, path)  # whole or not at all, also with two runs at once
  except OSError as e:
    logging.warning("baseline cache %s: could not keep a fit (%s)", _folder[0], e)
    if os.path.exists(partial):
      os.remove(partial)
  return arrays, False


@functools.lru_cache(maxsize=None)
def _code(modules: tuple[str, ...]) -> dict[str, Any]:
  """Library versions, and the sha256 of this package's sources and of `modules`'."""
  package = hashlib.sha256()
  for folder, _, files in sorted(os.walk(_PACKAGE)):
    for name in sorted(f for f in files if f.endswith(".py")):
      path = os.path.join(folder, name)
      package.update(os.path.relpath(path, _PACKAGE).encode())
      with open(path, "rb") as file:
        package.update(hashlib.sha256(file.read()).digest())
  return {"versions": fingerprint.versions(_LIBRARIES), "package": package.hexdigest(),
          "plugins": fingerprint.plugin_files(modules)}

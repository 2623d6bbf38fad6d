"""Loads users' plugins: files in `plugins/` folders and installed packages.

Two sources, as JAX discovers its own PJRT plugins
(`jax/_src/xla_bridge.py: discover_pjrt_plugins`):

* every `*.py` module of each plugin folder (files starting with `_` are
  skipped, so helpers can live beside plugins), and
* every entry point of the group `research.plugins` in installed packages
  (`[project.entry-points."research.plugins"] name = "pkg.module"`). If the
  entry point names a function rather than a module, it is called with no
  arguments after import.

Unlike JAX, a plugin that fails to import is an error naming its file: a
skipped plugin would resurface later as a baffling "unknown model".
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Iterable

from absl import logging

from research.errors import UserError

ENTRY_POINT_GROUP = "research.plugins"


def load_plugins(folders: Iterable[str | os.PathLike[str]] = (),
                 entry_points: bool = True) -> list[str]:
  """Imports every plugin module once; returns the names of those loaded now.

  Args:
    folders: plugin folders; a folder that does not exist is skipped (a fresh
      checkout may have none), but a path that is a file is an error.
    entry_points: also load installed `research.plugins` entry points.

  Raises:
    UserError: a plugin failed to import, or registered a name twice.
  """
  loaded = []
  for folder in folders:
    folder = os.path.abspath(folder)
    if not os.path.exists(folder):
      continue
    if not os.path.isdir(folder):
      raise UserError(f"plugin folder {folder} is a file; pass a folder of .py files")
    for filename in sorted(os.listdir(folder)):
      if filename.endswith(".py") and not filename.startswith("_"):
        path = os.path.join(folder, filename)
        if _import_file(path):
          loaded.append(path)
  if entry_points:
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
      if _load_entry_point(entry_point):
        loaded.append(f"{entry_point.name} = {entry_point.value}")
  for name in loaded:
    logging.info("Loaded plugin %s", name)
  return loaded


def _import_file(path: str) -> bool:
  """Imports the file at `path` under a name unique to its location."""
  digest = hashlib.sha1(path.encode()).hexdigest()[:10]
  stem = os.path.splitext(os.path.basename(path))[0]
  module_name = f"research_plugins.{stem}_{digest}"
  if module_name in sys.modules:
    return False
  spec = importlib.util.spec_from_file_location(module_name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[module_name] = module
  try:
    spec.loader.exec_module(module)
  except UserError as e:
    del sys.modules[module_name]
    raise UserError(f"plugin {path}: {e}") from e
  except SystemExit as e:
    del sys.modules[module_name]
    raise UserError(f"plugin {path} called sys.exit({e.code!r}) while being imported; a "
                    "plugin must only register things: fix or remove the file") from None
  except Exception as e:  # pylint: disable=broad-except
    del sys.modules[module_name]
    raise UserError(f"plugin {path} failed to import: {type(e).__name__}: "
                    f"{_one_line(e)}; fix or remove the file") from e
  return True


_loaded_entry_points: set[str] = set()


def _load_entry_point(entry_point: importlib.metadata.EntryPoint) -> bool:
  key = f"{entry_point.name}={entry_point.value}"
  if key in _loaded_entry_points:
    return False
  where = f"entry point {entry_point.name!r} ({entry_point.value}) of group {ENTRY_POINT_GROUP!r}"
  try:
    obj = entry_point.load()
    if callable(obj) and not isinstance(obj, types.ModuleType) and not inspect.isclass(obj):
      obj()
  except UserError as e:
    raise UserError(f"plugin {where}: {e}") from e
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f"plugin {where} failed to load: {type(e).__name__}: "
                    f"{_one_line(e)}; fix or uninstall that package") from e
  _loaded_entry_points.add(key)
  return True


def _one_line(error: BaseException) -> str:
  return " ".join(str(error).split()) or repr(error)

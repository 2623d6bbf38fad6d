"""Files in the workdir, each written atomically: temp file, then rename.

A reader (a report, a resumed run) therefore sees either the old file or the
complete new one, never half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

import pandas as pd

from research.errors import UserError

CONFIG_FILE = "config.json"
SEEDS_FILE = "seeds.csv"
SUMMARY_FILE = "summary.csv"
CURVES_FILE = "curves.csv"
PREDICTIONS_FILE = "predictions.csv"
RUN_FILE = "run.json"
COMPARISON_FILE = "comparison.csv"
VARIANCE_FILE = "variance.csv"
VARIANCE_MEMBERS_FILE = "variance_members.csv"


def write_atomic(path: str, write: Callable[[IO[str]], Any]) -> None:
  """Calls `write(file)` on a temp file beside `path`, then renames it over `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  handle, temp_path = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                       suffix=".tmp")
  try:
    with os.fdopen(handle, "w", newline="") as file:
      write(file)
      file.flush()
      os.fsync(file.fileno())
    os.replace(temp_path, path)
  except BaseException:
    if os.path.exists(temp_path):
      os.unlink(temp_path)
    raise


def write_csv(path: str, frame: pd.DataFrame) -> None:
  """Writes `frame` without its index, full float precision."""
  write_atomic(path, lambda f: frame.to_csv(f, index=False, float_format="%.10g"))


def write_json(path: str, value: Any) -> None:
  write_atomic(path, lambda f: json.dump(value, f, indent=2, sort_keys=True, default=str))


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir`; refuses one that already holds results."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir {workdir} is a file; pass a folder")
  if os.path.exists(os.path.join(workdir, SEEDS_FILE)):
    raise UserError(f"--workdir {workdir} already holds results ({SEEDS_FILE}); "
                    "pass a new --workdir")
  os.makedirs(workdir, exist_ok=True)
  return workdir

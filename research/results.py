"""Files in the workdir, each written atomically: temp file, then rename.

A reader (a report, a resumed run) therefore sees either the old file or the
complete new one, never half of it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import pandas as pd

from research.errors import UserError

CONFIG_FILE = "config.json"
SEEDS_FILE = "seeds.csv"
SUMMARY_FILE = "summary.csv"
CURVES_FILE = "curves.csv"
FORECASTS_FILE = "forecasts.csv"
PREDICTIONS_FILE = "predictions.csv"
RUN_FILE = "run.json"
COMPARISON_FILE = "comparison.csv"
VARIANCE_FILE = "variance.csv"
VARIANCE_MEMBERS_FILE = "variance_members.csv"
TRIALS_FILE = "trials.csv"  # a study's trials x seeds
RANKING_FILE = "ranking.csv"  # a study's trials, best first
BEST_CONFIG_FILE = "best_config.py"  # the best trial, as a config launch.py runs
CHUNKS_DIR = "chunks"  # raw per-chunk outputs: what a resumed run picks up

# Columns of the result files (seeds.csv and trials.csv: model, seed, the
# task's metrics, then MEMBER_COLUMNS; trials.csv and ranking.csv add one
# column per field a study varies).
MEMBER_COLUMNS = ("train_seconds", "diverged", "diverged_epoch")
SUMMARY_COLUMNS = ("model", "metric", "mean", "std", "min", "max", "ci_low", "ci_high", "n",
                   "median", "iqm")
COMPARISON_COLUMNS = ("model_a", "model_b", "metric", "mean_diff", "ci_low", "ci_high",
                      "p_improve", "p_value", "n")
VARIANCE_COLUMNS = ("model", "metric", "source", "std", "variance_share", "n")
RANKING_COLUMNS = ("rank", "trial", "model", "metric", "mean", "std", "ci_low", "ci_high",
                   "n", "train_seconds", "compile_seconds")
CURVES_COLUMNS = ("model", "seed", "epoch", "train_loss", "eval_loss")


@dataclasses.dataclass(frozen=True)
class RunResult:
  """What a finished run wrote, also kept in memory for the caller.

  Attributes:
    metrics: the task's metrics, the headline first; `lower_is_better` those
      where lower is better.
    resumed_finished: the run had finished before, and was read from its files.
    ranking: a study's trials, best first (None without a study).
  """
  workdir: str
  seeds: pd.DataFrame
  summary: pd.DataFrame
  comparison: pd.DataFrame
  variance: pd.DataFrame
  metrics: tuple[str, ...]
  lower_is_better: frozenset[str]
  resumed_finished: bool = False
  ranking: pd.DataFrame | None = None


def read_result(workdir: str) -> RunResult:
  """The results of a finished run, from its files alone."""
  path = lambda name: os.path.join(workdir, name)
  optional = lambda name, columns: (pd.read_csv(path(name)) if os.path.exists(path(name))
                                    else pd.DataFrame(columns=columns))
  with open(path(RUN_FILE)) as file:
    run = json.load(file)
  ranking = optional(RANKING_FILE, RANKING_COLUMNS)
  return RunResult(
      workdir=workdir, seeds=pd.read_csv(path(SEEDS_FILE)),
      summary=pd.read_csv(path(SUMMARY_FILE)), comparison=pd.read_csv(path(COMPARISON_FILE)),
      variance=optional(VARIANCE_FILE, VARIANCE_COLUMNS), metrics=tuple(run["metrics"]),
      lower_is_better=frozenset(run["lower_is_better"]), resumed_finished=True,
      ranking=ranking if len(ranking) else None)


def software_versions() -> dict[str, str]:
  """Versions of what computed the numbers, for run.json."""
  import platform  # pylint: disable=import-outside-toplevel
  import flax, jax, optax, sklearn  # pylint: disable=import-outside-toplevel,multiple-imports
  return {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
          "numpy": np.__version__, "pandas": pd.__version__,
          "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def write_atomic(path: str, write: Callable[[IO], Any], binary: bool = False) -> None:
  """Calls `write(file)` on a temp file beside `path`, then renames it over `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  handle, temp_path = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                       suffix=".tmp")
  try:
    with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", newline="") as file:
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


def write_arrays(path: str, arrays: dict[str, np.ndarray]) -> None:
  """Saves plain numeric arrays as `.npz` (no pickled objects), atomically."""
  write_atomic(path, lambda f: np.savez(f, **arrays), binary=True)


def read_arrays(path: str) -> dict[str, np.ndarray]:
  with np.load(path, allow_pickle=False) as saved:
    return {name: saved[name] for name in saved.files}


def chunk_path(workdir: str, name: str) -> str:
  """Where the chunk `name` of a run in `workdir` is saved: `chunks/<name>.npz`."""
  return os.path.join(workdir, CHUNKS_DIR, f"{name}.npz")


def saved_chunks(workdir: str) -> frozenset[str]:
  """Names of the chunks saved in `workdir` (none if it has no chunk folder)."""
  folder = os.path.join(workdir, CHUNKS_DIR)
  names = os.listdir(folder) if os.path.isdir(folder) else ()
  return frozenset(name[:-len(".npz")] for name in names if name.endswith(".npz"))


def saved_arrays(workdir: str, name: str,
                 compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """`chunks/<name>.npz` if a run saved it already, else `compute()`, saved first.

  The unit of resumption: work whose result is saved here is never redone.
  """
  path = chunk_path(workdir, name)
  if not os.path.exists(path):
    write_arrays(path, compute())
  return read_arrays(path)


class WorkdirState(enum.Enum):
  NEW = "new"  # nothing there yet
  RESUME = "resume"  # the same config was started there and did not finish
  FINISHED = "finished"  # the same config finished there


def check_workdir(workdir: str, config: dict[str, Any]) -> WorkdirState:
  """What `workdir` holds for `config`; reads only, creates nothing.

  Raises:
    UserError: the folder is a file, or holds a run of another config.
  """
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir {workdir} is a file; pass a folder")
  config_path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(config_path):
    if os.path.exists(os.path.join(workdir, SEEDS_FILE)):
      raise UserError(f"--workdir {workdir} holds results but no {CONFIG_FILE}; "
                      "pass a new --workdir")
    return WorkdirState.NEW
  with open(config_path) as file:
    saved = _without_display(json.load(file))
  wanted = _without_display(_as_json(config))
  if saved != wanted:
    field = _first_difference(saved, wanted)
    raise UserError(f"--workdir {workdir} holds a run of another config ({field}); "
                    "rerun with the same config to resume it, or pass a new --workdir")
  finished = os.path.exists(os.path.join(workdir, SEEDS_FILE))
  return WorkdirState.FINISHED if finished else WorkdirState.RESUME


def start_workdir(workdir: str, config: dict[str, Any]) -> None:
  """Creates `workdir` and its chunk folder, and saves the config once.

  Temp files left by writes that a killed run never finished are removed.
  """
  os.makedirs(os.path.join(workdir, CHUNKS_DIR), exist_ok=True)
  for folder in (workdir, os.path.join(workdir, CHUNKS_DIR)):
    for name in os.listdir(folder):
      if name.startswith(".") and name.endswith(".tmp"):
        os.unlink(os.path.join(folder, name))
  if not os.path.exists(os.path.join(workdir, CONFIG_FILE)):
    write_json(os.path.join(workdir, CONFIG_FILE), config)


# Fields that change what is shown, not what is computed: a run resumes across them.
DISPLAY_FIELDS = ("progress", "report")


def _without_display(config: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in config.items() if k not in DISPLAY_FIELDS}


def _as_json(value: Any) -> Any:
  return json.loads(json.dumps(value, sort_keys=True, default=str))


def _first_difference(saved: Any, wanted: Any, prefix: str = "") -> str:
  if isinstance(saved, dict) and isinstance(wanted, dict):
    for key in sorted(set(saved) | set(wanted)):
      if saved.get(key, _MISSING) != wanted.get(key, _MISSING):
        return _first_difference(saved.get(key, _MISSING), wanted.get(key, _MISSING),
                                 f"{prefix}{key}.")
  shown = lambda v: "absent" if v is _MISSING else json.dumps(v)
  return f"{prefix.rstrip('.')}: {shown(saved)} there, {shown(wanted)} now"


_MISSING = object()

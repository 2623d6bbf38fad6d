"""Files in the workdir, each written atomically: temp file, then rename.

A reader (a report, a resumed run) therefore sees either the old file or the
complete new one, never half of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import pandas as pd


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
PERIOD_FILE = "period_comparison.csv"  # forecasts against fixed baselines, over the test period
TRIALS_FILE = "trials.csv"  # a study's trials x seeds
RANKING_FILE = "ranking.csv"  # a study's trials, best first
BEST_CONFIG_FILE = "best_config.py"  # the best trial, as a config launch.py runs
CHUNKS_DIR = "chunks"  # raw per-chunk outputs: what a resumed run picks up
REPORT_FILES = ("report.md", "report.html")  # research.report: Markdown, self-contained HTML
# What every run writes (the plan adds its task's, its study's and its report's).
RUN_FILES = (CONFIG_FILE, RUN_FILE, CURVES_FILE, COMPARISON_FILE, SUMMARY_FILE, SEEDS_FILE)
STUDY_FILES = (TRIALS_FILE, RANKING_FILE, BEST_CONFIG_FILE)
VARIANCE_FILES = (VARIANCE_FILE, VARIANCE_MEMBERS_FILE)

# Columns of the result files (seeds.csv and trials.csv: model, seed, the
# task's metrics, then MEMBER_COLUMNS; trials.csv and ranking.csv add one
# column per field a study varies).
MEMBER_COLUMNS = ("train_seconds", "diverged", "diverged_epoch")
SUMMARY_COLUMNS = ("model", "metric", "mean", "std", "min", "max", "ci_low", "ci_high",
                   "ci_method", "n", "median", "iqm")
COMPARISON_COLUMNS = ("model_a", "model_b", "metric", "mean_diff", "ci_low", "ci_high",
                      "ci_method", "p_improve", "p_value", "min_p", "n")
VARIANCE_COLUMNS = ("model", "metric", "source", "std", "variance_share", "share_low",
                    "share_high", "n")
# Forecasts against a baseline that is the same for every seed, tested across the
# test period (research.tasks.forecast): Diebold-Mariano and a block bootstrap.
PERIOD_COLUMNS = ("model_a", "model_b", "loss", "mean_diff", "ci_low", "ci_high",
                  "block_length", "bootstrap_p", "dm_stat", "dm_p", "n")
RANKING_COLUMNS = ("rank", "trial", "model", "metric", "selected_on", "mean", "std", "ci_low",
                   "ci_high", "n", "train_seconds", "compile_seconds")
CURVES_COLUMNS = ("model", "seed", "epoch", "train_loss", "eval_loss")


@dataclasses.dataclass(frozen=True)
class RunResult:
  """What a finished run wrote, also kept in memory for the caller.

  Attributes:
    metrics: the task's metrics, the headline first; `lower_is_better` those
      where lower is better.
    networks: the models that trained (the trials), as opposed to baselines.
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
  networks: tuple[str, ...] = ()
  resumed_finished: bool = False
  ranking: pd.DataFrame | None = None

  def every_network_diverged(self) -> bool:
    """Whether no network member finished with finite numbers (the statistics are empty)."""
    rows = self.seeds[self.seeds["model"].isin(self.networks)]
    return bool(len(rows)) and bool(rows["diverged"].astype(bool).all())


def read_result(workdir: str) -> RunResult:
  """The results of a finished run, from its files alone."""
  path = lambda name: os.path.join(workdir, name)
  optional = lambda name, columns: (pd.read_csv(path(name)) if os.path.exists(path(name))
                                    else pd.DataFrame(columns=columns))
  with open(path(RUN_FILE)) as file:
    run = json.load(file)
  ranking = optional(RANKING_FILE, RANKING_COLUMNS)
  curves = optional(CURVES_FILE, CURVES_COLUMNS)
  return RunResult(
      workdir=workdir, seeds=pd.read_csv(path(SEEDS_FILE)),
      summary=pd.read_csv(path(SUMMARY_FILE)), comparison=pd.read_csv(path(COMPARISON_FILE)),
      variance=optional(VARIANCE_FILE, VARIANCE_COLUMNS), metrics=tuple(run["metrics"]),
      lower_is_better=frozenset(run["lower_is_better"]),
      networks=tuple(dict.fromkeys(curves["model"])), resumed_finished=True,
      ranking=ranking if len(ranking) else None)


def software_versions() -> dict[str, str]:
  """Versions of what computed the numbers, for run.json."""
  import importlib.metadata, platform  # pylint: disable=import-outside-toplevel,multiple-imports
  import flax, jax, optax  # pylint: disable=import-outside-toplevel,multiple-imports
  # scikit-learn's from its metadata: a run whose baselines all come from a cache never imports it.
  return {"jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
          "numpy": np.__version__, "pandas": pd.__version__,
          "scikit-learn": importlib.metadata.version("scikit-learn"),
          "python": platform.python_version()}


# Temp files of unfinished writes start with this, a name only this tool uses: a
# resumed run removes those a killed one left, and never touches anything else.
TEMP_PREFIX = ".research-tmp-"


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


# Files get the permissions of any file the user creates (mkstemp's are 0600).
_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: str, write: Callable[[IO], Any], binary: bool = False) -> None:
  """Calls `write(file)` on a temp file beside `path`, then renames it over `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  handle, temp_path = tempfile.mkstemp(dir=folder, suffix=".tmp",
                                       prefix=f"{TEMP_PREFIX}{os.path.basename(path)}.")
  try:
    with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", newline="") as file:
      write(file)
      file.flush()
      os.fsync(file.fileno())
    os.chmod(temp_path, _FILE_MODE)
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

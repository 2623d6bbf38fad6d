"""A study's own tables: every trial × seed, the ranking, the best trial's config.

Built on the host from the per-member rows, the same for every task; they are
computed here and written by the pipeline (`research.results` has their columns).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from research import results
from research.study.space import MODELS_AXIS, config_source

if TYPE_CHECKING:
  from research.plan import Trial

SEARCH_BEST = "best of search"  # the model name of each seed's selected trial


def trial_table(trials: Sequence["Trial"], seed_rows: pd.DataFrame,
                validation: pd.DataFrame | None = None,
                metrics: Sequence[str] = ()) -> pd.DataFrame:
  """One row per trial × seed: the trial, its values (one column per field), its test
  metrics and, when it was ranked on a validation part, those as `val_<metric>`."""
  if validation is not None:
    scores = validation[["model", "seed", *metrics]].rename(
        columns={m: f"val_{m}" for m in metrics})
    seed_rows = seed_rows.merge(scores, on=["model", "seed"], how="left")
  frames = []
  for trial in trials:
    rows = seed_rows[seed_rows["model"] == trial.label]
    values = {path: _cell(value) for path, value in trial.values.items()
              if path != MODELS_AXIS}  # the model column names it already
    frames.append(rows.assign(trial=trial.index, **values))
  table = pd.concat(frames, ignore_index=True)
  first = ["trial", "model", "seed"] + list(dict.fromkeys(
      path for trial in trials for path in trial.values if path != MODELS_AXIS))
  return table[first + [c for c in table.columns if c not in first]]


def ranking(trials: Sequence["Trial"], summary: pd.DataFrame, table: pd.DataFrame,
            metric: str, lower_is_better: Collection[str],
            compile_seconds: Mapping[int, float], selected_on: str = "test") -> pd.DataFrame:
  """Trials by mean `metric` over their seeds (best first), with the CI from `summary`
  (computed on the part they are `selected_on`: 'validation' or 'test').

  Columns: `results.RANKING_COLUMNS`, then one per field the study varies.
  """
  rows = summary[summary["metric"] == metric].set_index("model")
  seconds = table.groupby("trial")["train_seconds"].mean()
  # A trial whose every member diverged has no summary row: it ranks last, n = 0.
  stat = lambda label, c: rows.loc[label, c] if label in rows.index else (0 if c == "n"
                                                                         else np.nan)
  records = [{"trial": t.index, "model": t.label, "metric": metric, "selected_on": selected_on,
              **{c: stat(t.label, c) for c in ("mean", "std", "ci_low", "ci_high", "n")},
              "train_seconds": float(seconds.get(t.index, np.nan)),
              "compile_seconds": float(compile_seconds.get(t.index, np.nan)),
              **{path: _cell(v) for path, v in t.values.items() if path != MODELS_AXIS}}
             for t in trials]
  frame = pd.DataFrame.from_records(records)
  frame = frame.sort_values(["mean", "trial"], ascending=[metric in lower_is_better, True],
                            na_position="last", kind="stable")
  frame.insert(0, "rank", np.arange(1, len(frame) + 1))
  columns = list(results.RANKING_COLUMNS)
  return frame[columns + [c for c in frame.columns if c not in columns]].reset_index(drop=True)


def best_per_seed(table: pd.DataFrame, metric: str, lower_is_better: Collection[str],
                  columns: Sequence[str], on_validation: bool = False) -> pd.DataFrame:
  """Each seed's selected trial (best `metric` of that seed's own search, on the
  validation part with `on_validation`), as model `SEARCH_BEST` with the seed
  table's `columns` (its test metrics): its spread across seeds includes what
  the search itself varies."""
  usable = table[~table["diverged"].astype(bool)]
  ascending = metric in lower_is_better
  key = f"val_{metric}" if on_validation else metric
  best = (usable.sort_values([key, "trial"], ascending=[ascending, True], kind="stable")
          .groupby("seed", sort=True).head(1).sort_values("seed"))
  return best.assign(model=SEARCH_BEST)[list(columns)]


def best_config_source(trial: "Trial", ranked: pd.Series, workdir: str) -> str:
  """`best_config.py`: the best trial's config as a file `launch.py` runs."""
  doc = (f"The best trial of the study in this folder: {trial.label} "
         f"({ranked['metric']} {ranked['mean']:.4f} ± {ranked['std']:.4f} on the "
         f"{ranked['selected_on']} part over {int(ranked['n'])} seeds).\n\n"
         "  python launch.py --config="
         f"{os.path.join(workdir, results.BEST_CONFIG_FILE)}\n")
  return config_source(trial.config_dict(), doc)


def _cell(value):
  """A trial's value as a CSV cell: numbers as they are, the rest as text."""
  if isinstance(value, (int, float, str)) and not isinstance(value, bool):
    return value
  if isinstance(value, Mapping):
    return str(value.get("name", dict(value)))
  return str(tuple(value)) if isinstance(value, list) else str(value)

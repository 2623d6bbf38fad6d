"""A study's own tables: every trial × seed, the ranking, the best trial's config.

Built on the host from the per-member rows, the same for classification and
forecasting; `research.study` (which knows nothing of files) says what the
trials were.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence

import ml_collections
import numpy as np
import pandas as pd

from research import results, stats, study
from research.errors import UserError

RANKING_COLUMNS = ("rank", "trial", "model", "metric", "mean", "std", "ci_low", "ci_high",
                   "n", "train_seconds", "compile_seconds")
SEARCH_BEST = "best of search"  # the model name of each seed's selected trial


def study_metric(config: ml_collections.ConfigDict, metrics: Sequence[str]) -> str:
  """`study.metric`, or the task's first metric; checked against `metrics`."""
  metric = (config.get("study") or {}).get("metric", "") or metrics[0]
  if metric not in metrics:
    raise UserError(f"study.metric must be one of {', '.join(metrics)}, got {metric!r}")
  return metric


def trial_table(trials: Sequence[study.Trial], seed_rows: pd.DataFrame) -> pd.DataFrame:
  """One row per trial × seed: the trial, its values (one column per field), its metrics."""
  frames = []
  for trial in trials:
    rows = seed_rows[seed_rows["model"] == trial.label]
    values = {path: _cell(value) for path, value in trial.values.items()
              if path != study.MODELS_AXIS}  # the model column names it already
    frames.append(rows.assign(trial=trial.index, **values))
  table = pd.concat(frames, ignore_index=True)
  first = ["trial", "model", "seed"] + list(dict.fromkeys(
      path for trial in trials for path in trial.values if path != study.MODELS_AXIS))
  return table[first + [c for c in table.columns if c not in first]]


def ranking(trials: Sequence[study.Trial], summary: pd.DataFrame, table: pd.DataFrame,
            metric: str, lower_is_better: Collection[str],
            compile_seconds: Mapping[int, float]) -> pd.DataFrame:
  """Trials by mean `metric` over their seeds (best first), with the CI from `summary`.

  Columns: `RANKING_COLUMNS`, then one per field the study varies.
  """
  rows = summary[summary["metric"] == metric].set_index("model")
  seconds = table.groupby("trial")["train_seconds"].mean()
  # A trial whose every member diverged has no summary row: it ranks last, n = 0.
  stat = lambda label, c: rows.loc[label, c] if label in rows.index else (0 if c == "n"
                                                                         else np.nan)
  records = [{"trial": t.index, "model": t.label, "metric": metric,
              **{c: stat(t.label, c) for c in ("mean", "std", "ci_low", "ci_high", "n")},
              "train_seconds": float(seconds.get(t.index, np.nan)),
              "compile_seconds": float(compile_seconds.get(t.index, np.nan)),
              **{path: _cell(v) for path, v in t.values.items() if path != study.MODELS_AXIS}}
             for t in trials]
  frame = pd.DataFrame.from_records(records)
  frame = frame.sort_values(["mean", "trial"], ascending=[metric in lower_is_better, True],
                            na_position="last", kind="stable")
  frame.insert(0, "rank", np.arange(1, len(frame) + 1))
  return frame[list(RANKING_COLUMNS) + [c for c in frame.columns if c not in RANKING_COLUMNS]
               ].reset_index(drop=True)


def best_per_seed(table: pd.DataFrame, metric: str, lower_is_better: Collection[str],
                  columns: Sequence[str]) -> pd.DataFrame:
  """Each seed's selected trial (best `metric` of that seed's own search), as model
  `SEARCH_BEST` with the seed table's `columns`: its spread across seeds includes
  what the search itself varies."""
  usable = table[~table["diverged"].astype(bool)]
  ascending = metric in lower_is_better
  best = (usable.sort_values([metric, "trial"], ascending=[ascending, True], kind="stable")
          .groupby("seed", sort=True).head(1).sort_values("seed"))
  return best.assign(model=SEARCH_BEST)[list(columns)]


def write_best_config(workdir: str, trial: study.Trial, ranked: pd.Series) -> str:
  """Writes `best_config.py`: the best trial's config, runnable by `launch.py`."""
  doc = (f"The best trial of the study in this folder: {trial.label} "
         f"({ranked['metric']} {ranked['mean']:.4f} ± {ranked['std']:.4f} over "
         f"{int(ranked['n'])} seeds).\n\n  python launch.py --config="
         f"{os.path.join(workdir, results.BEST_CONFIG_FILE)}\n")
  path = os.path.join(workdir, results.BEST_CONFIG_FILE)
  results.write_atomic(path, lambda f: f.write(study.config_source(trial.config, doc)))
  return path


def _cell(value):
  """A trial's value as a CSV cell: numbers as they are, the rest as text."""
  if isinstance(value, (int, float, str)) and not isinstance(value, bool):
    return value
  if isinstance(value, Mapping):
    return str(value.get("name", dict(value)))
  return str(tuple(value)) if isinstance(value, list) else str(value)


def summarize(config: ml_collections.ConfigDict, trials: Sequence[study.Trial],
              seed_table: pd.DataFrame, metrics: Sequence[str],
              lower_is_better: Collection[str], compile_seconds: Mapping[int, float],
              workdir: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
  """Statistics of a run's rows; for a study also its tables and `best_config.py`.

  Returns the seed table (with the per-seed search's selections added), the
  summary, the comparison (with a study, its best trial against every other
  model) and the ranking (empty without a study).
  """
  seed = config.seed
  if not study.has_study(config):
    summary = stats.summarize(seed_table, metrics, seed=seed)
    return (seed_table, summary, stats.compare(seed_table, metrics, lower_is_better, seed=seed),
            pd.DataFrame(columns=RANKING_COLUMNS))
  metric = study_metric(config, metrics)
  table = trial_table(trials, seed_table)
  per_seed = bool(config.study.get("search_per_seed", False))
  if per_seed:
    seed_table = pd.concat([seed_table, best_per_seed(table, metric, lower_is_better,
                                                      seed_table.columns)], ignore_index=True)
  summary = stats.summarize(seed_table, metrics, seed=seed)
  ranked = ranking(trials, summary, table, metric, lower_is_better, compile_seconds)
  best = SEARCH_BEST if per_seed else ranked["model"].iloc[0]
  comparison = stats.compare(seed_table, metrics, lower_is_better, seed=seed, anchor=best)
  results.write_csv(os.path.join(workdir, results.TRIALS_FILE), table)
  results.write_csv(os.path.join(workdir, results.RANKING_FILE), ranked)
  write_best_config(workdir, trials[int(ranked["trial"].iloc[0])], ranked.iloc[0])
  return seed_table, summary, comparison, ranked

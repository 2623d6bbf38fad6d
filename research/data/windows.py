"""Many-to-one examples: `window` past values in, the next `horizon` values out.

An example is in training when all of its targets fall in the first
`train_fraction` of the series, in the test part when its first target does;
one that straddles the split is in neither. An example is kept only if its
inputs and targets are all observed (and, in the test part, the values its
naive baselines use), so nothing is ever filled in.

Naive baselines, for the target `j` steps after the forecast origin (the last
input), `j = 1..horizon`:
- persistence: the last input;
- seasonal naive: the value one season before, or a whole number of seasons
  before when the horizon is longer than a season (Hyndman & Athanasopoulos,
  FPP3 5.2: y[t + j - m (floor((j - 1) / m) + 1)]), so it never looks past the origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from research.data.series import SeriesData
from research.errors import UserError


def seasonal_lags(horizon: int, season: int) -> np.ndarray:
  """`[horizon]` how far back (in steps) seasonal naive looks for each target step."""
  steps = np.arange(1, horizon + 1)
  return season * ((steps - 1) // season + 1)


def window_data(tidy: pd.DataFrame, *, source: str, window: int, horizon: int,
                train_fraction: float, season: int, validation: float = 0.0,
                scale: str = "standard", stride: int = 1) -> SeriesData:
  """Many-to-one examples from a tidy series (`research.data.series.clean_series`).

  With `validation`, the end of the training period (that share of it) is held
  out: training targets end where it starts, and scaling comes from before it.
  `scale` 'none' leaves the values raw; `stride` k trains on every k-th window
  only (a cheaper run: the validation and test parts stay whole).
  """
  if not (isinstance(stride, int) and stride >= 1):
    raise UserError(f"data.stride must be a positive integer, got {stride!r}")
  if window < 1 or horizon < 1:
    raise UserError(f"data.window ({window}) and data.horizon ({horizon}) must be at least 1")
  if season < 1:
    raise UserError(f"data.season must be at least 1 (steps per season), got {season}")
  values, times = tidy["value"].to_numpy(np.float64), tidy["time"].to_numpy()
  if len(values) - window - horizon + 1 < 2:
    raise UserError(f"{source} has {len(values)} values, too short for a window of {window} "
                    f"plus a horizon of {horizon}; use a longer series or a smaller window")
  split = int(len(values) * train_fraction)
  fit_end = int(split * (1 - validation))  # what the networks fit on ends here
  starts = np.arange(window, len(values) - horizon + 1)  # each example's first target
  targets = starts[:, None] + np.arange(horizon)
  inputs = starts[:, None] - window + np.arange(window)
  observed = ~np.isnan(values)
  complete = observed[inputs].all(1) & observed[targets].all(1)
  train = complete & (starts + horizon <= fit_end)
  held_out = complete & (starts >= fit_end) & (starts + horizon <= split) & (validation > 0)
  references = starts[:, None] + np.arange(horizon) - seasonal_lags(horizon, season)
  test = complete & (starts >= split)
  if np.any(references[test] < 0):
    raise UserError(f"data.season={season} reaches before the start of {source}; "
                    "use a shorter season or a later split")
  test &= observed[np.maximum(references, 0)].all(1)
  if not train.any() or not test.any() or (validation > 0 and not held_out.any()):
    raise UserError(f"data.train_fraction={train_fraction} leaves no training, validation or "
                    f"test examples in {source} (with its gaps); use a value between 0 and 1")
  trained = np.flatnonzero(train)[::stride]
  kept = np.concatenate([trained, np.flatnonzero(held_out), np.flatnonzero(test)])
  history = values[:fit_end][observed[:fit_end]]  # the observed values the networks fit on
  mean, std = float(history.mean()), float(history.std()) or 1.0
  if scale == "none":
    mean, std = 0.0, 1.0
  first_test = int(len(trained) + held_out.sum())
  test_targets, test_references = targets[kept[first_test:]], references[kept[first_test:]]
  return SeriesData(
      values=((values - mean) / std).astype(np.float32),
      targets=((values[targets[kept]] - mean) / std).astype(np.float32),
      starts=starts[kept], usable=np.ones(len(kept), bool), train_count=len(trained),
      test_start=first_test, window=window, mean=mean, std=std, scaled=scale != "none",
      target_times=times[targets[kept]], source=source,
      baselines={"persistence": np.repeat(values[test_targets[:, :1] - 1], horizon, 1),
                 "seasonal_naive": values[test_references]})

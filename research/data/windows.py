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

from research.data.covariates import InputSpec, calendar_matrix, covariate_matrix
from research.data.series import SeriesData
from research.errors import UserError


def seasonal_lags(horizon: int, season: int) -> np.ndarray:
  """`[horizon]` how far back (in steps) seasonal naive looks for each target step."""
  steps = np.arange(1, horizon + 1)
  return season * ((steps - 1) // season + 1)


def window_rows(features, first, window: int, ahead: int, future_channels, xp=np):
  """The inputs of examples whose first input step is `first` (`[examples]`).

  `[examples, window + ahead, channels]` rows of `features` (`[steps,
  channels]`); with `ahead` > 0 the rows run on over the forecast horizon, where
  only the `future_channels` (known-ahead covariates, calendar) keep their
  values, the others (the series, past-only covariates) are 0, and one more
  channel flags those steps. `xp` is numpy (the baselines) or jax.numpy (the
  networks): both build exactly the same inputs.
  """
  steps = window + ahead
  rows = features[first[..., None] + xp.arange(steps)]
  if not ahead:
    return rows
  future = xp.arange(steps) >= window
  keep = ~future[:, None] | xp.asarray(future_channels)[None, :]
  rows = xp.where(keep, rows, xp.zeros((), rows.dtype))
  flag = xp.broadcast_to(future[:, None].astype(rows.dtype), rows.shape[:-1] + (1,))
  return xp.concatenate([rows, flag], axis=-1)


def window_data(tidy: pd.DataFrame, *, source: str, window: int, horizon: int,
                train_fraction: float, season: int, validation: float = 0.0,
                scale: str = "standard", stride: int = 1,
                inputs: InputSpec = InputSpec()) -> SeriesData:
  """Many-to-one examples from a tidy series (`research.data.series.clean_series`).

  With `validation`, the end of the training period (that share of it) is held
  out: training targets end where it starts, and scaling comes from before it.
  `scale` 'none' leaves the values raw; `stride` k trains on every k-th window
  only (a cheaper run: the validation and test parts stay whole); `inputs`
  adds covariates and calendar features as channels (`window_rows`).
  """
  _check_sizes(window, horizon, season, stride)
  values, times = tidy["value"].to_numpy(np.float64), tidy["time"].to_numpy()
  if len(values) - window - horizon + 1 < 2:
    raise UserError(f"{source} has {len(values)} values, too short for a window of {window} "
                    f"plus a horizon of {horizon}; use a longer series or a smaller window")
  split = int(len(values) * train_fraction)
  fit_end = int(split * (1 - validation))  # what the networks fit on ends here
  history = values[:fit_end][~np.isnan(values[:fit_end])]  # what the networks fit on
  mean, std = (float(history.mean()), float(history.std()) or 1.0) if scale != "none" else (
      0.0, 1.0)
  covariates, scaling = covariate_matrix(tidy, inputs.columns, fit_end, source)
  features, future_channels = _features((values - mean) / std, covariates, times, inputs,
                                        source)
  ahead = horizon if inputs.known_ahead else 0
  starts = np.arange(window, len(values) - horizon + 1)  # each example's first target
  targets = starts[:, None] + np.arange(horizon)
  past = ~np.isnan(features[:, :1 + len(inputs.covariates) + len(inputs.known_ahead)])
  known = ~np.isnan(covariates[:, len(inputs.covariates):])  # known-ahead covariates
  complete = (past[starts[:, None] - window + np.arange(window)].all((1, 2))
              & ~np.isnan(values[targets]).any(1) & known[targets].all((1, 2)))
  train = complete & (starts + horizon <= fit_end)
  held_out = complete & (starts >= fit_end) & (starts + horizon <= split) & (validation > 0)
  references = starts[:, None] + np.arange(horizon) - seasonal_lags(horizon, season)
  test = complete & (starts >= split)
  if np.any(references[test] < 0):
    raise UserError(f"data.season={season} reaches before the start of {source}; "
                    "use a shorter season or a later split")
  test &= ~np.isnan(values[np.maximum(references, 0)]).any(1)
  if not train.any() or not test.any() or (validation > 0 and not held_out.any()):
    raise UserError(f"data.train_fraction={train_fraction} leaves no training, validation or "
                    f"test examples in {source} (with its gaps); use a value between 0 and 1")
  trained = np.flatnonzero(train)[::stride]
  kept = np.concatenate([trained, np.flatnonzero(held_out), np.flatnonzero(test)])
  first_test = int(len(trained) + held_out.sum())
  test_targets, test_references = targets[kept[first_test:]], references[kept[first_test:]]
  return SeriesData(
      values=((values - mean) / std).astype(np.float32), features=features,
      ahead=ahead, future_channels=future_channels,
      targets=((values[targets[kept]] - mean) / std).astype(np.float32),
      starts=starts[kept], usable=np.ones(len(kept), bool), train_count=len(trained),
      test_start=first_test, window=window, mean=mean, std=std, scaled=scale != "none",
      target_times=times[targets[kept]], source=source, covariate_scaling=scaling,
      baselines={"persistence": np.repeat(values[test_targets[:, :1] - 1], horizon, 1),
                 "seasonal_naive": values[test_references]})


def _check_sizes(window: int, horizon: int, season: int, stride: int) -> None:
  if not (isinstance(stride, int) and stride >= 1):
    raise UserError(f"data.stride must be a positive integer, got {stride!r}")
  if window < 1 or horizon < 1:
    raise UserError(f"data.window ({window}) and data.horizon ({horizon}) must be at least 1")
  if season < 1:
    raise UserError(f"data.season must be at least 1 (steps per season), got {season}")


def _features(scaled: np.ndarray, covariates: np.ndarray, times: np.ndarray,
              inputs: InputSpec, source: str) -> tuple[np.ndarray, np.ndarray]:
  """`[steps, channels]`: the scaled series, the covariates (past-only, then known
  ahead) and the calendar features; and which channels are known over the horizon."""
  if inputs.calendar and not np.issubdtype(times.dtype, np.datetime64):
    raise UserError(f"calendar features need timestamps: set data.time_column for {source}")
  calendar = calendar_matrix(times, inputs.calendar) if inputs.calendar else np.zeros(
      (len(scaled), 0))
  features = np.concatenate([scaled[:, None], covariates, calendar], 1).astype(np.float32)
  future = np.array([False] * (1 + len(inputs.covariates)) +
                    [True] * (len(inputs.known_ahead) + calendar.shape[1]))
  return features, future

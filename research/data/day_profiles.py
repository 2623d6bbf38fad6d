"""Many-to-many over days, after the textbook Elman forecaster of a 24-hour load profile.

For day d the inputs are 19 lagged loads (hours 20-23 of day d-1, and hours
19-23 of days d-2, d-3 and d-4: all known by midnight before day d), a 2-bit
season code and a 2-bit day type (working day; weekend); the targets are day
d's 24 hourly loads. The network runs over consecutive days with its state
carried from day to day, so a day with gaps cannot simply be left out of the
sequence: its lagged loads are carried forward from the last observed hour
(the past only; a gap at the very start takes the training mean), and a day
whose own loads are not all observed is neither trained on nor scored, nor
is a test day whose naive baselines would need a day with gaps.

Covariates (`research.data.covariates`) follow the 23 inputs: a past-only one
as the same 19 lagged hours as the load, a known-ahead one as the forecast
day's own 24 hours, then the calendar features of the day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from research.data.covariates import InputSpec, calendar_matrix, covariate_matrix
from research.data.series import SeriesData
from research.errors import UserError

LAGS = ([(1, h) for h in range(20, 24)] +  # (days back, hour)
        [(days, h) for days in (2, 3, 4) for h in range(19, 24)])
FIRST = 4  # the lags reach 4 days back: the first day with inputs


def day_profile_data(tidy: pd.DataFrame, *, source: str, train_fraction: float,
                     workday_column: str = "WorkDay", validation: float = 0.0,
                     scale: str = "standard", inputs: InputSpec = InputSpec()) -> SeriesData:
  """Many-to-many over days: 23 inputs and 24 hourly targets per day (see module doc).

  With `validation`, the last training days (that share of them) are held out:
  the sequence runs through them, but the loss and the scaling do not use them.
  `inputs` adds covariates (`_covariate_inputs`) and calendar features after the 23.
  """
  if not np.issubdtype(tidy["time"].dtype, np.datetime64):
    raise UserError(f"day profiles need timestamps: set data.time_column for {source}")
  if workday_column not in tidy.columns:
    raise UserError(f"day profiles need a working-day column {workday_column!r} in {source}")
  if "hour" in inputs.calendar:
    raise UserError("data.calendar 'hour' does not apply to day profiles (a day's 24 hours "
                    "are forecast together); use day_of_week or day_of_year")
  hourly = tidy.set_index("time").resample("1h").agg(
      {"value": "mean", workday_column: "max", **{c: "mean" for c in inputs.columns}})
  hourly = hourly[hourly.index.normalize().map(hourly.index.normalize().value_counts()) == 24]
  days = hourly.index.normalize().unique()
  if len(days) < 12:
    raise UserError(f"{source} covers {len(days)} whole days; day profiles need at least 12")
  loads = hourly["value"].to_numpy(np.float64).reshape(len(days), 24)
  split = int(len(days) * train_fraction)
  fit_end = split - int((split - FIRST) * validation)  # days the networks fit on end here
  if validation > 0 and not FIRST < fit_end < split:
    raise UserError(f"{source}: too few training days to hold out a validation part")
  history = loads[:fit_end]
  history = history[~np.isnan(history)] if np.isnan(history).any() else history
  mean, std = (history.mean(), history.std() or 1.0) if scale != "none" else (0.0, 1.0)
  scaled = (loads - mean) / std
  covariates, scaling, covariates_known = _covariate_inputs(hourly, inputs, len(days),
                                                            fit_end * 24, source)
  features = np.concatenate([_lags(scaled), _day_codes(hourly, days, workday_column),
                             covariates, calendar_matrix(days, inputs.calendar)[FIRST:]], 1)
  observed = ~np.isnan(loads).any(1)
  train_count, test_start = fit_end - FIRST, split - FIRST
  usable = observed[FIRST:] & covariates_known
  # A test day is scored only if its baselines' days (d-1 and d-7) are observed too.
  usable[test_start:] &= observed[FIRST - 1:-1][test_start:] & _lagged(observed, 7, False)[
      FIRST:][test_start:]
  times = hourly.index.to_numpy().reshape(len(days), 24)[FIRST:]
  return SeriesData(
      # A day with gaps has weight 0, but NaN * 0 is NaN: its missing targets are 0.
      values=features.astype(np.float32),
      targets=np.where(np.isnan(scaled), 0.0, scaled)[FIRST:].astype(np.float32),
      starts=np.arange(len(days) - FIRST), usable=usable, train_count=train_count,
      test_start=test_start, window=0, mean=float(mean), std=float(std), target_times=times,
      scaled=scale != "none", covariate_scaling=scaling,
      source=source,
      baselines={"persistence": loads[FIRST - 1:-1][test_start:],
                 "seasonal_naive": _lagged(loads, 7, np.nan)[FIRST:][test_start:]})


def _lags(hours: np.ndarray) -> np.ndarray:
  """`[days - FIRST, 19]` the `LAGS` of an hourly `[days, 24]` matrix, from the past
  only: gaps carried forward from the last observed hour (0 before any)."""
  known = pd.Series(hours.ravel()).ffill().fillna(0.0).to_numpy().reshape(hours.shape)
  return np.stack([known[np.arange(FIRST, len(hours)) - back, hour] for back, hour in LAGS], 1)


def _day_codes(hourly: pd.DataFrame, days: pd.DatetimeIndex, workday_column: str) -> np.ndarray:
  """`[days - FIRST, 4]` the textbook's 2-bit season and 2-bit day type."""
  weekend = days.day_of_week.to_numpy() >= 5
  # The day's flag as its first hour gives it (a calendar fact, known ahead); a day
  # with no flag at all is a working day unless it is a weekend.
  flags = pd.DataFrame(hourly[workday_column].to_numpy(np.float64).reshape(len(days), 24))
  workday = flags.bfill(axis=1)[0].fillna(pd.Series(~weekend, dtype=np.float64)).to_numpy()
  # Southern-hemisphere seasons would only relabel the codes; the network learns either.
  season = (days.month.to_numpy() % 12) // 3
  return np.concatenate([np.stack([season >> 1 & 1, season & 1], 1),
                         np.stack([workday, weekend], 1)], 1)[FIRST:].astype(np.float64)


def _covariate_inputs(hourly: pd.DataFrame, inputs: InputSpec, num_days: int, fit_hours: int,
                      source: str) -> tuple[np.ndarray, dict, np.ndarray]:
  """Each past-only covariate's `LAGS` (as the load's), then each known-ahead one's 24
  hours of the forecast day, standardised on the training days; their scaling; and
  which days have every known-ahead hour (a day without is neither trained on nor scored)."""
  matrix, scaling = covariate_matrix(hourly.reset_index(), inputs.columns, fit_hours, source)
  hours = matrix.reshape(num_days, 24, len(inputs.columns))
  past = [_lags(hours[:, :, i]) for i in range(len(inputs.covariates))]
  ahead = hours[FIRST:, :, len(inputs.covariates):]
  known = ~np.isnan(ahead).any((1, 2))
  blocks = past + [np.nan_to_num(ahead[:, :, i]) for i in range(len(inputs.known_ahead))]
  columns = np.concatenate(blocks, 1) if blocks else np.zeros((num_days - FIRST, 0))
  return columns, scaling, known


def _lagged(values: np.ndarray, days: int, fill) -> np.ndarray:
  out = np.full_like(values, fill)
  out[days:] = values[:-days]
  return out

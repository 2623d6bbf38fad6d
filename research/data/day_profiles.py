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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from research.data.series import SeriesData
from research.errors import UserError

LAGS = ([(1, h) for h in range(20, 24)] +  # (days back, hour)
        [(days, h) for days in (2, 3, 4) for h in range(19, 24)])
FIRST = 4  # the lags reach 4 days back: the first day with inputs


def day_profile_data(tidy: pd.DataFrame, *, source: str, train_fraction: float,
                     workday_column: str = "WorkDay", validation: float = 0.0,
                     scale: str = "standard") -> SeriesData:
  """Many-to-many over days: 23 inputs and 24 hourly targets per day (see module doc).

  With `validation`, the last training days (that share of them) are held out:
  the sequence runs through them, but the loss and the scaling do not use them.
  """
  if not np.issubdtype(tidy["time"].dtype, np.datetime64):
    raise UserError(f"day profiles need timestamps: set data.time_column for {source}")
  if workday_column not in tidy.columns:
    raise UserError(f"day profiles need a working-day column {workday_column!r} in {source}")
  hourly = tidy.set_index("time").resample("1h").agg({"value": "mean", workday_column: "max"})
  hourly = hourly[hourly.index.normalize().map(hourly.index.normalize().value_counts()) == 24]
  days = hourly.index.normalize().unique()
  if len(days) < 12:
    raise UserError(f"{source} covers {len(days)} whole days; day profiles need at least 12")
  loads = hourly["value"].to_numpy(np.float64).reshape(len(days), 24)
  weekend = days.day_of_week.to_numpy() >= 5
  # The day's flag as its first hour gives it (a calendar fact, known ahead); a day
  # with no flag at all is a working day unless it is a weekend.
  flags = pd.DataFrame(hourly[workday_column].to_numpy(np.float64).reshape(len(days), 24))
  workday = flags.bfill(axis=1)[0].fillna(pd.Series(~weekend, dtype=np.float64)).to_numpy()
  split = int(len(days) * train_fraction)
  fit_end = split - int((split - FIRST) * validation)  # days the networks fit on end here
  if validation > 0 and not FIRST < fit_end < split:
    raise UserError(f"{source}: too few training days to hold out a validation part")
  history = loads[:fit_end]
  history = history[~np.isnan(history)] if np.isnan(history).any() else history
  mean, std = (history.mean(), history.std() or 1.0) if scale != "none" else (0.0, 1.0)
  scaled = (loads - mean) / std
  # Lagged inputs from the past only: forward-filled hour by hour.
  known = pd.Series(scaled.ravel()).ffill().fillna(0.0).to_numpy().reshape(scaled.shape)
  months = days.month.to_numpy()
  # Southern-hemisphere seasons would only relabel the codes; the network learns either.
  season = (months % 12) // 3
  inputs = np.concatenate([
      np.stack([known[np.arange(FIRST, len(days)) - back, hour] for back, hour in LAGS], 1),
      np.stack([season >> 1 & 1, season & 1], 1)[FIRST:],
      np.stack([workday, weekend], 1)[FIRST:].astype(np.float64)], axis=1)
  observed = ~np.isnan(loads).any(1)
  train_count, test_start = fit_end - FIRST, split - FIRST
  usable = observed[FIRST:].copy()
  # A test day is scored only if its baselines' days (d-1 and d-7) are observed too.
  usable[test_start:] &= observed[FIRST - 1:-1][test_start:] & _lagged(observed, 7, False)[
      FIRST:][test_start:]
  times = hourly.index.to_numpy().reshape(len(days), 24)[FIRST:]
  return SeriesData(
      # A day with gaps has weight 0, but NaN * 0 is NaN: its missing targets are 0.
      values=inputs.astype(np.float32),
      targets=np.where(np.isnan(scaled), 0.0, scaled)[FIRST:].astype(np.float32),
      starts=np.arange(len(days) - FIRST), usable=usable, train_count=train_count,
      test_start=test_start, window=0, mean=float(mean), std=float(std), target_times=times,
      scaled=scale != "none",
      source=source,
      baselines={"persistence": loads[FIRST - 1:-1][test_start:],
                 "seasonal_naive": _lagged(loads, 7, np.nan)[FIRST:][test_start:]})


def _lagged(values: np.ndarray, days: int, fill) -> np.ndarray:
  out = np.full_like(values, fill)
  out[days:] = values[:-days]
  return out

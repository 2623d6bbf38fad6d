"""Time series for forecasting: loading, checks, gaps, and the problem a network sees.

Two shapes of problem, both scaled with statistics of the training part only:
`windows` (many-to-one: `research.data.windows`) and `day_profile`
(many-to-many over days: `research.data.day_profiles`).

Gaps are explicit and never interpolated. Missing timestamps become missing
values on the series' own regular grid (the log says how many and the longest
span). An example whose targets are not all observed is never trained on or
scored; a window whose inputs touch a gap is left out; and every model (the
networks and every baseline) is scored on exactly the same test examples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from absl import logging

from research.data.covariates import InputSpec, describe_inputs
from research.data.sources import get_loader
from research.errors import UserError
from research.registry import DATASETS

MODES = ("windows", "day_profile")
SCALES = ("standard", "none")


@dataclasses.dataclass(frozen=True)
class SeriesData:
  """A forecasting problem ready for a recurrent network.

  Attributes:
    values: `[n]` float32 series in scaled units, NaN at gaps (windows), or
      `[days, features]` inputs (day profiles).
    targets: `[examples, outputs]` scaled targets (0 where an unusable example's
      target is missing: it has no weight in any loss and is never scored).
    starts: `[examples]` index in `values` of each example's first target
      (windows), or of its day (day profiles).
    usable: `[examples]` whether an example may be trained on (training part)
      or scored (test part): its targets, and for a test example the values
      the naive baselines use, are all observed.
    train_count: the first `train_count` examples are for training.
    test_start: examples from this one on are for testing; those between
      `train_count` and it are the validation part (none without one).
    window: time steps per example (windows); 0 for day profiles.
    mean, std: the scaling, fitted on the training part: data = scaled * std + mean.
    target_times: `[examples, outputs]` timestamps of the targets.
    baselines: name -> `[test examples, outputs]` naive forecasts in data units.
    source: where the data came from, for messages.
    mape_floor: MAPE and MAXPE leave out actual values below this (data units;
      0: only exact zeros).
    scaled: whether values are standardised (`mean`, `std`) or raw (0, 1).
    capacity: what NMAE and NRMSE are a share of (data units): the installed
      capacity of a wind farm, or the largest training value when not given.
    horizons: steps ahead (1 = the first target) at which metrics are also reported.
    features: `[n, channels]` what a window's steps hold (windows): the scaled
      series, then the covariates, then calendar features (`research.data.covariates`).
    ahead: steps a window runs on past its origin, over the horizon (0 unless a
      covariate is known ahead); `future_channels` those that keep their values there.
    covariate_scaling: each covariate's (mean, std) from the training part.
    inputs: what each input is and when it is known (`covariates.describe_inputs`).
  """
  values: np.ndarray
  targets: np.ndarray
  starts: np.ndarray
  usable: np.ndarray
  train_count: int
  test_start: int
  window: int
  mean: float
  std: float
  target_times: np.ndarray
  baselines: dict[str, np.ndarray]
  source: str
  mape_floor: float = 0.0
  scaled: bool = True
  capacity: float = 0.0
  horizons: tuple[int, ...] = ()
  features: np.ndarray | None = None
  ahead: int = 0
  future_channels: np.ndarray | None = None
  covariate_scaling: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
  inputs: tuple[dict[str, str], ...] = ()

  @property
  def many_to_many(self) -> bool:
    return self.window == 0

  @property
  def num_outputs(self) -> int:
    return int(self.targets.shape[1])

  @property
  def num_test(self) -> int:
    return int(self.targets.shape[0] - self.test_start)

  def part(self, name: str = "test") -> slice:
    """The examples of a part: 'test', or 'val' (the held-out end of the training part)."""
    return slice(self.test_start, None) if name == "test" else slice(self.train_count,
                                                                     self.test_start)

  def scored(self, part: str = "test") -> np.ndarray:
    """Which examples of a part every model is scored on."""
    return self.usable[self.part(part)]

  def scored_rows(self, predictions: np.ndarray, part: str = "test") -> np.ndarray:
    """`[members, examples of the part, outputs]` predictions -> those of the scored ones."""
    return predictions[:, self.scored(part)]

  def actual(self, part: str = "test") -> np.ndarray:
    """The scored targets of a part, in data units."""
    return self.targets[self.part(part)][self.scored(part)] * self.std + self.mean

  def times(self, part: str = "test") -> np.ndarray:
    """Timestamps of the scored targets of a part."""
    return self.target_times[self.part(part)][self.scored(part)]

  def persistence(self, part: str = "test") -> np.ndarray:
    """The persistence forecast of a part's scored examples, in data units: the last
    input (windows) or the day before (day profiles), for every output; on the test
    part exactly the `persistence` baseline."""
    if part == "test" and "persistence" in self.baselines:
      return self.baselines["persistence"][self.scored()]
    index = np.arange(len(self.targets))[self.part(part)][self.scored(part)]
    if self.many_to_many:
      return self.targets[index - 1] * self.std + self.mean
    last = self.values[self.starts[index] - 1] * self.std + self.mean
    return np.repeat(last[:, None], self.num_outputs, 1)

  def example_inputs(self) -> np.ndarray:
    """What the network sees per example, flattened for scikit-learn: its window of
    past values, or its day's features."""
    if self.many_to_many:
      return self.values
    from research.data.windows import window_rows  # pylint: disable=import-outside-toplevel
    rows = window_rows(self.features, self.starts - self.window, self.window, self.ahead,
                       self.future_channels)
    return rows.reshape(len(rows), -1)


def load_series(data: Mapping[str, Any], validation: float = 0.0) -> SeriesData:
  """The forecasting problem described by a config's `data` section; with
  `validation`, that share of the training period (its end) is held out."""
  # Imported here: both build on this module's SeriesData.
  from research.data.day_profiles import day_profile_data  # pylint: disable=import-outside-toplevel
  from research.data.windows import window_data  # pylint: disable=import-outside-toplevel
  if data["name"] == "csv" and not data["path"]:
    raise UserError("this study needs a CSV series: pass --config.data.path=FILE.csv with "
                    f"columns {data['time_column']!r} and {data['value_column']!r}, or use "
                    "a series shipped with the package: --config.data.name=la_haute_borne "
                    "(wind power, configs/wind.py's default) or elecdemand (load)")
  if data["mode"] not in MODES:
    raise UserError(f"data.mode must be one of {', '.join(MODES)}, got {data['mode']!r}")
  scale = data.get("scale", "standard")
  if scale not in SCALES:
    raise UserError(f"data.scale must be one of {', '.join(SCALES)}, got {scale!r}")
  if not 0 < data["train_fraction"] < 1:
    raise UserError(f"data.train_fraction must be between 0 and 1, got {data['train_fraction']}")
  source = data["path"] or data["name"]
  frame = get_loader(data["name"])(**data)
  if frame.empty:
    raise UserError(f"data {source} has no rows")
  tidy = clean_series(frame, source=source, value_column=data["value_column"],
                      time_column=data["time_column"])
  declared = (dict(DATASETS.info(data["name"]).covariates) if data["name"] in DATASETS
              else {})
  inputs = InputSpec.from_data(data, tidy.columns, source, declared)
  if data["mode"] == "day_profile":
    series = day_profile_data(tidy, source=source, train_fraction=data["train_fraction"],
                              workday_column=data["workday_column"], validation=validation,
                              scale=scale, inputs=inputs)
  else:
    series = window_data(tidy, source=source, window=data["window"], horizon=data["horizon"],
                         train_fraction=data["train_fraction"], season=data["season"],
                         validation=validation, scale=scale, stride=data.get("stride", 1),
                         inputs=inputs)
  ahead = "the forecast day" if data["mode"] == "day_profile" else "over the forecast horizon"
  series = dataclasses.replace(series, **_scoring(data, series),
                               inputs=tuple(describe_inputs(inputs, declared, ahead)))
  logging.info("Series %s: %d examples (%d train, %d test, %d of them scored), %d outputs each",
               source, len(series.targets), series.train_count, series.num_test,
               int(series.scored().sum()), series.num_outputs)
  return series


def _scoring(data: Mapping[str, Any], series: SeriesData) -> dict[str, Any]:
  """The data section's scoring settings, checked against the series."""
  floor, capacity = data.get("mape_floor", 0.0), data.get("capacity", 0.0)
  horizons = tuple(data.get("horizons", ()))
  if not floor >= 0:
    raise UserError(f"data.mape_floor must be >= 0 (data units), got {floor}")
  if not capacity >= 0:
    raise UserError(f"data.capacity must be >= 0 (data units; 0: the largest training "
                    f"value), got {capacity}")
  bad = [h for h in horizons if not (isinstance(h, int) and 1 <= h <= series.num_outputs)]
  if bad:
    raise UserError(f"data.horizons must be steps from 1 to the horizon "
                    f"({series.num_outputs}), got {bad[0]!r}")
  if not capacity:
    train = series.targets[:series.train_count][series.usable[:series.train_count]]
    capacity = float(np.max(train * series.std + series.mean))
  return {"mape_floor": float(floor), "capacity": float(capacity), "horizons": horizons}


def clean_series(frame: pd.DataFrame, *, source: str, value_column: str,
                 time_column: str = "") -> pd.DataFrame:
  """Checks and tidies the series: numeric values, sorted unique times, explicit gaps.

  Unsorted timestamps are sorted; duplicated ones are refused (they are
  ambiguous); missing timestamps on the series' regular grid become rows with
  a missing value, and infinities count as missing. Nothing is filled in.
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
  times = _times(frame, source, time_column)
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
  tidy["value"] = tidy["value"].replace([np.inf, -np.inf], np.nan)
  if tidy["value"].isna().all():
    raise UserError(f"value column {value_column!r} of {source} has no values")
  tidy = regular_grid(tidy.reset_index(drop=True), source)
  _report_gaps(tidy, source, value_column)
  return tidy


def _times(frame: pd.DataFrame, source: str, time_column: str) -> pd.Series:
  if not time_column:
    return pd.Series(np.arange(len(frame)), index=frame.index)
  if time_column not in frame.columns:
    raise UserError(f"time column {time_column!r} is not in {source}; columns: "
                    f"{', '.join(map(str, frame.columns))}; set --config.data.time_column")
  times = pd.to_datetime(frame[time_column], errors="coerce")
  if times.isna().any():
    row = int(np.argmax(times.isna().to_numpy()))
    raise UserError(f"time column {time_column!r} of {source} has an unparsable timestamp "
                    f"{frame[time_column].iloc[row]!r} (row {row + 1}); fix the file")
  return times


def regular_grid(tidy: pd.DataFrame, source: str) -> pd.DataFrame:
  """The series on its regular time grid: missing timestamps become rows of gaps.

  The step is the most common difference between timestamps. When some
  difference is not a whole number of steps (e.g. calendar months), the series
  is left as it is, with a warning: its rows are taken as consecutive.
  """
  if not np.issubdtype(tidy["time"].dtype, np.datetime64) or len(tidy) < 3:
    return tidy
  differences = tidy["time"].diff().dropna()
  step = differences.mode().iloc[0]
  if (differences % step != pd.Timedelta(0)).any():
    logging.warning("%s: timestamps are not on a regular grid; rows are taken as "
                    "consecutive steps", source)
    return tidy
  grid = pd.date_range(tidy["time"].iloc[0], tidy["time"].iloc[-1], freq=step)
  return tidy.set_index("time").reindex(grid).rename_axis("time").reset_index()


def _report_gaps(tidy: pd.DataFrame, source: str, value_column: str) -> None:
  missing = tidy["value"].isna().to_numpy()
  if not missing.any():
    return
  edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
  starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
  longest = int(np.argmax(ends - starts))
  span = ends[longest] - starts[longest]
  times = tidy["time"]
  where = (f"{span} steps from {times.iloc[starts[longest]]}" if span > 1
           else f"1 step at {times.iloc[starts[longest]]}")
  logging.warning("%s: %d of %d steps of %r are missing, in %d gap(s) (the longest: %s); "
                  "examples that touch a gap are left out, nothing is filled in", source,
                  int(missing.sum()), len(missing), value_column, len(starts), where)

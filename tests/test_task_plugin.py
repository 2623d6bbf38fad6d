"""A task, a model and a baseline registered by a plugin file run end to end.

plugins/regression.py adds the `regression` task, the `linear` model and the
`ridge` baseline; configs/regression.py runs them through the same pipeline as
the shipped tasks (seeds, chunks, statistics, files, report).
"""

import os

import numpy as np
import pandas as pd
import pytest

from research.plugins import load_plugins
from research.registry import BASELINES, MODELS, TASKS
from tests.conftest import ROOT, launch


def test_the_plugin_registers_a_task_a_model_and_a_baseline():
  load_plugins([os.path.join(ROOT, "plugins")], entry_points=False)
  assert "regression" in TASKS
  assert MODELS.info("linear").input == "tabular"
  assert BASELINES.info("ridge").task == "regression"


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("runs") / "regression"
  result = launch("--config=configs/regression.py", "--config.num_seeds=3",
                  "--config.train.epochs=30", f"--workdir={workdir}")
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir


def test_plugin_task_runs_end_to_end_with_its_baseline(regression_run):
  seeds = pd.read_csv(regression_run / "seeds.csv")
  assert list(seeds.columns[:5]) == ["model", "seed", "rmse", "mae", "r2"]
  assert seeds.groupby("model")["seed"].apply(list).to_dict() == {"linear": [0, 1, 2],
                                                                   "ridge": [0, 1, 2]}
  # Both are least squares on the same rows: trained by Adam, the linear model
  # lands within a few percent of ridge's closed form, and both explain the data.
  by_model = seeds.groupby("model")[["rmse", "r2"]].mean()
  assert by_model.loc["linear", "rmse"] == pytest.approx(by_model.loc["ridge", "rmse"], rel=0.05)
  assert (seeds["r2"] > 0.5).all()
  assert {"report.md", "report.html", "summary.csv", "comparison.csv"} <= set(
      os.listdir(regression_run))


def test_plugin_task_scores_each_seeds_own_split(regression_run):
  predictions = pd.read_csv(regression_run / "predictions.csv")
  seeds = pd.read_csv(regression_run / "seeds.csv").set_index(["model", "seed"])
  rows = {}
  for (model, seed), member in predictions.groupby(["model", "seed"]):
    error = member["pred"] - member["actual"]
    assert np.sqrt(np.mean(error ** 2)) == pytest.approx(seeds.loc[(model, seed), "rmse"],
                                                         rel=1e-6)
    rows[model, seed] = member["row"].to_numpy()
  for seed in (0, 1, 2):  # the baseline saw exactly the network's test rows
    np.testing.assert_array_equal(rows["linear", seed], rows["ridge", seed])
  assert not np.array_equal(rows["linear", 0], rows["linear", 1])  # each seed its own split

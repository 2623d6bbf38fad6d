"""Baselines on the networks' splits, the comparison table and the variance decomposition."""

import os

import jax
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import research
from research import metrics, seeding
from research.registry import BASELINES
from research.report import terminal
from research.tasks import classification, get_task
from research.tasks.classification import member_split
from research.programs import first_program
from tests.conftest import tiny_credit_config


@pytest.fixture(scope="module")
def with_baselines(tmp_path_factory):
  config = tiny_credit_config({"baselines.names": ("logistic_regression", "decision_tree")})
  return config, research.run_study(config, str(tmp_path_factory.mktemp("runs") / "baselines"))


def test_every_registered_baseline_fits_and_predicts():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(120, 4))
  signal = x[:, 0] + 0.3 * rng.normal(size=120)
  for name in BASELINES.names():
    estimator = BASELINES.get(name)(random_state=0)
    if BASELINES.info(name).task != "classification":  # a regressor
      pred = estimator.fit(x[:90], signal[:90]).predict(x[90:])
      assert metrics.r2(signal[90:], pred) > 0.5, name
    else:
      prob = estimator.fit(x[:90], signal[:90] > 0).predict_proba(x[90:])[:, 1]
      assert metrics.roc_auc(signal[90:] > 0, prob) > 0.8, name


def test_baselines_use_exactly_the_networks_split(with_baselines):
  _, result = with_baselines
  predictions = pd.read_csv(os.path.join(result.workdir, "predictions.csv"))
  assert set(predictions["model"]) == {"mlp", "logistic_regression", "decision_tree"}
  for seed, group in predictions.groupby("seed"):
    rows = {model: g["row"].to_numpy() for model, g in group.groupby("model")}
    np.testing.assert_array_equal(rows["mlp"], rows["logistic_regression"])
    np.testing.assert_array_equal(rows["mlp"], rows["decision_tree"])
  assert predictions.groupby("model")["seed"].nunique().eq(3).all()


def test_baseline_is_fitted_on_the_members_training_rows(with_baselines):
  config, result = with_baselines
  data = first_program(config)[3]
  seed = 2
  key = seeding.member_keys([seed], config.seed)["split"][0]
  split = jax.device_get(member_split(key, data.table, config.data.test_fraction))
  expected = LogisticRegression(max_iter=1000, random_state=seed).fit(split.x_train,
                                                                      split.y_train)
  auc = metrics.roc_auc(split.y_test, expected.predict_proba(split.x_test)[:, 1])
  rows = result.seeds.set_index(["model", "seed"])
  assert rows.loc[("logistic_regression", seed), "auc"] == pytest.approx(auc, abs=1e-9)
  assert rows.loc[("logistic_regression", seed), "train_seconds"] > 0


def test_baselines_share_one_draw_of_the_members_splits(monkeypatch):
  config = tiny_credit_config()
  data = first_program(config)[3]
  task = get_task("classification")
  calls = []
  monkeypatch.setattr(classification, "member_split",
                      lambda *args: calls.append(1) or member_split(*args))
  keys = seeding.member_keys([0, 1], config.seed)["split"]
  first, again = task.member_splits(data, keys), task.member_splits(data, keys)
  assert again is first and len(calls) == 1  # traced once, for both members
  other = task.member_splits(data, seeding.member_keys([2, 3], config.seed)["split"])
  assert len(calls) == 2 and not np.array_equal(other.test_index, first.test_index)
  np.testing.assert_array_equal(first.test_index[1], jax.device_get(
      member_split(keys[1], data.table, config.data.test_fraction)).test_index)


def test_comparison_file_and_terminal_table(with_baselines):
  _, result = with_baselines
  comparison = pd.read_csv(os.path.join(result.workdir, "comparison.csv"))
  assert list(comparison.columns) == ["model_a", "model_b", "metric", "mean_diff", "ci_low",
                                      "ci_high", "ci_method", "p_improve", "p_value", "min_p",
                                      "n"]
  assert (comparison["min_p"] == 0.25).all()  # 3 seeds: no p below 2 / 2**3
  assert len(comparison) == 3 * 6  # 3 pairs x 6 metrics
  assert comparison["p_improve"].between(0, 1).all() and (comparison["n"] == 3).all()
  table = terminal.format_comparison(result.summary, result.comparison, result.metrics,
                                     result.lower_is_better)
  assert "mlp" in table and "decision_tree" in table and "P(better)" in table
  summary = terminal.format_summary(result.summary, result.metrics)
  assert [line.split()[0] for line in summary.splitlines()[2:]] == [
      "mlp", "logistic_regression", "decision_tree"]


def test_variance_decomposition_finds_only_the_sources_that_matter(tmp_path):
  # Full batch and no dropout: data order and dropout masks cannot matter.
  config = tiny_credit_config({"train.batch_size": 0, "train.epochs": 5,
                               "optimizer.learning_rate": 0.05,
                               "variance.sources": ("split", "init", "order", "dropout"),
                               "variance.num_seeds": 4})
  result = research.run_study(config, str(tmp_path / "variance"))
  variance = pd.read_csv(os.path.join(tmp_path / "variance", "variance.csv"))
  assert list(variance.columns) == ["model", "metric", "source", "std", "variance_share",
                                    "share_low", "share_high", "n"]
  auc = variance[variance["metric"] == "auc"].set_index("source")
  assert auc.loc["order", "std"] == 0.0 and auc.loc["order", "variance_share"] == 0.0
  assert auc.loc["dropout", "std"] == 0.0 and auc.loc["dropout", "variance_share"] == 0.0
  assert auc.loc["split", "std"] > 1e-3 and auc.loc["init", "std"] > 1e-5
  assert auc.loc["all", "variance_share"] == pytest.approx(1.0)
  members = pd.read_csv(os.path.join(tmp_path / "variance", "variance_members.csv"))
  assert members["source"].value_counts().to_dict() == {"all": 3, "split": 4, "init": 4,
                                                        "order": 4, "dropout": 4}
  assert "split" in terminal.format_variance(result.variance, "auc")

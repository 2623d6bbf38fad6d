"""End-to-end runs of tiny credit studies, in process."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

import research
from research import metrics
from research.errors import UserError
from tests.conftest import tiny_credit_config

METRICS = ["auc", "accuracy", "log_loss", "brier", "ks", "gini"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("runs") / "tiny")
  return research.run_study(tiny_credit_config(report=True), workdir)


def test_workdir_files_and_columns(tiny_run):
  files = sorted(os.listdir(tiny_run.workdir))
  assert files == [".lock", "chunks", "comparison.csv", "config.json", "curves.csv", "figures",
                   "manifest.json", "predictions.csv", "report.html", "report.md", "run.json",
                   "seeds.csv", "summary.csv", "tb"]
  seeds = pd.read_csv(os.path.join(tiny_run.workdir, "seeds.csv"))
  assert list(seeds.columns[:2]) == ["model", "seed"]
  assert set(METRICS + ["train_seconds", "diverged"]) <= set(seeds.columns)
  assert seeds["seed"].tolist() == [0, 1, 2] and (seeds["model"] == "mlp").all()
  summary = pd.read_csv(os.path.join(tiny_run.workdir, "summary.csv"))
  assert list(summary.columns) == ["model", "metric", "mean", "std", "min", "max", "ci_low",
                                   "ci_high", "ci_method", "n", "median", "iqm"]
  assert (summary["ci_method"] == "t").all()
  assert summary["metric"].tolist() == METRICS and (summary["n"] == 3).all()
  auc = summary.set_index("metric").loc["auc"]
  assert auc["mean"] == pytest.approx(seeds["auc"].mean())
  assert auc["std"] == pytest.approx(seeds["auc"].std(ddof=1))
  # A t interval of 3 seeds: it may reach past the seeds' min and max, as it should.
  low, high = scipy_stats.t.interval(0.95, 2, loc=seeds["auc"].mean(),
                                     scale=scipy_stats.sem(seeds["auc"]))
  assert (auc["ci_low"], auc["ci_high"]) == pytest.approx((low, high))
  config = json.load(open(os.path.join(tiny_run.workdir, "config.json")))
  assert config["num_seeds"] == 3 and config["model"]["hidden_sizes"] == [8]


def test_metrics_recompute_from_saved_predictions(tiny_run):
  seeds = pd.read_csv(os.path.join(tiny_run.workdir, "seeds.csv"))
  predictions = pd.read_csv(os.path.join(tiny_run.workdir, "predictions.csv"))
  assert len(predictions) == 3 * 1114  # 25% of 4,454, stratified
  for seed, group in predictions.groupby("seed"):
    row = seeds.set_index("seed").loc[seed]
    assert metrics.roc_auc(group["label"], group["prob"]) == pytest.approx(row["auc"], abs=1e-7)
    assert group["label"].mean() == pytest.approx(0.2815, abs=1e-3)  # stratified


def test_training_lowers_the_loss(tiny_run):
  curves = pd.read_csv(os.path.join(tiny_run.workdir, "curves.csv"))
  assert len(curves) == 3 * 2
  by_epoch = curves.groupby("epoch")[["train_loss", "eval_loss"]].mean()
  assert by_epoch.loc[2, "train_loss"] < by_epoch.loc[1, "train_loss"]
  assert by_epoch.loc[2, "eval_loss"] < by_epoch.loc[1, "eval_loss"]
  assert tiny_run.seeds["auc"].min() > 0.7


def test_same_config_gives_bitwise_identical_metrics(tiny_run, tmp_path):
  again = research.run_study(tiny_credit_config(), str(tmp_path / "again"))
  pd.testing.assert_frame_equal(again.seeds[METRICS], tiny_run.seeds[METRICS],
                                check_exact=True)


def test_seeds_differ_and_member_alone_matches_member_in_group(tiny_run, tmp_path):
  aucs = tiny_run.seeds["auc"].to_numpy()
  assert len(set(aucs)) == 3  # every seed gives its own result
  alone = research.run_study(tiny_credit_config(seed=1, num_seeds=1), str(tmp_path / "alone"))
  assert alone.seeds["seed"].tolist() == [1]
  np.testing.assert_allclose(alone.seeds[METRICS].to_numpy()[0],
                             tiny_run.seeds[METRICS].to_numpy()[1], rtol=1e-5, atol=1e-6)


def test_vary_init_only_holds_the_split_fixed(tmp_path):
  result = research.run_study(tiny_credit_config(vary=("init",)), str(tmp_path / "init"))
  predictions = pd.read_csv(os.path.join(result.workdir, "predictions.csv"))
  rows = [group["row"].to_numpy() for _, group in predictions.groupby("seed")]
  assert all(np.array_equal(rows[0], r) for r in rows[1:])
  probs = [group["prob"].to_numpy() for _, group in predictions.groupby("seed")]
  assert not np.allclose(probs[0], probs[1])


def test_vary_nothing_gives_identical_members(tmp_path):
  result = research.run_study(tiny_credit_config(vary=()), str(tmp_path / "none"))
  assert result.seeds["auc"].nunique() == 1
  summary = result.summary.set_index("metric")
  assert summary.loc["auc", "std"] == 0.0


@pytest.mark.parametrize("overrides,message", [
    ({"num_seeds": 0}, "num_seeds must be at least 1"),
    ({"num_seeds": "8"}, "num_seeds must be an integer"),
    ({"train.batch_size": 100_000}, "train.batch_size=100000 is larger than the training set"),
    ({"train.epochs": 0}, "train.epochs must be at least 1"),
    ({"data.test_fraction": 1.5}, "test_fraction must be between 0 and 1"),
    ({"data.name": "credit"}, "unknown dataset 'credit': did you mean 'credit_data'"),
    ({"model.name": "mlpp"}, "unknown model 'mlpp': did you mean 'mlp'"),
    ({"optimizer.name": "adma"}, "unknown optimizer 'adma': did you mean 'adam'"),
    ({"optimizer.learning_rate": -0.1}, "learning_rate must be > 0"),
    ({"vary": ("init", "seed")}, "vary names unknown source 'seed'"),
    ({"variance.sources": ("init", "weights")}, "variance.sources names unknown source 'weights'"),
    ({"baselines.names": ("random_forrest",)}, "did you mean 'random_forest'"),
    ({"baselines.names": ("random_forest",), "baselines.random_forest.n_trees": 10},
     "baseline 'random_forest' takes no field 'n_trees'"),
    ({"data.target": "status"}, "target column 'status' is not in credit_data"),
])
def test_bad_config_fails_before_writing_anything(tmp_path, overrides, message):
  workdir = tmp_path / "never"
  config = tiny_credit_config(overrides)
  with pytest.raises(UserError, match=message):
    research.run_study(config, str(workdir))
  assert not workdir.exists()

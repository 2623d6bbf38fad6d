"""The command line: a real run, and one clear line for every kind of bad input."""

import os
import re

import numpy as np
import pandas as pd
import pytest

from research.data import get_loader
from tests.conftest import TINY_FLAGS, launch


@pytest.fixture(scope="module")
def bank_csv(tmp_path_factory):
  """A user's own CSV: credit_data with a 0/1 target named `default`."""
  frame = get_loader("credit_data")()
  frame = frame.assign(default=(frame.pop("Status") == "bad").astype(int))
  path = tmp_path_factory.mktemp("data") / "bank.csv"
  frame.to_csv(path, index=False)
  return path


def test_launch_runs_a_csv_study_and_prints_the_table(tmp_path, bank_csv):
  workdir = tmp_path / "run"
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS,
                  "--config.data.name=csv", f"--config.data.path={bank_csv}",
                  "--config.data.target=default", "--config.data.positive=1",
                  "--config.baselines.names=('logistic_regression',)")
  assert result.returncode == 0, result.stderr[-3000:]
  table = result.stdout.splitlines()
  assert table[0].split()[:3] == ["model", "n", "auc"]
  assert table[2].startswith("mlp ") and table[3].startswith("logistic_regression ")
  assert any(line.startswith("auc") and "P(better)" not in line for line in table[5:])
  assert f"results in {workdir}" in result.stdout
  seeds = pd.read_csv(workdir / "seeds.csv")
  assert len(seeds) == 4 and seeds["auc"].between(0.5, 1).all()


def _write(path, frame):
  frame.to_csv(path, index=False)
  return path


def _frame(n=40, **columns):
  rng = np.random.default_rng(0)
  base = {"x": rng.normal(size=n), "y": np.arange(n) % 2}
  base.update({k: v(n) if callable(v) else v for k, v in columns.items()})
  return pd.DataFrame(base)


CSV_CASES = {
    "missing_file": (None, [], "does not exist"),
    "empty_file": ("", [], "is empty"),
    "header_only": ("x,y\n", [], "has a header but no rows"),
    "no_target": (_frame(), ["--config.data.target=label"], "target column 'label' is not in"),
    "one_class": (_frame(y=0), [], r"has 1 class\(es\)"),
    "three_classes": (_frame(y=lambda n: np.arange(n) % 3), [], r"has 3 class\(es\)"),
    "free_text": (_frame(60, name=lambda n: [f"person {i}" for i in range(n)]), [],
                  "column 'name' of .* is non-numeric with 60 distinct values"),
    "nan_target": (_frame(y=lambda n: np.where(np.arange(n) == 3, np.nan, np.arange(n) % 2)),
                   [], "has 1 missing values"),
    "batch_too_big": (_frame(), ["--config.train.batch_size=64"],
                      "train.batch_size=64 is larger than the training set"),
}

FLAG_CASES = {
    "misspelt_key": (["--config.optimizer.lerning_rate=0.1"],
                     'no field .lerning_rate.* Did you mean "learning_rate"'),
    "misspelt_top_key": (["--config.num_seed=4"], "no field 'num_seed'"),
    "wrong_type": (["--config.num_seeds=abc"], "--config.num_seeds=abc: invalid literal"),
    "unknown_model": (["--config.model.name=gru"], "unknown model 'gru'"),
    "unknown_optimizer": (["--config.optimizer.name=adamm"], "did you mean 'adam'"),
    "unknown_dataset": (["--config.data.name=credit"], "did you mean 'credit_data'"),
    "zero_seeds": (["--config.num_seeds=0"], "num_seeds must be at least 1"),
}


def _assert_one_clear_line(result, pattern, workdir):
  assert result.returncode == 2, (result.stdout, result.stderr[-2000:])
  assert "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, result.stderr
  assert re.search(pattern, errors[0]), errors[0]
  assert not os.path.exists(workdir)


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_csv_gives_one_line_and_no_workdir(tmp_path, case):
  content, flags, pattern = CSV_CASES[case]
  path = tmp_path / "bank.csv"
  if isinstance(content, str):
    path.write_text(content)
  elif content is not None:
    _write(path, content)
  workdir = tmp_path / "run"
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS,
                  "--config.data.name=csv", f"--config.data.path={path}",
                  "--config.data.target=y", "--config.data.positive=1", *flags)
  _assert_one_clear_line(result, pattern, workdir)


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_bad_flags_give_one_line_and_no_workdir(tmp_path, case):
  flags, pattern = FLAG_CASES[case]
  workdir = tmp_path / "run"
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS, *flags)
  _assert_one_clear_line(result, pattern, workdir)


def test_missing_config_file(tmp_path):
  result = launch("--config=configs/nope.py", f"--workdir={tmp_path / 'run'}", *TINY_FLAGS)
  _assert_one_clear_line(result, "config file configs/nope.py does not exist", tmp_path / "run")


def test_existing_results_are_not_overwritten(tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "seeds.csv").write_text("model,seed\n")
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS)
  assert result.returncode == 2 and "holds results but no config.json" in result.stderr
  assert (workdir / "seeds.csv").read_text() == "model,seed\n"

"""Every kind of bad input: one clear line naming the problem and the fix, exit
code 2, no traceback, and nothing written to the workdir."""

import os
import re
import textwrap

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TINY_FLAGS, WIND_TINY_FLAGS, launch, write_wind_csv


def _frame(n=40, **columns):
  rng = np.random.default_rng(0)
  base = {"x": rng.normal(size=n), "y": np.arange(n) % 2}
  base.update({k: v(n) if callable(v) else v for k, v in columns.items()})
  return pd.DataFrame(base)


def _csv(content):
  """A case whose data is a CSV (text, a DataFrame, or None for a missing file)."""
  def setup(tmp_path):
    path = tmp_path / "bank.csv"
    if isinstance(content, str):
      path.write_text(content)
    elif content is not None:
      content.to_csv(path, index=False)
    return ["--config.data.name=csv", f"--config.data.path={path}",
            "--config.data.target=y", "--config.data.positive=1"]
  return setup


def _plugin(source):
  def setup(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "mine.py").write_text(textwrap.dedent(source))
    return [f"--plugins={tmp_path / 'plugins'}"]
  return setup


def _flags(*flags):
  return lambda tmp_path: list(flags)


CASES = {  # name: (setup giving extra flags, pattern the error line must match)
    "unknown_model": (_flags("--config.model.name=transformer"),
                      "unknown model 'transformer'.*plugins/"),
    "sequence_model_on_a_table": (_flags("--config.model.name=gru"),
                                  "'gru' is a recurrent sequence model"),
    "unknown_optimizer": (_flags("--config.optimizer.name=adamm"), "did you mean 'adam'"),
    "unknown_dataset": (_flags("--config.data.name=credit"), "did you mean 'credit_data'"),
    "unknown_baseline": (_flags("--config.baselines.names=('random_forrest',)"),
                         "did you mean 'random_forest'"),
    "baseline_for_another_task": (_flags("--config.baselines.names=('linear_autoregression',)"),
                                  "'linear_autoregression' is not for classification"),
    "misspelt_key": (_flags("--config.optimizer.lerning_rate=0.1"),
                     'no field .lerning_rate.* Did you mean "learning_rate"'),
    "misspelt_top_key": (_flags("--config.num_seed=4"), "no field 'num_seed'"),
    "wrong_type": (_flags("--config.num_seeds=abc"), "--config.num_seeds=abc: invalid literal"),
    "zero_seeds": (_flags("--config.num_seeds=0"), "num_seeds must be at least 1"),
    "zero_epochs": (_flags("--config.train.epochs=0"), "train.epochs must be at least 1"),
    "zero_width": (_flags("--config.model.hidden_sizes=(8,0)"), "positive integers"),
    "zero_learning_rate": (_flags("--config.optimizer.learning_rate=0"),
                           "learning_rate must be > 0"),
    "negative_learning_rate": (_flags("--config.optimizer.learning_rate=-0.01"),
                               "learning_rate must be > 0"),
    "bad_test_fraction": (_flags("--config.data.test_fraction=1.0"),
                          "test_fraction must be between 0 and 1"),
    "unknown_vary": (_flags("--config.vary=('init','weights')"), "unknown source 'weights'"),
    "missing_csv": (_csv(None), "does not exist"),
    "empty_csv": (_csv(""), "is empty"),
    "header_only_csv": (_csv("x,y\n"), "has a header but no rows"),
    "one_row_csv": (_csv("x,y\n1.0,1\n"), r"has 1 class\(es\)"),
    "class_with_one_row": (_csv(_frame(y=lambda n: (np.arange(n) == 0).astype(int))),
                           "class '1' of target column 'y' has only 1 row"),
    "missing_target": (_csv(_frame().rename(columns={"y": "label"})),
                       "target column 'y' is not in"),
    "one_class": (_csv(_frame(y=0)), r"has 1 class\(es\)"),
    "three_classes": (_csv(_frame(y=lambda n: np.arange(n) % 3)), r"has 3 class\(es\)"),
    "nan_target": (_csv(_frame(y=lambda n: np.where(np.arange(n) == 3, np.nan, np.arange(n) % 2))),
                   "has 1 missing values; drop those rows"),
    "free_text_column": (_csv(_frame(60, name=lambda n: [f"person {i}" for i in range(n)])),
                         "column 'name' of .* is non-numeric with 60 distinct values"),
    "batch_too_big": (lambda tmp_path: _csv(_frame())(tmp_path) + ["--config.train.batch_size=64"],
                      "train.batch_size=64 is larger than the training set"),
    "plugin_raises": (_plugin("raise RuntimeError('bad plugin')"),
                      "mine.py failed to import: RuntimeError: bad plugin"),
    "plugin_registers_existing_name": (
        _plugin("from research.registry import MODELS\nMODELS.register('mlp')(object)\n"),
        "mine.py: model 'mlp' is registered twice"),
    "plugin_exits": (_plugin("import sys\nsys.exit(3)\n"),
                     r"mine.py called sys.exit\(3\) while being imported"),
    "missing_plugin_folder": (lambda tmp_path: [f"--plugins={tmp_path / 'nowhere'}"],
                              "--plugins names .*nowhere, which does not exist"),
    "infinite_learning_rate": (_flags("--config.optimizer.learning_rate=inf"),
                               "optimizer.learning_rate must be a finite number, got inf"),
    "nan_test_fraction": (_flags("--config.data.test_fraction=nan"),
                          "data.test_fraction must be a finite number"),
    "numbers_with_stray_text": (
        _csv(_frame(income=lambda n: [str(i) if i % 20 else "?" for i in range(n)])),
        r"column 'income' of .* holds numbers except 2 value\(s\) \('\?'\)"),
    "label_with_a_trailing_space": (
        _csv(_frame(y=lambda n: ["good", "good ", "bad"] * (n // 3) + ["bad"] * (n % 3))),
        r"has 3 class\(es\) \('bad', 'good', 'good '\)"),
}


def _wind(rows=600, transform=None, *flags):
  """A wind-study case on a generated CSV, optionally broken by `transform`."""
  def setup(tmp_path):
    path = write_wind_csv(tmp_path / "wind.csv", rows)
    if transform:
      transform(path)
    return [*WIND_TINY_FLAGS, f"--config.data.path={path}", *flags]
  return setup


def _edit_csv(edit):
  def transform(path):
    frame = pd.read_csv(path)
    edit(frame).to_csv(path, index=False)
  return transform


WIND_CASES = {
    "series_shorter_than_window": (_wind(8), "too short for a window of 8"),
    "zero_window": (_wind(600, None, "--config.data.window=0"), "must be at least 1"),
    "duplicated_timestamps": (_wind(600, _edit_csv(lambda f: pd.concat([f, f.iloc[:3]]))),
                              "3 duplicated timestamps"),
    "unparsable_timestamp": (_wind(600, _edit_csv(lambda f: f.assign(dt=f["dt"].where(
        f.index != 5, "yesterday")))), "unparsable timestamp 'yesterday'"),
    "non_numeric_values": (_wind(600, _edit_csv(lambda f: f.assign(MW=f["MW"].astype(str).where(
        f.index != 9, "n/a!")))), "non-numeric values"),
    "missing_value_column": (_wind(600, None, "--config.data.value_column=Power"),
                             "value column 'Power' is not in"),
    "wind_without_a_file": (lambda tmp_path: list(WIND_TINY_FLAGS),
                            "this study needs a CSV series: pass --config.data.path=FILE.csv"),
    "nan_train_fraction": (_wind(600, None, "--config.data.train_fraction=nan"),
                           "data.train_fraction must be a finite number"),
    "day_profile_with_a_batch_size": (
        lambda tmp_path: ["--config=configs/load.py", "--config.num_seeds=2",
                          "--config.train.batch_size=32"],
        "train.batch_size=32 would be ignored; set --config.train.batch_size=0"),
}
CASES.update(WIND_CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_writes_nothing(tmp_path, case):
  setup, pattern = CASES[case]
  workdir = tmp_path / "run"
  flags = setup(tmp_path)
  if not any(flag.startswith("--config=") for flag in flags):
    flags = ["--config=configs/credit.py", *TINY_FLAGS, *flags]
  result = launch(f"--workdir={workdir}", *flags)
  assert result.returncode == 2, (result.stdout, result.stderr[-2000:])
  assert "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, result.stderr
  assert re.search(pattern, errors[0]), errors[0]
  assert not os.path.exists(workdir)


def test_missing_config_file(tmp_path):
  result = launch("--config=configs/nope.py", f"--workdir={tmp_path / 'run'}", *TINY_FLAGS)
  assert result.returncode == 2 and not os.path.exists(tmp_path / "run")
  assert result.stderr.strip().splitlines()[-1] == (
      "error: config file configs/nope.py does not exist; e.g. --config=configs/credit.py")


def test_results_without_a_config_are_not_overwritten(tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "seeds.csv").write_text("model,seed\n")
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS)
  assert result.returncode == 2 and "holds no run of this tool (no config.json)" in result.stderr
  assert (workdir / "seeds.csv").read_text() == "model,seed\n"


def test_a_semicolon_separated_csv_is_read(tmp_path):
  frame = _frame(200).assign(x2=lambda f: f["x"] * 2)
  frame.to_csv(tmp_path / "bank.csv", sep=";", index=False)
  result = launch("--config=configs/credit.py", *TINY_FLAGS, "--config.data.name=csv",
                  f"--config.data.path={tmp_path / 'bank.csv'}", "--config.data.target=y",
                  "--config.data.positive=1", "--config.train.batch_size=64",
                  f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "reading columns separated by ';'" in result.stderr

"""The command line: a real run on a user's CSV, features with gaps and infinities."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from research import malloc
from research.data import get_loader
from tests.conftest import ROOT, TINY_FLAGS, launch


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
  assert ("with 2 seeds the Wilcoxon signed-rank test cannot give p below 0.5" in result.stderr
          and "use --config.num_seeds=6 or more" in result.stderr)
  table = result.stdout.splitlines()
  assert table[0].split()[:3] == ["model", "n", "auc"]
  assert table[2].startswith("mlp ") and table[3].startswith("logistic_regression ")
  assert any(line.startswith("auc") and "P(better)" not in line for line in table[5:])
  assert f"results in {workdir}" in result.stdout
  seeds = pd.read_csv(workdir / "seeds.csv")
  assert len(seeds) == 4 and seeds["auc"].between(0.5, 1).all()
  # Under TBB's malloc where the tbb wheel is installed (research.malloc).
  run = json.loads((workdir / "run.json").read_text())
  assert run["malloc"] == ("tbbmalloc" if malloc.library_paths() else "system")


def test_missing_and_infinite_features_are_handled_as_documented(tmp_path, bank_csv):
  frame = pd.read_csv(bank_csv)
  frame.loc[::7, "Income"] = np.inf  # treated as missing: imputed, and flagged
  frame.loc[::11, "Seniority"] = np.nan
  path = tmp_path / "gaps.csv"
  frame.to_csv(path, index=False)
  result = launch("--config=configs/credit.py", f"--workdir={tmp_path / 'run'}", *TINY_FLAGS,
                  "--config.data.name=csv", f"--config.data.path={path}",
                  "--config.data.target=default", "--config.data.positive=1")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "column 'Income' has 637 infinite values; treating them as missing" in result.stderr
  seeds = pd.read_csv(tmp_path / "run" / "seeds.csv")
  assert np.isfinite(seeds[["auc", "log_loss"]].to_numpy()).all()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
  workdir = tmp_path / "run"
  result = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS,
                  "--config.baselines.names=('logistic_regression',)", "--dry_run")
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  assert lines[0].startswith("task classification: 1 trial(s) x 2 seed(s), 2 members in 1 "
                             "compiled program(s)")
  assert "program members: 2 members" in result.stdout and "MiB per device" in result.stdout
  assert lines[-1] == "baselines: logistic_regression"
  assert not workdir.exists()
  refused = launch("--config=configs/credit.py", f"--workdir={workdir}", *TINY_FLAGS,
                   "--config.model.name=mlpp", "--dry_run")
  assert refused.returncode == 2 and "did you mean 'mlp'" in refused.stderr


def test_a_cached_run_compiles_nothing_and_gives_the_same_results(tmp_path):
  cache = tmp_path / "cache"
  runs = {}
  for name, flag in (("cold", f"--compilation_cache={cache}"),
                     ("warm", f"--compilation_cache={cache}"), ("off", "--compilation_cache=")):
    result = launch("--config=configs/credit.py", *TINY_FLAGS, flag,
                    f"--workdir={tmp_path / name}")
    assert result.returncode == 0, result.stderr[-2000:]
    runs[name] = result
  hits = re.search(r"(\d+) of (\d+) programs from the compilation cache", runs["warm"].stderr)
  assert hits and hits.group(1) == hits.group(2) and int(hits.group(1)) > 0  # all from disk
  assert re.search(r"\b0 of \d+ programs from the compilation cache", runs["cold"].stderr)
  assert "compilation cache" not in runs["off"].stderr
  seeds = {name: (tmp_path / name / "seeds.csv").read_text() for name in runs}
  strip = lambda text: [line.rsplit(",", 3)[0] for line in text.splitlines()]  # no timings
  assert strip(seeds["warm"]) == strip(seeds["cold"]) == strip(seeds["off"])


def test_a_rerun_takes_its_baselines_from_the_cache_with_the_same_results(tmp_path):
  cache = tmp_path / "baselines"
  flags = (*TINY_FLAGS, "--config.baselines.names=('logistic_regression','decision_tree')")
  runs = {}
  for name, extra in (("cold", (f"--baseline_cache={cache}",)),
                      ("warm", (f"--baseline_cache={cache}",)),
                      ("other seeds", (f"--baseline_cache={cache}", "--config.seed=5")),
                      ("off", ("--baseline_cache=",))):
    result = launch("--config=configs/credit.py", *flags, *extra, f"--workdir={tmp_path / name}",
                    "--verbosity=0", "--alsologtostderr")
    assert result.returncode == 0, result.stderr[-2000:]
    runs[name] = result.stderr
  from_cache = lambda log: len(re.findall(r"Baseline \w+: 2 seeds from the baseline cache", log))
  assert from_cache(runs["warm"]) == 2
  assert from_cache(runs["cold"]) == from_cache(runs["other seeds"]) == from_cache(runs["off"]) == 0
  assert len(list(cache.glob("*.npz"))) == 4  # two baselines, for each of two seed sets
  predictions = {name: pd.read_csv(tmp_path / name / "predictions.csv") for name in runs}
  pd.testing.assert_frame_equal(predictions["warm"], predictions["cold"])
  pd.testing.assert_frame_equal(predictions["off"], predictions["cold"])
  assert not predictions["other seeds"]["row"].equals(predictions["cold"]["row"])


def test_a_launch_imports_scikit_learn_optuna_and_matplotlib_only_when_it_needs_them():
  # Baselines (which a rerun takes from the cache), a search and a report import them
  # themselves: together they were about 0.8 s of every launch's start.
  code = ("import sys, launch; from research.plugins import load_plugins; "
          f"load_plugins([{os.path.join(ROOT, 'plugins')!r}]); "
          "print(sorted(m for m in ('sklearn', 'optuna', 'matplotlib') if m in sys.modules))")
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().splitlines()[-1] == "[]"

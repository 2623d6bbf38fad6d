"""The Optuna search (research.search): batches asked and told, a storage shared by
processes and resumed after a kill, tables derived from the storage."""

import os
import signal
import subprocess
import sys
import time

import ml_collections
import numpy as np
import optuna
import pandas as pd
import pytest

from tests.conftest import ROOT, launch, tiny_credit_config
from research import search
from research.errors import UserError
from research.study import sampler as samplers
from research.study import search_tables

# A search over two floats only (one program per batch, reused from the compilation
# cache by every later batch of the same size), 1 seed x 1 epoch per trial.
SEARCH_CONFIG = """
import importlib.util

def get_config():
  spec = importlib.util.spec_from_file_location("credit_search", {path!r})
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.num_seeds = {num_seeds}
  config.train.epochs = 1
  config.train.batch_size = 512
  config.model.hidden_sizes = (8,)
  config.baselines.names = ()
  config.report = False
  config.progress = False
  del config.study.search.model["hidden_sizes"]
  config.study.num_trials = {num_trials}
  config.study.batch_size = 4
  config.study.rerun_best = False
  return config
"""


def _write_config(folder, num_trials, num_seeds=1):
  path = os.path.join(folder, "search_config.py")
  with open(path, "w") as file:
    file.write(SEARCH_CONFIG.format(path=os.path.join(ROOT, "configs", "credit_search.py"),
                                    num_trials=num_trials, num_seeds=num_seeds))
  return path


def _study(workdir):
  return optuna.load_study(study_name="search", storage=f"sqlite:///{workdir}/search.db")


def _batch_labels(workdir):
  """Every trial label each batch folder trained, with repeats."""
  folder = os.path.join(workdir, search.BATCHES_DIR)
  return [label for name in sorted(os.listdir(folder)) if name.startswith("batch-")
          for label in pd.read_csv(os.path.join(folder, name, "trials.csv"))["model"]]


def _start(config_path, workdir):
  return subprocess.Popen([sys.executable, os.path.join(ROOT, "launch.py"),
                           f"--config={config_path}", f"--workdir={workdir}"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})


@pytest.mark.slow  # 30 s; failed once in 5 runs for a reason not yet found (see the note)
def test_two_processes_share_one_storage_without_losing_or_repeating_a_trial(tmp_path):
  config = _write_config(str(tmp_path), num_trials=32)
  workdir = str(tmp_path / "search")
  procs = [_start(config, workdir) for _ in range(2)]
  outputs = [proc.communicate(timeout=900) for proc in procs]
  for proc, (_, err) in zip(procs, outputs):
    assert proc.returncode == 0, err[-3000:]
    assert ": trials " in err  # each process trained batches of its own
  trials = _study(workdir).get_trials()
  assert len(trials) >= 32 and {t.number for t in trials if t.number < 32} == set(range(32))
  done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
  assert sorted(t.number for t in done) == list(range(32))  # none lost
  assert all(t.user_attrs.get("over_budget") for t in trials if t.number >= 32)
  params = {tuple(sorted(t.params.items())) for t in done}
  assert len(params) == 32  # 32 distinct trials
  labels = _batch_labels(workdir)
  assert sorted(labels) == [f"trial-{n:03d}" for n in range(32)]  # each trained once
  sizes = pd.Series([t.user_attrs["batch"] for t in done]).value_counts()
  assert sizes.max() <= 4 and len(sizes) >= 8  # batches of at most study.batch_size
  table = pd.read_csv(os.path.join(workdir, "trials.csv"))
  assert sorted(table["trial"]) == list(range(32))
  ranking = pd.read_csv(os.path.join(workdir, "ranking.csv"))
  best = max(done, key=lambda t: t.value)
  assert ranking["trial"].iloc[0] == best.number
  assert ranking["mean"].iloc[0] == pytest.approx(best.value, rel=1e-9)


def test_a_killed_search_continues_from_its_storage_and_its_chunks(tmp_path):
  config = _write_config(str(tmp_path), num_trials=12)
  workdir = str(tmp_path / "search")
  proc = _start(config, workdir)
  second = os.path.join(workdir, search.BATCHES_DIR, "batch-00004")
  deadline = time.time() + 600
  while not os.path.exists(os.path.join(second, "manifest.json")) and time.time() < deadline:
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)  # mid-batch: its trials stay RUNNING in the storage
  proc.communicate()
  before = {t.number: (t.params, t.value) for t in _study(workdir).get_trials()
            if t.state == optuna.trial.TrialState.COMPLETE}
  running = [t.number for t in _study(workdir).get_trials()
             if t.state == optuna.trial.TrialState.RUNNING]
  assert sorted(before) == [0, 1, 2, 3] and running == [4, 5, 6, 7]

  rerun = launch(f"--config={config}", f"--workdir={workdir}", timeout=600)
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert "Continuing batch-00004" in rerun.stderr
  trials = _study(workdir).get_trials()
  assert [t.number for t in trials] == list(range(12))  # no trial asked again
  assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
  assert {n: (t.params, t.value) for t in trials for n in [t.number] if n in before} == before
  assert sorted(_batch_labels(workdir)) == [f"trial-{n:03d}" for n in range(12)]


def _in_process_config(num_trials=4, sampler="tpe", **study):
  config = tiny_credit_config(num_seeds=2, progress=False)
  config.study = ml_collections.ConfigDict({
      "sampler": sampler, "seed": 1, "num_trials": num_trials, "batch_size": 2,
      "storage": "", "name": "search", "rerun_best": False, "metric": "log_loss",
      "select_on": "validation", "validation_fraction": 0.2,
      "search": {"optimizer": {"learning_rate": ("loguniform", 1e-3, 1e-1)}}, **study})
  return config


def test_the_tables_come_from_the_storage_and_a_rerun_is_the_same(tmp_path):
  config = _in_process_config()
  first = search.run_search(config, str(tmp_path / "a"))
  ranking = pd.read_csv(tmp_path / "a" / "ranking.csv")
  # log_loss is lower-is-better: the study minimizes it and ranks ascending.
  assert _study(tmp_path / "a").direction == optuna.study.StudyDirection.MINIMIZE
  assert list(ranking["mean"]) == sorted(ranking["mean"])
  trials = pd.read_csv(tmp_path / "a" / "trials.csv")
  means = trials.groupby("model")["val_log_loss"].mean()
  assert ranking.set_index("model")["mean"].to_dict() == pytest.approx(means.to_dict())
  for name in ("trials.csv", "ranking.csv", "best_config.py"):
    os.unlink(tmp_path / "a" / name)
  again = search.run_search(config, str(tmp_path / "a"))  # nothing to train: derived again
  pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "ranking.csv"), ranking)
  assert len(_study(tmp_path / "a").get_trials()) == 4
  assert first.ranking["model"].iloc[0] == again.ranking["model"].iloc[0]
  # The same sampler seed on one process: the same trials.
  other = search.run_search(config, str(tmp_path / "b"))
  pd.testing.assert_frame_equal(other.ranking.drop(columns=["train_seconds", "compile_seconds"]),
                                first.ranking.drop(columns=["train_seconds", "compile_seconds"]))


def test_a_storage_made_by_another_config_is_refused(tmp_path):
  config = _in_process_config(num_trials=2)
  search.run_search(config, str(tmp_path / "a"))
  changed = _in_process_config(num_trials=2)
  changed.train.epochs = 3
  with pytest.raises(UserError, match="made by a different config"):
    search.run_search(changed, str(tmp_path / "a"))
  with open(tmp_path / "note.txt", "w") as file:
    file.write("not a search")
  with pytest.raises(UserError, match="not a search's"):
    search.run_search(config, str(tmp_path))


@pytest.mark.parametrize("study,message", [
    ({"sampler": "annealing"}, "study.sampler must be one of random, tpe"),
    ({"sampler": "grid"}, "needs a finite space"),
    ({"search_per_seed": True}, "leave study.sampler unset"),
    ({"grid": {"train": {"epochs": (1, 2)}}}, "does not combine with study.sampler"),
    ({"batch_size": 0}, "study.batch_size must be a positive integer"),
    ({"storage": "search.db"}, "study.storage must be a database URL"),
])
def test_bad_searches_are_refused_before_any_file(tmp_path, study, message):
  with pytest.raises(UserError, match=message):
    search.run_search(_in_process_config(**study), str(tmp_path / "run"))
  assert not os.path.exists(tmp_path / "run")


def test_choices_that_are_not_plain_values_are_stored_as_text_and_mapped_back():
  space = samplers.search_space({"model.hidden_sizes": ("choice", ((8,), (4, 8))),
                                 "model.dropout": ("uniform", 0.0, 0.5),
                                 "train.epochs": ("randint", 1, 3)}, models=("a", "b"))
  assert space.distributions["model.hidden_sizes"].choices == ("(8,)", "(4, 8)")
  assert space.distributions["models"].choices == ("a", "b")
  assert space.distributions["train.epochs"] == optuna.distributions.IntDistribution(1, 3)
  assert space.values({"model.hidden_sizes": "(4, 8)", "train.epochs": 2}) == {
      "model.hidden_sizes": (4, 8), "train.epochs": 2}
  assert samplers.grid_size(space) is None
  grid = samplers.search_space({"model.hidden_sizes": ("choice", ((8,), (4, 8))),
                                "train.epochs": ("randint", 1, 3)})
  assert samplers.grid_size(grid) == 6
  draws = [samplers.make_sampler("random", 5, space), samplers.make_sampler("random", 5, space)]
  studies = [optuna.create_study(sampler=s) for s in draws]
  values = [[study.ask(dict(space.distributions)).params for _ in range(3)] for study in studies]
  assert values[0] == values[1]  # seeded
  assert np.all([0.0 <= v["model.dropout"] <= 0.5 for v in values[0]])


def test_trials_asked_by_a_process_that_died_before_naming_a_batch_are_trained(
    tmp_path, monkeypatch):
  config = _in_process_config(num_trials=2)
  search.run_search(config, str(tmp_path / "a"))
  study = _study(tmp_path / "a")
  space = search_tables.SearchSpec.from_config(config).space
  orphans = [study.ask(dict(space.distributions)) for _ in range(2)]  # then "died"
  monkeypatch.setattr(search, "UNCLAIMED_S", 0)
  result = search.run_search(_in_process_config(num_trials=4), str(tmp_path / "a"))
  trials = _study(tmp_path / "a").get_trials()
  assert [t.number for t in trials] == [0, 1, 2, 3]  # trained, not asked again
  assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
  assert {t.number: t.params for t in trials if t.number >= 2} == {
      o.number: o.params for o in orphans}
  assert sorted(result.ranking["trial"]) == [0, 1, 2, 3]


def test_a_journal_file_is_a_storage_too(tmp_path):
  journal = str(tmp_path / "shared" / "search.log")
  os.makedirs(os.path.dirname(journal))
  config = _in_process_config(num_trials=2, storage=journal)
  result = search.run_search(config, str(tmp_path / "a"))
  assert not os.path.exists(tmp_path / "a" / "search.db")  # the journal holds the search
  storage = samplers.open_storage(journal)
  trials = optuna.load_study(study_name="search", storage=storage).get_trials()
  assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
  assert sorted(result.ranking["trial"]) == [0, 1]


def test_an_extended_search_reruns_its_new_best_beside_the_baselines(tmp_path):
  config = _in_process_config(num_trials=2, rerun_best=True)
  config.baselines.names = ("logistic_regression",)
  config.report = True
  first = search.run_search(config, str(tmp_path / "a"))
  config.study.num_trials = 4  # raising the budget continues the same search
  second = search.run_search(config, str(tmp_path / "a"))
  assert len(_study(tmp_path / "a").get_trials()) == 4
  for result in (first, second):
    best = result.ranking["model"].iloc[0]
    rerun = pd.read_csv(tmp_path / "a" / "best" / best / "seeds.csv")
    assert set(rerun["model"]) == {"mlp", "logistic_regression"}
  assert set(second.comparison["model_b"]) == {"logistic_regression"}
  report = (tmp_path / "a" / "report.md").read_text()
  assert f"best/{second.ranking['model'].iloc[0]}/report.md" in report
  assert "optuna-dashboard sqlite:///" in report and "not pruned" in report
  assert (tmp_path / "a" / "figures" / "search_history.png").stat().st_size > 5000

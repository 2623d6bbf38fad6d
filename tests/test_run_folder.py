"""A run folder nobody can corrupt: locks, fingerprints, checked chunks, clean stops.

Before issue 21 each of these situations exited 0 with wrong numbers in the
folder, lost a run's results, or ended in a traceback.
"""

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import research
from research import workdir as run_folder
from research.data import get_loader
from research.errors import UserError
from research.plan import make_plan
from tests.conftest import ROOT, TINY_FLAGS, launch, tiny_credit_config

METRICS = ["auc", "accuracy", "log_loss", "brier", "ks", "gini"]


def _rows(workdir):
  return pd.read_csv(os.path.join(workdir, "seeds.csv")).drop(columns="train_seconds")


def _start(*args, cwd=ROOT, **kwargs):
  return subprocess.Popen([sys.executable, os.path.join(ROOT, "launch.py"), *args], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, **kwargs)


def _wait_for(condition, timeout=120.0):
  deadline = time.monotonic() + timeout
  while not condition():
    assert time.monotonic() < deadline, "the run never got there"
    time.sleep(0.05)


def _locked(workdir):
  try:
    run_folder.check_unlocked(str(workdir))
    return False
  except UserError:
    return True


WAITING_BASELINE = """
import os, time
from sklearn.linear_model import LogisticRegression
from research.registry import BASELINES

class Waiting(LogisticRegression):
  def fit(self, x, y):  # holds the run open until the test says so
    while not os.path.exists(os.environ["RELEASE_FILE"]):
      time.sleep(0.05)
    return super().fit(x, y)

@BASELINES.register("waiting", task="classification")
def waiting(random_state):
  return Waiting(max_iter=1000, random_state=random_state)
"""


def test_a_second_launch_into_a_folder_in_use_is_refused(tmp_path):
  plugins, release = tmp_path / "plugins", tmp_path / "release"
  plugins.mkdir()
  (plugins / "waiting.py").write_text(WAITING_BASELINE)
  env = {"RELEASE_FILE": str(release)}
  first_flags = ("--config=configs/credit.py", *TINY_FLAGS, f"--plugins={plugins}",
                 "--config.baselines.names=('waiting',)")
  workdir = tmp_path / "run"
  first = subprocess.Popen([sys.executable, os.path.join(ROOT, "launch.py"), *first_flags,
                            f"--workdir={workdir}"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "JAX_PLATFORMS": "cpu", **env})
  _wait_for(lambda: (workdir / ".lock").exists() and _locked(workdir))
  second = launch("--config=configs/credit.py", *TINY_FLAGS,
                  "--config.optimizer.learning_rate=0.05", f"--workdir={workdir}")
  identical = launch(*first_flags, f"--workdir={workdir}")
  release.write_text("")
  assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
  for refused in (second, identical):
    assert refused.returncode == 2
    assert f"is in use by process {first.pid}" in refused.stderr.splitlines()[-1]
  with open(workdir / "config.json") as file:
    assert json.load(file)["optimizer"]["learning_rate"] == 0.02  # the first's, only
  reference = subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), *first_flags,
                              f"--workdir={tmp_path / 'reference'}"], cwd=ROOT,
                             capture_output=True, env={**os.environ, **env})
  assert reference.returncode == 0
  pd.testing.assert_frame_equal(_rows(workdir), _rows(tmp_path / "reference"))
  again = launch("--config=configs/credit.py", *TINY_FLAGS,
                 "--config.optimizer.learning_rate=0.05", f"--workdir={workdir}")
  assert again.returncode == 2 and "holds a run of another config" in again.stderr


def test_launches_in_the_same_second_get_their_own_folders(tmp_path):
  config = os.path.join(ROOT, "configs", "credit.py")
  runs = [_start(f"--config={config}", *TINY_FLAGS, cwd=tmp_path) for _ in range(2)]
  assert [run.wait(timeout=300) for run in runs] == [0, 0]
  folders = os.listdir(tmp_path / "runs")
  assert len(folders) == 2 and all((tmp_path / "runs" / f / "seeds.csv").exists()
                                   for f in folders)


def _csv_config(path, **fields):
  return tiny_credit_config({"data.name": "csv", "data.path": str(path), "data.target": "default",
                             "data.positive": "1", "chunk_size": 2, "num_seeds": 4, **fields})


@pytest.fixture()
def bank_csv(tmp_path):
  frame = get_loader("credit_data")()
  frame = frame.assign(default=(frame.pop("Status") == "bad").astype(int))
  frame.to_csv(tmp_path / "bank.csv", index=False)
  return tmp_path / "bank.csv"


def _kill_after_chunks(workdir, keep):
  """As if killed after `keep` chunks: later chunks and the final files gone."""
  for name in run_folder.FINAL_FILES:
    os.remove(os.path.join(workdir, name))
  for name in sorted(os.listdir(os.path.join(workdir, "chunks")))[keep:]:
    if name.endswith(".npz"):
      os.remove(os.path.join(workdir, "chunks", name))


def test_a_resume_after_the_data_changed_recomputes_and_never_mixes(tmp_path, bank_csv, caplog):
  workdir = str(tmp_path / "run")
  research.run_study(_csv_config(bank_csv), workdir)
  _kill_after_chunks(workdir, keep=1)
  frame = pd.read_csv(bank_csv)
  frame.sample(frac=1.0, random_state=0).to_csv(bank_csv, index=False)  # rows shuffled
  resumed = research.run_study(_csv_config(bank_csv), workdir)
  fresh = research.run_study(_csv_config(bank_csv), str(tmp_path / "fresh"))
  pd.testing.assert_frame_equal(resumed.seeds.drop(columns="train_seconds"),
                                fresh.seeds.drop(columns="train_seconds"))
  assert "made from other data" in caplog.text
  assert os.listdir(os.path.join(workdir, "chunks", "rejected"))  # moved aside, not deleted
  frame.to_csv(bank_csv, index=False)  # and a finished run is not reported for other data
  with pytest.raises(UserError, match="finished run on other data"):
    research.run_study(_csv_config(bank_csv), workdir)


def test_without_config_json_no_chunk_is_trusted(tmp_path, caplog):
  workdir = str(tmp_path / "run")
  research.run_study(tiny_credit_config(chunk_size=1), workdir)
  _kill_after_chunks(workdir, keep=3)
  os.remove(os.path.join(workdir, "config.json"))
  changed = tiny_credit_config({"optimizer.learning_rate": 0.05}, chunk_size=1)
  resumed = research.run_study(changed, workdir)
  fresh = research.run_study(changed, str(tmp_path / "fresh"))
  pd.testing.assert_frame_equal(resumed.seeds[METRICS], fresh.seeds[METRICS])
  assert "the folder's config.json is missing, so nothing vouches for it" in caplog.text


@pytest.mark.parametrize("damage", ["copied_over", "truncated", "random_bytes",
                                    "emptied_baseline"])
def test_a_damaged_chunk_is_named_moved_aside_and_recomputed(tmp_path, damage, caplog):
  config = tiny_credit_config({"baselines.names": ("logistic_regression",)}, chunk_size=1)
  workdir = str(tmp_path / "run")
  full = research.run_study(config, workdir)
  chunks = os.path.join(workdir, "chunks")
  members = sorted(n for n in os.listdir(chunks) if n.startswith("members"))
  target = os.path.join(chunks, "baseline-logistic_regression.npz" if damage == "emptied_baseline"
                        else members[2])
  data = open(os.path.join(chunks, members[0]), "rb").read()
  new = {"copied_over": data, "truncated": open(target, "rb").read()[:100],
         "random_bytes": np.random.default_rng(0).bytes(500), "emptied_baseline": b""}[damage]
  with open(target, "wb") as file:
    file.write(new)
  os.remove(os.path.join(workdir, "seeds.csv"))
  resumed = research.run_study(config, workdir)
  pd.testing.assert_frame_equal(resumed.seeds[METRICS], full.seeds[METRICS])
  assert f"chunks/{os.path.basename(target)} is not used: its contents changed" in caplog.text
  assert len(os.listdir(os.path.join(chunks, "rejected"))) == 1


def test_a_folder_that_is_not_a_run_is_never_written(tmp_path):
  folder = tmp_path / "thesis"
  folder.mkdir()
  (folder / ".thesis-draft.tmp").write_text("my draft")
  (folder / "notes.txt").write_text("notes")
  with pytest.raises(UserError, match="non-empty folder that holds no run of this tool"):
    research.run_study(tiny_credit_config(), str(folder))
  assert sorted(os.listdir(folder)) == [".thesis-draft.tmp", "notes.txt"]


def test_a_resume_removes_only_its_own_temp_files(tmp_path):
  workdir = tmp_path / "run"
  research.run_study(tiny_credit_config(), str(workdir))
  os.remove(workdir / "seeds.csv")
  (workdir / ".research-tmp-summary.csv.abc123.tmp").write_text("half")
  (workdir / ".thesis-draft.tmp").write_text("mine")
  research.run_study(tiny_credit_config(), str(workdir))
  assert not (workdir / ".research-tmp-summary.csv.abc123.tmp").exists()
  assert (workdir / ".thesis-draft.tmp").read_text() == "mine"


@pytest.mark.parametrize("content,message", [
    ("{not json", "config.json is unreadable"), ("[1, 2]", "config.json holds list, not a config")])
def test_a_damaged_config_json_is_one_line(tmp_path, content, message):
  workdir = tmp_path / "run"
  research.run_study(tiny_credit_config(), str(workdir))
  (workdir / "config.json").write_text(content)
  result = launch("--config=configs/credit.py", *TINY_FLAGS, "--config.num_seeds=3",
                  "--config.train.batch_size=256", f"--workdir={workdir}")
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert message in result.stderr.splitlines()[-1]


def test_every_deleted_result_file_is_rebuilt_from_the_chunks_without_training(tmp_path,
                                                                              monkeypatch):
  config = tiny_credit_config({"baselines.names": ("logistic_regression",),
                               "variance.sources": ("init",), "variance.num_seeds": 2},
                              report=True)
  workdir = tmp_path / "run"
  first = research.run_study(config, str(workdir))
  files = make_plan(config).files
  assert {"predictions.csv", "variance.csv", "report.html", "curves.csv"} <= set(files)
  from research.train import execute  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(execute, "compile_members", _never)  # nothing may train again
  for name in [f for f in files if f != "config.json"]:  # the record itself: see below
    before = (workdir / name).read_bytes()
    os.remove(workdir / name)
    again = research.run_study(config, str(workdir))
    assert (workdir / name).exists(), name
    if name.endswith(".csv"):  # the same numbers, train_seconds included (from the chunks)
      assert (workdir / name).read_bytes() == before, name
    pd.testing.assert_frame_equal(again.seeds, first.seeds)


def _never(*args, **kwargs):
  raise AssertionError("a program was compiled though every chunk was saved")


def test_a_fresh_process_reuses_every_saved_chunk(tmp_path):
  workdir = tmp_path / "run"
  flags = ("--config=configs/credit.py", *TINY_FLAGS, "--config.chunk_size=1",
           f"--workdir={workdir}")
  assert launch(*flags).returncode == 0
  os.remove(workdir / "summary.csv")
  again = launch(*flags)
  assert again.returncode == 0, again.stderr[-2000:]
  assert "Rebuilding the missing result files" in again.stderr and "from its 2 saved" in (
      again.stderr)
  assert "compiled chunks" not in again.stderr and "trained in" not in again.stderr


def test_a_damaged_manifest_is_named_and_its_chunks_recomputed(tmp_path, caplog):
  workdir = str(tmp_path / "run")
  full = research.run_study(tiny_credit_config(chunk_size=1), workdir)
  with open(os.path.join(workdir, "manifest.json"), "w") as file:
    file.write("[1, 2")
  os.remove(os.path.join(workdir, "seeds.csv"))
  resumed = research.run_study(tiny_credit_config(chunk_size=1), workdir)
  pd.testing.assert_frame_equal(resumed.seeds[METRICS], full.seeds[METRICS])
  assert "manifest.json is damaged" in caplog.text
  assert len(os.listdir(os.path.join(workdir, "chunks", "rejected"))) == 3


PLUGIN_MODEL = """
import flax.linen as nn
from research.registry import MODELS

@MODELS.register("plugin_mlp", input="tabular")
class PluginMLP(nn.Module):  # takes the credit config's model fields
  hidden_sizes: tuple = (4,)
  activation: str = "tanh"
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x, *, train=False):
    return nn.Dense(1)(nn.tanh(nn.Dense(self.hidden_sizes[0])(x)))[..., 0]
"""


def test_chunks_made_by_a_plugin_that_changed_are_recomputed(tmp_path):
  plugins = tmp_path / "plugins"
  plugins.mkdir()
  (plugins / "plugin_mlp.py").write_text(PLUGIN_MODEL)
  workdir = tmp_path / "run"
  flags = ("--config=configs/credit.py", *TINY_FLAGS, "--config.model.name=plugin_mlp",
           f"--plugins={plugins}",
           f"--workdir={workdir}")
  assert launch(*flags).returncode == 0
  os.remove(workdir / "seeds.csv")
  (plugins / "plugin_mlp.py").write_text(PLUGIN_MODEL.replace("nn.tanh", "nn.relu"))
  again = launch(*flags)
  assert again.returncode == 0, again.stderr[-2000:]
  assert "is not used: it was made from other code" in again.stderr
  assert os.listdir(workdir / "chunks" / "rejected")


def test_large_outputs_are_announced_and_too_large_ones_refused(tmp_path, monkeypatch, caplog):
  from research.workdir import folder  # pylint: disable=import-outside-toplevel
  usage = lambda free: (lambda path: type("Usage", (), {"free": free})())
  monkeypatch.setattr(folder.shutil, "disk_usage", usage(10 * 2**30))
  folder.check_disk(str(tmp_path / "run"), 3 * 2**30)
  assert "this run will write about 3.0 GiB" in caplog.text
  monkeypatch.setattr(folder.shutil, "disk_usage", usage(2**30))
  with pytest.raises(UserError, match="need about 3.0 GiB, more than the 1.0 GiB free"):
    folder.check_disk(str(tmp_path / "run"), 3 * 2**30)


def test_an_unwritable_folder_is_refused_before_compiling(tmp_path, monkeypatch):
  # Root can write anywhere, so the permission is simulated.
  from research.train import execute  # pylint: disable=import-outside-toplevel
  compiled = []
  monkeypatch.setattr(execute, "compile_members", lambda *a, **k: compiled.append(a))
  monkeypatch.setattr(os, "access", lambda path, mode: False)
  with pytest.raises(UserError, match="cannot be written"):
    research.run_study(tiny_credit_config(), str(tmp_path / "run"))
  assert not compiled and not (tmp_path / "run").exists()


def test_a_workdir_under_a_file_is_one_line(tmp_path):
  (tmp_path / "file").write_text("")
  with pytest.raises(UserError, match="lies under .*file, which is a file"):
    research.run_study(tiny_credit_config(), str(tmp_path / "file" / "run"))


def test_a_full_disk_is_one_line_and_the_run_resumes(tmp_path):
  workdir = tmp_path / "run"
  limit = 40_000  # bytes per file: the chunk (20 kB) fits, predictions.csv (57 kB) does not
  limited = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), "--config=configs/credit.py", *TINY_FLAGS,
       f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True,
      env={**os.environ, "JAX_PLATFORMS": "cpu"},
      preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
  assert limited.returncode == 2 and "Traceback" not in limited.stderr
  assert limited.stderr.splitlines()[-1].startswith("error: File too large")
  assert not (workdir / "seeds.csv").exists()
  finished = launch("--config=configs/credit.py", *TINY_FLAGS, f"--workdir={workdir}")
  assert finished.returncode == 0
  reference = launch("--config=configs/credit.py", *TINY_FLAGS, f"--workdir={tmp_path / 'ref'}")
  pd.testing.assert_frame_equal(_rows(workdir), _rows(tmp_path / "ref"))


def test_a_run_too_big_for_memory_is_refused_with_a_chunk_size(tmp_path):
  result = launch("--config=configs/credit.py", *TINY_FLAGS, "--config.num_seeds=400000",
                  "--config.train.members=vmap", "--config.chunk_size=0",
                  f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 2, result.stderr[-2000:]
  line = result.stderr.splitlines()[-1]
  assert "GiB free; set --config.chunk_size=" in line and not (tmp_path / "run").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_is_one_line_prompt_and_resumable(tmp_path, signum):
  workdir = tmp_path / "run"
  flags = ("--config=configs/credit.py", *TINY_FLAGS, "--config.num_seeds=6",
           "--config.chunk_size=2", "--config.train.epochs=200",
           "--config.baselines.names=('random_forest',)",
           "--config.baselines.random_forest.n_estimators=3000", f"--workdir={workdir}")
  process = _start(*flags)
  saved = lambda: json.loads((workdir / "manifest.json").read_text())["chunks"] if (
      workdir / "manifest.json").exists() else {}
  _wait_for(lambda: any(n.startswith("members") for n in saved()))
  sent = time.monotonic()
  process.send_signal(signum)
  _, stderr = process.communicate(timeout=60)
  assert time.monotonic() - sent < 10  # not after the chunk in flight or the forest
  assert process.returncode == 128 + signum
  last = stderr.strip().splitlines()[-1]
  assert "Traceback" not in stderr and last.startswith("interrupted: ")
  assert "finished chunk(s) are saved in" in last and f"--workdir={workdir}" in last
  assert not (workdir / "seeds.csv").exists()


def test_files_follow_the_users_umask(tmp_path):
  for mask, mode in ((0o022, 0o644), (0o002, 0o664)):
    workdir = tmp_path / f"run{mask}"
    subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), "--config=configs/credit.py",
                    *TINY_FLAGS, f"--workdir={workdir}"], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                   preexec_fn=lambda mask=mask: os.umask(mask))
    for name in ("seeds.csv", "config.json", "manifest.json"):
      assert stat.S_IMODE(os.stat(workdir / name).st_mode) == mode, (name, oct(mask))


def test_a_run_where_every_member_diverged_exits_non_zero(tmp_path):
  result = launch("--config=configs/credit.py", *TINY_FLAGS, "--config.optimizer.name=sgd",
                  "--config.optimizer.learning_rate=1e20", "--config.model.activation=relu",
                  "--config.model.hidden_sizes=(16,16)", f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 1
  assert result.stderr.splitlines()[-1].startswith("error: every network member diverged")

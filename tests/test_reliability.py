"""Determinism, diverging members, resumable runs, and no pickles."""

import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pandas as pd
import pytest

import research
from research.errors import UserError
from research.seeding import member_keys, member_seeds
from research.programs import first_program
from tests.conftest import ROOT, TINY_FLAGS, count_compiles, launch, tiny_credit_config

METRICS = ["auc", "accuracy", "log_loss", "brier", "ks", "gini"]
# A member's metrics alone and among others agree to this (float32 matmuls are
# batched differently); see README, "Reproducibility and failures".
MEMBER_TOLERANCE = dict(rtol=1e-5, atol=1e-6)


def test_two_fresh_processes_give_bitwise_identical_metrics(tmp_path):
  tables = []
  for name in ("first", "second"):
    result = launch("--config=configs/credit.py", f"--workdir={tmp_path / name}", *TINY_FLAGS)
    assert result.returncode == 0, result.stderr[-2000:]
    tables.append(pd.read_csv(tmp_path / name / "seeds.csv", dtype=str))
  pd.testing.assert_frame_equal(tables[0][METRICS], tables[1][METRICS], check_exact=True)


def test_member_result_does_not_depend_on_its_neighbours_or_chunk_size(tmp_path):
  together = research.run_study(tiny_credit_config(num_seeds=8, chunk_size=0), str(tmp_path / "all"))
  chunked = research.run_study(tiny_credit_config(num_seeds=8, chunk_size=3), str(tmp_path / "chunks"))
  alone = research.run_study(tiny_credit_config(seed=5, num_seeds=1), str(tmp_path / "alone"))
  np.testing.assert_allclose(chunked.seeds[METRICS], together.seeds[METRICS], **MEMBER_TOLERANCE)
  np.testing.assert_allclose(alone.seeds[METRICS].to_numpy()[0],
                             together.seeds[METRICS].to_numpy()[5], **MEMBER_TOLERANCE)
  assert sorted(os.listdir(tmp_path / "chunks" / "chunks")) == [
      "members-000000-000003.npz", "members-000003-000006.npz", "members-000006-000008.npz"]


def test_one_diverging_member_does_not_disturb_the_others():
  config = tiny_credit_config({"optimizer.name": "sgd", "optimizer.learning_rate": 0.5,
                               "model.activation": "relu", "model.hidden_sizes": (16, 16)})
  train = jax.jit(jax.vmap(first_program(config)[0]))
  keys = member_keys(member_seeds(0, 3), 0)
  rates = lambda *r: {"optimizer": {"learning_rate": np.array(r, np.float32)}, "model": {}}
  calm = train(keys, rates(0.5, 0.5, 0.5))
  wild = train(keys, rates(0.5, 1e20, 0.5))
  assert wild.diverged.tolist() == [False, True, False] and int(wild.diverged_epoch[1]) >= 0
  assert calm.diverged.tolist() == [False, False, False]
  for member in (0, 2):
    np.testing.assert_allclose(wild.predictions["test_logit"][member],
                               calm.predictions["test_logit"][member], **MEMBER_TOLERANCE)
  # The last finite parameters are kept: no NaN (huge weights may still overflow a
  # logit to +-inf, a sure prediction, and the member is left out as diverged).
  assert not np.isnan(wild.predictions["test_logit"]).any()


def test_resumed_run_matches_and_finished_run_does_nothing(tmp_path):
  config = tiny_credit_config(num_seeds=6, chunk_size=2)
  workdir = tmp_path / "run"
  full = research.run_study(config, str(tmp_path / "full"))
  research.run_study(config, str(workdir))
  os.remove(workdir / "seeds.csv")  # as if killed while writing the final files
  os.remove(workdir / "chunks" / "members-000002-000004.npz")  # and during chunk 2
  resumed = research.run_study(config, str(workdir))
  pd.testing.assert_frame_equal(resumed.seeds.drop(columns="train_seconds"),
                                full.seeds.drop(columns="train_seconds"), check_exact=True)
  again = research.run_study(config, str(workdir))
  assert again.resumed_finished
  pd.testing.assert_frame_equal(again.seeds[METRICS], resumed.seeds[METRICS])


def test_resuming_with_another_config_is_refused(tmp_path):
  research.run_study(tiny_credit_config(), str(tmp_path / "run"))
  with pytest.raises(UserError, match=r"holds a run of another config \(num_seeds: 3 there, "
                                      r"4 now\)"):
    research.run_study(tiny_credit_config(num_seeds=4), str(tmp_path / "run"))


def _rows(workdir):
  return pd.read_csv(os.path.join(workdir, "seeds.csv")).drop(columns="train_seconds")


def _wait_for(condition, timeout=120.0):
  deadline = time.monotonic() + timeout
  while not condition():
    assert time.monotonic() < deadline, "the run never reached the phase to kill it in"
    time.sleep(0.01)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_sigkill_during_compilation_training_and_writing_then_resume(tmp_path, seed):
  rng = np.random.default_rng(seed)
  flags = ["--config=configs/credit.py", *TINY_FLAGS, "--config.num_seeds=8",
           "--config.chunk_size=2", "--config.train.epochs=30",
           "--config.baselines.names=('logistic_regression',)"]
  reference = launch(*flags, f"--workdir={tmp_path / 'reference'}")
  assert reference.returncode == 0, reference.stderr[-2000:]
  workdir = tmp_path / "killed"
  chunks = lambda: (os.listdir(workdir / "chunks") if (workdir / "chunks").exists() else [])
  members_done = lambda: sum(name.startswith("members-") for name in chunks())
  phases = {  # when to kill, and what must hold right after
      "compilation": (lambda: time.sleep(rng.uniform(0.2, 1.5)) or True,
                      lambda: members_done() == 0),
      "training": (lambda: members_done() >= 1, lambda: members_done() < 4),
      "writing": (lambda: len(chunks()) == 5, lambda: True),  # 4 member chunks + baseline
  }
  command = [sys.executable, os.path.join(ROOT, "launch.py"), *flags, f"--workdir={workdir}"]
  for phase, (ready, interrupted) in phases.items():
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for(ready)
    time.sleep(rng.uniform(0, 0.05))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the run ended before the kill ({phase})"
    assert interrupted(), phase
  finished = launch(*flags, f"--workdir={workdir}")
  assert finished.returncode == 0, finished.stderr[-2000:]
  leftovers = [n for d in (workdir, workdir / "chunks") for n in os.listdir(d) if n.endswith(".tmp")]
  assert not leftovers  # temp files of killed writes are cleaned up on resume
  rows = _rows(workdir)
  assert len(rows) == 16 and not rows.duplicated(["model", "seed"]).any()
  pd.testing.assert_frame_equal(rows, _rows(tmp_path / "reference"), check_exact=True)
  again = launch(*flags, f"--workdir={workdir}")
  assert again.returncode == 0 and "nothing to do" in again.stdout


def test_package_never_unpickles():
  pattern = re.compile(r"pickle\.loads?\(|allow_pickle\s*=\s*True|read_pickle|yaml\.load\(")
  offenders = []
  for folder in ("research", "plugins"):
    for directory, _, files in os.walk(os.path.join(ROOT, folder)):
      for name in files:
        if name.endswith(".py"):
          path = os.path.join(directory, name)
          for number, line in enumerate(open(path, encoding="utf-8"), 1):
            if pattern.search(line):
              offenders.append(f"{path}:{number}: {line.strip()}")
  assert not offenders, offenders


def test_member_keys_are_computed_once_and_stay_each_seeds_own():
  import jax  # pylint: disable=import-outside-toplevel
  from research import seeding  # pylint: disable=import-outside-toplevel
  data = lambda keys: {s: np.asarray(jax.random.key_data(k)) for s, k in keys.items()}
  first = seeding.member_keys([3, 4, 5], 0)
  first["split"] = None  # the caller's dict is its own: the shared keys are untouched
  again, alone = seeding.member_keys(np.array([3, 4, 5]), 0), seeding.member_keys([4], 0)
  assert again is not first and again["split"] is not None
  assert seeding._member_keys.cache_info().hits >= 1  # pylint: disable=protected-access
  for stream, values in data(again).items():
    np.testing.assert_array_equal(values[1:2], data(alone)[stream])  # seed 4 alone or not
  shared = data(seeding.member_keys([3, 4, 5], 0, vary=("init",)))
  assert (shared["split"] == shared["split"][0]).all()
  assert not (shared["init"] == shared["init"][0]).all()
  np.testing.assert_array_equal(shared["init"], data(again)["init"])


def test_member_keys_are_jaxs_own_bit_for_bit_and_compile_nothing():
  """The keys computed on the host are `fold_in(key(seed), stream)` as JAX computes
  them, for seeds across the uint32 range; seeds outside it take JAX's own path."""
  import jax  # pylint: disable=import-outside-toplevel
  from research import seeding  # pylint: disable=import-outside-toplevel
  seeds = np.concatenate([np.arange(20), np.random.default_rng(0).integers(0, 2**32, 300),
                          [2**31 - 1, 2**31, 2**32 - 1]])
  keys = {}
  assert count_compiles(lambda: keys.update(seeding.member_keys(seeds, 7))) == 0
  reference = jax.vmap(jax.random.key)(jax.numpy.asarray(seeds, dtype=jax.numpy.uint32))
  for index, stream in enumerate(seeding.STREAMS):
    expected = jax.vmap(jax.random.fold_in, in_axes=(0, None))(reference, index)
    np.testing.assert_array_equal(jax.random.key_data(keys[stream]),
                                  jax.random.key_data(expected))
    assert jax.random.key_impl(keys[stream]) == jax.random.key_impl(expected)
  beyond = seeding.member_keys([2**32 + 5], 0)["init"]  # JAX's path (uint32 wraps)
  np.testing.assert_array_equal(jax.random.key_data(beyond),
                                jax.random.key_data(seeding.member_keys([5], 0)["init"]))


def test_keys_are_concatenated_taken_and_placed_on_the_host():
  """Joining groups' keys, padding a chunk and sharding it compile no program (each
  would before a run's first), and give the keys that JAX's own operations give."""
  import jax  # pylint: disable=import-outside-toplevel
  from research import hosts, seeding  # pylint: disable=import-outside-toplevel
  from research.train import strategies  # pylint: disable=import-outside-toplevel
  first, second = seeding.member_keys([0, 1, 2], 0), seeding.member_keys([5, 6], 0)
  index = np.array([0, 4, 4, 1])
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:2]), (strategies.AXIS,))  # 1 or 2 devices
  sharding = strategies.members_sharding(mesh)
  done = {}
  def run():
    done["joined"] = seeding.concatenate_keys([first["split"], second["split"]])
    done["taken"] = hosts.rows({"keys": done["joined"], "rate": np.arange(5.0)}, index)
    done["placed"] = hosts.place(done["taken"], sharding)
  assert count_compiles(run) == 0
  expected = jax.numpy.concatenate([first["split"], second["split"]])[index]
  for tree in (done["taken"], done["placed"]):
    np.testing.assert_array_equal(jax.random.key_data(tree["keys"]), jax.random.key_data(expected))
    np.testing.assert_array_equal(tree["rate"], [0.0, 4.0, 4.0, 1.0])
  assert done["placed"]["keys"].sharding == sharding

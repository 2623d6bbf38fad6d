"""Progress: epochs reported from inside the compiled run, and nothing traced when off."""

import io

import jax
import numpy as np

from research.progress import Progress
from research.programs import first_program
from tests.conftest import tiny_credit_config


def _program(on_epoch):
  train, keys, hparams, _ = first_program(tiny_credit_config({"train.epochs": 3}), on_epoch)
  return jax.vmap(train), keys, hparams


def test_epochs_are_reported_once_each_from_the_compiled_run():
  seen = []
  train, keys, hparams = _program(lambda epoch: seen.append(int(epoch)))
  jax.block_until_ready(jax.jit(train)(keys, hparams))
  jax.effects_barrier()
  assert seen == [0, 1, 2]  # once per epoch for all members together, in order


def test_progress_off_traces_no_callback():
  quiet = Progress(enabled=False)
  assert quiet.epoch_callback(3) is None
  train, keys, hparams = _program(quiet.epoch_callback(3))
  assert "callback" not in str(jax.make_jaxpr(train)(keys, hparams))
  train, keys, hparams = _program(lambda epoch: None)
  assert "callback" in str(jax.make_jaxpr(train)(keys, hparams))


def test_progress_lines():
  stream = io.StringIO()
  progress = Progress(enabled=True, stream=stream)
  progress.chunk("bucket-001", 1, 2, 8)
  progress.epoch_callback(20)(np.int32(4))
  progress.done("bucket-001: compiled in 3.0 s")
  text = stream.getvalue()
  assert "bucket-001: chunk 1/2 (8 members) epoch 5/20" in text
  assert text.endswith("bucket-001: compiled in 3.0 s\n")
  silent = io.StringIO()
  Progress(enabled=False, stream=silent).done("nothing")
  assert silent.getvalue() == ""


def test_the_whole_study_s_progress_and_time_left():
  stream = io.StringIO()
  progress = Progress(enabled=True, stream=stream)
  progress.study(programs=2, members=40)
  progress.compiled("bucket-000", 2.0)
  progress.trained("bucket-000", 1, 1, 10, None)  # a saved chunk: no time to learn from
  assert progress.overall() == "10/40 members trained"
  progress.trained("bucket-001", 1, 3, 10, 30.0)  # 3 s a member, 20 members left
  text = stream.getvalue()
  assert "bucket-000: compiled in 2.0 s (1/2 programs)" in text
  assert "20/40 members trained, about 1.0 min left" in text

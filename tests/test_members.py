"""Member strategies (vmap, map, chunked) and sharding over devices give the same members."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import research
from research.errors import UserError
from research.train import execute, strategies
from research.train.state import per_member
from research.programs import first_program
from tests.conftest import ROOT, tiny_credit_config

METRICS = ["auc", "accuracy", "log_loss", "brier"]


def test_auto_chooses_by_backend_and_model_family():
  assert strategies.resolve("auto", "tabular", backend="cpu") == "chunked"
  assert strategies.resolve("auto", "sequence", backend="cpu") == "map"
  assert strategies.resolve("auto", "sequence", backend="gpu") == "vmap"
  assert strategies.resolve("map", "tabular", backend="gpu") == "map"
  with pytest.raises(UserError, match="train.members must be one of auto, vmap, map, chunked"):
    strategies.resolve("pmap", "tabular")


def test_every_strategy_gives_the_same_members():
  train, keys, hparams, _ = first_program(tiny_credit_config(num_seeds=5))
  outputs = {}
  for strategy in ("vmap", "map", "chunked"):  # chunked: groups of 2, and a remainder of 1
    job = execute.MemberJob("members", train, keys, hparams, np.arange(5), strategy, 2)
    compiled = execute.compile_members(job)
    outputs[strategy] = jax.device_get(compiled.train(job.keys, job.hparams)).predictions
  for strategy in ("map", "chunked"):
    np.testing.assert_allclose(outputs[strategy]["test_logit"], outputs["vmap"]["test_logit"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs[strategy]["test_index"], outputs["vmap"]["test_index"])


def test_cpu_programs_compile_at_level_one_with_the_same_members(monkeypatch):
  """The members programs on CPU are compiled with `CPU_COMPILER_OPTIONS`, and what
  they train equals XLA's default level to float rounding."""
  assert strategies.compiler_options("cpu") == {"xla_backend_optimization_level": 1}
  assert strategies.compiler_options("gpu") is None
  monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=3")
  assert strategies.compiler_options("cpu") is None  # the user's own level stands
  monkeypatch.delenv("XLA_FLAGS")
  train, keys, hparams, _ = first_program(tiny_credit_config(num_seeds=2))
  program, _ = strategies.program(train, "vmap", 8, None)
  lowered = program.lower(keys, hparams)
  assert lowered._lowering._compiler_options_kvs == (  # pylint: disable=protected-access
      ("xla_backend_optimization_level", 1),)
  default = jax.jit(jax.vmap(train)).lower(keys, hparams).compile()
  ours, xla_default = jax.device_get((lowered.compile()(keys, hparams), default(keys, hparams)))
  np.testing.assert_allclose(ours.predictions["test_logit"], xla_default.predictions["test_logit"],
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(ours.train_loss, xla_default.train_loss, rtol=1e-5)


SHARDED_RUN = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    sys.path.insert(0, {root!r})
    import jax
    assert len(jax.devices()) == 4, jax.devices()
    import research
    from tests.conftest import tiny_credit_config
    research.run_study(tiny_credit_config(num_seeds=6, chunk_size=3), {workdir!r})
""")


def test_members_sharded_over_four_devices_match_one_device(tmp_path):
  """Six members in chunks of 3, each padded to 4 and split over 4 CPU devices."""
  sharded = tmp_path / "sharded"
  script = SHARDED_RUN.format(root=ROOT, workdir=str(sharded))
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(sharded / "run.json") as file:
    assert len(json.load(file)["devices"]) == 4
  single = research.run_study(tiny_credit_config(num_seeds=6, chunk_size=3), str(tmp_path / "one"))
  assert len(jax.devices()) == 1
  rows = pd.read_csv(sharded / "seeds.csv")
  np.testing.assert_allclose(rows[METRICS].to_numpy(), single.seeds[METRICS].to_numpy(),
                             rtol=1e-5)
  assert sorted(os.listdir(sharded / "chunks")) == sorted(os.listdir(tmp_path / "one" / "chunks"))


def test_a_carry_that_starts_alike_varies_per_member_with_the_same_values():
  """`per_member` makes a scan carry that starts the same for every member (Adam's zero
  moments, the diverged flag) vary per member, so vmap batches a scan's body once
  instead of iterating to a fixed point; the values stay what they were."""
  keys = jax.vmap(jax.random.key)(jnp.arange(3))
  start = {"moments": jnp.arange(2.0), "diverged": jnp.zeros((), bool)}
  stacked = jax.vmap(lambda key: per_member(start, key))(keys)
  np.testing.assert_array_equal(stacked["moments"], np.tile(np.arange(2.0), (3, 1)))
  np.testing.assert_array_equal(stacked["diverged"], np.zeros(3, bool))
  jax.vmap(lambda key: start, out_axes=None)(keys)  # alike: vmap keeps one copy
  with pytest.raises(ValueError, match="out_axes"):  # per member: it cannot
    jax.vmap(lambda key: per_member(start, key), out_axes=None)(keys)

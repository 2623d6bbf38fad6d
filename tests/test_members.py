"""Member strategies (vmap, map, chunked) and sharding over devices give the same members."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pandas as pd
import pytest

import research
from research import execute, members, study
from research.errors import UserError
from research.run import load_data
from research.train import make_train
from tests.conftest import ROOT, tiny_credit_config

METRICS = ["auc", "accuracy", "log_loss", "brier"]


def test_auto_chooses_by_backend_and_model_family():
  assert members.resolve("auto", sequence_model=False, backend="cpu") == "chunked"
  assert members.resolve("auto", sequence_model=True, backend="cpu") == "map"
  assert members.resolve("auto", sequence_model=True, backend="gpu") == "vmap"
  assert members.resolve("map", sequence_model=False, backend="gpu") == "map"
  with pytest.raises(UserError, match="train.members must be one of auto, vmap, map, chunked"):
    members.resolve("pmap", sequence_model=False)


def test_every_strategy_gives_the_same_members():
  config = tiny_credit_config(num_seeds=5)
  data, _ = load_data(config)
  bucket = study.buckets(study.expand(config))[0]
  train = make_train(config, data)
  outputs = {}
  for strategy in ("vmap", "map", "chunked"):  # chunked: groups of 2, and a remainder of 1
    job = execute.MemberJob("members", train, bucket.keys(), bucket.hparams(), strategy, 2)
    compiled = execute.compile_members(job)
    outputs[strategy] = jax.device_get(compiled.run(job.keys, job.hparams))
  for strategy in ("map", "chunked"):
    np.testing.assert_allclose(outputs[strategy].test_prob, outputs["vmap"].test_prob,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs[strategy].test_index, outputs["vmap"].test_index)


SHARDED_RUN = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    sys.path.insert(0, {root!r})
    import jax
    assert len(jax.devices()) == 4, jax.devices()
    import research
    from tests.conftest import tiny_credit_config
    research.run(tiny_credit_config(num_seeds=6, chunk_size=3), {workdir!r})
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
  single = research.run(tiny_credit_config(num_seeds=6, chunk_size=3), str(tmp_path / "one"))
  assert len(jax.devices()) == 1
  rows = pd.read_csv(sharded / "seeds.csv")
  np.testing.assert_allclose(rows[METRICS].to_numpy(), single.seeds[METRICS].to_numpy(),
                             rtol=1e-5)
  assert sorted(os.listdir(sharded / "chunks")) == sorted(os.listdir(tmp_path / "one" / "chunks"))

"""Shared fixtures: tiny configs so the suite stays fast on 2 CPU cores."""

import importlib.util
import os
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The runs that tests launch share one compilation cache, new for each session
# (the workers inherit it), so a tiny program compiles once, not in every launch.
os.environ.setdefault("RESEARCH_COMPILATION_CACHE", tempfile.mkdtemp(prefix="research-tests-jax-"))
# Launched runs fit their baselines (tests of the baseline cache turn it on themselves).
os.environ.setdefault("RESEARCH_BASELINE_CACHE", "")


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
  if config.getoption("--runslow"):
    return
  skip = pytest.mark.skip(reason="slow: run with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)


def count_compiles(run) -> int:
  """How many XLA compilations `run()` makes (JAX's monitoring events)."""
  import jax  # pylint: disable=import-outside-toplevel
  names = []
  listener = lambda name, *_, **__: names.append(name)
  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    run()
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
  return names.count("/jax/core/compile/backend_compile_duration")


def load_config(name: str):
  """`configs/<name>.py`'s `get_config()`."""
  spec = importlib.util.spec_from_file_location(f"config_{name}",
                                                os.path.join(ROOT, "configs", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


TINY_OVERRIDES = {"num_seeds": 3, "train.epochs": 2, "train.batch_size": 256,
                  "optimizer.learning_rate": 0.02,
                  "model.hidden_sizes": (8,), "baselines.names": (), "variance.sources": (),
                 "report": False}  # tests/test_report.py and test_run check the report


def set_field(config, dotted: str, value) -> None:
  """Sets `config.<dotted>`, type checks off, so tests can also plant wrong types."""
  *parents, last = dotted.split(".")
  node = config
  for parent in parents:
    node = node[parent]
  with node.ignore_type():
    node[last] = value


def tiny_credit_config(dotted=None, **top_level):
  """configs/credit.py shrunk to 3 seeds x 2 epochs of an (8,) MLP, no baselines.

  `dotted` overrides nested fields ({"train.epochs": 3}); keywords top-level ones.
  """
  config = load_config("credit")
  for field, value in {**TINY_OVERRIDES, **(dotted or {}), **top_level}.items():
    set_field(config, field, value)
  return config


def launch(*args, cwd=ROOT, timeout=300):
  """Runs launch.py in a fresh process; returns the CompletedProcess."""
  return subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), *args],
                        cwd=cwd, capture_output=True, text=True, timeout=timeout,
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})


TINY_FLAGS = ("--config.num_seeds=2", "--config.train.epochs=2",
              "--config.optimizer.learning_rate=0.02",
              "--config.train.batch_size=512", "--config.model.hidden_sizes=(8,)",
              "--config.baselines.names=()", "--config.variance.sources=()",
              "--config.report=False")


# configs/wind.py shrunk to 2 seeds x 1 epoch of tiny networks, on a CSV from
# `write_wind_csv` (add --config.data.path=...): one step ahead, no capacity given.
WIND_TINY_FLAGS = ("--config=configs/wind.py", "--config.num_seeds=2", "--config.train.epochs=1",
                   "--config.train.batch_size=64", "--config.data.name=csv",
                   "--config.data.time_column=dt", "--config.data.value_column=MW",
                   "--config.data.capacity=0", "--config.data.mape_floor=0",
                   "--config.data.window=8", "--config.data.horizon=1",
                   "--config.data.horizons=()", "--config.data.stride=1",
                   "--config.data.season=24", "--config.variance.sources=()",
                   "--config.models.elman.hidden_sizes=(8,4)",
                   "--config.models.lstm.hidden_sizes=(4,4)", "--config.models.lstm.head=(8,)",
                   "--config.models.gru.hidden_sizes=(8,4)", "--config.report=False")


def write_wind_csv(path, rows=600, seed=0):
  """A wind-like 15-minute series with a daily cycle, as columns dt, MW."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import pandas as pd  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  steps = np.arange(rows)
  power = 500 + 200 * np.sin(2 * np.pi * steps / 96) + np.cumsum(rng.normal(0, 10, rows))
  pd.DataFrame({"dt": pd.date_range("2019-01-01", periods=rows, freq="15min"),
                "MW": power}).to_csv(path, index=False)
  return path


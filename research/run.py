"""One study from config to files: the orchestration, and nothing else."""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Sequence

import flax
import jax
import ml_collections
import numpy as np
import optax
import pandas as pd
from absl import logging

import research.models  # noqa: F401  (registers the models)
from research import metrics, results, seeding, stats
from research.config import check_config
from research.data import encode_table, get_loader
from research.plugins import load_plugins
from research.train import make_train, member_hparams

# Bitwise-reproducible random bits however the computation is sharded.
jax.config.update("jax_threefry_partitionable", True)


@dataclasses.dataclass(frozen=True)
class RunResult:
  """What a finished run wrote, also kept in memory for the caller."""
  workdir: str
  seeds: pd.DataFrame
  summary: pd.DataFrame
  metrics: tuple[str, ...]


def run(config: ml_collections.ConfigDict, workdir: str,
        plugin_dirs: Sequence[str] = ()) -> RunResult:
  """Trains `config.num_seeds` members in one compiled program; writes the workdir.

  Every check on the config, the data and the plugins runs before the workdir
  is created, so bad input leaves nothing behind.

  Raises:
    UserError: bad config, data or plugin, with a one-line message.
  """
  load_plugins(plugin_dirs)
  check_config(config)
  data_fields = config.data.to_dict()
  frame = get_loader(config.data.name)(**data_fields)
  source = config.data.path or config.data.name
  data = encode_table(frame, source=source, target=config.data.target,
                      positive=config.data.positive, drop=tuple(config.data.drop),
                      max_categories=config.data.max_categories)
  logging.info("Data %s: %d rows, %d features, %.1f%% positive (%r)", source,
               data.num_examples, len(data.feature_names), 100 * data.labels.mean(),
               data.positive)
  train = make_train(config, data)
  seeds = seeding.member_seeds(config.seed, config.num_seeds)
  keys = seeding.member_keys(seeds, config.seed, config.vary)
  hparams = member_hparams(config, config.num_seeds)

  start = time.perf_counter()
  compiled = jax.jit(jax.vmap(train)).lower(keys, hparams).compile()
  compile_seconds = time.perf_counter() - start
  logging.info("Compiled %d members in %.1f s", config.num_seeds, compile_seconds)

  results.prepare_workdir(workdir)
  results.write_json(os.path.join(workdir, results.CONFIG_FILE), config.to_dict())
  start = time.perf_counter()
  output = jax.device_get(jax.block_until_ready(compiled(keys, hparams)))
  run_seconds = time.perf_counter() - start
  logging.info("Trained %d members in %.1f s", config.num_seeds, run_seconds)

  model_name = config.model.name
  seed_rows = []
  for member, seed in enumerate(seeds):
    labels = data.labels[output.test_index[member]]
    seed_rows.append({
        "model": model_name, "seed": int(seed),
        **metrics.classification_metrics(labels, output.test_prob[member]),
        "train_seconds": run_seconds / config.num_seeds,
        "diverged": bool(output.diverged[member]),
        "diverged_epoch": int(output.diverged_epoch[member])})
  seed_table = pd.DataFrame(seed_rows)
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d of %d members diverged (non-finite loss or update) and are left "
                    "out of summary.csv; see the diverged columns of seeds.csv",
                    num_diverged, len(seed_table))
  metric_names = tuple(metrics.CLASSIFICATION)
  summary = stats.summarize(seed_table, metric_names, seed=config.seed)

  results.write_csv(os.path.join(workdir, results.CURVES_FILE),
                    _curves(model_name, seeds, output.train_loss, output.eval_loss))
  results.write_csv(os.path.join(workdir, results.PREDICTIONS_FILE),
                    _predictions(model_name, seeds, output.test_index, data.labels,
                                 output.test_prob))
  results.write_json(os.path.join(workdir, results.RUN_FILE), {
      "compile_seconds": compile_seconds, "run_seconds": run_seconds,
      "num_members": config.num_seeds, "devices": [str(d) for d in jax.devices()],
      "versions": {"jax": jax.__version__, "flax": flax.__version__,
                   "optax": optax.__version__, "numpy": np.__version__,
                   "python": platform.python_version()},
      "data": {"source": source, "rows": data.num_examples,
               "features": list(data.feature_names), "positive": data.positive}})
  results.write_csv(os.path.join(workdir, results.SEEDS_FILE), seed_table)
  results.write_csv(os.path.join(workdir, results.SUMMARY_FILE), summary)
  logging.info("Wrote results to %s", workdir)
  return RunResult(workdir=workdir, seeds=seed_table, summary=summary, metrics=metric_names)


def _curves(model: str, seeds: np.ndarray, train_loss: np.ndarray,
            eval_loss: np.ndarray) -> pd.DataFrame:
  """Per-epoch losses in long form: model, seed, epoch, train_loss, eval_loss."""
  num_members, epochs = train_loss.shape
  return pd.DataFrame({
      "model": model, "seed": np.repeat(seeds, epochs),
      "epoch": np.tile(np.arange(1, epochs + 1), num_members),
      "train_loss": train_loss.ravel(), "eval_loss": eval_loss.ravel()})


def _predictions(model: str, seeds: np.ndarray, test_index: np.ndarray,
                 labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
  """Test-set predictions in long form: model, seed, row, label, prob."""
  num_test = test_index.shape[1]
  return pd.DataFrame({
      "model": model, "seed": np.repeat(seeds, num_test), "row": test_index.ravel(),
      "label": labels[test_index].ravel(), "prob": probs.ravel()})

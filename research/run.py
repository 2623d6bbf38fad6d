"""One study from config to files: the orchestration, and nothing else."""

from __future__ import annotations

import concurrent.futures
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
import sklearn
from absl import logging

import research.models  # noqa: F401  (registers the models)
from research import baselines, evaluate, metrics, results, seeding, stats
from research.config import check_config
from research.data import TabularData, encode_table, get_loader
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
  comparison: pd.DataFrame
  variance: pd.DataFrame
  metrics: tuple[str, ...]
  lower_is_better: frozenset[str]


def load_data(config: ml_collections.ConfigDict) -> tuple[TabularData, str]:
  """The encoded table named by `config.data`, and a name for it in messages."""
  frame = get_loader(config.data.name)(**config.data.to_dict())
  source = config.data.path or config.data.name
  data = encode_table(frame, source=source, target=config.data.target,
                      positive=config.data.positive, drop=tuple(config.data.drop),
                      max_categories=config.data.max_categories)
  logging.info("Data %s: %d rows, %d features, %.1f%% positive (%r)", source,
               data.num_examples, len(data.feature_names), 100 * data.labels.mean(),
               data.positive)
  return data, source


def run(config: ml_collections.ConfigDict, workdir: str,
        plugin_dirs: Sequence[str] = ()) -> RunResult:
  """Trains every member in one compiled program, fits the baselines, writes the workdir.

  Every check on the config, the data and the plugins runs (and the program
  compiles) before the workdir is created, so bad input leaves nothing behind.

  Raises:
    UserError: bad config, data or plugin, with a one-line message.
  """
  load_plugins(plugin_dirs)
  check_config(config)
  baseline_names, baseline_options = _baseline_settings(config)
  baselines.check_baselines(baseline_names, baseline_options)
  data, source = load_data(config)
  train = make_train(config, data)
  variance = config.get("variance", ml_collections.ConfigDict())
  groups = seeding.member_groups(config.seed, config.num_seeds, config.vary,
                                 variance.get("sources", ()), variance.get("num_seeds", 0))
  keys = seeding.group_keys(groups, config.seed)
  num_members = sum(len(g.seeds) for g in groups)
  hparams = member_hparams(config, num_members)

  start = time.perf_counter()
  compiled = jax.jit(jax.vmap(train)).lower(keys, hparams).compile()
  compile_seconds = time.perf_counter() - start
  logging.info("Compiled %d members (%s) in %.1f s", num_members,
               ", ".join(f"{g.source}: {len(g.seeds)}" for g in groups), compile_seconds)

  results.prepare_workdir(workdir)
  results.write_json(os.path.join(workdir, results.CONFIG_FILE), config.to_dict())
  main = slice(0, config.num_seeds)
  main_seeds = groups[0].seeds
  random_states = main_seeds if "init" in groups[0].vary else np.full_like(main_seeds,
                                                                            config.seed)
  # The baselines fit on host threads while the compiled run (which releases
  # the GIL and keeps about one core busy on CPU) trains the networks.
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    start = time.perf_counter()
    baseline_future = pool.submit(baselines.run_baselines, baseline_names, baseline_options,
                                  data, config.data.test_fraction, keys["split"][main],
                                  random_states)
    output = jax.device_get(jax.block_until_ready(compiled(keys, hparams)))
    run_seconds = time.perf_counter() - start
    logging.info("Trained %d members in %.1f s", num_members, run_seconds)
    fitted = baseline_future.result()
    if fitted:
      logging.info("Fitted %d baselines x %d seeds in %.1f s", len(baseline_names),
                   config.num_seeds, time.perf_counter() - start)

  model = config.model.name
  all_seeds = np.concatenate([g.seeds for g in groups])
  sources = np.concatenate([[g.source] * len(g.seeds) for g in groups])
  network = evaluate.member_rows(model, all_seeds, data.labels, output.test_index,
                                 output.test_prob, run_seconds / num_members,
                                 output.diverged, output.diverged_epoch)
  baseline_rows = [evaluate.member_rows(f.name, [main_seeds[f.member]], data.labels,
                                        f.test_index[None], f.test_prob[None], f.train_seconds)
                   for f in fitted]
  seed_table = pd.concat([network.iloc[main]] + baseline_rows, ignore_index=True)
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d of %d members diverged (non-finite loss or update) and are left "
                    "out of the statistics; see the diverged columns of seeds.csv",
                    num_diverged, len(seed_table))

  metric_names = tuple(metrics.CLASSIFICATION)
  summary = stats.summarize(seed_table, metric_names, seed=config.seed)
  comparison = stats.compare(seed_table, metric_names, metrics.LOWER_IS_BETTER,
                             seed=config.seed)
  variance_members = network.assign(source=sources)
  variance_table = stats.variance_by_source(variance_members, metric_names,
                                            total_source=groups[0].source)

  path = lambda name: os.path.join(workdir, name)
  results.write_csv(path(results.CURVES_FILE), evaluate.curves(
      model, main_seeds, output.train_loss[main], output.eval_loss[main]))
  results.write_csv(path(results.PREDICTIONS_FILE), pd.concat(
      [evaluate.predictions(model, main_seeds, output.test_index[main], data.labels,
                            output.test_prob[main])] +
      [evaluate.predictions(f.name, main_seeds[f.member:f.member + 1], f.test_index[None],
                            data.labels, f.test_prob[None]) for f in fitted],
      ignore_index=True))
  if len(groups) > 1:
    results.write_csv(path(results.VARIANCE_MEMBERS_FILE), variance_members)
    results.write_csv(path(results.VARIANCE_FILE), variance_table)
  results.write_json(path(results.RUN_FILE), {
      "compile_seconds": compile_seconds, "run_seconds": run_seconds,
      "num_members": num_members, "devices": [str(d) for d in jax.devices()],
      "groups": {g.source: len(g.seeds) for g in groups},
      "versions": {"jax": jax.__version__, "flax": flax.__version__,
                   "optax": optax.__version__, "numpy": np.__version__,
                   "scikit-learn": sklearn.__version__, "python": platform.python_version()},
      "data": {"source": source, "rows": data.num_examples,
               "features": list(data.feature_names), "positive": data.positive}})
  results.write_csv(path(results.COMPARISON_FILE), comparison)
  results.write_csv(path(results.SEEDS_FILE), seed_table)
  results.write_csv(path(results.SUMMARY_FILE), summary)
  logging.info("Wrote results to %s", workdir)
  return RunResult(workdir=workdir, seeds=seed_table, summary=summary, comparison=comparison,
                   variance=variance_table if len(groups) > 1 else variance_table.iloc[:0],
                   metrics=metric_names, lower_is_better=metrics.LOWER_IS_BETTER)


def _baseline_settings(config: ml_collections.ConfigDict
                       ) -> tuple[tuple[str, ...], dict[str, dict]]:
  section = config.get("baselines", ml_collections.ConfigDict())
  names = section.get("names", ())
  options = {name: section[name].to_dict() for name in names
             if isinstance(section.get(name), ml_collections.ConfigDict)}
  return names, options

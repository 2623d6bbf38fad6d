"""One study from config to files: the orchestration, and nothing else."""

from __future__ import annotations

import concurrent.futures
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
from research import baselines, evaluate, execute, results, seeding, stats
from research.config import check_config, task_of
from research.forecast_run import METRIC_NAMES as FORECAST_METRICS, run_forecast
from research.data import TabularData, encode_table, get_loader
from research.plugins import load_plugins
from research.train import make_train, member_hparams

# Bitwise-reproducible random bits however the computation is sharded.
jax.config.update("jax_threefry_partitionable", True)


METRIC_NAMES = results.CLASSIFICATION_METRICS
LOWER_IS_BETTER = results.LOWER_IS_BETTER  # classification and forecasting metrics


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
        plugin_dirs: Sequence[str] = ()) -> results.RunResult:
  """Trains every member, fits the baselines, writes the workdir; resumes a killed run.

  Every check on the config, the data and the plugins runs (and the program
  compiles) before the workdir is created, so bad input leaves nothing behind.
  Rerun with the same `workdir` and config, it skips the chunks already saved.

  Raises:
    UserError: bad config, data or plugin, or a workdir holding another config.
  """
  load_plugins(plugin_dirs)
  check_config(config)
  state = results.check_workdir(workdir, config.to_dict())
  if state is results.WorkdirState.FINISHED:
    logging.info("%s already holds the finished run of this config; nothing to do", workdir)
    return read_result(workdir, task_of(config))
  baseline_names, baseline_options = baseline_settings(config)
  baselines.check_baselines(baseline_names, baseline_options, task_of(config))
  if task_of(config) == "forecast":
    return run_forecast(config, workdir, baseline_names, baseline_options)
  data, source = load_data(config)
  train = make_train(config, data)
  variance = config.get("variance", ml_collections.ConfigDict())
  groups = seeding.member_groups(config.seed, config.num_seeds, config.vary,
                                 variance.get("sources", ()), variance.get("num_seeds", 0))
  keys = seeding.group_keys(groups, config.seed)
  hparams = member_hparams(config, len(keys["split"]))
  compiled = execute.compile_members(train, keys, hparams, config.get("chunk_size", 0))
  logging.info("Members: %s", ", ".join(f"{g.source}: {len(g.seeds)}" for g in groups))

  results.start_workdir(workdir, config.to_dict())
  if state is results.WorkdirState.RESUME:
    logging.info("Resuming the run in %s", workdir)
  main_seeds = groups[0].seeds
  random_states = main_seeds if "init" in groups[0].vary else np.full_like(main_seeds,
                                                                            config.seed)
  # The baselines fit on a host thread while the compiled run (which releases
  # the GIL and keeps about one core busy on CPU) trains the networks.
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    start = time.perf_counter()
    fitting = pool.submit(_fit_baselines, workdir, baseline_names, baseline_options, data,
                          config.data.test_fraction, keys["split"][:len(main_seeds)],
                          random_states)
    output = execute.run_members(compiled, keys, hparams, workdir)
    logging.info("Trained %d members in %.1f s", len(keys["split"]),
                 time.perf_counter() - start)
    fitted = fitting.result()

  model = config.model.name
  all_seeds = np.concatenate([g.seeds for g in groups])
  network = evaluate.member_rows(model, all_seeds, data.labels, output["test_index"],
                                 output["test_prob"], output["seconds"], output["diverged"],
                                 output["diverged_epoch"])
  main = slice(0, len(main_seeds))
  seed_table = pd.concat([network.iloc[main]] + [
      evaluate.member_rows(name, main_seeds, data.labels, arrays["test_index"],
                           arrays["test_prob"], arrays["seconds"])
      for name, arrays in fitted.items()], ignore_index=True)
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d of %d members diverged (non-finite loss or update) and are left "
                    "out of the statistics; see the diverged columns of seeds.csv",
                    num_diverged, len(seed_table))

  summary = stats.summarize(seed_table, METRIC_NAMES, seed=config.seed)
  comparison = stats.compare(seed_table, METRIC_NAMES, LOWER_IS_BETTER, seed=config.seed)
  sources = np.concatenate([[g.source] * len(g.seeds) for g in groups])
  variance_members = network.assign(source=sources)
  variance_table = stats.variance_by_source(variance_members, METRIC_NAMES,
                                            total_source=groups[0].source)

  path = lambda name: os.path.join(workdir, name)
  results.write_csv(path(results.CURVES_FILE), evaluate.curves(
      model, main_seeds, output["train_loss"][main], output["eval_loss"][main]))
  results.write_csv(path(results.PREDICTIONS_FILE), pd.concat(
      [evaluate.predictions(model, main_seeds, output["test_index"][main], data.labels,
                            output["test_prob"][main])] +
      [evaluate.predictions(name, main_seeds, arrays["test_index"], data.labels,
                            arrays["test_prob"]) for name, arrays in fitted.items()],
      ignore_index=True))
  if len(groups) > 1:
    results.write_csv(path(results.VARIANCE_MEMBERS_FILE), variance_members)
    results.write_csv(path(results.VARIANCE_FILE), variance_table)
  results.write_json(path(results.RUN_FILE), {
      "compile_seconds": compiled.compile_seconds, "chunk_size": compiled.chunk_size,
      "train_seconds": float(output["seconds"].sum()), "num_members": len(all_seeds),
      "devices": [str(d) for d in jax.devices()],
      "groups": {g.source: len(g.seeds) for g in groups},
      "versions": {"jax": jax.__version__, "flax": flax.__version__,
                   "optax": optax.__version__, "numpy": np.__version__,
                   "scikit-learn": sklearn.__version__, "python": platform.python_version()},
      "data": {"source": source, "rows": data.num_examples,
               "features": list(data.feature_names), "positive": data.positive}})
  results.write_csv(path(results.COMPARISON_FILE), comparison)
  results.write_csv(path(results.SUMMARY_FILE), summary)
  results.write_csv(path(results.SEEDS_FILE), seed_table)  # last: marks the run finished
  logging.info("Wrote results to %s", workdir)
  return results.RunResult(
      workdir=workdir, seeds=seed_table, summary=summary, comparison=comparison,
      variance=variance_table if len(groups) > 1 else variance_table.iloc[:0])


def read_result(workdir: str, task: str = "classification") -> results.RunResult:
  """The results of a finished run, from its files alone."""
  read = lambda name: pd.read_csv(os.path.join(workdir, name))
  has_variance = os.path.exists(os.path.join(workdir, results.VARIANCE_FILE))
  variance = (read(results.VARIANCE_FILE) if has_variance
              else pd.DataFrame(columns=stats.VARIANCE_COLUMNS))
  return results.RunResult(
      workdir=workdir, seeds=read(results.SEEDS_FILE), summary=read(results.SUMMARY_FILE),
      comparison=read(results.COMPARISON_FILE), variance=variance, resumed_finished=True,
      metrics=METRIC_NAMES if task == "classification" else FORECAST_METRICS)


def _fit_baselines(workdir, names, options, data, test_fraction, split_keys, random_states
                   ) -> dict[str, dict[str, np.ndarray]]:
  """Fits each baseline not yet saved in `workdir` for every seed, saving each when done."""
  def fit(name: str) -> dict[str, np.ndarray]:
    start = time.perf_counter()
    members = baselines.run_baselines([name], options, data, test_fraction, split_keys,
                                      random_states)
    logging.info("Baseline %s fitted for %d seeds in %.1f s", name, len(members),
                 time.perf_counter() - start)
    return {"test_index": np.stack([m.test_index for m in members]),
            "test_prob": np.stack([m.test_prob for m in members]),
            "seconds": np.array([m.train_seconds for m in members])}

  return {name: results.saved_arrays(workdir, f"baseline-{name}", lambda name=name: fit(name))
          for name in names}


def baseline_settings(config: ml_collections.ConfigDict
                       ) -> tuple[tuple[str, ...], dict[str, dict]]:
  """`config.baselines.names` and each named baseline's fields."""
  section = config.get("baselines", ml_collections.ConfigDict())
  names = section.get("names", ())
  options = {name: section[name].to_dict() for name in names
             if isinstance(section.get(name), ml_collections.ConfigDict)}
  return names, options

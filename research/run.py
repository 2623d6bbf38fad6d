"""One study from config to files: the orchestration, and nothing else."""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
import pandas as pd
from absl import logging

import research.models  # noqa: F401  (registers the models)
from research import (baselines, evaluate, execute, hosts, members, results, seeding, stats,
                      study, trials)
from research.config import check_config, task_of
from research.forecast_run import METRIC_NAMES as FORECAST_METRICS, run_forecast
from research.data import TabularData, encode_table, get_loader
from research.plugins import load_plugins
from research.progress import Progress
from research.report.document import write_report
from research.train import make_train

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
        plugin_dirs: Sequence[str] = ()) -> results.RunResult | None:
  """Trains every member, fits the baselines, writes the workdir; resumes a killed run.

  In a multi-host run (`research.hosts`) only process 0 writes and returns
  the result; the other processes train their share of the members and
  return None.

  Every check on the config, the data and the plugins runs (and the program
  compiles) before the workdir is created, so bad input leaves nothing behind.
  Rerun with the same `workdir` and config, it skips the chunks already saved.

  Raises:
    UserError: bad config, data or plugin, or a workdir holding another config.
  """
  load_plugins(plugin_dirs)
  check_config(config)
  view = hosts.workdir_view(workdir, config.to_dict())
  if view.state is results.WorkdirState.FINISHED:
    logging.info("%s already holds the finished run of this config; nothing to do", workdir)
    return read_result(workdir, task_of(config)) if hosts.is_writer() else None
  baseline_names, baseline_options = baseline_settings(config)
  baselines.check_baselines(baseline_names, baseline_options, task_of(config))
  if task_of(config) == "forecast":
    result = run_forecast(config, workdir, view, baseline_names, baseline_options)
  else:
    result = run_classification(config, workdir, view, baseline_names, baseline_options)
  if result is not None and config.get("report", True):
    write_report(workdir)
    logging.info("Report: %s", os.path.join(workdir, "report.html"))
  return result


def run_classification(config: ml_collections.ConfigDict, workdir: str,
                       view: hosts.WorkdirView, baseline_names: Sequence[str],
                       baseline_options: dict[str, dict]) -> results.RunResult | None:
  """Trains every trial's members and the baselines on the same splits; writes the tables."""
  variance = config.get("variance", ml_collections.ConfigDict())
  if study.has_study(config) and variance.get("sources", ()):
    logging.warning("variance.sources is ignored in a study: the decomposition runs for a "
                    "single model (run best_config.py with it)")
  trial_list = study.expand(config, variance.get("sources", ()), variance.get("num_seeds", 0))
  trials.study_metric(config, METRIC_NAMES)  # checked before anything is written
  variants, variant_of = study.load_data_variants(trial_list, load_data)
  data_of = lambda trial: variant_of[trial.index].data[0]
  buckets = study.buckets(trial_list)
  progress = Progress.for_terminal(config.get("progress", True) and hosts.is_writer())
  strategy = members.resolve(config.train.get("members", "auto"), sequence_model=False)
  jobs = [execute.MemberJob(b.label, make_train(
      b.config, data_of(b.trials[0]), progress.epoch_callback(b.config.train.epochs)),
      b.keys(), b.hparams(), strategy, config.train.get("vmap_size", 8)) for b in buckets]
  logging.info("%d trials x %d seeds in %d compiled program(s)", len(trial_list),
               config.num_seeds, len(jobs))
  chunk_size = config.get("chunk_size", 0)
  first = execute.compile_first(jobs, view.saved, chunk_size, progress)
  if not hosts.is_writer():
    execute.run_jobs(jobs, workdir, view.saved, chunk_size, first)
    return None

  results.start_workdir(workdir, config.to_dict())
  if view.state is results.WorkdirState.RESUME:
    logging.info("Resuming the run in %s", workdir)
  main_seeds = seeding.member_seeds(config.seed, config.num_seeds)
  split_keys = seeding.member_keys(main_seeds, config.seed, config.vary)["split"]
  random_states = main_seeds if "init" in config.vary else np.full_like(main_seeds,
                                                                         config.seed)
  # The baselines fit on a host thread while the compiled programs (which release
  # the GIL and keep about one core busy on CPU) train the networks.
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    start = time.perf_counter()
    fitting = {v.suffix: pool.submit(_fit_baselines, workdir, baseline_names, baseline_options,
                                     v.data[0], config.data.test_fraction, split_keys,
                                     random_states, v, progress)
               for v in variants}
    done = execute.run_jobs(jobs, workdir, view.saved, chunk_size, first, progress)
    logging.info("Trained %d members in %.1f s", sum(j.num_members for j in jobs),
                 time.perf_counter() - start)
    fitted = {name + suffix: arrays for suffix, future in fitting.items()
              for name, arrays in future.result().items()}
  outputs, compile_seconds = study.trial_outputs(buckets, done)

  rows = {t.index: evaluate.member_rows(
      t.label, np.concatenate([g.seeds for g in t.groups]), data_of(t).labels,
      outputs[t.index]["test_index"], outputs[t.index]["test_prob"], outputs[t.index]["seconds"],
      outputs[t.index]["diverged"], outputs[t.index]["diverged_epoch"]) for t in trial_list}
  labels = data_of(trial_list[0]).labels
  seed_table = pd.concat([rows[t.index].iloc[:len(t.seeds)] for t in trial_list] + [
      evaluate.member_rows(name, main_seeds, labels, arrays["test_index"],
                           arrays["test_prob"], arrays["seconds"])
      for name, arrays in fitted.items()], ignore_index=True)
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d of %d members diverged (non-finite loss or update) and are left "
                    "out of the statistics; see the diverged columns of seeds.csv",
                    num_diverged, len(seed_table))
  seed_table, summary, comparison, ranked = trials.summarize(
      config, trial_list, seed_table, METRIC_NAMES, LOWER_IS_BETTER, compile_seconds, workdir)

  groups = trial_list[0].groups
  sources = np.concatenate([[g.source] * len(g.seeds) for g in groups])
  variance_members = rows[0].assign(source=sources)
  variance_table = stats.variance_by_source(variance_members, METRIC_NAMES,
                                            total_source=groups[0].source)
  # Predictions of every member would be huge for a large study: the best trial's.
  shown = [t for t in trial_list if not len(ranked) or t.label == ranked["model"].iloc[0]]
  path = lambda name: os.path.join(workdir, name)
  results.write_csv(path(results.CURVES_FILE), pd.concat([evaluate.curves(
      t.label, t.seeds, outputs[t.index]["train_loss"][:len(t.seeds)],
      outputs[t.index]["eval_loss"][:len(t.seeds)]) for t in trial_list], ignore_index=True))
  results.write_csv(path(results.PREDICTIONS_FILE), pd.concat(
      [evaluate.predictions(t.label, t.seeds, outputs[t.index]["test_index"][:len(t.seeds)],
                            data_of(t).labels, outputs[t.index]["test_prob"][:len(t.seeds)])
       for t in shown] +
      [evaluate.predictions(name, main_seeds, arrays["test_index"], labels,
                            arrays["test_prob"]) for name, arrays in fitted.items()],
      ignore_index=True))
  if len(groups) > 1:
    results.write_csv(path(results.VARIANCE_MEMBERS_FILE), variance_members)
    results.write_csv(path(results.VARIANCE_FILE), variance_table)
  data, source = variants[0].data
  results.write_json(path(results.RUN_FILE), {
      "compile_seconds": _per_program(buckets, compile_seconds),
      "chunk_size": chunk_size, "programs": len(jobs),
      "train_seconds": float(sum(o["seconds"].sum() for o in outputs.values())),
      "num_members": int(sum(t.num_members for t in trial_list)),
      "devices": [str(d) for d in jax.devices()],
      "groups": {g.source: len(g.seeds) for g in groups}, "trials": len(trial_list),
      "versions": results.software_versions(),
      "data": {"source": source, "rows": data.num_examples,
               "features": list(data.feature_names), "positive": data.positive}})
  results.write_csv(path(results.COMPARISON_FILE), comparison)
  results.write_csv(path(results.SUMMARY_FILE), summary)
  results.write_csv(path(results.SEEDS_FILE), seed_table)  # last: marks the run finished
  logging.info("Wrote results to %s", workdir)
  return results.RunResult(
      workdir=workdir, seeds=seed_table, summary=summary, comparison=comparison,
      variance=variance_table if len(groups) > 1 else variance_table.iloc[:0], ranking=ranked)


def _per_program(buckets: Sequence[study.Bucket], compile_seconds: dict[int, float]
                 ) -> dict[str, float] | float:
  """Compile time per program (one number for a single program)."""
  by_label = {b.label: compile_seconds[b.trials[0].index] for b in buckets}
  return next(iter(by_label.values())) if len(by_label) == 1 else by_label


def read_result(workdir: str, task: str = "classification") -> results.RunResult:
  """The results of a finished run, from its files alone."""
  read = lambda name: pd.read_csv(os.path.join(workdir, name))
  has_variance = os.path.exists(os.path.join(workdir, results.VARIANCE_FILE))
  variance = (read(results.VARIANCE_FILE) if has_variance
              else pd.DataFrame(columns=stats.VARIANCE_COLUMNS))
  return results.RunResult(
      workdir=workdir, seeds=read(results.SEEDS_FILE), summary=read(results.SUMMARY_FILE),
      comparison=read(results.COMPARISON_FILE), variance=variance, resumed_finished=True,
      ranking=(read(results.RANKING_FILE)
               if os.path.exists(os.path.join(workdir, results.RANKING_FILE)) else None),
      metrics=METRIC_NAMES if task == "classification" else FORECAST_METRICS)


def _fit_baselines(workdir, names, options, data, test_fraction, split_keys, random_states,
                   variant: study.DataVariant, progress: Progress | None = None
                   ) -> dict[str, dict[str, np.ndarray]]:
  """Fits each baseline not yet saved in `workdir` for every seed, saving each when done."""
  def fit(name: str) -> dict[str, np.ndarray]:
    start = time.perf_counter()
    members = baselines.run_baselines([name], options, data, test_fraction, split_keys,
                                      random_states)
    seconds = time.perf_counter() - start
    logging.info("Baseline %s fitted for %d seeds in %.1f s", name, len(members), seconds)
    if progress:
      progress.done(f"baseline {name}{variant.suffix}: {len(members)} seeds fitted in "
                    f"{seconds:.1f} s")
    return {"test_index": np.stack([m.test_index for m in members]),
            "test_prob": np.stack([m.test_prob for m in members]),
            "seconds": np.array([m.train_seconds for m in members])}

  return {name: results.saved_arrays(workdir, f"baseline-{name}{variant.tag}",
                                     lambda name=name: fit(name))
          for name in names}


def baseline_settings(config: ml_collections.ConfigDict
                       ) -> tuple[tuple[str, ...], dict[str, dict]]:
  """`config.baselines.names` and each named baseline's fields."""
  section = config.get("baselines", ml_collections.ConfigDict())
  names = section.get("names", ())
  options = {name: section[name].to_dict() for name in names
             if isinstance(section.get(name), ml_collections.ConfigDict)}
  return names, options

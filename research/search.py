"""A hyperparameter search with Optuna: trials asked in batches, each batch one run.

    study.sampler      random | tpe | cmaes | qmc | grid (unset: the one-run search
                       of research.study.space, every point drawn up front)
    study.search       the space, as for the one-run search
    study.num_trials   the budget: the storage's trials numbered below it
    study.batch_size   trials asked at once and trained together (default 8)
    study.storage      '' (a SQLite file in the workdir), an Optuna database URL or
                       a journal file (*.log) on a disk several machines share
    study.name         the Optuna study (default 'search'): processes that share a
                       storage and a name share the search
    study.rerun_best   when every trial is done, the best one's config runs in
                       <workdir>/best, with the baselines (default True)

Optuna asks for a batch of trials; the batch trains as one run of the pipeline
(its float values vmapped with the seeds, its shapes in buckets) in
`<workdir>/batches/batch-<first trial>`, whose saved chunks make it resumable;
each trial is then told its mean over seeds on the part it is selected on (the
validation part by default), with its per-seed rows as a trial attribute. The
search's tables are derived from the storage, so any process can write them.
Pruning is not offered: the members of a program train together.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import socket
import time
from collections.abc import Sequence

import ml_collections
import optuna
import pandas as pd

from research import fingerprint, results
from research.errors import UserError
from research.pipeline import run_study
from research.plugins import load_plugins
from research.study import sampler as samplers
from research.study import search_tables

SEARCH_FILE = "search.json"  # marks a search's folder: what it searches, where it is stored
BATCHES_DIR = "batches"
CLAIMS_DIR = "claims"  # a lock file per batch, held by the process training it
BEST_DIR = "best"  # best/<trial>/: a search extended later may find another best
LOCK_FILE = ".search.lock"
# What only the search reads; a batch's run never sees these.
SEARCH_FIELDS = ("sampler", "search", "num_trials", "batch_size", "storage", "name",
                 "rerun_best", "seed", "search_per_seed", "grid")
# Fields that may change between runs of one search (where it is kept, how far it goes).
FREE_FIELDS = ("storage", "name", "num_trials", "batch_size", "rerun_best")
UNCLAIMED_S = 600  # a trial asked this long ago and never named a batch lost its process
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)


def run_search(config: ml_collections.ConfigDict, workdir: str,
               plugin_dirs: Sequence[str] = ()) -> results.RunResult:
  """Runs (or continues, or joins) the search, then writes its tables and report.

  Several processes with one storage and `study.name` share the search: each
  asks its own batches, and none runs a trial twice. A killed process rerun
  with the same workdir finishes its unfinished batches from their chunks.
  """
  load_plugins(plugin_dirs)
  spec = search_tables.SearchSpec.from_config(config)
  batch_config(config, spec, spec.probe_points())  # every config check, before any file
  workdir = os.path.abspath(workdir)
  given = samplers.open_storage(spec.storage) if spec.storage else None  # before any file
  _open_folder(workdir, config)
  url = spec.storage or f"sqlite:///{os.path.join(workdir, 'search.db')}"
  with _search_lock(workdir):  # processes starting together create the SQLite file once
    study = _open_study(given or samplers.open_storage(url), spec, config)
  logging.info("Search %r in %s: %s sampler, %d trials, batches of %d", spec.name, url,
               spec.sampler, spec.num_trials, spec.batch_size)
  while (claimed := _next_batch(study, spec, workdir)) is not None:
    batch, claim = claimed
    try:
      _train_batch(study, spec, config, workdir, batch, plugin_dirs)
    finally:
      claim.close()  # closing releases the lock
  with _search_lock(workdir):
    return _finish(study, spec, config, workdir, url, plugin_dirs)


def first_batch_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config of the search's first batch (from an in-memory study with the same
  sampler), for `--dry_run`: what a batch compiles and how much memory it needs."""
  spec = search_tables.SearchSpec.from_config(config)
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  study = optuna.create_study(sampler=samplers.make_sampler(spec.sampler, spec.seed, spec.space))
  asked = [study.ask(dict(spec.space.distributions))
           for _ in range(min(spec.batch_size, spec.num_trials))]
  return batch_config(config, spec, tuple((search_tables.trial_label(t.number),
                                           spec.space.values(t.params)) for t in asked))


def batch_config(config: ml_collections.ConfigDict, spec: "search_tables.SearchSpec",
                 points: tuple) -> ml_collections.ConfigDict:
  """The config of one batch's run: the trials as explicit `study.points`, no
  baselines, no report (the search has its own); checked by planning it."""
  from research.plan import make_plan  # pylint: disable=import-outside-toplevel
  batch = ml_collections.ConfigDict(config.to_dict())
  for field in SEARCH_FIELDS:
    if field in batch.study:
      del batch.study[field]
  batch.study.points = points
  batch.report = False
  if "baselines" in batch:
    batch.baselines.names = ()
  if "variance" in batch:
    batch.variance.sources = ()
  make_plan(batch)
  return batch


def _open_folder(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Creates the search's folder, or checks that an existing one is a search's."""
  marker = os.path.join(workdir, SEARCH_FILE)
  if os.path.isdir(workdir) and os.listdir(workdir) and not os.path.exists(marker):
    raise UserError(f"--workdir {workdir} holds files that are not a search's; pass a new "
                    "or empty folder")
  for folder in (BATCHES_DIR, CLAIMS_DIR):
    os.makedirs(os.path.join(workdir, folder), exist_ok=True)
  if not os.path.exists(marker):
    results.write_json(marker, {"config": config.to_dict()})


def _open_study(storage: optuna.storages.BaseStorage, spec,
                config: ml_collections.ConfigDict) -> optuna.Study:
  """The Optuna study, created or loaded; refused if it was made by another config."""
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  study = optuna.create_study(
      study_name=spec.name, storage=storage, load_if_exists=True,
      sampler=samplers.make_sampler(spec.sampler, spec.seed, spec.space),
      direction="minimize" if spec.lower_is_better else "maximize")
  key = fingerprint.content_hash(_fixed_part(config))
  made_by = study.user_attrs.get("config_fingerprint")
  if made_by is None:
    study.set_user_attr("config_fingerprint", key)
    study.set_user_attr("config", _fixed_part(config))
  elif made_by != key:
    raise UserError(f"the storage's study {spec.name!r} was made by a different config (only "
                    f"study.{', study.'.join(FREE_FIELDS)} may change); pass another "
                    "study.name or storage")
  return study


def _fixed_part(config: ml_collections.ConfigDict) -> dict:
  fixed = config.to_dict()
  for field in FREE_FIELDS:
    fixed["study"].pop(field, None)
  return fixed


def _next_batch(study: optuna.Study, spec, workdir: str):
  """This process's next trials and its claim on them: an unfinished batch of this
  workdir that no live process claims (a killed run's), else new trials asked
  within the budget. None when there is nothing left to do here."""
  every_running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
  running = [t for t in every_running
             if t.user_attrs.get("workdir") == workdir and "batch" in t.user_attrs]
  for name in sorted({t.user_attrs["batch"] for t in running}):
    claim = _claim(workdir, name)
    if claim is not None:
      logging.info("Continuing %s, left unfinished by an earlier run", name)
      return [t for t in running if t.user_attrs["batch"] == name], claim
  # Asked but never named: their process died between asking and claiming.
  now = datetime.datetime.now()
  unnamed = [t for t in every_running if "batch" not in t.user_attrs and t.number <
             spec.num_trials and now - t.datetime_start > datetime.timedelta(seconds=UNCLAIMED_S)]
  if unnamed and (claimed := _name_batch(study, workdir, unnamed[:spec.batch_size])):
    logging.info("Continuing trials %s, asked by a process that died before training them",
                 ", ".join(str(t.number) for t in unnamed[:spec.batch_size]))
    return claimed
  taken = sum(t.number < spec.num_trials for t in study.get_trials(deepcopy=False))
  wanted = min(spec.batch_size, spec.num_trials - taken)
  if wanted <= 0:
    return None
  asked = [study.ask(dict(spec.space.distributions)) for _ in range(wanted)]
  over = [t for t in asked if t.number >= spec.num_trials]  # another process asked meanwhile
  for trial in over:
    trial.set_user_attr("over_budget", True)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
  kept = [t for t in asked if t.number < spec.num_trials]
  return _name_batch(study, workdir, kept) if kept else None


def _name_batch(study: optuna.Study, workdir: str, trials: Sequence):
  """Claims a batch for `trials` and names it in their attributes (claimed first, so
  no process ever sees a named batch unclaimed); None if another process has it."""
  name = f"batch-{trials[0].number:05d}"
  claim = _claim(workdir, name)
  if claim is None:
    return None
  for trial in trials:
    handle = optuna.trial.Trial(study, trial._trial_id)  # pylint: disable=protected-access
    handle.set_user_attr("batch", name)
    handle.set_user_attr("workdir", workdir)
    handle.set_user_attr("host", socket.gethostname())
  numbers = {t.number for t in trials}
  return [t for t in study.get_trials(deepcopy=False) if t.number in numbers], claim


def _claim(workdir: str, name: str):
  """An OS lock on `claims/<name>` (released if this process dies), or None if
  a live process holds it."""
  file = open(os.path.join(workdir, CLAIMS_DIR, name), "a+")  # pylint: disable=consider-using-with
  try:
    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    file.close()
    return None
  return file


def _train_batch(study: optuna.Study, spec, config: ml_collections.ConfigDict, workdir: str,
                 batch: Sequence[optuna.trial.FrozenTrial], plugin_dirs: Sequence[str]) -> None:
  """Trains a batch as one run and tells Optuna each trial's result."""
  name = batch[0].user_attrs["batch"]
  points = tuple((search_tables.trial_label(t.number), spec.space.values(t.params))
                 for t in batch)
  folder = os.path.join(workdir, BATCHES_DIR, name)
  logging.info("%s: trials %s", name, ", ".join(str(t.number) for t in batch))
  result = run_study(batch_config(config, spec, points), folder, plugin_dirs=plugin_dirs)
  table = pd.read_csv(os.path.join(folder, results.TRIALS_FILE))
  for trial in batch:
    search_tables.tell(study, trial, result.ranking, table)


def _finish(study: optuna.Study, spec, config: ml_collections.ConfigDict, workdir: str,
            url: str, plugin_dirs: Sequence[str]) -> results.RunResult:
  """Writes trials.csv, ranking.csv, best_config.py and the report from the storage;
  reruns the best trial with the baselines once every trial is done."""
  trials = [t for t in study.get_trials(deepcopy=False) if t.number < spec.num_trials]
  done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
  pending = [t for t in trials if t.state not in FINISHED]
  if not done:
    raise UserError(f"no trial of the search {spec.name!r} has finished yet"
                    + (f" ({len(pending)} running elsewhere)" if pending else ""))
  tables = search_tables.write(workdir, spec, config, done)
  best = None
  if spec.rerun_best and not pending:
    best = run_study(ml_collections.ConfigDict(tables.best_config),
                     os.path.join(workdir, BEST_DIR, tables.ranking["model"].iloc[0]),
                     plugin_dirs=plugin_dirs)
  elif pending:
    logging.warning("%d of %d trials are still running in other processes; these tables "
                    "hold the %d finished; rerun to update them", len(pending), len(trials),
                    len(done))
  from research.report import search_report  # pylint: disable=import-outside-toplevel
  search_report.write(workdir, spec, url, trials, tables, best)
  return search_tables.run_result(workdir, spec, tables, best)


@contextlib.contextmanager
def _search_lock(workdir: str):
  """One process at a time writes the search's own files (waits for the other)."""
  with open(os.path.join(workdir, LOCK_FILE), "a+") as file:
    start = time.perf_counter()
    fcntl.flock(file, fcntl.LOCK_EX)
    if time.perf_counter() - start > 1:
      logging.info("Waited %.0f s for another process writing the search's tables",
                   time.perf_counter() - start)
    try:
      yield
    finally:
      fcntl.flock(file, fcntl.LOCK_UN)

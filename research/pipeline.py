"""One study from config to files, for every task: `run_study(config, workdir)`.

    plan = make_plan(config)               checked, frozen (research.plan)
    data = task.load(...)                  once per distinct data section
    programs: make_train per bucket        compiled, trained in saved chunks
    baselines on a host thread             the same members' data, meanwhile
    rows -> statistics -> files -> report  research.rows, stats, results, report

Only the task's methods differ between classification, forecasting and a
plugin's task (`research.tasks.base.Task`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

import research.baselines  # noqa: F401  (registers the baselines)
import research.models  # noqa: F401  (registers the models)
import research.tasks  # noqa: F401  (registers the tasks)
from research import hosts, results, rows
from research.plan import Plan, Trial, make_plan
from research.plugins import load_plugins
from research.progress import Progress
from research.tasks import get_task
from research.report.document import write_report
from research.seeding import member_keys
from research.tasks.base import Arrays, BaselineMembers, Task
from research.train import execute
from research.train.loop import Schedule, make_train

# Bitwise-reproducible random bits however the computation is sharded.
jax.config.update("jax_threefry_partitionable", True)


@dataclasses.dataclass(frozen=True)
class Variant:
  """One distinct data section of a run, loaded once.

  Attributes:
    data: what the task's `load` returned for it.
    suffix: appended to baseline names to tell variants apart ('' if only one).
    tag: the same for saved chunk names.
  """
  data: Any
  suffix: str
  tag: str


def run_study(config: ml_collections.ConfigDict, workdir: str,
              plugin_dirs: Sequence[str] = ()) -> results.RunResult | None:
  """Trains every member, fits the baselines, writes the workdir; resumes a killed run.

  Every check on the config, the data and the plugins runs (and the first
  program compiles) before the workdir is created, so bad input leaves
  nothing behind. Rerun with the same `workdir` and config, it skips the
  chunks already saved. In a multi-host run (`research.hosts`) only process 0
  writes and returns the result; the others train their share and return None.

  Raises:
    UserError: bad config, data or plugin, or a workdir holding another config.
  """
  load_plugins(plugin_dirs)
  plan = make_plan(config)
  task = get_task(plan.task)
  view = hosts.workdir_view(workdir, dict(plan.config))
  if view.state is results.WorkdirState.FINISHED:
    logging.info("%s already holds the finished run of this config; nothing to do", workdir)
    return results.read_result(workdir) if hosts.is_writer() else None
  variants = load_variants(plan.trials, task)
  progress = Progress.for_terminal(plan.progress and hosts.is_writer())
  jobs = member_jobs(plan, task, variants, progress)
  logging.info("%d trials x %d seeds in %d compiled program(s)", len(plan.trials),
               plan.num_seeds, len(jobs))
  first = execute.compile_first(jobs, view.saved, plan.chunk_size, progress)
  if not hosts.is_writer():
    execute.run_jobs(jobs, workdir, view.saved, plan.chunk_size, first)
    return None
  results.start_workdir(workdir, dict(plan.config))
  if view.state is results.WorkdirState.RESUME:
    logging.info("Resuming the run in %s", workdir)
  done, baselines = train_and_fit(plan, task, variants, jobs, workdir, view, first, progress)
  outcome = rows.collect(plan, task, variants, done, baselines)
  tables = rows.statistics(plan, task, outcome)
  rows.write(workdir, plan, task, variants, outcome, tables)
  logging.info("Wrote results to %s", workdir)
  if plan.report:
    write_report(workdir)
    logging.info("Report: %s", os.path.join(workdir, "report.html"))
  return results.RunResult(
      workdir=workdir, seeds=tables.seeds, summary=tables.summary,
      comparison=tables.comparison, variance=tables.variance, metrics=task.metrics,
      lower_is_better=task.lower_is_better,
      ranking=tables.ranking if plan.study is not None else None)


def dry_run(config: ml_collections.ConfigDict, plugin_dirs: Sequence[str] = ()) -> str:
  """The plan as text, with each program compiled for its memory; writes nothing.

  Raises:
    UserError: as `run_study` would, before anything is written.
  """
  load_plugins(plugin_dirs)
  plan = make_plan(config)
  task = get_task(plan.task)
  variants = load_variants(plan.trials, task)
  jobs = member_jobs(plan, task, variants, Progress(False))
  compiled = [execute.compile_members(job, plan.chunk_size) for job in jobs]
  lines = [f"task {plan.task}: {len(plan.trials)} trial(s) x {plan.num_seeds} seed(s), "
           f"{plan.num_members} members in {len(jobs)} compiled program(s) on "
           f"{len(jax.devices())} {jax.default_backend()} device(s), strategy {plan.strategy}",
           f"data: {', '.join(sorted({str(task.describe(v.data).get('source')) for v in variants.values()}))}"]
  for bucket, program in zip(plan.buckets, compiled):
    trial = bucket.first
    lines.append(
        f"  program {bucket.label}: {bucket.num_members} members ({len(bucket.trials)} "
        f"trial(s), e.g. {trial.label}: {trial.model.name}, {trial.optimizer.name}, "
        f"{trial.train.epochs} epochs), chunks of {program.chunk_size}, "
        f"{program.memory_bytes / 2**20:.1f} MiB per device per chunk, compiled in "
        f"{program.compile_seconds:.1f} s")
  names = [b.name for b in plan.baselines] + list(task.fixed_baselines(
      next(iter(variants.values())).data))
  lines.append(f"baselines: {', '.join(names) or 'none'}")
  if plan.study is not None:
    lines.append(f"study: ranked by {plan.study.metric}"
                 + (", a search per seed" if plan.study.search_per_seed else ""))
  return "\n".join(lines)


def load_variants(trials: Sequence[Trial], task: Task) -> dict[int, Variant]:
  """Each trial's data: `task.load` once per distinct data section."""
  first: dict[str, Trial] = {}
  for trial in trials:
    first.setdefault(trial.data_key, trial)
  several = len(first) > 1
  loaded = {key: Variant(data=task.load(trial.data), suffix=f" [data {i}]" if several else "",
                         tag=f"-data{i}" if several else "")
            for i, (key, trial) in enumerate(first.items())}
  return {trial.index: loaded[trial.data_key] for trial in trials}


def bucket_train(task: Task, trial: Trial, data: Any,
                 on_epoch: Callable[[jax.Array], None] | None = None) -> Callable:
  """The pure per-member `train` of the bucket whose static fields `trial` has."""
  model = task.build_model(trial.model.name, trial.model.fields, data)
  problem = task.problem(data)
  schedule = Schedule.make(trial.train.epochs, trial.train.batch_size, problem.num_train,
                           trial.optimizer.full_batch or problem.full_batch_only)
  return make_train(problem, model, trial.optimizer, schedule, on_epoch)


def member_jobs(plan: Plan, task: Task, variants: Mapping[int, Variant],
                progress: Progress) -> list[execute.MemberJob]:
  """One job per bucket: its pure `train` and its members' keys and floats."""
  return [execute.MemberJob(
      bucket.label, bucket_train(task, bucket.first, variants[bucket.first.index].data,
                                 progress.epoch_callback(bucket.first.train.epochs)),
      bucket.keys(plan.seed), bucket.hparams(), plan.strategy, plan.vmap_size)
      for bucket in plan.buckets]


def first_program(config: ml_collections.ConfigDict,
                  on_epoch: Callable[[jax.Array], None] | None = None
                  ) -> tuple[Callable, dict[str, jax.Array], dict[str, Any], Any]:
  """`(train, keys, hparams, data)` of `config`'s first program, as `run_study` builds
  it: the pure per-member `train`, its members' stacked keys and floats, the data.
  For tests and benchmarks."""
  plan = make_plan(config)
  task = get_task(plan.task)
  bucket = plan.buckets[0]
  data = load_variants(plan.trials, task)[bucket.first.index].data
  return (bucket_train(task, bucket.first, data, on_epoch), bucket.keys(plan.seed),
          bucket.hparams(), data)


def baseline_members(plan: Plan) -> BaselineMembers:
  """The main group's members, as the baselines see them."""
  seeds = plan.main_seeds
  random_states = seeds if "init" in plan.vary else np.full_like(seeds, plan.seed)
  return BaselineMembers(seeds=seeds, random_states=random_states,
                         split_keys=member_keys(seeds, plan.seed, plan.vary)["split"])


def train_and_fit(plan: Plan, task: Task, variants: Mapping[int, Variant],
                  jobs: Sequence[execute.MemberJob], workdir: str, view: hosts.WorkdirView,
                  first: execute.CompiledMembers | None, progress: Progress):
  """Trains every program and fits every baseline; each saved as it finishes.

  The baselines fit on a host thread while the compiled programs (which release
  the GIL and keep about one core busy on CPU) train the networks.
  """
  members = baseline_members(plan)
  distinct = list({id(v): v for v in variants.values()}.values())
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    start = time.perf_counter()
    fitting = [pool.submit(fit_baselines, workdir, plan, task, variant, members, progress)
               for variant in distinct]
    done = execute.run_jobs(jobs, workdir, view.saved, plan.chunk_size, first, progress)
    logging.info("Trained %d members in %.1f s", plan.num_members, time.perf_counter() - start)
    fitted = {label: arrays for future in fitting for label, arrays in future.result().items()}
  return done, fitted


def fit_baselines(workdir: str, plan: Plan, task: Task, variant: Variant,
                  members: BaselineMembers, progress: Progress | None = None
                  ) -> dict[str, Arrays]:
  """Every baseline of `plan` on one data variant, each saved as soon as it is fitted."""
  def fit(name: str, options: Mapping[str, Any]) -> Arrays:
    start = time.perf_counter()
    arrays = task.fit_baseline(name, options, variant.data, members)
    seconds = time.perf_counter() - start
    logging.info("Baseline %s fitted for %d seeds in %.1f s", name, len(members.seeds), seconds)
    if progress:
      progress.done(f"baseline {name}{variant.suffix}: {len(members.seeds)} seeds fitted in "
                    f"{seconds:.1f} s")
    return arrays

  return {spec.name + variant.suffix: results.saved_arrays(
      workdir, f"baseline-{spec.name}{variant.tag}",
      lambda spec=spec: fit(spec.name, spec.options)) for spec in plan.baselines}

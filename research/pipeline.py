"""One study from config to files, for every task: `run_study(config, workdir)`.

    plan = make_plan(config)               checked, frozen (research.plan)
    data = task.load(...)                  once per distinct data section
    the run folder inspected               new / resume / finished (research.workdir)
    programs compiled (the first before    research.programs, research.train
      anything is written; the others while
      earlier ones train), trained in saved chunks
    baselines on a host thread             the same members' data, meanwhile
    rows -> statistics -> files -> report  research.rows, stats, run_files, report

Only the task's methods differ between classification, forecasting and a
plugin's task (`research.tasks.base.Task`).
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

from research import baseline_cache, fingerprint, hosts, inference, results, rows, run_files
from research import workdir as run_folder
from research.plan import Plan, make_plan
from research.plugins import load_plugins
from research.programs import (Variant, describe_estimate, estimate_seconds, load_variants,
                               member_jobs)
from research.progress import Progress
from research.registry import BASELINES, DATASETS, MODELS, OPTIMIZERS, TASKS
from research.rows import distinct
from research.seeding import member_keys
from research.tasks import Arrays, BaselineMembers, Task, get_task
from research.train import execute
from research.train.prepared import PreparePrograms

# Bitwise-reproducible random bits however the computation is sharded.
jax.config.update("jax_threefry_partitionable", True)


def run_study(config: ml_collections.ConfigDict, workdir: str,
              plugin_dirs: Sequence[str] = ()) -> results.RunResult | None:
  """Trains every member, fits the baselines, writes the workdir; resumes a killed run.

  Every check on the config, the data, the plugins and the folder runs (and
  the first program compiles) before the folder is created, so bad input
  leaves nothing behind. The folder is locked while the run writes it. Rerun
  with the same `workdir` and config, it uses the saved chunks it can vouch
  for (`research.workdir`) and computes the rest. In a multi-host run
  (`research.hosts`) only process 0 writes and returns the result; the
  others train their share and return None.

  Raises:
    UserError: bad config, data or plugin, or a folder this run may not use.
  """
  load_plugins(plugin_dirs)
  plan = make_plan(config)
  warn_if_too_few_seeds(plan.num_seeds)
  task = get_task(plan.task)
  variants = load_variants(plan, task)
  stamp = run_fingerprint(plan, variants)
  progress = Progress.for_terminal(plan.progress and hosts.is_writer())
  jobs = member_jobs(plan, task, variants, progress)
  progress.study(len(jobs), plan.num_members)
  expected = expected_chunks(plan, variants, jobs)
  found = run_folder.Inspection.from_json(hosts.from_writer(
      lambda: run_folder.inspect(workdir, plan.config, stamp, expected,
                                 plan.files).as_json()))
  if found.state is run_folder.State.FINISHED:
    return finished(workdir) if hosts.is_writer() else None
  _say_programs(plan, len(jobs))
  prepared = execute.prepare_programs(jobs, found.trusted, plan.chunk_size)  # compiled once
  first = execute.compile_first(jobs, found.trusted, plan.chunk_size, progress, prepared)
  if first is not None and hosts.is_writer():  # chunks, with room for the CSV files
    run_folder.check_disk(workdir, int(2 * first.output_bytes * plan.num_members))
  if plan.estimate_time and hosts.is_writer():
    logging.warning("%s", describe_estimate(estimate_seconds(plan, task, variants)))
  if not hosts.is_writer():
    execute.run_jobs(jobs, execute.TrainOnly(found.trusted), plan.chunk_size, first,
                     prepared=prepared)
    return None
  folder = run_folder.RunFolder.open(workdir, plan.config, stamp, expected, found, plan.files)
  try:
    _say_resumed(found, expected, workdir)
    done, baselines = train_and_fit(plan, task, variants, jobs, folder, first, progress, prepared)
    outcome = rows.collect(plan, task, variants, done, baselines)
    tables = rows.statistics(plan, task, variants, outcome)
    run_files.write(workdir, plan, task, variants, outcome, tables)
    logging.info("Wrote results to %s", workdir)
    if plan.report:  # matplotlib is imported only for a report (0.2 s of every start)
      from research.report.document import HTML_FILE, write_report  # pylint: disable=import-outside-toplevel
      write_report(workdir)
      logging.info("Report: %s", os.path.join(workdir, HTML_FILE))
  finally:
    folder.close()
  return results.RunResult(
      workdir=workdir, seeds=tables.seeds, summary=tables.summary,
      comparison=tables.comparison, variance=tables.variance, metrics=outcome.metrics,
      lower_is_better=outcome.lower_is_better, networks=tuple(t.label for t in plan.trials),
      ranking=tables.ranking if plan.study is not None else None)


def _say_programs(plan: Plan, num_programs: int) -> None:
  padded = sum(bool(b.width_field) for b in plan.buckets)
  shared = sum(bool(b.choices) for b in plan.buckets)
  logging.info("%d trials x %d seeds in %d compiled program(s)%s%s", len(plan.trials),
               plan.num_seeds, num_programs, f", {padded} with padded widths" if padded else "",
               f", {shared} shared across activations (or other choices)" if shared else "")


def _say_resumed(found: run_folder.Inspection, expected, workdir: str) -> None:
  if found.state is run_folder.State.RESUME and set(expected) <= found.trusted:
    logging.info("Rebuilding the missing result files of %s from its %d saved chunks",
                 workdir, len(found.trusted))
  elif found.state is run_folder.State.RESUME:
    logging.info("Resuming the run in %s (%d saved chunks used)", workdir, len(found.trusted))


def warn_if_too_few_seeds(num_seeds: int, alpha: float = 0.05) -> None:
  """Says so when the seeds are too few for any paired comparison to reach `alpha`."""
  needed = inference.min_seeds_for_p(alpha)
  if num_seeds < needed:
    logging.warning("with %d seeds the Wilcoxon signed-rank test cannot give p below %.3g, so "
                    "no paired comparison can reach p < %g however large the difference; "
                    "use --config.num_seeds=%d or more", num_seeds,
                    inference.min_wilcoxon_p(num_seeds), alpha, needed)


def finished(workdir: str) -> results.RunResult:
  """A finished run's results, from its files (every one of its plan's is there)."""
  logging.info("%s already holds the finished run of this config; nothing to do", workdir)
  return results.read_result(workdir)


def run_fingerprint(plan: Plan, variants: Mapping[int, Variant]) -> fingerprint.Fingerprint:
  """What produced this run: its config (display fields aside), its data as loaded,
  and the code of the registry entries it uses."""
  config = {k: v for k, v in plan.config.items() if k not in run_folder.DISPLAY_FIELDS}
  data = [variant.data for variant in distinct(variants, plan.trials)]
  modules = {TASKS.get(plan.task).__module__}
  for trial in plan.trials:
    modules |= {MODELS.get(trial.model.name).__module__,
                OPTIMIZERS.get(trial.optimizer.name).__module__}
    if trial.data["name"] in DATASETS:
      modules.add(DATASETS.get(trial.data["name"]).__module__)
  modules |= {BASELINES.get(spec.name).__module__ for spec in plan.baselines}
  return fingerprint.make(config, data, modules)


def expected_chunks(plan: Plan, variants: Mapping[int, Variant],
                    jobs: Sequence[execute.MemberJob]) -> dict[str, list[int]]:
  """Every chunk this run saves, with the seeds of the members in it."""
  expected = {name: seeds for job in jobs
              for name, seeds in job.chunk_seeds(plan.chunk_size).items()}
  main_seeds = [int(s) for s in plan.main_seeds]
  expected.update({f"baseline-{spec.name}{variant.tag}": main_seeds
                   for variant in distinct(variants, plan.trials) for spec in plan.baselines})
  return expected


def baseline_members(plan: Plan) -> BaselineMembers:
  """The main group's members, as the baselines see them."""
  seeds = plan.main_seeds
  random_states = seeds if "init" in plan.vary else np.full_like(seeds, plan.seed)
  return BaselineMembers(seeds=seeds, random_states=random_states,
                         split_keys=member_keys(seeds, plan.seed, plan.vary)["split"])


def train_and_fit(plan: Plan, task: Task, variants: Mapping[int, Variant],
                  jobs: Sequence[execute.MemberJob], folder: run_folder.RunFolder,
                  first: execute.CompiledMembers | None, progress: Progress,
                  prepared: PreparePrograms | None = None):
  """Trains every program and fits every baseline; each saved as it finishes.

  `prepared` holds the programs' shared parts that `first`'s compilation compiled.

  The baselines fit on a host thread while the compiled programs (which release
  the GIL and keep about one core busy on CPU) train the networks.
  """
  members = baseline_members(plan)
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  try:
    start = time.perf_counter()
    fitting = [pool.submit(fit_baselines, folder, plan, task, variant, members, progress)
               for variant in distinct(variants, plan.trials)]
    done = execute.run_jobs(jobs, folder, plan.chunk_size, first, progress, prepared=prepared)
    logging.info("Trained %d members in %.1f s", plan.num_members, time.perf_counter() - start)
    fitted = {label: arrays for future in fitting for label, arrays in future.result().items()}
  finally:
    pool.shutdown(wait=False, cancel_futures=True)  # an interrupted run does not wait for it
  return done, fitted


def fit_baselines(folder: run_folder.RunFolder, plan: Plan, task: Task, variant: Variant,
                  members: BaselineMembers, progress: Progress | None = None
                  ) -> dict[str, Arrays]:
  """Every baseline of `plan` on one data variant, each saved as soon as it is fitted."""
  def fit(name: str, options: Mapping[str, Any]) -> Arrays:
    start = time.perf_counter()
    what = {"task": plan.task, "baseline": name, "options": dict(options),
            "data": variant.data, "seeds": members.seeds,
            "random_states": members.random_states,
            "split_keys": np.asarray(jax.random.key_data(members.split_keys))}
    arrays, kept = baseline_cache.cached(
        what, (TASKS.get(plan.task).__module__, BASELINES.get(name).__module__),
        lambda: task.fit_baseline(name, options, variant.data, members))
    done = (f"{len(members.seeds)} seeds from the baseline cache" if kept else
            f"{len(members.seeds)} seeds fitted in {time.perf_counter() - start:.1f} s")
    logging.info("Baseline %s%s: %s", name, variant.suffix, done)
    if progress:
      progress.done(f"baseline {name}{variant.suffix}: {done}")
    return arrays

  return {spec.name + variant.suffix: folder.cached(
      f"baseline-{spec.name}{variant.tag}", lambda spec=spec: fit(spec.name, spec.options),
      members.seeds) for spec in plan.baselines}

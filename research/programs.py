"""Compiled member programs from a plan and its data: one per bucket.

`load_variants` loads each distinct data section once; `member_jobs` builds
every bucket's pure `train` (`research.train.loop.make_train` over the task's
`Problem`) with its members' keys, floats and seeds. `dry_run` compiles them
and describes the plan without running anything; `first_program` gives tests
and benchmarks the program a run would train.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from research.errors import UserError
from research.plan import Plan, Trial, make_plan
from research.study.buckets import Bucket
from research.plugins import load_plugins
from research.progress import Progress
from research.tasks import Task, get_task
from research.train import execute
from research.train.prepared import PreparePrograms
from research.train.loop import Schedule, make_train


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


def load_variants(plan: Plan, task: Task) -> dict[int, Variant]:
  """Each trial's data: `task.load` once per distinct data section (with the plan's
  validation share of the training data held out, for a study that selects on it).

  The variant of the config's own data section is unnamed; another is named by
  the model whose data fields it has (`config.models.<label>.data`, e.g.
  `linear_autoregression [elman_weather inputs]`), or numbered in a study.
  """
  first: dict[str, Trial] = {}
  for trial in plan.trials:
    first.setdefault(trial.data_key, trial)
  base = json.dumps(dict(plan.config.get("data", {})), sort_keys=True, default=str)
  loaded = {}
  for number, (key, trial) in enumerate(first.items()):
    name = ("" if key == base or len(first) == 1 else
            f"data {number}" if plan.study is not None else f"{trial.label} inputs")
    loaded[key] = Variant(data=_load(task, trial.data, plan.validation),
                          suffix=f" [{name}]" if name else "",
                          tag="-" + re.sub(r"[^A-Za-z0-9_.]+", "-", name) if name else "")
  return {trial.index: loaded[trial.data_key] for trial in plan.trials}


def _load(task: Task, data: Mapping[str, Any], validation: float) -> Any:
  if not validation:
    return task.load(data)
  try:
    return task.load(data, validation=validation)
  except TypeError as e:  # a plugin task written without a validation part
    raise UserError(f"task {type(task).__name__} cannot hold out a validation part ({e}); set "
                    "--config.study.select_on=test to select on the test split") from None


def bucket_train(task: Task, bucket: Bucket, data: Any,
                 on_epoch: Callable[[jax.Array], None] | None = None,
                 epochs: int | None = None) -> Callable:
  """The pure per-member `train` of `bucket`'s program (for `epochs`, if given)."""
  trial = bucket.first
  model = task.build_model(trial.model.name, bucket.model_fields, data)
  loss = ({"loss": trial.train.loss, "huber_delta": trial.train.huber_delta}
          if trial.train.loss else {})
  problem = task.problem(data, **loss)
  if problem.full_batch_only and trial.train.batch_size:
    raise UserError(f"this data trains whole in every step (one sequence, e.g. "
                    f"data.mode='day_profile'), so train.batch_size={trial.train.batch_size} "
                    "would be ignored; set --config.train.batch_size=0")
  schedule = Schedule.make(epochs or trial.train.epochs, trial.train.batch_size, problem.num_train,
                           trial.optimizer.full_batch or problem.full_batch_only,
                           trial.train.eval_every)
  # Buckets of one data set and loss draw the same member data: they share a `prepare`.
  return make_train(problem, model, trial.optimizer, schedule, on_epoch,
                    shared=(type(task).__name__, id(data), tuple(sorted(loss.items()))))


def member_jobs(plan: Plan, task: Task, variants: Mapping[int, Variant],
                progress: Progress) -> list[execute.MemberJob]:
  """One job per bucket: its pure `train` and its members' keys and floats."""
  return [execute.MemberJob(
      bucket.label, bucket_train(task, bucket, variants[bucket.first.index].data,
                                 progress.epoch_callback(bucket.first.train.epochs)),
      bucket.keys(plan.seed), bucket.hparams(), bucket.seeds, plan.strategy, plan.vmap_size)
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
  data = load_variants(plan, task)[bucket.first.index].data
  return (bucket_train(task, bucket, data, on_epoch), bucket.keys(plan.seed),
          bucket.hparams(), data)


def estimate_seconds(plan: Plan, task: Task, variants: Mapping[int, Variant]) -> list[float]:
  """Each program's training time, estimated before the run: its first chunk is timed
  for one epoch (a program compiled for that) and scaled by the epochs and chunks."""
  estimates = []
  for bucket in plan.buckets:
    trial = bucket.first
    job = execute.MemberJob(bucket.label, bucket_train(task, bucket, variants[trial.index].data,
                                                       epochs=1),
                            bucket.keys(plan.seed), bucket.hparams(), bucket.seeds,
                            plan.strategy, plan.vmap_size)
    compiled = execute.compile_members(job, plan.chunk_size)
    first = np.arange(compiled.width) % job.num_members
    take = lambda tree: jax.tree_util.tree_map(lambda a: a[first], tree)  # pylint: disable=cell-var-from-loop
    start = time.perf_counter()
    jax.block_until_ready(compiled.train(take(job.keys), take(job.hparams)))
    estimates.append((time.perf_counter() - start) * trial.train.epochs * len(compiled.chunks()))
  return estimates


def describe_estimate(seconds: Sequence[float]) -> str:
  """'estimated training time: 12.3 min (...)', one line."""
  return (f"estimated training time: {sum(seconds) / 60:.1f} min ({len(seconds)} program(s); "
          "one epoch of each one's first chunk timed, times its epochs and chunks; compiling "
          "and the baselines come on top)")


def _padded(bucket: Bucket) -> str:
  return ((f"; {bucket.width_field} padded to {bucket.padded_widths}" if bucket.width_field
           else "") + "".join(f"; {field} one of {', '.join(names)}"
                              for field, names in bucket.choices))


def dry_run(config: ml_collections.ConfigDict, plugin_dirs: Sequence[str] = ()) -> str:
  """The plan as text, with each program compiled for its memory; writes nothing.

  Raises:
    UserError: as `run_study` would, before anything is written.
  """
  load_plugins(plugin_dirs)
  plan = make_plan(config)
  task = get_task(plan.task)
  variants = load_variants(plan, task)
  jobs = member_jobs(plan, task, variants, Progress(False))
  prepared = PreparePrograms(jobs)
  compiled = [execute.compile_members(job, plan.chunk_size, prepared=prepared) for job in jobs]
  lines = [f"task {plan.task}: {len(plan.trials)} trial(s) x {plan.num_seeds} seed(s), "
           f"{plan.num_members} members in {len(jobs)} compiled program(s) on "
           f"{len(jax.devices())} {jax.default_backend()} device(s), strategy {plan.strategy}",
           f"data: {', '.join(sorted({str(task.describe(v.data).get('source')) for v in variants.values()}))}"]
  for bucket, program in zip(plan.buckets, compiled):
    trial = bucket.first
    lines.append(
        f"  program {bucket.label}: {bucket.num_members} members ({len(bucket.trials)} "
        f"trial(s), e.g. {trial.label}: {trial.model.name}, {trial.optimizer.name}, "
        f"{trial.train.epochs} epochs{_padded(bucket)}), chunks of {program.chunk_size}, "
        f"{program.memory_bytes / 2**20:.1f} MiB per device per chunk, compiled in "
        f"{program.compile_seconds:.1f} s")
  names = [b.name for b in plan.baselines] + list(task.fixed_baselines(
      next(iter(variants.values())).data))
  lines.append(f"baselines: {', '.join(names) or 'none'}")
  if plan.study is not None:
    lines.append(f"study: ranked by {plan.study.metric} on the {plan.study.select_on} part"
                 + (", a search per seed" if plan.study.search_per_seed else ""))
  if plan.estimate_time:  # trains an epoch of each program: only when the config asks
    lines.append(describe_estimate(estimate_seconds(plan, task, variants)))
  return "\n".join(lines)

"""The part of a members program that does not depend on the model, compiled once.

A `MemberTraining` is `fit(prepare(keys), keys, hparams)`. Jobs of one run whose
`prepare` is the same (same data, problem and schedule; e.g. every architecture
of a study) share one compiled `prepare`, so each compiles only its `fit`
(`research.train.execute.compile_members`), and programs that train the same
members share its outputs, so it runs once for them. The first job's `fit`
compiles at the same time as the `prepare` (a run's first program is on its
critical path: nothing trains until both are compiled).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from research.train import strategies
from research.train.loop import MemberInputs, MemberTraining

if TYPE_CHECKING:
  from research.train.execute import MemberJob

# Batches drawn ahead for a whole chunk may take this much memory; beyond it,
# each epoch draws its own inside the members program (the same values).
BATCHES_AHEAD_BYTES = 256 * 2**20
# Prepared inputs kept for the next program that trains the same members.
KEPT_INPUTS_BYTES = 256 * 2**20


class PreparePrograms:
  """The compiled `prepare` programs of one run (`MemberTraining`), each shared by
  the jobs whose `shared` keys are equal: the first job to ask compiles it, the
  others (on other threads too) wait for it and reuse it.

  Only jobs that share one with another job of `jobs` (those still to train)
  compile as two programs; a job alone compiles as one (two would not save a
  compilation, and cost a little more than one).
  """

  def __init__(self, jobs: Sequence[MemberJob] = ()):
    counts = collections.Counter(_sharing(job) for job in jobs
                                 if isinstance(job.train, MemberTraining))
    self._sharing = {key for key, count in counts.items() if count > 1}
    self._lock = threading.Lock()
    self._programs: dict[tuple, concurrent.futures.Future] = {}
    self._inputs: collections.OrderedDict[tuple, tuple[MemberInputs, int]] = (
        collections.OrderedDict())

  def shares(self, job: MemberJob) -> bool:
    """Whether `job` shares its `prepare` with another job."""
    return isinstance(job.train, MemberTraining) and _sharing(job) in self._sharing

  def inputs(self, key: tuple, program: jax.stages.Compiled, keys: Mapping[str, jax.Array]
             ) -> MemberInputs:
    """`program(keys)` (the compiled `prepare` under `key`), run once for equal `keys`:
    the programs of a study's architectures train the same members, so all but the
    first reuse the first's inputs (the same values: `prepare` does not depend on the
    model). The most recent up to `KEPT_INPUTS_BYTES` are kept."""
    memo = (key, _fingerprint(keys))
    with self._lock:
      if memo in self._inputs:
        self._inputs.move_to_end(memo)
        return self._inputs[memo][0]
    inputs = program(keys)
    size = sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(inputs))
    with self._lock:
      self._inputs[memo] = (inputs, size)
      while sum(kept for _, kept in self._inputs.values()) > KEPT_INPUTS_BYTES:
        self._inputs.popitem(last=False)
    return inputs

  def get(self, key: tuple, lower_program: Callable[[], jax.stages.Lowered]) -> SharedPrepare:
    """The program under `key`, lowered by `lower_program` if no job did.

    The first job to ask lowers it and starts its compilation on a thread of its
    own, so that the job's `fit` (lowered from the lowered program's output types
    alone) compiles at the same time; jobs that ask later wait for the lowering."""
    with self._lock:
      lowering = self._programs.get(key)
      owner = lowering is None
      if owner:
        lowering = self._programs[key] = concurrent.futures.Future()
    if owner:
      try:
        lowered = lower_program()
      except BaseException as error:
        lowering.set_exception(error)
        raise
      compiling = concurrent.futures.ThreadPoolExecutor(max_workers=1)
      lowering.set_result(SharedPrepare(out_info=lowered.out_info,
                                        compiled=compiling.submit(lowered.compile)))
      compiling.shutdown(wait=False)
    return lowering.result()


@dataclasses.dataclass(frozen=True)
class SharedPrepare:
  """A shared `prepare`: its output types (all a `fit` needs to be lowered) and its
  compilation, under way or done (the same program as compiling it before the `fit`:
  the `fit` lowered from either's output types is the same, instruction for instruction)."""
  out_info: Any
  compiled: concurrent.futures.Future


def _fingerprint(keys: Mapping[str, jax.Array]) -> bytes:
  """The members' keys as bytes (equal for equal keys, whichever arrays hold them)."""
  data = {name: np.asarray(jax.random.key_data(key) if jax.dtypes.issubdtype(
      key.dtype, jax.dtypes.prng_key) else key) for name, key in keys.items()}
  return hashlib.sha256(b"".join(name.encode() + value.tobytes() + str(value.shape).encode()
                                 for name, value in sorted(data.items()))).digest()


def _sharing(job: MemberJob) -> tuple:
  # Within a run, equal member counts mean equal chunks (one chunk size for all).
  return job.train.shared, job.strategy, job.vmap_size, job.num_members



def compile_parts(job: MemberJob, training: MemberTraining, width: int, device_mesh,
                   arguments: tuple, prepared: PreparePrograms
                   ) -> tuple[jax.stages.Compiled, Callable]:
  """`training`'s `fit` compiled for the outputs of its shared `prepare` (taken
  from `prepared`, or compiled into it); the compiled `fit` (for its memory) and
  `run(keys, hparams)` of both, on `width` stacked members."""
  draw_batches = 0 < training.batches_bytes * width <= BATCHES_AHEAD_BYTES  # 0: full batch
  keys, hparams = arguments
  devices = tuple(device.id for device in device_mesh.devices.flat) if device_mesh else ()
  prepare = strategies.program(training.prepare_with(draw_batches), job.strategy,
                               job.vmap_size, device_mesh)[0]
  program_key = (training.shared, draw_batches, job.strategy, job.vmap_size, width, devices)
  shared = prepared.get(program_key, lambda: prepare.lower(keys))
  fit = strategies.program(training.fit, job.strategy, job.vmap_size, device_mesh)[0]
  fit_compiled = fit.lower(shared.out_info, keys, hparams).compile()
  prepare_compiled = shared.compiled.result()  # compiled meanwhile, on another thread
  return fit_compiled, lambda keys, hparams: fit_compiled(
      prepared.inputs(program_key, prepare_compiled, keys), keys, hparams)

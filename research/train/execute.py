"""Runs the members of a study in chunks, each saved as soon as it finishes.

All chunks have the same size (the last is padded with copies of its final
member, whose outputs are dropped), so each program compiles once. A chunk's
raw outputs go to a `ChunkStore` (the run folder: `research.workdir.RunFolder`)
under `<label>-<start>-<end>`; a resumed run loads the chunks the store holds
(`saved`, the same on every process of a multi-host run) and trains only the
rest, so killing a run loses at most the chunk in flight. Only the writer
process's store keeps anything. A study with several programs (shape
buckets) compiles the later programs in the background while earlier ones train,
and the part of them that does not depend on the model (`MemberTraining.prepare_with`)
once for all that share it (`PreparePrograms`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Protocol

import jax
import numpy as np
from absl import logging

from research import hosts
from research.progress import Progress
from research.train import strategies
from research.train.loop import flat_arrays
from research.train.memory import check_memory, memory_bytes
from research.train.prepared import PreparePrograms, compile_parts


class ChunkStore(Protocol):
  """Where chunks are saved: `saved` names, `load(name)`, `save(name, arrays, seeds)`."""
  saved: Set[str]

  def load(self, name: str) -> dict[str, np.ndarray]: ...

  def save(self, name: str, arrays: Mapping[str, np.ndarray], seeds: Sequence[int]) -> None: ...


@dataclasses.dataclass
class TrainOnly:
  """The store of a worker process in a multi-host run: it knows what the writer
  has saved, and keeps nothing itself."""
  saved: Set[str]

  def load(self, name: str) -> None:
    del name

  def save(self, name: str, arrays: Mapping[str, np.ndarray], seeds: Sequence[int]) -> None:
    del name, arrays, seeds


@dataclasses.dataclass(frozen=True)
class CompiledMembers:
  """A compiled program over one chunk of members.

  Attributes:
    train: `train(keys, hparams)` on `width` stacked members.
    chunk_size: members per saved chunk.
    width: members per call: the chunk size rounded up to a multiple of the
      devices (the extra slots repeat the chunk's last member).
    num_members: all members of the job.
    compile_seconds: the compilation's wall time.
    memory_bytes: XLA's estimate of the memory one call needs on a device
      (arguments, outputs and temporaries).
    output_bytes: the size of one member's outputs (what a saved chunk holds).
  """
  train: Callable
  chunk_size: int
  width: int
  num_members: int
  compile_seconds: float
  memory_bytes: int = 0
  output_bytes: int = 0

  def chunks(self) -> list[tuple[int, int]]:
    return chunk_bounds(self.num_members, self.chunk_size)


def chunk_members(num_members: int, chunk_size: int) -> int:
  """Members per chunk: at most `chunk_size` (0: all), split evenly, since every chunk
  runs at one width and a short last chunk would train copies (24 members in chunks
  of 16 are two chunks of 12, not 16 and 8 padded to 16)."""
  if chunk_size <= 0 or chunk_size >= num_members:
    return num_members
  return -(-num_members // -(-num_members // chunk_size))


def chunk_bounds(num_members: int, chunk_size: int) -> list[tuple[int, int]]:
  """`[(start, end)]` of the chunks of `num_members` members (`chunk_members`)."""
  size = chunk_members(num_members, chunk_size)
  return [(start, min(start + size, num_members)) for start in range(0, num_members, size)]


@dataclasses.dataclass(frozen=True)
class MemberJob:
  """One program's members: `train` with their keys, hyperparameters and seeds."""
  label: str
  train: Callable
  keys: Mapping[str, jax.Array]
  hparams: Mapping[str, object]
  seeds: np.ndarray
  strategy: str = "vmap"  # a concrete strategy (`strategies.resolve`): vmap, map or chunked
  vmap_size: int = 8  # members per vmap group for `chunked`

  @property
  def num_members(self) -> int:
    return len(self.seeds)

  def chunk_seeds(self, chunk_size: int) -> dict[str, list[int]]:
    """The name of each of its chunks, with the seeds of the members in it."""
    return {chunk_name(start, end, self.label): [int(s) for s in self.seeds[start:end]]
            for start, end in chunk_bounds(self.num_members, chunk_size)}


def compile_members(job: MemberJob, chunk_size: int = 0, progress: Progress | None = None,
                    devices: Sequence[jax.Device] | None = None,
                    prepared: PreparePrograms | None = None) -> CompiledMembers:
  """Compiles `job`'s program for chunks of `chunk_size` members (0: all at once).

  The members of a chunk are spread over `devices` (default: all of them). A
  job that `prepared` says shares its `prepare` with others compiles as two
  programs, the `prepare` compiled once for all of them.

  Raises:
    UserError: a chunk would need more memory than the devices have.
  """
  size = chunk_members(job.num_members, chunk_size)
  device_mesh = strategies.mesh(devices)
  width = strategies.padded_size(size, device_mesh)
  sharding = strategies.members_sharding(device_mesh)
  place = (lambda tree: tree) if sharding is None else (
      lambda tree: hosts.place(tree, sharding))
  padding = np.minimum(np.arange(width), job.num_members - 1)
  take = lambda tree: place(hosts.rows(tree, padding))
  arguments = take(job.keys), take(job.hparams)
  start = time.perf_counter()
  if prepared is not None and prepared.shares(job):
    compiled, run = compile_parts(job, job.train, width, device_mesh, arguments, prepared)
  else:
    compiled = strategies.program(job.train, job.strategy, job.vmap_size,
                                  device_mesh)[0].lower(*arguments).compile()
    run = compiled
  seconds = time.perf_counter() - start
  logging.info("%s: compiled chunks of %d members (%s, %d device(s)) in %.1f s", job.label,
               width, job.strategy, device_mesh.size if device_mesh else 1, seconds)
  if progress:
    progress.compiled(job.label, seconds)
  devices = device_mesh.size if device_mesh else 1
  needed = memory_bytes(compiled)
  check_memory(job.label, needed, size, devices)
  outputs = getattr(compiled.memory_analysis(), "output_size_in_bytes", 0) or 0
  return CompiledMembers(train=lambda keys, hparams: run(place(keys), place(hparams)),
                         chunk_size=size, width=width, num_members=job.num_members,
                         compile_seconds=seconds, memory_bytes=needed,
                         output_bytes=int(outputs * devices / width))


def chunk_name(start: int, end: int, label: str = "members") -> str:
  """The saved chunk's name (without `.npz`)."""
  return f"{label}-{start:06d}-{end:06d}"


def compile_first(jobs: Sequence[MemberJob], saved: Set[str], chunk_size: int,
                  progress: Progress | None = None, prepared: PreparePrograms | None = None
                  ) -> CompiledMembers | None:
  """The first job's program, compiled before the caller writes anything (so a
  program that fails to compile, or needs more memory than there is, leaves no
  workdir); None if its chunks are saved."""
  if is_saved(jobs[0], saved, chunk_size):
    return None
  return compile_members(jobs[0], chunk_size, progress, prepared=prepared)


def prepare_programs(jobs: Sequence[MemberJob], saved: Set[str], chunk_size: int
                     ) -> PreparePrograms:
  """The shared `prepare` programs of the `jobs` still to train (none saved whole)."""
  return PreparePrograms([job for job in jobs if not is_saved(job, saved, chunk_size)])


def is_saved(job: MemberJob, saved: Set[str], chunk_size: int) -> bool:
  """Whether every chunk of `job` is among the `saved` chunk names (nothing to compile)."""
  return all(name in saved for name in job.chunk_seeds(chunk_size))


def run_jobs(jobs: Sequence[MemberJob], store: ChunkStore, chunk_size: int,
             first: CompiledMembers | None = None, progress: Progress | None = None,
             workers: int | None = None, prepared: PreparePrograms | None = None
             ) -> list[tuple[dict[str, np.ndarray] | None, float]]:
  """Trains every job's members; per job, its outputs and its compile time.

  `first` is the first job's program if the caller compiled it already. The
  others compile, in order, on `workers` threads while the earlier ones train.
  By default that is one per core (XLA releases the GIL while it compiles;
  on 2 cores, with compilation at level 1, two threads made an 18-program study
  6% faster than one, benchmarks/RESULTS.md). Jobs whose chunks are all saved
  are not compiled at all; jobs that share a `prepare` program share
  `prepared`'s (that of `first`'s compilation, if given). On a worker process the
  outputs are None.
  """
  prepared = prepared or prepare_programs(jobs, store.saved, chunk_size)

  def compile_unsaved(job: MemberJob) -> CompiledMembers | None:
    return None if is_saved(job, store.saved, chunk_size) else compile_members(
        job, chunk_size, progress, prepared=prepared)

  pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2)
  try:
    upcoming = [pool.submit(compile_unsaved, job) for job in jobs[1:]]
    programs = [first if first is not None else compile_unsaved(jobs[0])]
    done = []
    for number, job in enumerate(jobs):
      program = programs[0] if number == 0 else upcoming[number - 1].result()
      done.append((run_members(program, job, store, chunk_size, progress),
                   program.compile_seconds if program else 0.0))
  finally:
    pool.shutdown(wait=False, cancel_futures=True)  # an interrupted run does not wait for it
  return done


def run_members(compiled: CompiledMembers | None, job: MemberJob, store: ChunkStore,
                chunk_size: int = 0, progress: Progress | None = None
                ) -> dict[str, np.ndarray] | None:
  """Trains every chunk of `job` the store has not saved; returns all members' outputs.

  The result maps each output field to an array with the member axis first,
  plus `seconds`: each member's share of its chunk's wall time. `compiled`
  may be None when every chunk is saved. The writer's store saves each
  trained chunk; a worker process only trains, and returns None.
  """
  chunks = compiled.chunks() if compiled else chunk_bounds(job.num_members, chunk_size)
  label = job.label

  def train_chunk(number: int, start: int, end: int) -> dict[str, np.ndarray]:
    index = np.minimum(np.arange(start, start + compiled.width), end - 1)
    take = lambda tree: hosts.rows(tree, index)
    if progress:
      progress.chunk(label, number, len(chunks), end - start)
    begin = time.perf_counter()
    output = hosts.gather(jax.block_until_ready(compiled.train(take(job.keys),
                                                               take(job.hparams))))
    seconds = time.perf_counter() - begin
    logging.info("%s: chunk %d/%d (members %d-%d) trained in %.1f s", label, number,
                 len(chunks), start, end - 1, seconds)
    if progress:
      progress.trained(label, number, len(chunks), end - start, seconds)
    arrays = {name: np.asarray(value)[:end - start]
              for name, value in flat_arrays(output).items()}
    return {**arrays, "seconds": np.full(end - start, seconds / (end - start))}

  def chunk_arrays(number: int, start: int, end: int) -> dict[str, np.ndarray] | None:
    name = chunk_name(start, end, label)
    if name in store.saved:
      if progress:
        progress.trained(label, number, len(chunks), end - start, None)
      return store.load(name)
    arrays = train_chunk(number, start, end)
    store.save(name, arrays, job.seeds[start:end])
    return arrays

  loaded = [chunk_arrays(number, start, end) for number, (start, end) in enumerate(chunks, 1)]
  if not hosts.is_writer():
    return None
  return {name: np.concatenate([chunk[name] for chunk in loaded]) for name in loaded[0]}

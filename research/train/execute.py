"""Runs the members of a study in chunks, each saved as soon as it finishes.

All chunks have the same size (the last is padded with copies of its final
member, whose outputs are dropped), so each program compiles once. A chunk's
raw outputs go to `chunks/<label>-<start>-<end>.npz` atomically; a resumed run
loads the chunks that were saved when it started (`saved`, the same on every
process of a multi-host run) and trains only the rest, so killing a run loses
at most the chunk in flight. Only the writer process saves and loads chunks.
A study with several programs (shape buckets) compiles the next one on a
second thread while the current one trains.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence, Set

import jax
import numpy as np
from absl import logging

from research import hosts, results
from research.train import strategies
from research.train.loop import flat_arrays
from research.progress import Progress


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
  """
  train: Callable
  chunk_size: int
  width: int
  num_members: int
  compile_seconds: float
  memory_bytes: int = 0

  def chunks(self) -> list[tuple[int, int]]:
    return chunk_bounds(self.num_members, self.chunk_size)


def chunk_bounds(num_members: int, chunk_size: int) -> list[tuple[int, int]]:
  """`[(start, end)]` of the chunks of `num_members` members (`chunk_size` 0: one chunk)."""
  size = min(chunk_size, num_members) if chunk_size > 0 else num_members
  return [(start, min(start + size, num_members)) for start in range(0, num_members, size)]


@dataclasses.dataclass(frozen=True)
class MemberJob:
  """One program's members: `train` with their keys and hyperparameters."""
  label: str
  train: Callable
  keys: Mapping[str, jax.Array]
  hparams: Mapping[str, object]
  strategy: str = "vmap"  # a concrete strategy (`strategies.resolve`): vmap, map or chunked
  vmap_size: int = 8  # members per vmap group for `chunked`

  @property
  def num_members(self) -> int:
    return len(next(iter(self.keys.values())))


def compile_members(job: MemberJob, chunk_size: int = 0, progress: Progress | None = None,
                    devices: Sequence[jax.Device] | None = None) -> CompiledMembers:
  """Compiles `job`'s program for chunks of `chunk_size` members (0: all at once).

  The members of a chunk are spread over `devices` (default: all of them).
  """
  size = min(chunk_size, job.num_members) if chunk_size > 0 else job.num_members
  device_mesh = strategies.mesh(devices)
  width = strategies.padded_size(size, device_mesh)
  program, sharding = strategies.program(job.train, job.strategy, job.vmap_size, device_mesh)
  place = (lambda tree: tree) if sharding is None else (
      lambda tree: hosts.place(tree, sharding))
  padding = np.minimum(np.arange(width), job.num_members - 1)
  take = lambda tree: place(jax.tree_util.tree_map(lambda a: a[padding], tree))
  start = time.perf_counter()
  compiled = program.lower(take(job.keys), take(job.hparams)).compile()
  seconds = time.perf_counter() - start
  logging.info("%s: compiled chunks of %d members (%s, %d device(s)) in %.1f s", job.label,
               width, job.strategy, device_mesh.size if device_mesh else 1, seconds)
  if progress:
    progress.done(f"{job.label}: compiled in {seconds:.1f} s")
  return CompiledMembers(train=lambda keys, hparams: compiled(place(keys), place(hparams)),
                         chunk_size=size, width=width, num_members=job.num_members,
                         compile_seconds=seconds, memory_bytes=memory_bytes(compiled))


def memory_bytes(compiled: jax.stages.Compiled) -> int:
  """Arguments + outputs + temporaries of a compiled program, per device (0 if unknown)."""
  analysis = compiled.memory_analysis()
  return int(sum(getattr(analysis, field, 0) or 0 for field in (
      "argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")))


def chunk_name(start: int, end: int, label: str = "members") -> str:
  """The saved chunk's name under `chunks/` (without `.npz`)."""
  return f"{label}-{start:06d}-{end:06d}"


def compile_first(jobs: Sequence[MemberJob], saved: Set[str], chunk_size: int,
                  progress: Progress | None = None) -> CompiledMembers | None:
  """The first job's program, compiled before the caller writes anything (so a
  program that fails to compile leaves no workdir); None if its chunks are saved."""
  if is_saved(jobs[0], saved, chunk_size):
    return None
  return compile_members(jobs[0], chunk_size, progress)


def is_saved(job: MemberJob, saved: Set[str], chunk_size: int) -> bool:
  """Whether every chunk of `job` is among the `saved` chunk names (nothing to compile)."""
  return all(chunk_name(start, end, job.label) in saved
             for start, end in chunk_bounds(job.num_members, chunk_size))


def run_jobs(jobs: Sequence[MemberJob], workdir: str, saved: Set[str], chunk_size: int,
             first: CompiledMembers | None = None, progress: Progress | None = None
             ) -> list[tuple[dict[str, np.ndarray] | None, float]]:
  """Trains every job's members; per job, its outputs and its compile time.

  `first` is the first job's program if the caller compiled it already.
  While one job trains, the next compiles on another thread (XLA releases
  the interpreter lock in both). Jobs whose chunks are all `saved` are not
  compiled at all. On a worker process the outputs are None.
  """
  def prepare(job: MemberJob) -> CompiledMembers | None:
    if is_saved(job, saved, chunk_size):
      return None
    return compile_members(job, chunk_size, progress)

  done = []
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    compiled = first if first is not None else prepare(jobs[0])
    for number, job in enumerate(jobs):
      upcoming = pool.submit(prepare, jobs[number + 1]) if number + 1 < len(jobs) else None
      outputs = run_members(compiled, job.keys, job.hparams, workdir, saved, job.label,
                            chunk_size, progress)
      done.append((outputs, compiled.compile_seconds if compiled else 0.0))
      compiled = upcoming.result() if upcoming else None
  return done


def run_members(compiled: CompiledMembers | None, keys: Mapping[str, jax.Array],
                hparams: Mapping[str, np.ndarray], workdir: str, saved: Set[str] = frozenset(),
                label: str = "members", chunk_size: int = 0,
                progress: Progress | None = None) -> dict[str, np.ndarray] | None:
  """Trains every chunk not among the `saved` ones; returns all members' outputs.

  The result maps each output field to an array with the member axis first,
  plus `seconds`: each member's share of its chunk's wall time. `compiled`
  may be None when every chunk is saved (`chunk_size` then gives the chunks).
  The writer saves each trained chunk in `workdir` and loads the saved ones;
  a worker process only trains, and returns None.
  """
  chunks = (compiled.chunks() if compiled else
            chunk_bounds(len(next(iter(keys.values()))), chunk_size))

  def train_chunk(number: int, start: int, end: int) -> dict[str, np.ndarray]:
    index = np.minimum(np.arange(start, start + compiled.width), end - 1)
    take = lambda tree: jax.tree_util.tree_map(lambda a: a[index], tree)
    if progress:
      progress.chunk(label, number, len(chunks), end - start)
    begin = time.perf_counter()
    output = hosts.gather(jax.block_until_ready(compiled.train(take(keys), take(hparams))))
    seconds = time.perf_counter() - begin
    logging.info("%s: chunk %d/%d (members %d-%d) trained in %.1f s", label, number,
                 len(chunks), start, end - 1, seconds)
    if progress:
      progress.done(f"{label}: chunk {number}/{len(chunks)} ({end - start} members) trained "
                    f"in {seconds:.1f} s")
    arrays = {name: np.asarray(value)[:end - start]
              for name, value in flat_arrays(output).items()}
    return {**arrays, "seconds": np.full(end - start, seconds / (end - start))}

  def chunk_arrays(number: int, start: int, end: int) -> dict[str, np.ndarray] | None:
    name = chunk_name(start, end, label)
    path = results.chunk_path(workdir, name)
    if name in saved:
      return results.read_arrays(path) if hosts.is_writer() else None
    arrays = train_chunk(number, start, end)
    if hosts.is_writer():
      results.write_arrays(path, arrays)
    return arrays

  loaded = [chunk_arrays(number, start, end) for number, (start, end) in enumerate(chunks, 1)]
  if not hosts.is_writer():
    return None
  return {name: np.concatenate([chunk[name] for chunk in loaded]) for name in loaded[0]}

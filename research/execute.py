"""Runs the members of a study in chunks, each saved as soon as it finishes.

All chunks have the same size (the last is padded with copies of its final
member, whose outputs are dropped), so the program compiles once. A chunk's
raw outputs go to `chunks/members-<start>-<end>.npz` atomically; a resumed run
loads the chunks that exist and trains only the rest, so killing a run loses
at most the chunk in flight.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping

import jax
import numpy as np
from absl import logging

from research import results


@dataclasses.dataclass(frozen=True)
class CompiledMembers:
  """A compiled `vmap(train)` over one chunk of members."""
  run: Callable
  chunk_size: int
  num_members: int
  compile_seconds: float

  def chunks(self) -> list[tuple[int, int]]:
    return [(start, min(start + self.chunk_size, self.num_members))
            for start in range(0, self.num_members, self.chunk_size)]


def compile_members(train: Callable, keys: Mapping[str, jax.Array],
                    hparams: Mapping[str, np.ndarray], chunk_size: int = 0) -> CompiledMembers:
  """Compiles `jit(vmap(train))` for chunks of `chunk_size` members (0: all at once)."""
  num_members = len(next(iter(keys.values())))
  size = min(chunk_size, num_members) if chunk_size > 0 else num_members
  chunk = lambda tree: jax.tree_util.tree_map(lambda a: a[:size], tree)
  start = time.perf_counter()
  compiled = jax.jit(jax.vmap(train)).lower(chunk(keys), chunk(hparams)).compile()
  seconds = time.perf_counter() - start
  logging.info("Compiled chunks of %d members in %.1f s", size, seconds)
  return CompiledMembers(run=compiled, chunk_size=size, num_members=num_members,
                         compile_seconds=seconds)


def chunk_name(start: int, end: int, label: str = "members") -> str:
  """The saved chunk's name under `chunks/` (without `.npz`)."""
  return f"{label}-{start:06d}-{end:06d}"


def run_members(compiled: CompiledMembers, keys: Mapping[str, jax.Array],
                hparams: Mapping[str, np.ndarray], workdir: str,
                label: str = "members") -> dict[str, np.ndarray]:
  """Trains every chunk not yet saved in `workdir`; returns all members' outputs.

  The result maps each output field to an array with the member axis first,
  plus `seconds`: each member's share of its chunk's wall time.
  """
  chunks = compiled.chunks()

  def train_chunk(number: int, start: int, end: int) -> dict[str, np.ndarray]:
    index = np.minimum(np.arange(start, start + compiled.chunk_size), end - 1)
    take = lambda tree: jax.tree_util.tree_map(lambda a: a[index], tree)
    begin = time.perf_counter()
    output = jax.device_get(jax.block_until_ready(compiled.run(take(keys), take(hparams))))
    seconds = time.perf_counter() - begin
    logging.info("%s: chunk %d/%d (members %d-%d) trained in %.1f s", label, number,
                 len(chunks), start, end - 1, seconds)
    arrays = {f.name: np.asarray(getattr(output, f.name))[:end - start]
              for f in dataclasses.fields(output)}
    return {**arrays, "seconds": np.full(end - start, seconds / (end - start))}

  loaded = [results.saved_arrays(workdir, chunk_name(start, end, label),
                                 functools.partial(train_chunk, number, start, end))
            for number, (start, end) in enumerate(chunks, 1)]
  return {name: np.concatenate([chunk[name] for chunk in loaded]) for name in loaded[0]}

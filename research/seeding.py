"""Random keys: one seed per member, separate named streams per source.

Member `i` of a run has seed `config.seed + i`. Each source of randomness has
its own stream, `fold_in(key(seed), stream_index)`, and is then split further
where it is used (per epoch, per step), so no key is used twice. A source
left out of `config.vary` uses `config.seed` for every member: with
`vary=('init',)` all members share one split, one data order and one dropout
pattern, and differ only in their initial weights. Member 0 therefore has the
same keys whatever `vary` says, and seed `s` gets the same keys whether it
runs alone or beside a hundred others.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from research.errors import UserError

STREAMS = ("split", "init", "order", "dropout")


def check_vary(vary: Collection[str], field: str = "vary") -> None:
  """Raises a `UserError` unless `vary` (config field `field`) names known streams."""
  if isinstance(vary, str):
    raise UserError(f"{field} must be a tuple of stream names, got the string {vary!r}; "
                    f"e.g. --config.{field}=\"('init',)\"")
  unknown = [name for name in vary if name not in STREAMS]
  if unknown:
    raise UserError(f"{field} names unknown source {unknown[0]!r}; sources are "
                    f"{', '.join(STREAMS)}")


def member_seeds(base_seed: int, num_members: int) -> np.ndarray:
  """Seeds `base_seed, base_seed + 1, ...` of the members of a run."""
  return base_seed + np.arange(num_members, dtype=np.int64)


def member_keys(seeds: Sequence[int], base_seed: int,
                vary: Collection[str] = STREAMS) -> dict[str, jax.Array]:
  """Per-stream keys, each stacked over members: `{stream: key[num_members]}`."""
  check_vary(vary)
  # The trials of a study ask for the same seeds' keys again and again (18 times in
  # credit_architectures, 8 ms each outside jit): computed once, they are shared
  # (keys are immutable arrays).
  return dict(_member_keys(tuple(int(s) for s in np.asarray(seeds, dtype=np.int64)),
                           int(base_seed), tuple(s for s in STREAMS if s in vary),
                           jax.config.jax_default_prng_impl))


@functools.lru_cache(maxsize=64)
def _member_keys(seeds: tuple[int, ...], base_seed: int, vary: tuple[str, ...],
                 prng_impl: str) -> dict[str, jax.Array]:
  seeds = np.asarray(seeds, dtype=np.int64)
  keys = {}
  for index, stream in enumerate(STREAMS):
    stream_seeds = seeds if stream in vary else np.full_like(seeds, base_seed)
    if prng_impl == "threefry2x32" and 0 <= stream_seeds.min() and stream_seeds.max() < 2**32:
      # The same bits as below, computed on the host: each JAX operation here would
      # compile a program of its own (0.15 s before a run's first program).
      keys[stream] = jax.random.wrap_key_data(threefry_fold_in(stream_seeds, index),
                                              impl="threefry2x32")
      continue
    roots = jax.vmap(jax.random.key)(jnp.asarray(stream_seeds, dtype=jnp.uint32))
    keys[stream] = jax.vmap(jax.random.fold_in, in_axes=(0, None))(roots, index)
  return keys


def threefry_fold_in(seeds: np.ndarray, data: int) -> np.ndarray:
  """`fold_in(key(seed), data)`'s key data (`[len(seeds), 2]` uint32) for each of
  `seeds` (below 2**32), as JAX's Threefry-2x32 computes it (`jax._src.random.threefry2x32`:
  the hash of the counts `(0, data)` under the key `(0, seed)`), in NumPy."""
  key = (np.zeros(len(seeds), np.uint32), np.asarray(seeds).astype(np.uint32))
  schedule = (key[0], key[1], key[0] ^ key[1] ^ np.uint32(0x1BD11BDA))
  x = [np.zeros(len(seeds), np.uint32) + schedule[0],
       np.full(len(seeds), data, np.uint32) + schedule[1]]
  rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
  with np.errstate(over="ignore"):  # uint32 arithmetic wraps, as the hash needs
    for block in range(5):
      for rotation in rotations[block % 2]:
        x[0] = x[0] + x[1]
        x[1] = (x[1] << np.uint32(rotation)) | (x[1] >> np.uint32(32 - rotation))
        x[1] = x[0] ^ x[1]
      x[0] = x[0] + schedule[(block + 1) % 3]
      x[1] = x[1] + schedule[(block + 2) % 3] + np.uint32(block + 1)
  return np.stack(x, axis=1)


TOTAL_SOURCE = "all"


@dataclasses.dataclass(frozen=True)
class MemberGroup:
  """Members that vary the same sources of randomness.

  Attributes:
    source: `all` for the main group when it varies every stream (else the
      varied streams joined by '+'), or the single stream a variance group varies.
    seeds: the members' seeds.
    vary: the streams that change from member to member.
  """
  source: str
  seeds: np.ndarray
  vary: tuple[str, ...]


def member_groups(base_seed: int, num_seeds: int, vary: Collection[str],
                  variance_sources: Collection[str] = (),
                  variance_num_seeds: int = 0) -> list[MemberGroup]:
  """The main group, then one group per source for the variance decomposition.

  Every group has seeds of its own (the main group's come first, then each
  source group's in turn), so the groups' spreads are independent samples and
  a ratio of their variances has the F distribution its interval assumes.
  """
  check_vary(vary)
  check_vary(variance_sources, "variance.sources")
  vary = tuple(s for s in STREAMS if s in vary)
  main = MemberGroup(source=TOTAL_SOURCE if vary == STREAMS else "+".join(vary) or "none",
                     seeds=member_seeds(base_seed, num_seeds), vary=vary)
  sources = [s for s in STREAMS if s in variance_sources]
  return [main] + [MemberGroup(
      source=source, vary=(source,),
      seeds=member_seeds(base_seed + num_seeds + i * variance_num_seeds, variance_num_seeds))
      for i, source in enumerate(sources)]


def group_keys(groups: Sequence[MemberGroup], base_seed: int) -> dict[str, jax.Array]:
  """Keys of all groups' members, concatenated in group order."""
  per_group = [member_keys(g.seeds, base_seed, g.vary) for g in groups]
  return {s: concatenate_keys([keys[s] for keys in per_group]) for s in STREAMS}


def concatenate_keys(keys: Sequence[jax.Array]) -> jax.Array:
  """Typed key arrays laid end to end, on the host (`jnp.concatenate` would compile
  a program for each combination of lengths)."""
  if len(keys) == 1:
    return keys[0]
  return jax.random.wrap_key_data(
      np.concatenate([np.asarray(jax.random.key_data(k)) for k in keys]),
      impl=jax.random.key_impl(keys[0]))

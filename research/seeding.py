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
  del prng_impl  # part of the cache's key: the keys depend on it
  seeds = np.asarray(seeds, dtype=np.int64)
  keys = {}
  for index, stream in enumerate(STREAMS):
    stream_seeds = seeds if stream in vary else np.full_like(seeds, base_seed)
    roots = jax.vmap(jax.random.key)(jnp.asarray(stream_seeds, dtype=jnp.uint32))
    keys[stream] = jax.vmap(jax.random.fold_in, in_axes=(0, None))(roots, index)
  return keys


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
  return {s: jnp.concatenate([keys[s] for keys in per_group]) for s in STREAMS}

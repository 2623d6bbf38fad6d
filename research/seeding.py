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

from collections.abc import Collection, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from research.errors import UserError

STREAMS = ("split", "init", "order", "dropout")


def check_vary(vary: Collection[str]) -> None:
  """Raises a `UserError` unless `vary` names known, distinct streams."""
  if isinstance(vary, str):
    raise UserError(f"vary must be a tuple of stream names, got the string {vary!r}; "
                    f"e.g. --config.vary=\"('init',)\"")
  unknown = [name for name in vary if name not in STREAMS]
  if unknown:
    raise UserError(f"vary names unknown source {unknown[0]!r}; sources are "
                    f"{', '.join(STREAMS)}")


def member_seeds(base_seed: int, num_members: int) -> np.ndarray:
  """Seeds `base_seed, base_seed + 1, ...` of the members of a run."""
  return base_seed + np.arange(num_members, dtype=np.int64)


def member_keys(seeds: Sequence[int], base_seed: int,
                vary: Collection[str] = STREAMS) -> dict[str, jax.Array]:
  """Per-stream keys, each stacked over members: `{stream: key[num_members]}`."""
  check_vary(vary)
  seeds = np.asarray(seeds, dtype=np.int64)
  keys = {}
  for index, stream in enumerate(STREAMS):
    stream_seeds = seeds if stream in vary else np.full_like(seeds, base_seed)
    roots = jax.vmap(jax.random.key)(jnp.asarray(stream_seeds, dtype=jnp.uint32))
    keys[stream] = jax.vmap(jax.random.fold_in, in_axes=(0, None))(roots, index)
  return keys

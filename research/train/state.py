"""What one member carries through its training, and the check after each epoch.

`MemberState` is the scan carry of `research.train.loop`; `guard` keeps a
member that diverges at its last finite parameters; `per_member` makes a
carry vary per member from the start, so vmap traces each scan once.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class MemberState:
  """What one member carries from step to step.

  Attributes:
    params: model parameters.
    opt_state: optimizer state (with the injected hyperparameters).
    diverged: set once a loss or an update is not finite; from then on the
      member keeps its last finite parameters and stops updating.
  """
  params: Any
  opt_state: Any
  diverged: jax.Array


def _all_finite(tree) -> jax.Array:
  # One test over all leaves laid end to end: one kernel, not two per leaf.
  leaves = jax.tree_util.tree_leaves(tree)
  return jnp.all(jnp.isfinite(jnp.concatenate([jnp.ravel(leaf) for leaf in leaves])))


def guard(before: MemberState, after: MemberState, epoch_loss: jax.Array) -> MemberState:
  """The state after an epoch, if its loss and the new parameters are finite and the
  member had not diverged; otherwise the state from before the epoch, marked diverged
  (a diverged member keeps its last finite parameters and stops updating)."""
  finite = jnp.isfinite(epoch_loss) & _all_finite(after.params)
  accept = finite & ~before.diverged
  keep = lambda new, old: jax.tree_util.tree_map(
      lambda n, o: jnp.where(accept, n, o), new, old)
  return MemberState(params=keep(after.params, before.params),
                     opt_state=keep(after.opt_state, before.opt_state),
                     diverged=before.diverged | ~finite)


def per_member(tree: Any, key: jax.Array) -> Any:
  """`tree`'s values unchanged, but varying with the member under vmap, as `key` does.

  A scan carry that starts the same for every member (Adam's zero moments, a step
  count, a flag) and varies after one step makes vmap batch the scan's body twice
  to find its fixed point, and a scan inside it three times; a carry that varies from
  the start is batched once (about a quarter less tracing of a study's `fit`). XLA folds the
  always-true select away, so the compiled program and its results are the same.
  """
  bits = jax.random.key_data(key)
  member = jnp.all(bits == bits)  # True, and varying where `key` does
  return jax.tree_util.tree_map(lambda leaf: jnp.where(member, leaf, leaf), tree)

"""A training run's static sizes and each epoch's batches.

`Schedule` holds the sizes (epochs, batch size, steps per epoch), checked
against the data; `epoch_batches` draws an epoch's rows and dropout keys from a
member's keys, inside the training loop or all ahead (`loop.MemberInputs`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from research.errors import UserError

EpochBatches = tuple[jax.Array, jax.Array, jax.Array]  # row index, weights, dropout keys



@dataclasses.dataclass(frozen=True)
class Schedule:
  """Static sizes of one training run, checked against the data.

  `eval_every`: the held-out loss is computed after every `eval_every`-th epoch
  and after the last (NaN for the others), as it costs a pass over the
  held-out part.
  """
  num_train: int
  batch_size: int
  steps_per_epoch: int
  epochs: int
  full_batch: bool
  eval_every: int = 1

  @classmethod
  def make(cls, epochs: int, batch_size: int, num_train: int, full_batch: bool,
           eval_every: int = 1) -> "Schedule":
    """`full_batch` (or `batch_size` 0) gives one step per epoch over every example."""
    full_batch = full_batch or batch_size == 0
    if not full_batch and batch_size > num_train:
      raise UserError(
          f"train.batch_size={batch_size} is larger than the training set "
          f"({num_train} rows); use at most {num_train}, or 0 for full batch")
    batch_size = num_train if full_batch else batch_size
    return cls(num_train=num_train, batch_size=batch_size,
               steps_per_epoch=math.ceil(num_train / batch_size), epochs=epochs,
               full_batch=full_batch, eval_every=eval_every)


def epoch_batches(keys: Mapping[str, jax.Array], epoch: jax.Array, *,
                  schedule: Schedule) -> EpochBatches:
  """Epoch `epoch`'s row indices and weights (`[steps, batch]`) and dropout keys
  (`[steps]`), from the member's `order` and `dropout` keys."""
  index, weights = _epoch_batches(jax.random.fold_in(keys["order"], epoch), schedule)
  step_keys = jax.random.split(jax.random.fold_in(keys["dropout"], epoch),
                               schedule.steps_per_epoch)
  return index, weights, step_keys


def _epoch_batches(key: jax.Array, schedule: Schedule) -> tuple[jax.Array, jax.Array]:
  """Row indices `[steps, batch]` and weights for one epoch.

  One permutation per epoch (sorting is slow on CPU, so never per step). The
  last batch is topped up with rows from the start of the permutation at
  weight zero, so every row counts once per epoch and shapes stay static.
  """
  n, size, steps = schedule.num_train, schedule.batch_size, schedule.steps_per_epoch
  if schedule.full_batch:
    return jnp.arange(n)[None], jnp.ones((1, n), jnp.float32)
  order = jax.random.permutation(key, n)
  padding = steps * size - n
  index = jnp.concatenate([order, order[:padding]])
  weights = jnp.concatenate([jnp.ones(n, jnp.float32), jnp.zeros(padding, jnp.float32)])
  return index.reshape(steps, size), weights.reshape(steps, size)

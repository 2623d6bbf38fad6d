"""Dropout whose rate may be a traced array, so studies can vmap it across members."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def is_concrete(value) -> bool:
  """Whether `value` is a plain Python number (not an array from a vmapped study)."""
  return isinstance(value, (int, float))


class Dropout(nn.Module):
  """Inverted dropout as `flax.linen.Dropout`, for a rate that may be a per-member array.

  Flax's own layer tests `rate == 0` in Python, which fails when the rate is
  traced; this one skips that shortcut only when the rate is an array.
  """
  rate: float | jax.Array

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool) -> jax.Array:
    if deterministic or (is_concrete(self.rate) and self.rate == 0):
      return x
    keep = 1.0 - self.rate
    mask = jax.random.bernoulli(self.make_rng("dropout"), keep, x.shape)
    return jax.lax.select(mask, x / keep, jnp.zeros_like(x))

"""Dropout whose rate may be a traced array, so studies can vmap it across members."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.models.padding import true_shape_draw


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
  def __call__(self, x: jax.Array, *, deterministic: bool,
               true_width: jax.Array | None = None) -> jax.Array:
    """`true_width`: `x`'s last axis is padded past it (`research.models.padding`);
    the mask is then the one the unpadded `[..., true_width]` input would draw."""
    if deterministic or (is_concrete(self.rate) and self.rate == 0):
      return x
    keep = 1.0 - self.rate
    key = self.make_rng("dropout")
    if true_width is None:
      mask = jax.random.bernoulli(key, keep, x.shape)
    else:
      rows = math.prod(x.shape[:-1])
      mask = true_shape_draw(lambda k, s: jax.random.bernoulli(k, keep, s), key,
                             (rows, x.shape[-1]), rows, true_width, False).reshape(x.shape)
    return jax.lax.select(mask, x / keep, jnp.zeros_like(x))

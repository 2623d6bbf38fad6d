"""Layers padded to a bucket's widest shape that compute each member's true network.

Trials of a study that differ only in layer widths can share one compiled
program: each member's layers are built at the bucket's widest widths and its
own widths arrive as an int array. A unit past a member's width is masked: its
incoming and outgoing weights are multiplied by a fixed 0/1 mask, so it is
exactly zero under any optimizer and never reaches the output.

Random draws reproduce the true-width network's. With JAX's partitionable
threefry (the default), element `i` of a draw does not depend on the draw's
size, so the true network's `[rows, cols]` draw is element `r * cols + c` of
one flat draw at the padded size: `true_shape_draw` gathers it from there.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

# The standard deviation of a standard normal truncated to (-2, 2), as JAX's
# `variance_scaling` divides by it (`lecun_normal`, Flax's Dense default).
TRUNCATED_STD = 0.87962566103423978


def true_shape_draw(draw: Callable[[jax.Array, tuple[int, ...]], jax.Array], key: jax.Array,
                    padded_shape: tuple[int, int], rows: jax.Array, cols: jax.Array,
                    fill=0) -> jax.Array:
  """`draw(key, (rows, cols))` embedded top-left in `padded_shape`, `fill` elsewhere.

  `rows` and `cols` (the true shape) may be traced; `draw` must be elementwise
  in its counter (any `jax.random` sampler is, with partitionable threefry).
  """
  if not jax.config.jax_threefry_partitionable:
    raise ValueError("padded widths need jax_threefry_partitionable=True (JAX's default), "
                     "so a draw's elements do not depend on its size")
  padded_rows, padded_cols = padded_shape
  flat = draw(key, (padded_rows * padded_cols,))
  row = jnp.arange(padded_rows)[:, None]
  col = jnp.arange(padded_cols)[None, :]
  inside = (row < rows) & (col < cols)
  return jnp.where(inside, flat[jnp.where(inside, row * cols + col, 0)], fill)


def units(width: int, active: jax.Array) -> jax.Array:
  """`[width]` mask of the first `active` units."""
  return jnp.arange(width) < active


class MaskedDense(nn.Module):
  """`flax.linen.Dense` at a padded shape computing the `[fan_in, units]` one.

  Its parameters have Dense's names and, at the true shape, Dense's default
  initial values (`lecun_normal` kernel, zero bias), so a module given Dense's
  name draws the same numbers as the unpadded Dense would.
  """
  features: int

  @nn.compact
  def __call__(self, x: jax.Array, fan_in: jax.Array, active: jax.Array) -> jax.Array:
    """`x` `[..., padded fan-in]` (zero past `fan_in`) to `[..., features]`, zero past
    `active`."""
    shape = (x.shape[-1], self.features)
    fan_in, active = jnp.asarray(fan_in), jnp.asarray(active)

    def init(key, shape, dtype=jnp.float32):
      standard = true_shape_draw(
          lambda k, s: jax.random.truncated_normal(k, -2, 2, s, dtype), key, shape,
          fan_in, active)
      return standard * (jnp.sqrt(1.0 / fan_in.astype(dtype)) / jnp.array(TRUNCATED_STD, dtype))

    kernel = self.param("kernel", init, shape)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    outputs = units(self.features, active)
    mask = units(shape[0], fan_in)[:, None] & outputs[None, :]
    return x @ jnp.where(mask, kernel, 0) + jnp.where(outputs, bias, 0)

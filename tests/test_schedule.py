"""Each epoch's row order: the same permutation as JAX's, drawn with cheaper sorts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research.train import schedule


@pytest.mark.parametrize("n", [1, 2, 7, 1625, 1626, 3340, 65535, 65536])
def test_permutation_is_jaxs_permutation(n):
  """The same values as `jax.random.permutation` for typed and raw keys, one round
  (n up to 1625) or two, batched over members, and past 2**16 rows (JAX's own)."""
  keys = jax.random.split(jax.random.key(n), 5)
  ours = jax.jit(jax.vmap(lambda key: schedule.permutation(key, n)))(keys)
  jaxs = jax.jit(jax.vmap(lambda key: jax.random.permutation(key, n)))(keys)
  np.testing.assert_array_equal(ours, jaxs)
  assert ours.dtype == jaxs.dtype
  raw = jax.random.PRNGKey(3)
  np.testing.assert_array_equal(schedule.permutation(raw, n), jax.random.permutation(raw, n))


def test_stable_order_breaks_ties_by_position():
  """Keys that repeat (and share either half) are ordered as a stable argsort orders them."""
  rng = np.random.default_rng(0)
  keys = (rng.integers(0, 30, 4000) * 0x10001 + rng.integers(0, 3, 4000) * 0x10000).astype(
      np.uint32)
  keys[:5] = [0, 0xFFFFFFFF, 0xFFFF0000, 0x0000FFFF, 0]
  got = jax.jit(schedule._stable_order)(jnp.asarray(keys))  # pylint: disable=protected-access
  np.testing.assert_array_equal(got, np.argsort(keys, kind="stable"))

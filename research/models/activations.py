"""Activation functions by name, so configs can say `activation='tanh'`."""

from collections.abc import Callable

import flax.linen as nn
import jax

from research.errors import UserError
from research.registry import ACTIVATIONS

for _name, _fn in {
    "sigmoid": nn.sigmoid,
    "tanh": nn.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "elu": nn.elu,
    "selu": nn.selu,
    "silu": nn.silu,
    "softplus": nn.softplus,
    "leaky_relu": nn.leaky_relu,
    "linear": lambda x: x,
}.items():
  ACTIVATIONS.register(_name)(_fn)


def activation_names(names: str | tuple[str, ...]) -> tuple[str, ...]:
  """`names` (one or several) as a tuple, each checked against `ACTIVATIONS`."""
  names = (names,) if isinstance(names, str) else tuple(names)
  if not names:
    raise UserError("activation=() names no function; give a name such as 'tanh'")
  for name in names:
    ACTIVATIONS.get(name)
  return names


def chosen_activation(names: str | tuple[str, ...],
                      index: jax.Array | None = None) -> Callable[[jax.Array], jax.Array]:
  """The activation called `names`, or the one at `index` among several `names`.

  With several, every one is computed and `index` selects a member's values
  (a per-member index is batched under `vmap`, so no branch can be skipped):
  the values are the chosen function's, and so are the gradients, since the
  others' cotangents are exact zeros (up to the order XLA sums a bias's
  gradient in: `configs/credit_architectures.py` gives the same results bit
  for bit).
  """
  if isinstance(names, str):
    return ACTIVATIONS.get(names)
  functions = tuple(ACTIVATIONS.get(name) for name in activation_names(names))
  if index is None:
    raise UserError(f"activation={names!r} names several functions; give a single name "
                    "(several are for a study's shared program, with activation_index)")
  return lambda x: jax.lax.select_n(index, *(function(x) for function in functions))

"""Multi-layer perceptron for binary classification (credit scoring)."""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.errors import UserError
from research.models import layer_init, padding
from research.models.dropout import Dropout, is_concrete
from research.models.padding import MaskedDense
from research.models.activations import activation_names, chosen_activation
from research.registry import MODELS


@MODELS.register("mlp", input="tabular", value_fields=("dropout",), width_field="hidden_sizes",
                 choice_fields=("activation",))
class MLP(nn.Module):
  """Dense layers with one activation, dropout after each, and one logit out.

  `hidden_sizes=()` is logistic regression trained by gradient descent.

  Attributes:
    hidden_sizes: widths of the hidden layers, input side first.
    activation: a name registered in `ACTIVATIONS` (sigmoid, tanh, relu, ...), or
      several, of which each member computes the one at `activation_index`.
    dropout: rate applied after every hidden activation (0 disables it).
    true_hidden_sizes: `[layers]` ints when `hidden_sizes` is padded to a study
      bucket's widest (`research.models.padding`): the member's own widths,
      which it then computes exactly; None (the default) for no padding.
    activation_index: an int (traced per member) choosing among several
      `activation`s (a study bucket's); None when `activation` is one name.
  """
  hidden_sizes: Sequence[int] = (50, 100, 200)
  activation: str | tuple[str, ...] = "sigmoid"
  dropout: float | jax.Array = 0.0
  true_hidden_sizes: jax.Array | None = None
  activation_index: jax.Array | None = None

  def __post_init__(self):
    activation_names(self.activation)  # fail at construction, not inside jit
    sizes = tuple(self.hidden_sizes)
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
      raise UserError(f"model.hidden_sizes must be positive integers, got {sizes!r}; "
                      "e.g. --config.model.hidden_sizes='(50,100)'")
    if is_concrete(self.dropout) and not 0.0 <= self.dropout < 1.0:
      raise UserError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    """Maps features `[..., d]` to logits `[...]` of the positive class."""
    activation = chosen_activation(self.activation, self.activation_index)
    if self.true_hidden_sizes is not None:
      return self._padded(x, activation, train)
    widths = (*self.hidden_sizes, 1)
    kernels = [nn.initializers.lecun_normal()] * len(widths)
    if self.is_initializing():  # all layers' draws at once: Flax's values, less to compile
      shapes = list(zip((x.shape[-1], *widths[:-1]), widths))
      kernels = [layer_init.given(k) for k in layer_init.lecun_kernels(
          self, shapes, [f"Dense_{layer}" for layer in range(len(widths))])]
    for width, kernel in zip(self.hidden_sizes, kernels):
      x = activation(nn.Dense(width, kernel_init=kernel)(x))
      x = Dropout(self.dropout)(x, deterministic=not train)
    return nn.Dense(1, kernel_init=kernels[-1])(x)[..., 0]

  def _padded(self, x: jax.Array, activation, train: bool) -> jax.Array:
    """The same network at padded widths; modules get the unpadded one's names, so
    they draw the same initial values and dropout masks."""
    fan_in = x.shape[-1]
    for layer, width in enumerate(self.hidden_sizes):
      active = self.true_hidden_sizes[layer]
      x = activation(MaskedDense(width, name=f"Dense_{layer}")(x, fan_in, active))
      x = jnp.where(padding.units(width, active), x, 0)  # sigmoid(0) is not 0
      x = Dropout(self.dropout)(x, deterministic=not train, true_width=active)
      fan_in = active
    return MaskedDense(1, name=f"Dense_{len(self.hidden_sizes)}")(x, fan_in, 1)[..., 0]

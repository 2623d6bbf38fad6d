"""Recurrent networks: Elman (SimpleRNN), LSTM and GRU, stacked and bidirectional.

Every layer computes its input projection for all time steps in one matmul,
then runs a `lax.scan` in which only the hidden-to-hidden product happens.
Gate conventions follow PyTorch and Keras:

* Elman: `h = act(x W + b + h_prev U)`, `act` tanh by default (sigmoid gives
  the textbook Elman network).
* LSTM: `[i, f, g, o] = x W + b + h_prev U`; `c = σ(f) c_prev + σ(i) tanh(g)`;
  `h = σ(o) tanh(c)`. The forget-gate bias starts at 1 (Jozefowicz et al. 2015).
* GRU: `[r, z, n]` with the reset gate applied after the hidden matmul
  (PyTorch, Keras `reset_after=True`): `r = σ(x W_r + b_r + h U_r + c_r)`,
  `z = σ(x W_z + b_z + h U_z + c_z)`, `n = tanh(x W_n + b_n + r (h U_n + c_n))`,
  `h = (1 - z) n + z h_prev`.

Inputs are `[batch, time, features]`. Many-to-one models read the last step
(for a bidirectional layer, the forward direction's last step and the backward
direction's first); many-to-many models emit an output at every step, with the
state carried from step to step (not bidirectional: that would see the future).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from research.errors import UserError
from research.models.dropout import Dropout, is_concrete
from research.models.lstm_scan import lstm_cell, lstm_scan
from research.registry import ACTIVATIONS, MODELS

GATES = {"elman": 1, "lstm": 4, "gru": 3}


def elman_step(h, x_proj, recurrent, activation):
  """One Elman step from the precomputed input projection."""
  return activation(x_proj + h @ recurrent["kernel"])


def gru_step(h, x_proj, recurrent):
  """One GRU step, reset gate after the hidden matmul."""
  x_r, x_z, x_n = jnp.split(x_proj, 3, axis=-1)
  h_r, h_z, h_n = jnp.split(h @ recurrent["kernel"] + recurrent["bias"], 3, axis=-1)
  r = jax.nn.sigmoid(x_r + h_r)
  z = jax.nn.sigmoid(x_z + h_z)
  n = jnp.tanh(x_n + r * h_n)
  return (1 - z) * n + z * h


# Evaluation projects each step's inputs inside the scan when the hoisted projection
# would take at least this much memory (see `RecurrentLayer`).
STEPWISE_PROJECTION_BYTES = 16 << 20


class InputProjection(nn.Module):
  """The kernel and bias of a layer's input projection, created as `nn.Dense`
  creates them (same names, initializers and order, so the same values)."""
  features: int
  bias_init: Callable = nn.initializers.zeros

  @nn.compact
  def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (in_features, self.features),
                        jnp.float32)
    return kernel, self.param("bias", self.bias_init, (self.features,), jnp.float32)


def project(inputs: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
  """`inputs @ kernel + bias` over the last axis, computed as `nn.Dense` computes it."""
  y = jax.lax.dot_general(inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())))
  return y + jnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))


class RecurrentLayer(nn.Module):
  """One direction of one recurrent layer; returns the outputs of every step.

  The input projection of every step is one matmul before the scan (and in
  training the LSTM's backward pass is hand-written, `research.models.lstm_scan`).
  Evaluation only runs forward, often over thousands of windows at once, where
  that `[time, windows, gates x hidden]` array can be the largest in the program
  (172 MB for 3,504 windows of 48 steps into 4 x 64 gates): from
  `STEPWISE_PROJECTION_BYTES` on, each step projects its own inputs inside the
  scan instead, about 3x faster. Both are matmuls of many rows, and their outputs
  are the same bit for bit (tests/test_rnn.py); a small projection stays hoisted,
  where a step's product of a few rows could round differently.
  """
  cell: str
  hidden_size: int
  activation: str = "tanh"
  reverse: bool = False

  @nn.compact
  def __call__(self, inputs: jax.Array, train: bool = False) -> jax.Array:
    gates, size = GATES[self.cell], self.hidden_size
    bias_init = nn.initializers.zeros
    if self.cell == "lstm":  # forget-gate bias 1
      bias_init = lambda key, shape, dtype=jnp.float32: jnp.zeros(shape, dtype).at[
          size:2 * size].set(1.0)
    input_kernel, input_bias = InputProjection(gates * size, bias_init, name="input")(
        inputs.shape[-1])
    recurrent = {"kernel": self.param("recurrent_kernel", nn.initializers.orthogonal(),
                                      (size, gates * size))}
    if self.cell == "gru":
      recurrent["bias"] = self.param("recurrent_bias", nn.initializers.zeros, (gates * size,))
    step = cell_step(self.cell, recurrent, ACTIVATIONS.get(self.activation))
    projected_bytes = math.prod(inputs.shape[:-1]) * gates * size * inputs.dtype.itemsize
    if train or projected_bytes < STEPWISE_PROJECTION_BYTES:
      scanned = jnp.moveaxis(project(inputs, input_kernel, input_bias), -2, 0)
      if self.cell == "lstm":
        return jnp.moveaxis(lstm_scan(scanned, recurrent["kernel"], self.reverse), 0, -2)
    else:
      scanned = jnp.moveaxis(inputs, -2, 0)
      step = projecting(step, input_kernel, input_bias)
    h0 = jnp.zeros(inputs.shape[:-2] + (size,), inputs.dtype)
    _, outputs = jax.lax.scan(step, (h0, h0) if self.cell == "lstm" else h0, scanned,
                              reverse=self.reverse)
    return jnp.moveaxis(outputs, 0, -2)


def projecting(step: Callable, kernel: jax.Array, bias: jax.Array) -> Callable:
  """`step` on a step's raw inputs: it projects them first."""
  return lambda carry, inputs: step(carry, project(inputs, kernel, bias))


def cell_step(cell: str, recurrent: dict[str, jax.Array], activation: Callable) -> Callable:
  """`step(carry, x_proj) -> (carry, output)` of one cell, for `lax.scan`."""
  if cell == "elman":
    return lambda h, xp: (elman_step(h, xp, recurrent, activation),) * 2
  if cell == "gru":
    return lambda h, xp: (gru_step(h, xp, recurrent),) * 2

  def lstm_step(carry, xp):
    (c, h), _ = lstm_cell(carry, xp, recurrent["kernel"])
    return (c, h), h
  return lstm_step


class RecurrentNetwork(nn.Module):
  """Stacked (optionally bidirectional) recurrent layers, a dense head, an output layer.

  Attributes:
    cell: 'elman', 'lstm' or 'gru' (set by the registered classes below).
    hidden_sizes: units per recurrent layer, input side first.
    bidirectional: run each layer both ways and concatenate (many-to-one only).
    dropout: rate between recurrent layers and before the head.
    activation: the Elman activation (tanh; sigmoid for the textbook network).
    head: widths of dense layers after the recurrence.
    head_activation: their activation.
    outputs: values predicted per step (e.g. 1, or 24 hourly loads).
    output_scale: a fixed multiplier on the output (some published Keras models).
    many_to_many: emit an output at every step instead of after the last.
    l1, l2: penalties on the output layer's kernel, added to the training loss.
  """
  cell: str = "lstm"
  hidden_sizes: Sequence[int] = (64,)
  bidirectional: bool = False
  dropout: float | jax.Array = 0.0
  activation: str = "tanh"
  head: Sequence[int] = ()
  head_activation: str = "relu"
  outputs: int = 1
  output_scale: float | jax.Array = 1.0
  many_to_many: bool = False
  l1: float | jax.Array = 0.0
  l2: float | jax.Array = 0.0

  def __post_init__(self):
    ACTIVATIONS.get(self.activation)
    ACTIVATIONS.get(self.head_activation)
    for field, sizes in (("hidden_sizes", self.hidden_sizes), ("head", self.head)):
      if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in tuple(sizes)):
        raise UserError(f"model.{field} must be positive integers, got {tuple(sizes)!r}")
    if not tuple(self.hidden_sizes):
      raise UserError("model.hidden_sizes needs at least one recurrent layer, e.g. (64,)")
    if self.many_to_many and self.bidirectional:
      raise UserError("a many-to-many model cannot be bidirectional: its outputs would see "
                      "the future; set model.bidirectional=False")
    if is_concrete(self.dropout) and not 0.0 <= self.dropout < 1.0:
      raise UserError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
    if any(is_concrete(v) and v < 0 for v in (self.l1, self.l2)):
      raise UserError("model.l1 and model.l2 must be >= 0")
    super().__post_init__()

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool = False) -> jax.Array:
    """`[batch, time, features]` -> `[batch, outputs]` (or `[batch, time, outputs]`)."""
    x = inputs
    for depth, size in enumerate(self.hidden_sizes):
      if depth:
        x = Dropout(self.dropout)(x, deterministic=not train)
      layer = lambda reverse, name: RecurrentLayer(self.cell, size, self.activation,
                                                   reverse=reverse, name=name)
      forward = layer(False, f"layer{depth}_forward")(x, train)
      if self.bidirectional:
        backward = layer(True, f"layer{depth}_backward")(x, train)
        x = jnp.concatenate([forward, backward], axis=-1)
      else:
        x = forward
    if not self.many_to_many:
      if self.bidirectional:
        half = x.shape[-1] // 2
        x = jnp.concatenate([x[..., -1, :half], x[..., 0, half:]], axis=-1)
      else:
        x = x[..., -1, :]
    head_activation = ACTIVATIONS.get(self.head_activation)
    for width in self.head:
      x = head_activation(nn.Dense(width)(x))
    x = Dropout(self.dropout)(x, deterministic=not train)
    return nn.Dense(self.outputs, name="output")(x) * self.output_scale


# Floats a study may vary per member in one compiled program (traced arrays).
VALUE_FIELDS = ("dropout", "l1", "l2", "output_scale")


@MODELS.register("elman", input="sequence", value_fields=VALUE_FIELDS)
class Elman(RecurrentNetwork):
  """An Elman (SimpleRNN) network; see `RecurrentNetwork` for the fields."""
  cell: str = "elman"


@MODELS.register("lstm", input="sequence", value_fields=VALUE_FIELDS)
class LSTM(RecurrentNetwork):
  """An LSTM network; see `RecurrentNetwork` for the fields."""
  cell: str = "lstm"


@MODELS.register("gru", input="sequence", value_fields=VALUE_FIELDS)
class GRU(RecurrentNetwork):
  """A GRU network; see `RecurrentNetwork` for the fields."""
  cell: str = "gru"

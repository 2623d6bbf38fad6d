"""An LSTM layer's scan with a hand-written backward pass.

Autodiff of `lax.scan` accumulates the recurrent kernel's gradient step by
step inside the reverse scan (a small `[hidden, batch] x [batch, 4 hidden]`
product and an add per step). Here the reverse scan computes only the gates'
gradients, and the kernel's gradient is one product over every step after it
(as cuDNN does). Gradients agree with autodiff's to float32 rounding
(tests/test_rnn.py); the speed is measured in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _doubled(size: int, dtype) -> jax.Array:
  """Scales the pre-activations so one sigmoid gives every gate: tanh(g) = 2 σ(2g) − 1."""
  return jnp.ones(4 * size, dtype).at[2 * size:3 * size].set(2.0)


def lstm_cell(carry: tuple[jax.Array, jax.Array], x_proj: jax.Array, kernel: jax.Array):
  """One LSTM step from the step's input projection `x_proj`; returns the new
  `(cell, hidden)` and the step's gates (every gate through one sigmoid)."""
  c, h = carry
  gates = jax.nn.sigmoid((x_proj + h @ kernel) * _doubled(kernel.shape[0], x_proj.dtype))
  i, f, g, o = jnp.split(gates, 4, axis=-1)
  c = f * c + i * (2 * g - 1)
  h = o * jnp.tanh(c)
  return (c, h), gates


def _forward(x_proj: jax.Array, kernel: jax.Array, reverse: bool):
  """Outputs `[time, ..., hidden]`, and the gates and cells of every step."""
  zeros = jnp.zeros(x_proj.shape[1:-1] + (kernel.shape[0],), x_proj.dtype)

  def step(carry, xp):
    (c, h), gates = lstm_cell(carry, xp, kernel)
    return (c, h), (h, c, gates)

  _, (outputs, cells, gates) = jax.lax.scan(step, (zeros, zeros), x_proj, reverse=reverse)
  return outputs, cells, gates


def _previous(sequence: jax.Array, reverse: bool) -> jax.Array:
  """Each step's state before it (zero before the first step the scan takes)."""
  zero = jnp.zeros_like(sequence[:1])
  if reverse:
    return jnp.concatenate([sequence[1:], zero])
  return jnp.concatenate([zero, sequence[:-1]])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def lstm_scan(x_proj: jax.Array, kernel: jax.Array, reverse: bool = False) -> jax.Array:
  """The hidden state of every step of an LSTM that starts from zeros.

  Args:
    x_proj: `[time, ..., 4 hidden]` input projections (bias included), gates
      in the order i, f, g, o.
    kernel: `[hidden, 4 hidden]` recurrent kernel.
    reverse: run from the last step to the first.
  """
  return _forward(x_proj, kernel, reverse)[0]


def _lstm_scan_fwd(x_proj, kernel, reverse):
  outputs, cells, gates = _forward(x_proj, kernel, reverse)
  return outputs, (kernel, outputs, cells, gates)


def _lstm_scan_bwd(reverse, residuals, d_outputs):
  kernel, outputs, cells, gates = residuals
  size = kernel.shape[0]
  doubled = _doubled(size, gates.dtype)
  previous_cells = _previous(cells, reverse)

  def step(carry, inputs):
    dh_later, dc_later = carry
    d_out, c, c_prev, act = inputs
    i, f, g, o = jnp.split(act, 4, axis=-1)
    tanh_c = jnp.tanh(c)
    dh = d_out + dh_later
    dc = dc_later + dh * o * (1 - tanh_c * tanh_c)
    d_act = jnp.concatenate([dc * (2 * g - 1), dc * c_prev, 2 * dc * i, dh * tanh_c], axis=-1)
    d_pre = d_act * act * (1 - act) * doubled
    return (d_pre @ kernel.T, dc * f), d_pre

  zeros = jnp.zeros_like(d_outputs[0])
  _, d_pre = jax.lax.scan(step, (zeros, zeros), (d_outputs, cells, previous_cells, gates),
                          reverse=not reverse)
  previous_h = _previous(outputs, reverse)
  d_kernel = jnp.einsum("...h,...g->hg", previous_h, d_pre)  # one product over every step
  return d_pre, d_kernel


lstm_scan.defvjp(_lstm_scan_fwd, _lstm_scan_bwd)

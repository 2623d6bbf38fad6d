"""Recurrent models against a plain NumPy implementation of the same equations."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import research.models  # noqa: F401
from research.errors import UserError
from research.models.lstm_scan import lstm_scan
from research.registry import MODELS


def sigmoid(x):
  return 1 / (1 + np.exp(-x))


def numpy_layer(cell, params, x, reverse=False, activation=np.tanh):
  """Reference recurrence over `x [batch, time, in]`, step by step."""
  w, b = np.asarray(params["input"]["kernel"]), np.asarray(params["input"]["bias"])
  u = np.asarray(params["recurrent_kernel"])
  size = u.shape[0]
  h = np.zeros((x.shape[0], size))
  c = np.zeros_like(h)
  outputs = [None] * x.shape[1]
  steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
  for t in steps:
    xt = x[:, t] @ w + b
    if cell == "elman":
      h = activation(xt + h @ u)
    elif cell == "lstm":
      i, f, g, o = np.split(xt + h @ u, 4, axis=-1)
      c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
      h = sigmoid(o) * np.tanh(c)
    else:
      hb = h @ u + np.asarray(params["recurrent_bias"])
      r = sigmoid(xt[:, :size] + hb[:, :size])
      z = sigmoid(xt[:, size:2 * size] + hb[:, size:2 * size])
      n = np.tanh(xt[:, 2 * size:] + r * hb[:, 2 * size:])
      h = (1 - z) * n + z * h
    outputs[t] = h
  return np.stack(outputs, axis=1)


def numpy_network(cell, params, x, hidden_sizes, bidirectional, many_to_many, head_relu=True,
                  scale=1.0, activation=np.tanh):
  for depth in range(len(hidden_sizes)):
    forward = numpy_layer(cell, params[f"layer{depth}_forward"], x, activation=activation)
    if bidirectional:
      backward = numpy_layer(cell, params[f"layer{depth}_backward"], x, reverse=True,
                             activation=activation)
      x = np.concatenate([forward, backward], axis=-1)
    else:
      x = forward
  if not many_to_many:
    if bidirectional:
      half = x.shape[-1] // 2
      x = np.concatenate([x[:, -1, :half], x[:, 0, half:]], axis=-1)
    else:
      x = x[:, -1]
  if "Dense_0" in params:
    x = x @ np.asarray(params["Dense_0"]["kernel"]) + np.asarray(params["Dense_0"]["bias"])
    x = np.maximum(x, 0) if head_relu else x
  out = params["output"]
  return (x @ np.asarray(out["kernel"]) + np.asarray(out["bias"])) * scale


def _inputs(shape=(3, 6, 4), seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _perturbed(variables, seed=1):
  """Random non-zero biases, so the test exercises every bias term."""
  leaves, tree = jax.tree_util.tree_flatten(variables)
  rng = np.random.default_rng(seed)
  leaves = [leaf + 0.3 * rng.normal(size=leaf.shape).astype(np.float32) for leaf in leaves]
  return jax.tree_util.tree_unflatten(tree, leaves)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("hidden_sizes,bidirectional,many_to_many", [
    ((5,), False, False),  # one cell
    ((5, 3), False, False),  # stacked
    ((4, 3), True, False),  # stacked and bidirectional
    ((5, 3), False, True),  # many-to-many
])
def test_model_matches_numpy_reference(cell, hidden_sizes, bidirectional, many_to_many):
  model = MODELS.get(cell)(hidden_sizes=hidden_sizes, bidirectional=bidirectional,
                           many_to_many=many_to_many, head=(6,), outputs=2, output_scale=3.0)
  x = _inputs()
  variables = _perturbed(model.init(jax.random.key(0), x))
  got = np.asarray(model.apply(variables, x))
  expected = numpy_network(cell, variables["params"], x.astype(np.float64), hidden_sizes,
                           bidirectional, many_to_many, scale=3.0)
  assert got.shape == ((3, 6, 2) if many_to_many else (3, 2))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_sigmoid_elman_is_the_textbook_network():
  model = MODELS.get("elman")(hidden_sizes=(8,), activation="sigmoid", many_to_many=True,
                              outputs=24)
  x = _inputs((1, 10, 23))
  variables = _perturbed(model.init(jax.random.key(0), x))
  expected = numpy_network("elman", variables["params"], x.astype(np.float64), (8,), False, True,
                           activation=sigmoid)
  np.testing.assert_allclose(model.apply(variables, x), expected, rtol=1e-5, atol=1e-5)


def test_lstm_forget_bias_starts_at_one():
  model = MODELS.get("lstm")(hidden_sizes=(4,))
  bias = model.init(jax.random.key(0), _inputs())["params"]["layer0_forward"]["input"]["bias"]
  np.testing.assert_array_equal(bias, [0] * 4 + [1] * 4 + [0] * 8)


def test_outputs_depend_only_on_the_past_in_many_to_many():
  model = MODELS.get("gru")(hidden_sizes=(5,), many_to_many=True)
  x = _inputs()
  variables = model.init(jax.random.key(0), x)
  changed = x.copy()
  changed[:, 4:] += 1.0
  a, b = model.apply(variables, x), model.apply(variables, changed)
  np.testing.assert_array_equal(a[:, :4], b[:, :4])
  assert not np.allclose(a[:, 4:], b[:, 4:])


@pytest.mark.parametrize("fields,message", [
    ({"many_to_many": True, "bidirectional": True}, "cannot be bidirectional"),
    ({"hidden_sizes": ()}, "at least one recurrent layer"),
    ({"head": (0,)}, "model.head must be positive"),
    ({"activation": "tanhh"}, "did you mean 'tanh'"),
])
def test_bad_rnn_fields(fields, message):
  with pytest.raises(UserError, match=message):
    MODELS.get("lstm")(**fields)


@pytest.mark.parametrize("reverse", [False, True])
def test_the_lstm_scan_and_its_hand_written_gradients_match_autodiff_of_the_textbook(reverse):
  """The one-sigmoid LSTM (tanh via sigmoid) with its own backward pass (the kernel's
  gradient as one product after the reverse scan) against autodiff of the
  four-activation form, in both directions."""
  def textbook(carry, x_proj, kernel):
    c, h = carry
    i, f, g, o = jnp.split(x_proj + h @ kernel, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h

  def textbook_scan(x_proj, kernel):
    zeros = jnp.zeros(x_proj.shape[1:-1] + (kernel.shape[0],))
    return jax.lax.scan(lambda carry, xp: textbook(carry, xp, kernel), (zeros, zeros), x_proj,
                        reverse=reverse)[1]

  rng = np.random.default_rng(0)
  x_proj = jnp.asarray(2 * rng.normal(size=(6, 3, 20)), jnp.float32)  # [time, batch, 4 x 5]
  kernel = jnp.asarray(rng.normal(size=(5, 20)), jnp.float32)
  weights = jnp.asarray(rng.normal(size=(6, 3, 5)), jnp.float32)
  loss = lambda scan: lambda x, k: jnp.sum(jnp.sin(scan(x, k)) * weights)
  np.testing.assert_allclose(lstm_scan(x_proj, kernel, reverse), textbook_scan(x_proj, kernel),
                             rtol=1e-5, atol=1e-6)
  got = jax.grad(loss(lambda x, k: lstm_scan(x, k, reverse)), argnums=(0, 1))(x_proj, kernel)
  expected = jax.grad(loss(textbook_scan), argnums=(0, 1))(x_proj, kernel)
  for a, b in zip(got, expected):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell,fields,projections", [
    ("elman", {"hidden_sizes": (6, 4)}, {6, 4}),
    ("lstm", {"hidden_sizes": (5,), "bidirectional": True}, {20}),
    ("gru", {"hidden_sizes": (4,), "many_to_many": True, "outputs": 2}, {12}),
])
def test_evaluation_projecting_step_by_step_gives_the_hoisted_outputs_bit_for_bit(
    cell, fields, projections, monkeypatch):
  """Above `STEPWISE_PROJECTION_BYTES` evaluation projects each step's inputs inside
  the scan; its outputs equal those of the projection hoisted out of it exactly."""
  from research.models import rnn
  model = MODELS.get(cell)(**fields)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(300, 7, 5)), jnp.float32)
  params = model.init(jax.random.key(0), x[:1])
  outputs = {}
  for name, threshold in (("hoisted", 1 << 60), ("stepwise", 0)):
    monkeypatch.setattr(rnn, "STEPWISE_PROJECTION_BYTES", threshold)
    jaxpr = str(jax.make_jaxpr(lambda p, x: model.apply(p, x))(params, x))
    hoisted = {int(w) for w in re.findall(r"f32\[300,7,(\d+)\]\S* = dot_general", jaxpr)}
    assert (hoisted & projections) == (projections if name == "hoisted" else set()), name
    outputs[name] = jax.jit(lambda p, x: model.apply(p, x))(params, x)
  np.testing.assert_array_equal(outputs["stepwise"], outputs["hoisted"])


def test_the_input_projection_is_initialized_as_a_dense_layer():
  """`InputProjection` makes the parameters `nn.Dense` would (the fixtures and every
  seed's initial network depend on it)."""
  import flax.linen as nn
  from research.models.rnn import RecurrentLayer

  class DenseLayer(nn.Module):  # the layer's parameters as nn.Dense made them
    @nn.compact
    def __call__(self, x):
      bias_init = lambda key, shape, dtype=jnp.float32: jnp.zeros(shape, dtype).at[5:10].set(1.0)
      nn.Dense(20, bias_init=bias_init, name="input")(x)
      self.param("recurrent_kernel", nn.initializers.orthogonal(), (5, 20))

  x = jnp.ones((2, 3, 4))
  got = RecurrentLayer("lstm", 5).init(jax.random.key(3), x)
  expected = DenseLayer().init(jax.random.key(3), x)
  jax.tree_util.tree_map(np.testing.assert_array_equal, got, expected)

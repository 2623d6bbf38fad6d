import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import research.models  # noqa: F401
from research.errors import UserError
from research.models import layer_init
from research.models.mlp import MLP
from research.registry import ACTIVATIONS, MODELS


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_runs_forward(name):
  factory = MODELS.get(name)
  model = factory()
  sequence = MODELS.info(name).input == "sequence"
  x = jnp.ones((5, 9, 7) if sequence else (5, 7))
  variables = model.init(jax.random.key(0), x)
  out = model.apply(variables, x)
  assert out.shape == ((5, 1) if sequence else (5,)) and bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_mlp_every_activation(activation):
  model = MLP(hidden_sizes=(4, 3), activation=activation)
  variables = model.init(jax.random.key(0), jnp.ones((2, 5)))
  assert model.apply(variables, jnp.ones((2, 5))).shape == (2,)


def test_mlp_layer_shapes_follow_hidden_sizes():
  variables = MLP(hidden_sizes=(50, 100, 200)).init(jax.random.key(0), jnp.ones((1, 12)))
  kernels = [variables["params"][f"Dense_{i}"]["kernel"].shape for i in range(4)]
  assert kernels == [(12, 50), (50, 100), (100, 200), (200, 1)]


def test_mlp_without_hidden_layers_is_linear():
  model = MLP(hidden_sizes=())
  variables = model.init(jax.random.key(0), jnp.ones((1, 3)))
  x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
  dense = variables["params"]["Dense_0"]
  np.testing.assert_allclose(model.apply(variables, x),
                             x @ dense["kernel"][:, 0] + dense["bias"][0], rtol=1e-6)


def test_dropout_only_in_training():
  model = MLP(hidden_sizes=(64,), dropout=0.5)
  x = jnp.ones((3, 4))
  variables = model.init(jax.random.key(0), x)
  eval_a, eval_b = model.apply(variables, x), model.apply(variables, x)
  np.testing.assert_array_equal(eval_a, eval_b)
  train = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)})
  assert not np.allclose(train, eval_a)


@pytest.mark.parametrize("kwargs,message", [
    ({"activation": "sigmoidd"}, "did you mean 'sigmoid'"),
    ({"hidden_sizes": (8, 0)}, "positive integers"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"activation": ("tanh", "sigmoidd")}, "did you mean 'sigmoid'"),
])
def test_mlp_rejects_bad_fields(kwargs, message):
  with pytest.raises(UserError, match=message):
    MLP(**kwargs)


def test_several_activations_need_each_members_index():
  model = MLP(hidden_sizes=(3,), activation=("sigmoid", "tanh"))
  with pytest.raises(UserError, match="names several functions; give a single name"):
    model.init(jax.random.key(0), jnp.ones((2, 5)))


def test_a_shared_activation_program_computes_each_members_own_network():
  # Four members under vmap, two per activation (a study bucket's order differs from
  # the names' order): the logits are the single-activation network's exactly (the
  # select passes one value), the gradients to rounding (the other activation's
  # cotangents are exact zeros, but XLA may sum a bias gradient in another order).
  names = ("tanh", "sigmoid")
  chosen = np.array([1, 0, 0, 1], np.int32)
  x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
  keys = jax.random.split(jax.random.key(3), 4)

  def member(key, index, name=None):
    model = MLP(hidden_sizes=(7, 4), activation=name or names, dropout=0.25,
                activation_index=None if name else index)
    params = model.init(key, x)["params"]
    loss = lambda p: model.apply({"params": p}, x, train=True, rngs={"dropout": key}).sum()
    return model.apply({"params": params}, x), jax.grad(loss)(params)

  shared = jax.jit(jax.vmap(member))(keys, chosen)
  for index, name in enumerate(names):
    alone = jax.jit(jax.vmap(lambda key, name=name: member(key, None, name)))(keys)
    np.testing.assert_array_equal(shared[0][chosen == index], alone[0][chosen == index])
    for got, want in zip(jax.tree_util.tree_leaves(shared[1]),
                         jax.tree_util.tree_leaves(alone[1])):
      np.testing.assert_allclose(got[chosen == index], want[chosen == index], rtol=1e-5,
                                 atol=1e-7)


def _padded_pair(dropout):
  true = MLP(hidden_sizes=(5, 3), activation="sigmoid", dropout=dropout)
  padded = MLP(hidden_sizes=(9, 6), activation="sigmoid", dropout=dropout,
               true_hidden_sizes=jnp.array([5, 3]))
  return true, padded


def _block(padded, like):
  """`padded`'s top-left block of `like`'s shape, and the sum of |entries| outside it."""
  block = padded[tuple(slice(0, n) for n in like.shape)]
  return block, float(jnp.abs(padded).sum() - jnp.abs(block).sum())


def test_a_padded_mlp_draws_and_computes_the_true_network():
  # Widths padded to (9, 6): the same initial values in the top-left blocks (drawn at
  # the true shape), zero elsewhere, the same dropout masks, the same outputs, and
  # no gradient on a padded weight. Sigmoid(0) = 0.5, so unmasked padded units
  # would change the output.
  x = jax.random.normal(jax.random.key(0), (16, 7))
  true, padded = _padded_pair(dropout=0.3)
  true_params = true.init(jax.random.key(1), x)["params"]
  padded_params = padded.init(jax.random.key(1), x)["params"]
  apply = lambda model, params: model.apply({"params": params}, x, train=True,
                                            rngs={"dropout": jax.random.key(5)})
  true_grads = jax.grad(lambda p: apply(true, p).sum())(true_params)
  padded_grads = jax.grad(lambda p: apply(padded, p).sum())(padded_params)
  for layer in true_params:
    kernel, outside = _block(padded_params[layer]["kernel"], true_params[layer]["kernel"])
    np.testing.assert_array_equal(kernel, true_params[layer]["kernel"])
    assert outside == 0
    grad, outside = _block(padded_grads[layer]["kernel"], true_grads[layer]["kernel"])
    np.testing.assert_allclose(grad, true_grads[layer]["kernel"], rtol=1e-5, atol=1e-7)
    assert outside == 0
  np.testing.assert_allclose(apply(padded, padded_params), apply(true, true_params), rtol=1e-6)
  wrong = MLP(hidden_sizes=(9, 6), activation="sigmoid", dropout=0.3,
              true_hidden_sizes=jnp.array([9, 6]))  # the whole padded network is another one
  assert not np.allclose(apply(wrong, wrong.init(jax.random.key(1), x)["params"]),
                         apply(true, true_params), atol=1e-3)


def test_padded_weights_never_reach_the_output_whatever_their_values():
  # Whatever moves a padded weight (here: random values planted outside the true
  # block, which weight decay then shrinks), the mask keeps it from the output, so
  # training gives the true network's outputs.
  import optax  # pylint: disable=import-outside-toplevel
  x = jax.random.normal(jax.random.key(0), (16, 7))
  y = (x[:, 0] > 0).astype(jnp.float32)
  true, padded = _padded_pair(dropout=0.0)
  tx = optax.adamw(0.05, weight_decay=0.1)

  def fit(model, params):
    loss = lambda p: optax.sigmoid_binary_cross_entropy(model.apply({"params": p}, x), y).mean()
    state = tx.init(params)
    for _ in range(5):
      updates, state = tx.update(jax.grad(loss)(params), state, params)
      params = optax.apply_updates(params, updates)
    return model.apply({"params": params}, x), params

  true_params = true.init(jax.random.key(1), x)["params"]
  noise = lambda a: jax.random.normal(jax.random.key(9), a.shape)
  planted = {layer: {"kernel": jnp.where(p["kernel"] == 0, noise(p["kernel"]), p["kernel"]),
                     "bias": p["bias"].at[true_params[layer]["bias"].size:].set(1.0)}
             for layer, p in padded.init(jax.random.key(1), x)["params"].items()}
  true_out, _ = fit(true, true_params)
  padded_out, params = fit(padded, planted)
  moved = _block(params["Dense_1"]["kernel"], true_params["Dense_1"]["kernel"])[1]
  assert moved > 0 and moved != _block(planted["Dense_1"]["kernel"],
                                       true_params["Dense_1"]["kernel"])[1]
  np.testing.assert_allclose(padded_out, true_out, rtol=1e-5, atol=1e-6)


class _FlaxDenseStack(nn.Module):
  """The MLP's layers as plain `nn.Dense`s (Flax's own initialization)."""
  hidden_sizes: tuple

  @nn.compact
  def __call__(self, x):
    for width in self.hidden_sizes:
      x = nn.sigmoid(nn.Dense(width)(x))
    return nn.Dense(1)(x)[..., 0]


@pytest.mark.parametrize("sizes", [(), (3,), (50, 100, 200), (150, 50, 150)])
def test_the_mlps_batched_initialization_is_flaxs_bit_for_bit(sizes):
  x = jnp.ones((2, 23))
  for key in (jax.random.key(0), jax.random.PRNGKey(5)):  # typed and raw keys
    ours = MLP(hidden_sizes=sizes).init(key, x)["params"]
    flax_own = _FlaxDenseStack(hidden_sizes=sizes).init(key, x)["params"]
    jax.tree_util.tree_map(np.testing.assert_array_equal, ours, flax_own)
  keys = jax.random.split(jax.random.key(3), 3)  # as a compiled study draws them
  init = lambda model: jax.jit(jax.vmap(lambda k: model.init(k, x)["params"]))(keys)
  jax.tree_util.tree_map(np.testing.assert_array_equal, init(MLP(hidden_sizes=sizes)),
                         init(_FlaxDenseStack(hidden_sizes=sizes)))


def test_flax_fold_in_data_is_what_flax_folds_in():
  key = jax.random.key(7)
  for suffix in [("Dense_0", 1), ("Dense_12", 1), ("MLP_0", "Dense_1", 2)]:
    np.testing.assert_array_equal(
        jax.random.key_data(jax.random.fold_in(key, layer_init.flax_fold_in_data(suffix))),
        jax.random.key_data(flax.core.scope._fold_in_static(key, suffix)))  # pylint: disable=protected-access

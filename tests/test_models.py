import jax
import jax.numpy as jnp
import numpy as np
import pytest

import research.models  # noqa: F401
from research.errors import UserError
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
])
def test_mlp_rejects_bad_fields(kwargs, message):
  with pytest.raises(UserError, match=message):
    MLP(**kwargs)

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import research.models  # noqa: F401
from research import optim
from research.errors import UserError
from research.models.mlp import MLP
from research.plugins import load_plugins
from research.registry import OPTIMIZERS
from research.tasks.classification import binary_cross_entropy
from research.train.loop import train_step
from research.train.state import MemberState, guard
from tests.conftest import ROOT

load_plugins([f"{ROOT}/plugins"])  # the example plugin's optimizer is tested too


def _batch(n=32, d=6, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d)).astype(np.float32)
  y = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.int32)
  return jnp.asarray(x), jnp.asarray(y), jnp.ones(n, jnp.float32)


def _loss(model):
  return functools.partial(binary_cross_entropy, model=model)


def _state(tx, model, batch):
  params = model.init(jax.random.key(0), batch[0])["params"]
  return MemberState(params=params, opt_state=tx.init(params), diverged=jnp.zeros((), bool))


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_takes_a_step_that_lowers_the_loss(name):
  model, batch = MLP(hidden_sizes=(8,)), _batch()
  static, floats = optim.split_hyperparameters(name, {})
  tx = optim.make_optimizer(name, static, floats)
  state = _state(tx, model, batch)
  step = jax.jit(functools.partial(train_step, loss_fn=_loss(model), tx=tx))
  loss_before = binary_cross_entropy(state.params, batch, model=model)
  new_state = state
  for _ in range(5):
    new_state, _ = step(new_state, batch, jax.random.key(1))
  changed = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), state.params,
                                   new_state.params)
  assert all(jax.tree_util.tree_leaves(changed))
  assert binary_cross_entropy(new_state.params, batch, model=model) < loss_before
  assert not bool(new_state.diverged)


def test_float_fields_are_per_member_and_int_fields_static():
  static, floats = optim.split_hyperparameters("momentum", {"learning_rate": 0.1,
                                                            "momentum": 0.8, "nesterov": True})
  assert floats == {"learning_rate": 0.1, "momentum": 0.8} and static == {"nesterov": True}
  static, floats = optim.split_hyperparameters("lbfgs", {"memory_size": 5, "learning_rate": 1})
  assert static == {"memory_size": 5} and floats == {"learning_rate": 1.0}


def test_vmapped_learning_rates_equal_separate_runs():
  model, batch = MLP(hidden_sizes=(8,)), _batch()

  def run(learning_rate):
    tx = optim.make_optimizer("adam", {}, {"learning_rate": learning_rate})
    state = _state(tx, model, batch)
    for _ in range(3):
      state, _ = train_step(state, batch, jax.random.key(1), loss_fn=_loss(model), tx=tx)
    return state.params

  rates = jnp.array([1e-3, 1e-1])
  together = jax.jit(jax.vmap(run))(rates)
  for i, rate in enumerate(rates):
    alone = jax.jit(run)(rate)
    for a, b in zip(jax.tree_util.tree_leaves(alone), jax.tree_util.tree_leaves(together)):
      np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)
  first, second = (jax.tree_util.tree_leaves(together)[0][i] for i in range(2))
  assert not np.allclose(first, second)


@pytest.mark.parametrize("fields,message", [
    ({"lerning_rate": 0.1}, "takes no field 'lerning_rate'"),
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ({"learning_rate": -1e-3}, "learning_rate must be > 0"),
])
def test_bad_optimizer_fields(fields, message):
  with pytest.raises(UserError, match=message):
    optim.split_hyperparameters("adam", fields)


def test_a_non_finite_epoch_marks_the_member_diverged_and_keeps_its_parameters():
  model, (x, y, w) = MLP(hidden_sizes=(8,)), _batch()
  tx = optim.make_optimizer("sgd", {}, {"learning_rate": 0.1})
  state = _state(tx, model, (x, y, w))
  step = lambda s, batch: train_step(s, batch, jax.random.key(0), loss_fn=_loss(model), tx=tx)
  bad = (x.at[0, 0].set(jnp.nan), y, w)
  after, loss = step(state, bad)
  assert not np.isfinite(float(loss)) and not bool(after.diverged)  # a step checks nothing
  guarded = guard(state, after, loss)
  assert bool(guarded.diverged)
  for a, b in zip(jax.tree_util.tree_leaves(state.params),
                  jax.tree_util.tree_leaves(guarded.params)):
    np.testing.assert_array_equal(a, b)
  later = guard(guarded, *step(guarded, (x, y, w)))
  for a, b in zip(jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(later.params)):
    np.testing.assert_array_equal(a, b)  # a diverged member stops updating
  good = guard(state, *step(state, (x, y, w)))
  assert not bool(good.diverged)
  for a, b in zip(jax.tree_util.tree_leaves(step(state, (x, y, w))[0].params),
                  jax.tree_util.tree_leaves(good.params)):
    np.testing.assert_array_equal(a, b)  # a finite epoch is kept as it is


@pytest.mark.parametrize("leaf", [0, -1])
def test_a_finite_loss_with_a_non_finite_parameter_still_marks_the_member_diverged(leaf):
  """The last step's update can overflow after its loss was computed: the guard
  tests every parameter leaf too, whichever one it is."""
  model, (x, y, w) = MLP(hidden_sizes=(8,)), _batch()
  tx = optim.make_optimizer("sgd", {}, {"learning_rate": 0.1})
  state = _state(tx, model, (x, y, w))
  after, loss = train_step(state, (x, y, w), jax.random.key(0), loss_fn=_loss(model), tx=tx)
  leaves, tree = jax.tree_util.tree_flatten(after.params)
  leaves[leaf] = leaves[leaf].at[(0,) * leaves[leaf].ndim].set(jnp.inf)
  broken = after.replace(params=jax.tree_util.tree_unflatten(tree, leaves))
  assert np.isfinite(float(loss))
  guarded = guard(state, broken, loss)
  assert bool(guarded.diverged)
  for a, b in zip(jax.tree_util.tree_leaves(state.params),
                  jax.tree_util.tree_leaves(guarded.params)):
    np.testing.assert_array_equal(a, b)

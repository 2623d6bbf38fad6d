"""Training: a pure `train_step` and `make_train(config, data) -> train`.

`train(keys, hparams)` trains one member from its keys and float
hyperparameters; everything it returns is an array, so
`jax.jit(jax.vmap(train))(keys, hparams)` trains every member at once and
returns arrays stacked with the member axis first. Epochs and minibatches are
`lax.scan`s; each member draws its own split, data order and dropout masks.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from research import optim
from research.data.tabular import TabularData, fit_preprocessor, stratified_split
from research.errors import UserError
from research.registry import MODELS

Batch = tuple[jax.Array, jax.Array, jax.Array]  # features, labels, weights


@flax.struct.dataclass
class MemberState:
  """What one member carries from step to step.

  Attributes:
    params: model parameters.
    opt_state: optimizer state (with the injected hyperparameters).
    diverged: set once a loss or an update is not finite; from then on the
      member keeps its last finite parameters and stops updating.
  """
  params: Any
  opt_state: Any
  diverged: jax.Array


@flax.struct.dataclass
class TrainOutput:
  """One member's results (stacked over members after vmap).

  Attributes:
    test_index: `[n_test]` rows of the table in this member's test split.
    test_prob: `[n_test]` predicted probability of the positive class.
    train_loss: `[epochs]` mean training loss per epoch (dropout active).
    eval_loss: `[epochs]` test loss after each epoch.
    diverged: whether training stopped on a non-finite loss or update.
    diverged_epoch: the epoch in which it did, or -1.
  """
  test_index: jax.Array
  test_prob: jax.Array
  train_loss: jax.Array
  eval_loss: jax.Array
  diverged: jax.Array
  diverged_epoch: jax.Array


def binary_cross_entropy(params, batch: Batch, dropout_key: jax.Array | None = None, *,
                         apply_fn: Callable) -> jax.Array:
  """Weighted mean sigmoid cross-entropy; weights mask padded examples."""
  features, labels, weights = batch
  train = dropout_key is not None
  logits = apply_fn({"params": params}, features, train=train,
                    rngs={"dropout": dropout_key} if train else None)
  losses = optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype))
  return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _all_finite(tree) -> jax.Array:
  leaves = jax.tree_util.tree_leaves(tree)
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


LossFn = Callable[[Any, Batch, "jax.Array | None"], jax.Array]


def train_step(state: MemberState, batch: Batch, dropout_key: jax.Array, *,
               loss_fn: LossFn, tx: optax.GradientTransformationExtraArgs
               ) -> tuple[MemberState, jax.Array]:
  """One optimizer update on `batch`; returns the new state and the batch loss.

  `loss_fn(params, batch, dropout_key)` is the training loss. A non-finite
  loss or update marks the member diverged and leaves its parameters and
  optimizer state as they were.
  """
  batch_loss = lambda params: loss_fn(params, batch, dropout_key)
  loss, grads = jax.value_and_grad(batch_loss)(state.params)
  # value/grad/value_fn are used by line-search optimizers (L-BFGS), ignored by the rest.
  updates, opt_state = tx.update(grads, state.opt_state, state.params,
                                 value=loss, grad=grads, value_fn=batch_loss)
  params = optax.apply_updates(state.params, updates)
  finite = jnp.isfinite(loss) & _all_finite(params)
  accept = finite & ~state.diverged
  keep = lambda new, old: jax.tree_util.tree_map(
      lambda n, o: jnp.where(accept, n, o), new, old)
  return MemberState(params=keep(params, state.params),
                     opt_state=keep(opt_state, state.opt_state),
                     diverged=state.diverged | ~finite), loss


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Static sizes of one training run, checked against the data."""
  num_train: int
  batch_size: int
  steps_per_epoch: int
  epochs: int
  full_batch: bool

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, num_train: int) -> "Schedule":
    batch_size = config.train.batch_size
    full_batch = optim.is_full_batch(config.optimizer.name) or batch_size == 0
    if not full_batch and batch_size > num_train:
      raise UserError(
          f"train.batch_size={batch_size} is larger than the training set "
          f"({num_train} rows); use at most {num_train}, or 0 for full batch")
    batch_size = num_train if full_batch else batch_size
    return cls(num_train=num_train, batch_size=batch_size,
               steps_per_epoch=math.ceil(num_train / batch_size),
               epochs=config.train.epochs, full_batch=full_batch)


def build_model(config: ml_collections.ConfigDict) -> nn.Module:
  """The model named by `config.model.name`, its other fields as arguments."""
  fields = {k: v for k, v in config.model.items() if k != "name"}
  model_cls = MODELS.get(config.model.name)
  if getattr(model_cls, "sequence_model", False):
    raise UserError(f"model {config.model.name!r} is a recurrent sequence model; a tabular "
                    "study needs a tabular model such as 'mlp'")
  try:
    return model_cls(**fields)
  except TypeError as e:
    raise UserError(f"model {config.model.name!r}: {e}; fix config.model") from None


def with_values(model: nn.Module, values: Mapping[str, jax.Array]) -> nn.Module:
  """`model` with some fields replaced by per-member (traced) values."""
  return model.clone(**values) if values else model


def optimizer_fields(config: ml_collections.ConfigDict) -> dict[str, Any]:
  return {k: v for k, v in config.optimizer.items() if k != "name"}


@flax.struct.dataclass
class MemberSplit:
  """One member's preprocessed train/test split (see `member_split`)."""
  x_train: jax.Array
  y_train: jax.Array
  x_test: jax.Array
  y_test: jax.Array
  test_index: jax.Array


def member_split(split_key: jax.Array, data: TabularData, test_fraction: float) -> MemberSplit:
  """The stratified split drawn from `split_key`, preprocessed as fitted on its train rows.

  The one definition of a member's data: networks call it inside the compiled
  run and classical baselines call it on the host, so both see the same rows.
  """
  features, labels = jnp.asarray(data.features), jnp.asarray(data.labels)
  train_index, test_index = stratified_split(split_key, data.labels,
                                             data.test_counts(test_fraction))
  preprocess = fit_preprocessor(features[train_index], data.numeric)
  return MemberSplit(x_train=preprocess(features[train_index]), y_train=labels[train_index],
                     x_test=preprocess(features[test_index]), y_test=labels[test_index],
                     test_index=test_index)


def make_train(config: ml_collections.ConfigDict, data: TabularData,
               on_epoch: Callable[[jax.Array], None] | None = None
               ) -> Callable[[Mapping[str, jax.Array], Mapping[str, jax.Array]], TrainOutput]:
  """Returns a pure `train(keys, hparams)` for one member.

  Args:
    config: the run's config (read here, never inside `train`).
    data: the encoded table, shared by all members.
    on_epoch: called on the host with the epoch number after every epoch
      (progress display); None traces no callback into the program.

  `keys` maps each stream in `seeding.STREAMS` to one key; `hparams` is
  `{'optimizer': {field: scalar}, 'model': {field: scalar}}`: the optimizer's
  float fields (see `optim.split_hyperparameters`) and any model fields a
  study varies per member (see `research.study`).
  """
  base_model = build_model(config)
  static, _ = optim.split_hyperparameters(config.optimizer.name, optimizer_fields(config))
  schedule = Schedule.from_config(config, data.num_train(config.data.test_fraction))

  def train(keys: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> TrainOutput:
    split = member_split(keys["split"], data, config.data.test_fraction)
    x_train, y_train, test_index = split.x_train, split.y_train, split.test_index
    test_batch = (split.x_test, split.y_test, jnp.ones(test_index.shape, jnp.float32))
    model = with_values(base_model, hparams["model"])
    params = model.init(keys["init"], x_train[:1])["params"]
    tx = optim.make_optimizer(config.optimizer.name, static, hparams["optimizer"])
    state = MemberState(params=params, opt_state=tx.init(params),
                        diverged=jnp.zeros((), bool))
    loss_fn = functools.partial(binary_cross_entropy, apply_fn=model.apply)
    state, diverged_epoch, train_loss, eval_loss = run_epochs(
        state, functools.partial(train_step, loss_fn=loss_fn, tx=tx), schedule, keys,
        lambda index, weight: (x_train[index], y_train[index], weight),
        lambda params: loss_fn(params, test_batch), on_epoch)
    logits = model.apply({"params": state.params}, test_batch[0])
    return TrainOutput(test_index=test_index, test_prob=jax.nn.sigmoid(logits),
                       train_loss=train_loss, eval_loss=eval_loss,
                       diverged=state.diverged, diverged_epoch=diverged_epoch)

  return train


def run_epochs(state: MemberState, step: Callable, schedule: Schedule,
               keys: Mapping[str, jax.Array], make_batch: Callable[[jax.Array, jax.Array], Batch],
               eval_loss: Callable[[Any], jax.Array],
               on_epoch: Callable[[jax.Array], None] | None = None):
  """The training loop: epochs and minibatches as nested `lax.scan`s.

  Args:
    state: the initial member state.
    step: `step(state, batch, dropout_key) -> (state, loss)`, e.g. `train_step`.
    schedule: static sizes.
    keys: the member's `order` and `dropout` keys.
    make_batch: `(row_index [batch], weights [batch]) -> batch`.
    eval_loss: `params -> loss` on held-out data, recorded after every epoch.
    on_epoch: a host callback given the epoch after each one (None: none).

  Returns:
    The final state, the epoch in which the member diverged (-1 if never), and
    the mean training loss and the held-out loss per epoch.
  """
  def run_epoch(carry, epoch):
    state, diverged_epoch = carry
    batch_index, weights = _epoch_batches(jax.random.fold_in(keys["order"], epoch), schedule)
    step_keys = jax.random.split(jax.random.fold_in(keys["dropout"], epoch),
                                 schedule.steps_per_epoch)

    def run_step(state, inputs):
      index, weight, key = inputs
      state, loss = step(state, make_batch(index, weight), key)
      return state, loss * jnp.sum(weight)

    new_state, weighted_losses = jax.lax.scan(run_step, state, (batch_index, weights, step_keys))
    diverged_epoch = jnp.where(new_state.diverged & ~state.diverged, epoch, diverged_epoch)
    train_loss = jnp.sum(weighted_losses) / schedule.num_train
    if on_epoch is not None:  # the epoch is not batched: one call per epoch, not per member
      jax.debug.callback(on_epoch, epoch)
    return (new_state, diverged_epoch), (train_loss, eval_loss(new_state.params))

  (state, diverged_epoch), (train_loss, held_out_loss) = jax.lax.scan(
      run_epoch, (state, jnp.array(-1, jnp.int32)), jnp.arange(schedule.epochs))
  return state, diverged_epoch, train_loss, held_out_loss


def _epoch_batches(key: jax.Array, schedule: Schedule) -> tuple[jax.Array, jax.Array]:
  """Row indices `[steps, batch]` and weights for one epoch.

  One permutation per epoch (sorting is slow on CPU, so never per step). The
  last batch is topped up with rows from the start of the permutation at
  weight zero, so every row counts once per epoch and shapes stay static.
  """
  n, size, steps = schedule.num_train, schedule.batch_size, schedule.steps_per_epoch
  if schedule.full_batch:
    return jnp.arange(n)[None], jnp.ones((1, n), jnp.float32)
  order = jax.random.permutation(key, n)
  padding = steps * size - n
  index = jnp.concatenate([order, order[:padding]])
  weights = jnp.concatenate([jnp.ones(n, jnp.float32), jnp.zeros(padding, jnp.float32)])
  return index.reshape(steps, size), weights.reshape(steps, size)

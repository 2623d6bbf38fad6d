"""The training loop every task shares: a pure step, epochs as scans, `make_train`.

`make_train(problem, model, optimizer, schedule) -> train(keys, hparams)`:
`train` trains one member from its keys and per-member float
hyperparameters, and everything it returns is an array, so
`jax.jit(jax.vmap(train))(keys, hparams)` trains every member at once and
returns arrays stacked with the member axis first. Epochs and minibatches are
`lax.scan`s. What differs between tasks (the member's data, the loss, what is
predicted) comes from the task's `Problem`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from research.errors import UserError
from research.optim import OptimizerSpec
from research.train.schedule import EpochBatches, Schedule, epoch_batches
from research.train.state import MemberState, guard, per_member

Batch = tuple[jax.Array, jax.Array, jax.Array]  # inputs, targets, weights (0 = padding)


class Problem(Protocol):
  """What a task gives the training loop (see `research.tasks.base.Task.problem`).

  Attributes:
    num_train: training examples per member (the size of an epoch).
    full_batch_only: every step sees the whole training part whatever the
      batch size (e.g. one sequence of days).
  """
  num_train: int
  full_batch_only: bool

  def member_data(self, keys: Mapping[str, jax.Array]) -> Any:
    """The member's own data (e.g. its split, preprocessed), from its keys; traced."""

  def init_input(self, member: Any) -> jax.Array:
    """An input batch of one example, to initialise the model's parameters."""

  def batch(self, member: Any, index: jax.Array, weights: jax.Array) -> Batch:
    """The training batch of rows `index` (`[batch]`) with `weights`."""

  def loss(self, params: Any, batch: Batch, dropout_key: jax.Array | None = None, *,
           model: nn.Module) -> jax.Array:
    """The training loss of `batch`; dropout is on when `dropout_key` is given."""

  def eval_loss(self, params: Any, member: Any, *, model: nn.Module) -> jax.Array:
    """The loss on the held-out part, recorded after every epoch."""

  def predict(self, params: Any, member: Any, *, model: nn.Module) -> dict[str, jax.Array]:
    """The member's test-set outputs, e.g. `{'test_logit': ..., 'test_index': ...}`."""


@flax.struct.dataclass
class TrainOutput:
  """One member's results (stacked over members after vmap).

  Attributes:
    predictions: the problem's test-set outputs (`Problem.predict`).
    train_loss: `[epochs]` mean training loss per epoch (dropout active).
    eval_loss: `[epochs]` held-out loss after each epoch.
    diverged: whether training stopped on a non-finite loss or update.
    diverged_epoch: the epoch in which it did, or -1.
  """
  predictions: dict[str, jax.Array]
  train_loss: jax.Array
  eval_loss: jax.Array
  diverged: jax.Array
  diverged_epoch: jax.Array


LOOP_OUTPUTS = ("train_loss", "eval_loss", "diverged", "diverged_epoch")


def flat_arrays(output: TrainOutput) -> dict[str, Any]:
  """`output` as one flat `{name: array}`: the predictions' names, then the loop's."""
  clash = set(output.predictions) & {*LOOP_OUTPUTS, "seconds"}
  if clash:
    raise ValueError(f"prediction names {sorted(clash)} are taken by the training loop")
  return {**output.predictions, **{name: getattr(output, name) for name in LOOP_OUTPUTS}}


LossFn = Callable[[Any, Batch, "jax.Array | None"], jax.Array]


def train_step(state: MemberState, batch: Batch, dropout_key: jax.Array, *,
               loss_fn: LossFn, tx: optax.GradientTransformationExtraArgs
               ) -> tuple[MemberState, jax.Array]:
  """One optimizer update on `batch`; returns the new state and the batch loss.

  `loss_fn(params, batch, dropout_key)` is the training loss. Nothing is
  checked here: `guard` checks each epoch's result (checking every step cost
  6-10% of an MLP's training).
  """
  batch_loss = lambda params: loss_fn(params, batch, dropout_key)
  loss, grads = jax.value_and_grad(batch_loss)(state.params)
  # value/grad/value_fn are used by line-search optimizers (L-BFGS), ignored by the rest.
  updates, opt_state = tx.update(grads, state.opt_state, state.params,
                                 value=loss, grad=grads, value_fn=batch_loss)
  return MemberState(params=optax.apply_updates(state.params, updates), opt_state=opt_state,
                     diverged=state.diverged), loss


def with_values(model: nn.Module, values: Mapping[str, jax.Array]) -> nn.Module:
  """`model` with some fields replaced by per-member (traced) values."""
  return model.clone(**values) if values else model


@flax.struct.dataclass
class MemberInputs:
  """What a member's training reads besides its keys and hyperparameters.

  Attributes:
    member: the member's own data (`Problem.member_data`).
    batches: every epoch's batches drawn ahead (`epoch_batches` stacked over
      epochs: `[epochs, steps, batch]` rows and weights, `[epochs, steps]`
      dropout keys), or None: each epoch draws its own inside the loop.
  """
  member: Any
  batches: EpochBatches | None = None


@dataclasses.dataclass(frozen=True)
class MemberTraining:
  """A pure `train(keys, hparams)` for one member, in two parts.

  `prepare(keys) -> MemberInputs` draws what does not depend on the
  model (the member's split and preprocessing, the epochs' batches);
  `fit(inputs, keys, hparams) -> TrainOutput` trains on it. Calling the
  object composes them, so it is a `train` like any other; a study compiles
  the parts as two programs (`research.train.prepared`), and buckets whose
  `shared` keys are equal share one compiled `prepare`: their programs then
  compile only what differs (a study of 18 architectures drew the same split
  and batches in 18 programs, about 30% of each one's compile time).

  Attributes:
    prepare_with: `prepare_with(draw_batches)` is the `prepare` drawing the
      batches ahead, or leaving them to the loop (they cost
      `batches_bytes` per member when drawn ahead).
    fit: trains a member from its `MemberInputs`.
    shared: equal for buckets whose `prepare` is the same function of the
      keys (same data, problem and schedule).
    batches_bytes: bytes of one member's batches drawn ahead (0: nothing to
      draw, e.g. full-batch training).
  """
  prepare_with: Callable[[bool], Callable[[Mapping[str, jax.Array]], MemberInputs]]
  fit: Callable[[MemberInputs, Mapping[str, jax.Array], Mapping[str, Any]], "TrainOutput"]
  shared: tuple
  batches_bytes: int

  def __call__(self, keys: Mapping[str, jax.Array], hparams: Mapping[str, Any]) -> TrainOutput:
    return self.fit(self.prepare_with(False)(keys), keys, hparams)


def make_train(problem: Problem, model: nn.Module, optimizer: OptimizerSpec,
               schedule: Schedule, on_epoch: Callable[[jax.Array], None] | None = None,
               shared: tuple = ()) -> MemberTraining:
  """Returns a pure `train(keys, hparams)` for one member (a `MemberTraining`).

  Args:
    problem: the task's data, loss and predictions (`Problem`).
    model: the Flax model, with its static fields.
    optimizer: the optimizer; its float fields come per member in `hparams`.
    schedule: epochs and batches.
    on_epoch: called on the host with the epoch number after every epoch
      (progress display); None traces no callback into the program.
    shared: what identifies `problem`'s member data (e.g. the data set and
      the loss options it was built with); with the schedule, it makes the
      `MemberTraining.shared` key.

  `keys` maps each stream in `seeding.STREAMS` to one key; `hparams` is
  `{'optimizer': {field: scalar}, 'model': {field: scalar}}`: the optimizer's
  float fields and the model's `value_fields` that a study varies.
  """
  def prepare_with(draw_batches: bool):
    def prepare(keys: Mapping[str, jax.Array]) -> MemberInputs:
      batches = jax.lax.map(functools.partial(epoch_batches, keys, schedule=schedule),
                            jnp.arange(schedule.epochs)) if draw_batches else None
      return MemberInputs(member=problem.member_data(keys), batches=batches)
    return prepare

  def fit(inputs: MemberInputs, keys: Mapping[str, jax.Array],
          hparams: Mapping[str, Any]) -> TrainOutput:
    member = inputs.member
    member_model = with_values(model, hparams["model"])
    params = member_model.init(keys["init"], problem.init_input(member))["params"]
    tx = optimizer.build(hparams["optimizer"])
    state = per_member(MemberState(params=params, opt_state=tx.init(params),
                                   diverged=jnp.zeros((), bool)), keys["init"])
    loss_fn = functools.partial(problem.loss, model=member_model)
    state, diverged_epoch, train_loss, eval_loss = run_epochs(
        state, functools.partial(train_step, loss_fn=loss_fn, tx=tx), schedule, keys,
        lambda index, weights: problem.batch(member, index, weights),
        lambda params: problem.eval_loss(params, member, model=member_model), on_epoch,
        inputs.batches)
    return TrainOutput(predictions=problem.predict(state.params, member, model=member_model),
                       train_loss=train_loss, eval_loss=eval_loss, diverged=state.diverged,
                       diverged_epoch=diverged_epoch)

  drawn = 0 if schedule.full_batch else (  # rows and weights, and a dropout key per step
      schedule.epochs * schedule.steps_per_epoch * (schedule.batch_size * 8 + 8))
  return MemberTraining(prepare_with=prepare_with, fit=fit, shared=(shared, schedule),
                        batches_bytes=drawn)


def run_epochs(state: MemberState, step: Callable, schedule: Schedule,
               keys: Mapping[str, jax.Array], make_batch: Callable[[jax.Array, jax.Array], Batch],
               eval_loss: Callable[[Any], jax.Array],
               on_epoch: Callable[[jax.Array], None] | None = None,
               batches: EpochBatches | None = None):
  """The training loop: epochs and minibatches as nested `lax.scan`s.

  Args:
    state: the initial member state.
    step: `step(state, batch, dropout_key) -> (state, loss)`, e.g. `train_step`; each
      epoch's result is checked by `guard`.
    schedule: static sizes.
    keys: the member's keys (`order` and `dropout` draw its batches; `init` marks the
      carry as the member's own, `per_member`).
    make_batch: `(row_index [batch], weights [batch]) -> batch`.
    eval_loss: `params -> loss` on held-out data, recorded after every epoch.
    on_epoch: a host callback given the epoch after each one (None: none).
    batches: every epoch's batches drawn ahead (`MemberInputs.batches`), or
      None to draw each epoch's in the loop (`epoch_batches`; the same values).

  Returns:
    The final state, the epoch in which the member diverged (-1 if never), and
    the mean training loss and the held-out loss per epoch (NaN where
    `schedule.eval_every` skips it).
  """
  def run_epoch(carry, inputs):
    state, diverged_epoch = carry
    epoch, drawn = inputs
    batch_index, weights, step_keys = (
        drawn if drawn is not None else epoch_batches(keys, epoch, schedule=schedule))

    def run_step(state, inputs):
      index, weight, key = inputs
      state, loss = step(state, make_batch(index, weight), key)
      return state, loss * jnp.sum(weight)

    new_state, weighted_losses = jax.lax.scan(run_step, state, (batch_index, weights, step_keys))
    train_loss = jnp.sum(weighted_losses) / schedule.num_train
    new_state = guard(state, new_state, train_loss)
    diverged_epoch = jnp.where(new_state.diverged & ~state.diverged, epoch, diverged_epoch)
    if on_epoch is not None:  # the epoch is not batched: one call per epoch, not per member
      jax.debug.callback(on_epoch, epoch)
    # The epoch is not batched either, so the cond stays a branch under vmap.
    evaluate = ((epoch + 1) % schedule.eval_every == 0) | (epoch == schedule.epochs - 1)
    held_out = jax.lax.cond(evaluate, eval_loss,
                            lambda params: jnp.full((), jnp.nan, train_loss.dtype),
                            new_state.params)
    return (new_state, diverged_epoch), (train_loss, held_out)

  (state, diverged_epoch), (train_loss, held_out_loss) = jax.lax.scan(
      run_epoch, (state, per_member(jnp.array(-1, jnp.int32), keys["init"])),
      (jnp.arange(schedule.epochs), batches))
  return state, diverged_epoch, train_loss, held_out_loss

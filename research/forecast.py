"""Forecasting with recurrent networks: `make_forecast_train` and its output.

The same pure-function shape as `train.make_train`: `train(keys, hparams)`
trains one member and returns arrays, vmapped over members by the caller. The
loss is the mean squared error in scaled units plus the model's L1/L2
penalties on its output kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from research import metrics, optim
from research.data.series import SeriesData
from research.errors import UserError
from research.models.dropout import is_concrete
from research.registry import MODELS
from research.train import (Batch, MemberState, Schedule, optimizer_fields, run_epochs,
                            with_values,
                            train_step)


@flax.struct.dataclass
class ForecastOutput:
  """One member's results (stacked over members after vmap).

  Attributes:
    test_pred: `[test examples, outputs]` predictions in scaled units.
    train_loss: `[epochs]` training loss (MSE + penalties) per epoch.
    eval_loss: `[epochs]` test MSE after each epoch.
    diverged: whether training stopped on a non-finite loss or update.
    diverged_epoch: the epoch in which it did, or -1.
  """
  test_pred: jax.Array
  train_loss: jax.Array
  eval_loss: jax.Array
  diverged: jax.Array
  diverged_epoch: jax.Array


def build_sequence_model(fields: Mapping[str, Any], data: SeriesData):
  """The recurrent model named by `fields['name']`, shaped for `data`."""
  fields = dict(fields)
  name = fields.pop("name", None)
  factory = MODELS.get(name)
  if not getattr(factory, "sequence_model", False):
    raise UserError(f"model {name!r} is not a sequence model; forecasting needs one of "
                    f"{', '.join(n for n in MODELS.names() if getattr(MODELS.get(n), 'sequence_model', False))}")
  for shaped in ("outputs", "many_to_many"):
    if shaped in fields:
      raise UserError(f"model field {shaped!r} follows from the data; remove it from the config")
  try:
    return factory(outputs=data.num_outputs, many_to_many=data.many_to_many, **fields)
  except TypeError as e:
    raise UserError(f"model {name!r}: {e}; fix its config") from None


def squared_error(params, batch: Batch, dropout_key: jax.Array | None = None, *, model,
                  penalize: bool = True) -> jax.Array:
  """Weighted mean squared error (+ the output kernel's L1/L2 penalties)."""
  inputs, targets, weights = batch
  train = dropout_key is not None
  pred = model.apply({"params": params}, inputs, train=train,
                     rngs={"dropout": dropout_key} if train else None)
  per_example = jnp.mean((pred - targets) ** 2, axis=-1)
  loss = jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)
  if penalize and not all(is_concrete(v) and v == 0 for v in (model.l1, model.l2)):
    kernel = params["output"]["kernel"]
    loss = loss + model.l1 * jnp.sum(jnp.abs(kernel)) + model.l2 * jnp.sum(kernel ** 2)
  return loss


def make_forecast_train(config: ml_collections.ConfigDict, model_fields: Mapping[str, Any],
                        data: SeriesData, on_epoch: Callable[[jax.Array], None] | None = None
                        ) -> Callable[[Mapping, Mapping], ForecastOutput]:
  """Returns a pure `train(keys, hparams)` for one member of one model (see `make_train`)."""
  base_model = build_sequence_model(model_fields, data)
  static, _ = optim.split_hyperparameters(config.optimizer.name, optimizer_fields(config))
  values, targets = jnp.asarray(data.values), jnp.asarray(data.targets)
  num_test = data.num_test
  if data.many_to_many:  # one sequence of days; the loss sees the training days only
    schedule = Schedule(num_train=1, batch_size=1, steps_per_epoch=1,
                        epochs=config.train.epochs, full_batch=True)
    days = jnp.arange(data.targets.shape[0])
    train_batch = (values[None], targets[None], (days < data.train_count)[None] * 1.0)
    test_batch = (values[None], targets[None], (days >= data.test_start)[None] * 1.0)
    make_batch = lambda index, weight: train_batch
    predict_test = lambda model, params: model.apply({"params": params}, values[None])[0,
                                                                              data.test_start:]
  else:
    schedule = Schedule.from_config(config, data.train_count)
    offsets = jnp.arange(data.window)
    windows = lambda index: values[index[..., None] + offsets][..., None]
    test_index = data.test_start + jnp.arange(num_test)
    test_batch = (windows(test_index), targets[test_index], jnp.ones(num_test))
    make_batch = lambda index, weight: (windows(index), targets[index], weight)
    predict_test = lambda model, params: model.apply({"params": params}, test_batch[0])

  def train(keys: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> ForecastOutput:
    model = with_values(base_model, hparams["model"])
    params = model.init(keys["init"], test_batch[0][:1])["params"]
    tx = optim.make_optimizer(config.optimizer.name, static, hparams["optimizer"])
    state = MemberState(params=params, opt_state=tx.init(params),
                        diverged=jnp.zeros((), bool))
    loss_fn = functools.partial(squared_error, model=model)
    state, diverged_epoch, train_loss, eval_loss = run_epochs(
        state, functools.partial(train_step, loss_fn=loss_fn, tx=tx), schedule, keys,
        make_batch, lambda params: squared_error(params, test_batch, model=model,
                                                 penalize=False), on_epoch)
    return ForecastOutput(test_pred=predict_test(model, state.params), train_loss=train_loss,
                          eval_loss=eval_loss, diverged=state.diverged,
                          diverged_epoch=diverged_epoch)

  return train


def forecast_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
  """Every metric in `metrics.FORECAST`, in data units."""
  return {name: fn(actual, predicted) for name, fn in metrics.FORECAST.items()}

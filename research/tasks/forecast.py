"""Forecasting a series with recurrent networks: the `forecast` task.

The split is chronological and the same for every member; members differ in
initialisation, data order and dropout. Two shapes of problem (see
`research.data.series`): windows of past values -> the next `horizon` values,
and day profiles (many-to-many over days, the recurrent state carried from day
to day). The loss is the mean squared error in scaled units plus the model's
L1/L2 penalties on its output kernel; metrics are in data units.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from research import inference, metrics, results
from research.metrics import FORECAST
from research.data.series import SeriesData, load_series
from research.data.windows import window_rows
from research.errors import UserError
from research.models.dropout import is_concrete
from research.registry import BASELINES, MODELS, TASKS
from research.tasks.base import Arrays, BaselineMembers, Task
from research.train.loop import Batch


LOSSES = ("mse", "mae", "huber")
# Wind forecasters' metrics: MAE and RMSE as a share of capacity, and the skill
# against persistence (1 - RMSE / RMSE of persistence; higher is better).
SHARE_METRICS = ("nmae", "nrmse", "skill")
HORIZON_METRICS = ("mae", "rmse", "nmae", "nrmse", "skill", "r2")  # also per step of data.horizons
HIGHER_IS_BETTER = ("r2", "skill")


def series_scores(actual: np.ndarray, predicted: np.ndarray, persistence: np.ndarray,
                  data: SeriesData) -> dict[str, float]:
  """Every metric of one member's forecasts (`[examples, outputs]`, data units)."""
  scores = metrics.forecast_metrics(actual, predicted, data.mape_floor)
  scores.update(_shares(actual, predicted, persistence, data.capacity))
  for h in data.horizons:
    step = {**_shares(actual[:, h - 1], predicted[:, h - 1], persistence[:, h - 1], data.capacity),
            "r2": metrics.r2(actual[:, h - 1], predicted[:, h - 1])}
    scores.update({f"{name}_h{h}": step[name] for name in HORIZON_METRICS})
  return scores


def _shares(actual, predicted, persistence, capacity: float) -> dict[str, float]:
  mae, rmse = metrics.mae(actual, predicted), metrics.rmse(actual, predicted)
  return {"mae": mae, "rmse": rmse, "nmae": 100 * mae / capacity, "nrmse": 100 * rmse / capacity,
          "skill": 1 - rmse / metrics.rmse(actual, persistence)}


def regression_loss(params, batch: Batch, dropout_key: jax.Array | None = None, *, model,
                    loss: str = "mse", huber_delta: float = 1.0,
                    penalize: bool = True) -> jax.Array:
  """Weighted mean loss over examples (+ the output kernel's L1/L2 penalties).

  `loss`: 'mse' (squared error), 'mae' (absolute error) or 'huber' (squared
  within `huber_delta` of the target, linear beyond: Keras' `Huber`), each
  averaged over an example's outputs.
  """
  inputs, targets, weights = batch
  train = dropout_key is not None
  pred = model.apply({"params": params}, inputs, train=train,
                     rngs={"dropout": dropout_key} if train else None)
  if loss == "mae":
    errors = jnp.abs(pred - targets)
  elif loss == "huber":
    errors = optax.losses.huber_loss(pred, targets, delta=huber_delta)
  else:
    errors = (pred - targets) ** 2
  per_example = jnp.mean(errors, axis=-1)
  total = jnp.sum(per_example * weights) / jnp.maximum(jnp.sum(weights), 1.0)
  if penalize and not all(is_concrete(v) and v == 0 for v in (model.l1, model.l2)):
    kernel = params["output"]["kernel"]
    total = total + model.l1 * jnp.sum(jnp.abs(kernel)) + model.l2 * jnp.sum(kernel ** 2)
  return total


class SeriesProblem:
  """The training loop's view of a forecasting member (`research.train.loop.Problem`).

  Windows: each example is a window of past steps (`[window (+ ahead), channels]`), batched
  by index. Day profiles: the whole sequence of days is one example, so every
  step is full batch and the loss is weighted to the training days.
  """

  def __init__(self, data: SeriesData, loss: str = "mse", huber_delta: float = 1.0):
    self.loss_fn = functools.partial(regression_loss, loss=loss, huber_delta=huber_delta)
    values, targets = jnp.asarray(data.values), jnp.asarray(data.targets)
    self.test_start, self.val_start = data.test_start, data.train_count
    self.full_batch_only = data.many_to_many
    if data.many_to_many:
      self.num_train = 1
      days = np.arange(data.targets.shape[0])
      trained = jnp.asarray((days < data.train_count) & data.usable)
      tested = jnp.asarray((days >= data.test_start) & data.usable)
      self.train_batch = (values[None], targets[None], trained[None] * 1.0)
      self.test_batch = (values[None], targets[None], tested[None] * 1.0)
      self.windows = None
    else:
      self.num_train = data.train_count
      features, first = jnp.asarray(data.features), jnp.asarray(data.starts - data.window)
      self.windows = lambda index: window_rows(features, first[index], data.window, data.ahead,
                                               data.future_channels, jnp)
      self.targets = targets
      test_index = data.test_start + jnp.arange(data.num_test)
      self.test_batch = (self.windows(test_index), targets[test_index], jnp.ones(data.num_test))
      self.val_inputs = self.windows(jnp.arange(data.train_count, data.test_start))

  def member_data(self, keys: Mapping[str, jax.Array]) -> None:
    del keys  # every member sees the same series

  def init_input(self, member: None) -> jax.Array:
    return self.test_batch[0][:1]

  def batch(self, member: None, index: jax.Array, weights: jax.Array) -> Batch:
    if self.windows is None:
      return self.train_batch
    return self.windows(index), self.targets[index], weights

  def loss(self, params, batch: Batch, dropout_key: jax.Array | None = None, *,
           model) -> jax.Array:
    return self.loss_fn(params, batch, dropout_key, model=model)

  def eval_loss(self, params, member: None, *, model) -> jax.Array:
    return self.loss_fn(params, self.test_batch, model=model, penalize=False)

  def predict(self, params, member: None, *, model) -> dict[str, jax.Array]:
    held_out = self.test_start > self.val_start
    if self.windows is None:
      days = model.apply({"params": params}, self.test_batch[0])[0]
      return {"test_pred": days[self.test_start:],
              **({"val_pred": days[self.val_start:self.test_start]} if held_out else {})}
    return {"test_pred": model.apply({"params": params}, self.test_batch[0]),
            **({"val_pred": model.apply({"params": params}, self.val_inputs)} if held_out
               else {})}


def period_block_length(data: SeriesData) -> int:
  """Bootstrap blocks of whole days of test examples (at least n**(1/3) of them)."""
  count = int(data.scored().sum())
  times = pd.to_datetime(pd.Series(data.times()[:, 0]), errors="coerce")
  per_day = 1
  if times.notna().all() and count > 1:
    step = times.diff().dropna().median()
    per_day = max(1, int(round(pd.Timedelta(days=1) / step))) if step > pd.Timedelta(0) else 1
  return int(min(max(per_day, int(np.ceil(count ** (1 / 3)))), max(1, count // 2)))


@TASKS.register("forecast")
class Forecast(Task):
  """Forecasting a series: windows or day profiles, chronological split, data units."""
  metrics = (*FORECAST, *SHARE_METRICS)
  lower_is_better = frozenset(set(FORECAST + SHARE_METRICS) - set(HIGHER_IS_BETTER))
  model_input = "sequence"
  data_fields = {"train_fraction": float}
  losses = LOSSES
  loss_name = "MSE (standardised units²)"
  files = (results.FORECASTS_FILE,)

  def load(self, data: Mapping[str, Any], validation: float = 0.0) -> SeriesData:
    return load_series(data, validation)

  def describe(self, data: SeriesData) -> dict[str, Any]:
    ahead = f" and {data.ahead} steps ahead" if data.ahead else ""
    shape = (f"day profiles (a day's {data.values.shape[1]} inputs -> its 24 hours)"
             if data.many_to_many else
             f"windows of {data.window} past steps{ahead}, {data.features.shape[1]} "
             f"input(s) per step")
    return {"source": data.source, "examples": int(len(data.targets)),
            "train_examples": data.train_count, "outputs": data.num_outputs,
            "scale_mean": data.mean, "scale_std": data.std, "mape_floor": data.mape_floor,
            "mape_excluded": int(np.sum(~(np.abs(data.actual()) >= max(
                data.mape_floor, np.finfo(np.float64).tiny)))),
            "scored_values": int(data.actual().size), "inputs": list(data.inputs),
            "covariate_scaling": {k: list(v) for k, v in data.covariate_scaling.items()},
            "summary": f"{data.source}: {len(data.targets)} examples ({data.train_count} "
                       f"train, then test), {data.num_outputs} output(s) each; {shape}"}

  def build_model(self, name: str, fields: Mapping[str, Any], data: SeriesData) -> nn.Module:
    for shaped in ("outputs", "many_to_many"):
      if shaped in fields:
        raise UserError(f"model field {shaped!r} follows from the data; remove it from the config")
    try:
      return MODELS.get(name)(outputs=data.num_outputs, many_to_many=data.many_to_many, **fields)
    except TypeError as e:
      raise UserError(f"model {name!r}: {e}; fix its config") from None

  def problem(self, data: SeriesData, loss: str = "mse", huber_delta: float = 1.0
              ) -> SeriesProblem:
    return SeriesProblem(data, loss, huber_delta)

  def loss_label(self, data: SeriesData, loss: str) -> str:
    units = "standardised units" if data.scaled else "data units"
    return {"mae": f"MAE ({units})", "huber": f"Huber loss ({units})"}.get(
        loss, f"MSE ({units}²)")

  def host_predictions(self, predictions: Arrays, data: SeriesData) -> Arrays:
    return {f"{part}_pred": data.scored_rows(predictions[f"{part}_pred"] * data.std + data.mean,
                                             part)
            for part in ("test", "val") if f"{part}_pred" in predictions}

  def scores(self, data: SeriesData) -> tuple[tuple[str, ...], frozenset[str]]:
    names = (*self.metrics, *(f"{m}_h{h}" for h in data.horizons for m in HORIZON_METRICS))
    return names, frozenset(n for n in names if n.split("_h")[0] not in HIGHER_IS_BETTER)

  def metric_rows(self, predictions: Arrays, data: SeriesData, part: str = "test"
                  ) -> pd.DataFrame:
    actual, persistence = data.actual(part), data.persistence(part)
    return pd.DataFrame([series_scores(actual, pred, persistence, data)
                         for pred in predictions[f"{part}_pred"]])

  def fit_baseline(self, name: str, options: Mapping[str, Any], data: SeriesData,
                   members: BaselineMembers) -> Arrays:
    inputs, trained = data.example_inputs(), data.usable[:data.train_count]
    train_x, train_y = inputs[:data.train_count][trained], data.targets[:data.train_count][trained]
    test_x = inputs[data.test_start:]
    predictions, seconds = [], []
    for random_state in members.random_states:
      start = time.perf_counter()
      estimator = BASELINES.get(name)(random_state=int(random_state), **options)
      estimator.fit(train_x, train_y)
      seconds.append(time.perf_counter() - start)
      predictions.append(estimator.predict(test_x).reshape(data.num_test, data.num_outputs))
    return {"test_pred": data.scored_rows(np.stack(predictions) * data.std + data.mean),
            "seconds": np.array(seconds)}

  def fixed_baselines(self, data: SeriesData) -> dict[str, Arrays]:
    return {name: {"test_pred": data.scored_rows(forecast[None])}
            for name, forecast in data.baselines.items()}

  def period_comparison(self, networks: Mapping[str, Arrays], fixed: Mapping[str, Arrays],
                        data: SeriesData, seed: int) -> pd.DataFrame | None:
    """Each network (its loss averaged over its seeds, a random seed's expected loss)
    against each fixed baseline, example by example over the test period: the
    Diebold-Mariano test with the Harvey-Leybourne-Newbold correction, and a
    circular block bootstrap of the mean loss difference with blocks of whole days."""
    actual, block = data.actual(), period_block_length(data)
    horizon = 1 if data.many_to_many else data.num_outputs  # steps between overlapping errors
    rows = []
    for label, arrays in networks.items():
      for base, base_arrays in fixed.items():
        for loss, power in (("absolute", 1), ("squared", 2)):
          net_loss = np.mean(np.abs(arrays["test_pred"] - actual) ** power, axis=(0, 2))
          base_loss = np.mean(np.abs(base_arrays["test_pred"][0] - actual) ** power, axis=1)
          d = net_loss - base_loss
          low, high = inference.block_bootstrap_interval(d, block, seed=seed)
          statistic, p_value = inference.diebold_mariano_differential(d, horizon)
          rows.append({"model_a": label, "model_b": base, "loss": loss,
                       "mean_diff": float(d.mean()), "ci_low": low, "ci_high": high,
                       "block_length": block,
                       "bootstrap_p": inference.block_bootstrap_p(d, block, seed=seed),
                       "dm_stat": statistic, "dm_p": p_value, "n": int(d.size)})
    return pd.DataFrame(rows, columns=results.PERIOD_COLUMNS)

  def write_files(self, workdir: str, predictions: Mapping[str, tuple[np.ndarray, Arrays]],
                  data: SeriesData) -> None:
    actual = data.actual()
    times = data.times()
    steps = np.broadcast_to(np.arange(1, actual.shape[1] + 1), actual.shape)
    if data.many_to_many:
      steps = np.ones_like(steps)  # each hour is its own target, one day ahead
    # A long multi-step forecast keeps only the scored steps (`data.horizons`): every
    # step of every window would repeat each value `horizon` times.
    kept = (np.isin(steps, data.horizons) if data.horizons and not data.many_to_many
            else np.ones(steps.shape, bool))
    table = pd.concat([pd.DataFrame({
        "model": label, "timestamp": times[kept], "horizon_step": steps[kept],
        "actual": actual[kept], "mean": arrays["test_pred"].mean(0)[kept],
        "min": arrays["test_pred"].min(0)[kept], "max": arrays["test_pred"].max(0)[kept]})
        for label, (_, arrays) in predictions.items()], ignore_index=True)
    results.write_csv(os.path.join(workdir, results.FORECASTS_FILE), table)

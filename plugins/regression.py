"""Example plugin: a third task (regression on a table), a model and a baseline.

Everything a new kind of study needs, in one file: the task fills the
interface of `research.tasks.base.Task` and the shared pipeline does the rest
(seeds, compiled members, resumable chunks, statistics, the report). Its
config is configs/regression.py (concrete strength from R's modeldata package):

  python launch.py --config=configs/regression.py
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from research import results
from research.data import encode_features, fit_preprocessor, get_loader
from research.errors import UserError
from research.registry import BASELINES, MODELS, TASKS
from research.tasks.base import Arrays, BaselineMembers, Task


@MODELS.register("linear", input="tabular")
class Linear(nn.Module):
  """A linear model, `x w + b`, trained by gradient descent like any network."""

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    del train  # no dropout
    return nn.Dense(1)(x)[..., 0]


@BASELINES.register("ridge", task="regression")
def ridge(random_state: int, alpha: float = 1.0):
  """L2-regularised least squares (scikit-learn's Ridge)."""
  # Imported here, as research.baselines does: a launch that fits no baseline skips it.
  from sklearn.linear_model import Ridge  # pylint: disable=import-outside-toplevel
  del random_state  # deterministic
  return Ridge(alpha=alpha)


@flax.struct.dataclass
class Split:
  """One member's random split, features standardised on its training rows."""
  x_train: jax.Array
  y_train: jax.Array
  x_test: jax.Array
  test_index: jax.Array
  y_mean: jax.Array
  y_scale: jax.Array


class Table:
  """The encoded table: features, target, and the test share of each member's split."""

  def __init__(self, features, target, numeric, test_fraction, source):
    self.features, self.target, self.numeric = features, target, numeric
    self.source = source
    self.num_test = int(round(len(target) * test_fraction))
    self.num_train = len(target) - self.num_test

  def split(self, key: jax.Array) -> Split:
    """The split drawn from `key`; the networks and the baselines both call this."""
    order = jax.random.permutation(key, len(self.target))
    train, test = jnp.sort(order[self.num_test:]), jnp.sort(order[:self.num_test])
    features, target = jnp.asarray(self.features), jnp.asarray(self.target)
    preprocess = fit_preprocessor(features[train], self.numeric)
    y_mean, y_scale = target[train].mean(), target[train].std()
    return Split(x_train=preprocess(features[train]), y_train=(target[train] - y_mean) / y_scale,
                 x_test=preprocess(features[test]), test_index=test, y_mean=y_mean,
                 y_scale=y_scale)


class Problem:
  """The training loop's view of a member (`research.train.loop.Problem`)."""
  full_batch_only = False

  def __init__(self, table: Table):
    self.table, self.num_train = table, table.num_train

  def member_data(self, keys):
    return self.table.split(keys["split"])

  def init_input(self, member):
    return member.x_train[:1]

  def batch(self, member, index, weights):
    return member.x_train[index], member.y_train[index], weights

  def loss(self, params, batch, dropout_key=None, *, model):
    x, y, weights = batch
    train = dropout_key is not None
    pred = model.apply({"params": params}, x, train=train,
                       rngs={"dropout": dropout_key} if train else None)
    return jnp.sum((pred - y) ** 2 * weights) / jnp.maximum(jnp.sum(weights), 1.0)

  def eval_loss(self, params, member, *, model):
    y = (jnp.asarray(self.table.target)[member.test_index] - member.y_mean) / member.y_scale
    return self.loss(params, (member.x_test, y, jnp.ones_like(y)), model=model)

  def predict(self, params, member, *, model):
    pred = model.apply({"params": params}, member.x_test) * member.y_scale + member.y_mean
    return {"test_index": member.test_index, "test_pred": pred}


@TASKS.register("regression")
class Regression(Task):
  """A numeric target from a table's other columns; each member draws its own split."""
  metrics = ("rmse", "mae", "r2")
  lower_is_better = frozenset({"rmse", "mae"})
  model_input = "tabular"
  data_fields = {"test_fraction": float}
  loss_name = "MSE (standardised target²)"

  def load(self, data: Mapping[str, Any]) -> Table:
    frame = get_loader(data["name"])(**data)
    source, target = data.get("path") or data["name"], data["target"]
    if target not in frame.columns or not pd.api.types.is_numeric_dtype(frame[target]):
      raise UserError(f"data.target {target!r} must be a numeric column of {source}")
    features, _, numeric = encode_features(frame.drop(columns=[target]), source=source,
                                           drop=tuple(data["drop"]),
                                           max_categories=data["max_categories"])
    return Table(features, frame[target].to_numpy(np.float32), numeric,
                 data["test_fraction"], source)

  def describe(self, data: Table) -> dict[str, Any]:
    return {"source": data.source, "rows": len(data.target),
            "summary": f"{data.source}: {len(data.target)} rows, {data.num_test} test rows "
                       "per seed"}

  def problem(self, data: Table) -> Problem:
    return Problem(data)

  def metric_rows(self, predictions: Arrays, data: Table) -> pd.DataFrame:
    rows = []
    for index, pred in zip(predictions["test_index"], predictions["test_pred"]):
      actual, error = data.target[index].astype(np.float64), pred - data.target[index]
      rows.append({"rmse": float(np.sqrt(np.mean(error ** 2))),
                   "mae": float(np.mean(np.abs(error))),
                   "r2": float(1 - np.sum(error ** 2) / np.sum((actual - actual.mean()) ** 2))})
    return pd.DataFrame(rows)

  def fit_baseline(self, name: str, options: Mapping[str, Any], data: Table,
                   members: BaselineMembers) -> Arrays:
    splits = jax.device_get(jax.jit(jax.vmap(data.split))(members.split_keys))
    predictions, seconds = [], []
    for member, random_state in enumerate(members.random_states):
      start = time.perf_counter()
      estimator = BASELINES.get(name)(random_state=int(random_state), **options)
      estimator.fit(splits.x_train[member], splits.y_train[member])
      seconds.append(time.perf_counter() - start)
      predictions.append(estimator.predict(splits.x_test[member]) * splits.y_scale[member]
                         + splits.y_mean[member])
    return {"test_index": np.asarray(splits.test_index), "test_pred": np.stack(predictions),
            "seconds": np.array(seconds)}

  def write_files(self, workdir: str, predictions: Mapping[str, tuple[np.ndarray, Arrays]],
                  data: Table) -> None:
    frames = [pd.DataFrame({"model": label, "seed": np.repeat(seeds, arrays["test_index"].shape[1]),
                            "row": arrays["test_index"].ravel(),
                            "actual": data.target[arrays["test_index"]].ravel(),
                            "pred": arrays["test_pred"].ravel()})
              for label, (seeds, arrays) in predictions.items()]
    results.write_csv(os.path.join(workdir, "predictions.csv"), pd.concat(frames, ignore_index=True))

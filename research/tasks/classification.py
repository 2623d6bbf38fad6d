"""Binary classification of a table (credit scoring): the `classification` task.

Every member draws its own stratified train/test split from its `split` key
inside the compiled run and fits its preprocessing on its training rows
(`member_split`); the classical baselines are fitted on exactly the same rows,
which they get from the same function on the host.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import joblib
import numpy as np
import optax
import pandas as pd
import threadpoolctl
from absl import logging
from scipy.special import expit

from research import metrics, results
from research.metrics import CLASSIFICATION
from research.data import TabularData, encode_table, fit_preprocessor, get_loader, stratified_split
from research.registry import BASELINES, TASKS
from research.tasks.base import Arrays, BaselineMembers, Task
from research.train.loop import Batch


@dataclasses.dataclass(frozen=True)
class ClassificationData:
  """The encoded table and how members split it.

  Attributes:
    table: the encoded table, shared by all members.
    test_fraction: the stratified test share of every member's split.
    source: where the table came from, for messages and the report.
    validation_fraction: the share of a member's training rows held out (stratified)
      to select a study's trial on; 0 for none.
  """
  table: TabularData
  test_fraction: float
  source: str
  validation_fraction: float = 0.0

  @property
  def num_train(self) -> int:
    return self.table.num_train(self.test_fraction, self.validation_fraction)


@flax.struct.dataclass
class MemberSplit:
  """One member's preprocessed split (see `member_split`); `x_val`, `y_val` and
  `val_index` are None without a validation part."""
  x_train: jax.Array
  y_train: jax.Array
  x_test: jax.Array
  y_test: jax.Array
  test_index: jax.Array
  x_val: jax.Array | None = None
  y_val: jax.Array | None = None
  val_index: jax.Array | None = None


def member_split(split_key: jax.Array, data: TabularData, test_fraction: float,
                 validation_fraction: float = 0.0) -> MemberSplit:
  """The stratified split drawn from `split_key`, preprocessed as fitted on its train rows.

  The one definition of a member's data: networks call it inside the compiled
  run and classical baselines call it on the host, so both see the same rows.
  With `validation_fraction`, that share of the training rows (per class) is
  held out as a validation part, drawn from a key of its own.
  """
  features, labels = jnp.asarray(data.features), jnp.asarray(data.labels)
  test_counts = data.test_counts(test_fraction)
  train_index, test_index = stratified_split(split_key, data.labels, test_counts)
  val_index = None
  if validation_fraction > 0:
    num_negative = int(np.sum(data.labels == 0)) - test_counts[0]
    kept, held_out = stratified_split(
        jax.random.fold_in(split_key, 1), labels[train_index],
        data.validation_counts(test_fraction, validation_fraction), num_negative)
    train_index, val_index = train_index[kept], train_index[held_out]
  preprocess = fit_preprocessor(features[train_index], data.numeric, data.missing)
  validation = {} if val_index is None else {
      "x_val": preprocess(features[val_index]), "y_val": labels[val_index],
      "val_index": val_index}
  return MemberSplit(x_train=preprocess(features[train_index]), y_train=labels[train_index],
                     x_test=preprocess(features[test_index]), y_test=labels[test_index],
                     test_index=test_index, **validation)


def binary_cross_entropy(params, batch: Batch, dropout_key: jax.Array | None = None, *,
                         model) -> jax.Array:
  """Weighted mean sigmoid cross-entropy; weights mask padded examples."""
  features, labels, weights = batch
  train = dropout_key is not None
  logits = model.apply({"params": params}, features, train=train,
                       rngs={"dropout": dropout_key} if train else None)
  losses = optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype))
  return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)


class TabularProblem:
  """The training loop's view of a classification member (`research.train.loop.Problem`)."""
  full_batch_only = False

  def __init__(self, data: ClassificationData):
    self.data = data
    self.num_train = data.num_train

  def member_data(self, keys: Mapping[str, jax.Array]) -> MemberSplit:
    return member_split(keys["split"], self.data.table, self.data.test_fraction,
                        self.data.validation_fraction)

  def init_input(self, member: MemberSplit) -> jax.Array:
    return member.x_train[:1]

  def batch(self, member: MemberSplit, index: jax.Array, weights: jax.Array) -> Batch:
    return member.x_train[index], member.y_train[index], weights

  def loss(self, params, batch: Batch, dropout_key: jax.Array | None = None, *,
           model) -> jax.Array:
    return binary_cross_entropy(params, batch, dropout_key, model=model)

  def eval_loss(self, params, member: MemberSplit, *, model) -> jax.Array:
    weights = jnp.ones(member.test_index.shape, jnp.float32)
    return binary_cross_entropy(params, (member.x_test, member.y_test, weights), model=model)

  def predict(self, params, member: MemberSplit, *, model) -> dict[str, jax.Array]:
    outputs = {"test_index": member.test_index,
               "test_logit": model.apply({"params": params}, member.x_test)}
    if member.val_index is not None:
      outputs.update(val_index=member.val_index,
                     val_logit=model.apply({"params": params}, member.x_val))
    return outputs


@TASKS.register("classification")
class Classification(Task):
  """Binary classification of a table, scored on each member's own test split."""
  metrics = tuple(CLASSIFICATION)
  lower_is_better = frozenset({"log_loss", "brier"})
  model_input = "tabular"
  data_fields = {"test_fraction": float}
  loss_name = "binary cross-entropy (nats)"
  files = (results.PREDICTIONS_FILE,)

  def load(self, data: Mapping[str, Any], validation: float = 0.0) -> ClassificationData:
    frame = get_loader(data["name"])(**data)
    source = data.get("path") or data["name"]
    table = encode_table(frame, source=source, target=data["target"],
                         positive=data["positive"], drop=tuple(data["drop"]),
                         max_categories=data["max_categories"])
    table.test_counts(data["test_fraction"])  # checks the fraction and the class sizes
    table.validation_counts(data["test_fraction"], validation)
    logging.info("Data %s: %d rows, %d features, %.1f%% positive (%r)", source,
                 table.num_examples, len(table.feature_names), 100 * table.labels.mean(),
                 table.positive)
    return ClassificationData(table=table, test_fraction=data["test_fraction"], source=source,
                              validation_fraction=validation)

  def describe(self, data: ClassificationData) -> dict[str, Any]:
    table = data.table
    return {"source": data.source, "rows": table.num_examples,
            "features": list(table.feature_names), "positive": table.positive,
            "summary": f"{data.source}: {table.num_examples} rows, {len(table.feature_names)} "
                       f"encoded features, positive class {table.positive!r}, test fraction "
                       f"{data.test_fraction} per seed"}

  def problem(self, data: ClassificationData) -> TabularProblem:
    return TabularProblem(data)

  def host_predictions(self, predictions: Arrays, data: ClassificationData) -> Arrays:
    # Probabilities in float64: a float32 sigmoid rounds to 1 above a logit of 17,
    # which ties the most confident examples and caps the log loss.
    probs = {f"{part}_prob": expit(predictions[f"{part}_logit"].astype(np.float64))
             for part in ("test", "val") if f"{part}_logit" in predictions}
    return {**predictions, **probs}

  def metric_rows(self, predictions: Arrays, data: ClassificationData,
                  part: str = "test") -> pd.DataFrame:
    labels, index = data.table.labels, predictions[f"{part}_index"]
    logits = predictions.get(f"{part}_logit", [None] * len(index))
    return pd.DataFrame([metrics.classification_metrics(labels[rows], prob, logit)
                         for rows, prob, logit in zip(index, predictions[f"{part}_prob"],
                                                      logits)])

  def member_splits(self, data: ClassificationData, split_keys: jax.Array) -> MemberSplit:
    """Every member's split on the host (`[members]` stacked), drawn once per data and
    keys and shared by the baselines (drawing it is a compiled program of its own)."""
    memo = self.__dict__.setdefault("_splits", {})
    key = (id(data), np.asarray(jax.random.key_data(split_keys)).tobytes())
    if key not in memo:
      memo[key] = data, jax.device_get(jax.jit(jax.vmap(lambda split_key: member_split(
          split_key, data.table, data.test_fraction, data.validation_fraction)))(split_keys))
    return memo[key][1]  # the data is kept with it, so its id cannot be reused meanwhile

  def fit_baseline(self, name: str, options: Mapping[str, Any], data: ClassificationData,
                   members: BaselineMembers) -> Arrays:
    splits = self.member_splits(data, members.split_keys)

    def fit(member: int) -> tuple[np.ndarray, float]:
      estimator = BASELINES.get(name)(random_state=int(members.random_states[member]),
                                      **options)
      start = time.perf_counter()
      # OpenMP thread limits are per thread, so set inside the worker thread.
      with threadpoolctl.threadpool_limits(limits=1):
        estimator.fit(splits.x_train[member], splits.y_train[member])
      seconds = time.perf_counter() - start
      return estimator.predict_proba(splits.x_test[member])[:, 1], seconds

    # Threads, not processes: scikit-learn releases the GIL in its fits, and plugin
    # baselines registered in this process stay visible. One OpenMP/BLAS thread
    # per fit: parallelism comes from fitting several at once, not oversubscription.
    fitted = joblib.Parallel(n_jobs=-1, backend="threading")(
        joblib.delayed(fit)(member) for member in range(len(members.seeds)))
    return {"test_index": np.asarray(splits.test_index),
            "test_prob": np.stack([prob for prob, _ in fitted]),
            "seconds": np.array([seconds for _, seconds in fitted])}

  def write_files(self, workdir: str, predictions: Mapping[str, tuple[np.ndarray, Arrays]],
                  data: ClassificationData) -> None:
    labels = data.table.labels
    frames = []
    for label, (seeds, arrays) in predictions.items():
      index = arrays["test_index"]
      frames.append(pd.DataFrame({
          "model": label, "seed": np.repeat(seeds, index.shape[1]), "row": index.ravel(),
          "label": labels[index].ravel(),
          "prob": np.asarray(arrays["test_prob"], np.float64).ravel()}))
    results.write_csv(os.path.join(workdir, results.PREDICTIONS_FILE),
                      pd.concat(frames, ignore_index=True))

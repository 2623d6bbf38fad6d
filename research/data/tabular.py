"""Tabular binary classification: encoding, stratified splits, preprocessing.

The work is split by what it may see:

* `encode_table` runs once on the host over the whole table and does only
  what needs no statistics: it picks the target, one-hot encodes categoricals
  (vocabulary from the whole table, so every member has the same columns),
  adds a missing-value indicator for each numeric column that has gaps, and
  marks missing numeric values as NaN (infinities count as missing).
* `stratified_split` and `fit_preprocessor` are pure JAX functions of a split
  key, so every member draws its own split inside the compiled run, and the
  medians, means and standard deviations are fitted on that member's
  training rows only. The data itself is shared by all members, not copied.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from absl import logging

from research.errors import UserError


@dataclasses.dataclass(frozen=True)
class TabularData:
  """A binary classification table, encoded to numbers, not yet split.

  Attributes:
    features: `[n, d]` float32; NaN marks a missing numeric value.
    labels: `[n]` int32, 1 for the positive class.
    feature_names: `d` column names (`Home=rent` for one-hot columns).
    numeric: `[d]` bool, columns to impute and standardise (not one-hot or
      indicator columns).
    positive: the target value that is encoded as 1.
    negative: the other target value.
    target: the name of the label column.
  """
  features: np.ndarray
  labels: np.ndarray
  feature_names: tuple[str, ...]
  numeric: np.ndarray
  positive: str
  negative: str
  target: str = "target"

  @property
  def num_examples(self) -> int:
    return int(self.labels.shape[0])

  @property
  def missing(self) -> np.ndarray:
    """`[d]` bool: the columns with a missing value in some row."""
    return np.isnan(self.features).any(axis=0)

  def test_counts(self, test_fraction: float) -> tuple[int, int]:
    """Test rows per class (negatives, positives) for a stratified split."""
    if not 0.0 < test_fraction < 1.0:
      raise UserError(f"data.test_fraction must be between 0 and 1, got {test_fraction}")
    counts = np.bincount(self.labels, minlength=2)
    for label, count in zip((self.negative, self.positive), counts):
      if count < 2:
        raise UserError(f"class {label!r} of target column {self.target!r} has only {count} "
                        "row; a train/test split needs at least 2 rows of each class")
    test = np.clip(np.round(counts * test_fraction).astype(int), 1, counts - 1)
    return int(test[0]), int(test[1])

  def validation_counts(self, test_fraction: float, validation_fraction: float
                        ) -> tuple[int, int]:
    """Validation rows per class, carved from each member's training rows (0 without)."""
    if validation_fraction <= 0:
      return 0, 0
    train = np.bincount(self.labels, minlength=2) - np.array(self.test_counts(test_fraction))
    if (train < 2).any():
      raise UserError("the training split has a class with fewer than 2 rows, too few to "
                      "hold out validation rows; set study.select_on='test'")
    return tuple(int(c) for c in np.clip(np.round(train * validation_fraction).astype(int),
                                         1, train - 1))

  def num_train(self, test_fraction: float, validation_fraction: float = 0.0) -> int:
    """Rows a member trains on."""
    return (self.num_examples - sum(self.test_counts(test_fraction))
            - sum(self.validation_counts(test_fraction, validation_fraction)))


def encode_table(frame: pd.DataFrame, *, source: str, target: str, positive: str = "",
                 drop=(), max_categories: int = 50) -> TabularData:
  """Encodes a raw table into numbers; see the module docstring.

  Args:
    frame: the raw table.
    source: where it came from, for error messages (a file or data set name).
    target: the label column.
    positive: the label value of the positive class (default, "bad"); empty
      means 1/True when the labels are 0/1 or False/True.
    drop: columns to leave out (identifiers, free text).
    max_categories: a text column with more distinct values cannot be
      one-hot encoded sensibly and is refused.

  Raises:
    UserError: for every problem with the table, naming the column and fix.
  """
  if frame.shape[0] == 0:
    raise UserError(f"data {source} has a header but no rows; it needs data rows")
  if target not in frame.columns:
    raise UserError(f"target column {target!r} is not in {source}; columns: "
                    f"{', '.join(map(str, frame.columns))}; set --config.data.target")
  missing_drop = [c for c in drop if c not in frame.columns]
  if missing_drop:
    raise UserError(f"data.drop names column {missing_drop[0]!r}, which {source} lacks")
  labels, positive, negative = _encode_labels(frame[target], source, target, positive)
  features, names, numeric = encode_features(frame.drop(columns=[target]), source=source,
                                             drop=drop, max_categories=max_categories)
  return TabularData(features=features, labels=labels, feature_names=names, numeric=numeric,
                     positive=positive, negative=negative, target=target)


def encode_features(frame: pd.DataFrame, *, source: str, drop=(), max_categories: int = 50
                    ) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
  """The feature columns of a raw table as numbers (see the module docstring).

  Returns:
    `[n, d]` float32 features (NaN = missing numeric value), the `d` column
    names, and `[d]` bools marking the numeric columns (to impute and scale).

  Raises:
    UserError: a text column with too many values, or no columns at all.
  """
  encoded = [part for column in frame.columns if column not in drop
             for part in _encode_column(frame[column], column, source, max_categories)]
  if not encoded:
    raise UserError(f"data {source} has no feature columns besides the target")
  columns, names, numeric = zip(*encoded)
  return np.stack(columns, axis=1).astype(np.float32), tuple(names), np.array(numeric)


def _encode_column(values: pd.Series, column, source: str, max_categories: int
                   ) -> list[tuple[np.ndarray, str, bool]]:
  """`(values, name, numeric)` of the encoded columns one raw column becomes: a
  numeric column (and its missing-value indicator), or one-hot columns."""
  if pd.api.types.is_bool_dtype(values):
    values = values.astype(float)
  if pd.api.types.is_numeric_dtype(values):
    data = values.to_numpy(dtype=np.float64)
    infinite = np.isinf(data)
    if infinite.any():
      logging.warning("%s: column %r has %d infinite values; treating them as missing",
                      source, column, infinite.sum())
      data = np.where(infinite, np.nan, data)
    gaps = np.isnan(data)
    indicator = [(gaps.astype(np.float64), f"{column}_missing", False)] if gaps.any() else []
    return [(data, str(column), True)] + indicator
  text = values.astype("string")
  _refuse_stray_text(text, column, source)
  categories = sorted(text.dropna().unique())
  if len(categories) > max_categories:
    raise UserError(
        f"column {column!r} of {source} is non-numeric with {len(categories)} distinct "
        f"values (more than data.max_categories={max_categories}), so it cannot be "
        f"one-hot encoded; convert it to numbers or add it to data.drop")
  if text.isna().any():
    categories.append(None)
  return [((text.isna() if category is None else (text == category).fillna(False)
            ).to_numpy(dtype=np.float64),
           f"{column}={'<missing>' if category is None else category}", False)
          for category in categories]


def _refuse_stray_text(text: pd.Series, column, source: str) -> None:
  """A column of numbers with a few words in it ('n/a', '?') is an error, not categories."""
  present = text.dropna()
  numeric = pd.to_numeric(present, errors="coerce").notna()
  if len(present) and numeric.mean() >= 0.9:
    stray = present[~numeric]
    shown = ", ".join(repr(v) for v in stray.unique()[:3])
    raise UserError(f"column {column!r} of {source} holds numbers except {len(stray)} "
                    f"value(s) ({shown}); fix them, leave them empty (missing), or add the "
                    "column to data.drop")


def _encode_labels(column: pd.Series, source: str, target: str, positive: str):
  if column.isna().any():
    raise UserError(f"target column {target!r} of {source} has {int(column.isna().sum())} "
                    "missing values; drop those rows")
  text = column.astype(str)
  classes = sorted(text.unique())
  if len(classes) != 2:
    shown = ", ".join(repr(c) for c in classes[:5]) + (", ..." if len(classes) > 5 else "")
    raise UserError(f"target column {target!r} of {source} has {len(classes)} "
                    f"class(es) ({shown}); binary classification needs exactly 2")
  if not positive:
    for candidate in ("1", "1.0", "True"):
      if candidate in classes:
        positive = candidate
    if not positive:
      raise UserError(f"set --config.data.positive to the target value of the positive "
                      f"(default) class: one of {classes[0]!r}, {classes[1]!r}")
  if str(positive) not in classes:
    raise UserError(f"data.positive={positive!r} is not a value of target column "
                    f"{target!r}; use {classes[0]!r} or {classes[1]!r}")
  negative = classes[0] if classes[1] == str(positive) else classes[1]
  return (text == str(positive)).to_numpy(dtype=np.int32), str(positive), negative


def stratified_split(key: jax.Array, labels: np.ndarray | jax.Array,
                     test_counts: tuple[int, int], num_negative: int | None = None
                     ) -> tuple[jax.Array, jax.Array]:
  """Draws a stratified train/test split from `key`: `(train_idx, test_idx)`.

  Each class contributes exactly `test_counts[c]` random rows to the test
  set, so the sizes are static and members can be vmapped. Indices come back
  sorted. Traced `labels` (a member's own rows) need their `num_negative`,
  which must be static.
  """
  if num_negative is None:
    if not isinstance(labels, np.ndarray):
      raise TypeError("traced labels need num_negative (the count of class 0, static)")
    num_negative = labels.shape[0] - int(np.sum(labels))
  order = jnp.argsort(labels + jax.random.uniform(key, labels.shape))  # class 0 first
  test_negative, test_positive = test_counts
  test = jnp.concatenate([order[:test_negative],
                          order[num_negative:num_negative + test_positive]])
  train = jnp.concatenate([order[test_negative:num_negative],
                           order[num_negative + test_positive:]])
  return jnp.sort(train), jnp.sort(test)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Preprocessor:
  """Median imputation then standardisation, fitted on training rows."""
  fill: jax.Array
  mean: jax.Array
  scale: jax.Array

  def __call__(self, features: jax.Array) -> jax.Array:
    filled = jnp.where(jnp.isnan(features), self.fill, features)
    return (filled - self.mean) / self.scale


def fit_preprocessor(train_features: jax.Array, numeric: np.ndarray,
                     missing: np.ndarray | None = None) -> Preprocessor:
  """Fits imputation medians and standardisation on `train_features` only.

  Only `numeric` columns are standardised; one-hot and indicator columns pass
  through. A column with zero variance in training is centred, not scaled.
  `missing` (`[d]` bool, known on the host): the columns that hold a NaN in any
  row the preprocessor will see; only theirs are imputed (the others' fill is 0,
  never used), which spares sorting every column for its median.
  """
  if missing is None:
    median = jnp.nanmedian(train_features, axis=0)
  else:
    columns = np.flatnonzero(missing)
    median = jnp.zeros(train_features.shape[1:], train_features.dtype).at[columns].set(
        jnp.nanmedian(train_features[:, columns], axis=0))
  fill = jnp.where(jnp.isnan(median), 0.0, median)  # a column all missing in training
  filled = jnp.where(jnp.isnan(train_features), fill, train_features)
  std = filled.std(axis=0)
  mean = jnp.where(numeric, filled.mean(axis=0), 0.0)
  scale = jnp.where(numeric & (std > 0), std, 1.0)
  return Preprocessor(fill=fill, mean=mean, scale=scale)

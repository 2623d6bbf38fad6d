"""Classical baselines (scikit-learn) on exactly the networks' splits.

A baseline factory takes `random_state` and its config fields and returns an
unfitted estimator with `predict_proba`. For member seed `s`, the baseline is
fitted on the rows `member_split` draws from that member's split key (so the
network and the baseline see the same train and test rows, preprocessed the
same way) with `random_state=s` when `init` varies across members, else the
base seed: the estimator's own randomness plays the part of the initial
weights.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import time
from collections.abc import Sequence
from typing import Any

import jax
import joblib
import numpy as np
import threadpoolctl
from sklearn.ensemble import (HistGradientBoostingClassifier, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from research.data.tabular import TabularData
from research.errors import UserError
from research.registry import BASELINES
from research.train import member_split


@BASELINES.register("logistic_regression")
def logistic_regression(random_state: int, max_iter: int = 1000, C: float = 1.0):  # pylint: disable=invalid-name
  """L2-regularised logistic regression (lbfgs solver)."""
  return LogisticRegression(max_iter=max_iter, C=C, random_state=random_state)


@BASELINES.register("decision_tree")
def decision_tree(random_state: int, max_depth: Sequence[int] = (3, 4, 5, 6),
                  cv_folds: int = 5):
  """A CART tree whose depth is chosen among `max_depth` by cross-validated AUC
  on the training split only."""
  depths = [max_depth] if isinstance(max_depth, int) else list(max_depth)
  tree = DecisionTreeClassifier(random_state=random_state)
  if len(depths) == 1:
    return tree.set_params(max_depth=depths[0])
  folds = StratifiedKFold(cv_folds, shuffle=True, random_state=random_state)
  return GridSearchCV(tree, {"max_depth": depths}, scoring="roc_auc", cv=folds)


@BASELINES.register("random_forest")
def random_forest(random_state: int, n_estimators: int = 100, max_features: str = "sqrt"):
  """Breiman's random forest."""
  return RandomForestClassifier(n_estimators=n_estimators, max_features=max_features,
                                random_state=random_state, n_jobs=1)


@BASELINES.register("gradient_boosting")
def gradient_boosting(random_state: int, max_iter: int = 100, learning_rate: float = 0.1):
  """scikit-learn's histogram gradient boosting (LightGBM-style)."""
  return HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                        random_state=random_state)


if importlib.util.find_spec("xgboost"):
  @BASELINES.register("xgboost")
  def xgboost(random_state: int, n_estimators: int = 100, learning_rate: float = 0.1,
              max_depth: int = 6):
    """XGBoost, registered when the package is installed (`pip install xgboost`)."""
    import xgboost as xgb  # pylint: disable=import-outside-toplevel
    return xgb.XGBClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                             max_depth=max_depth, random_state=random_state, n_jobs=1)

if importlib.util.find_spec("lightgbm"):
  @BASELINES.register("lightgbm")
  def lightgbm(random_state: int, n_estimators: int = 100, learning_rate: float = 0.1):
    """LightGBM, registered when the package is installed (`pip install lightgbm`)."""
    import lightgbm as lgb  # pylint: disable=import-outside-toplevel
    return lgb.LGBMClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                              random_state=random_state, n_jobs=1, verbose=-1)


def forecasting(factory):
  """Marks a baseline as a regressor for forecasting studies (not a classifier)."""
  factory.task = "forecast"
  return factory


@BASELINES.register("linear_autoregression")
@forecasting
def linear_autoregression(random_state: int):  # pylint: disable=unused-argument
  """Least-squares linear model of the targets on the same inputs as the network
  (the window of past values, or a day's lagged loads and codes)."""
  return LinearRegression()


@BASELINES.register("random_forest_regression")
@forecasting
def random_forest_regression(random_state: int, n_estimators: int = 100,
                             min_samples_leaf: int = 5):
  """A random forest on the same inputs as the network."""
  return RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                               random_state=random_state, n_jobs=-1)


def check_baselines(names: Sequence[str], options: dict[str, dict[str, Any]],
                    task: str = "classification") -> None:
  """Raises `UserError` for an unknown baseline, one for another task, or a field
  it does not take."""
  if isinstance(names, str):
    raise UserError(f"baselines.names must be a tuple of names, got the string {names!r}")
  for name in names:
    factory = BASELINES.get(name)
    if getattr(factory, "task", "classification") != task:
      fitting = [n for n in BASELINES.names()
                 if getattr(BASELINES.get(n), "task", "classification") == task]
      raise UserError(f"baseline {name!r} is not for {task}; use one of {', '.join(fitting)}")
    signature = inspect.signature(factory)
    for field in options.get(name, {}):
      if field not in signature.parameters or field == "random_state":
        fields = [p for p in signature.parameters if p != "random_state"]
        raise UserError(f"baseline {name!r} takes no field {field!r}; its fields are "
                        f"{', '.join(fields)}")


@dataclasses.dataclass(frozen=True)
class BaselineResult:
  """One fitted baseline for one member."""
  name: str
  member: int
  test_index: np.ndarray
  test_prob: np.ndarray
  train_seconds: float


def run_baselines(names: Sequence[str], options: dict[str, dict[str, Any]],
                  data: TabularData, test_fraction: float, split_keys: jax.Array,
                  random_states: Sequence[int], n_jobs: int = -1) -> list[BaselineResult]:
  """Fits every baseline for every member on that member's split; in parallel."""
  if not names:
    return []
  splits = jax.device_get(jax.jit(jax.vmap(
      lambda key: member_split(key, data, test_fraction)))(split_keys))

  def fit(name: str, member: int) -> BaselineResult:
    estimator = BASELINES.get(name)(random_state=int(random_states[member]),
                                    **options.get(name, {}))
    start = time.perf_counter()
    # OpenMP thread limits are per thread, so set inside the worker thread.
    with threadpoolctl.threadpool_limits(limits=1):
      estimator.fit(splits.x_train[member], splits.y_train[member])
    seconds = time.perf_counter() - start
    prob = estimator.predict_proba(splits.x_test[member])[:, 1]
    return BaselineResult(name=name, member=member, test_index=splits.test_index[member],
                          test_prob=prob, train_seconds=seconds)

  jobs = [(name, member) for name in names for member in range(len(random_states))]
  # Threads, not processes: scikit-learn releases the GIL in its fits, and plugin
  # baselines registered in this process stay visible. One OpenMP/BLAS thread
  # per fit: parallelism comes from fitting several at once, not oversubscription.
  return joblib.Parallel(n_jobs=n_jobs, backend="threading")(
      joblib.delayed(fit)(*job) for job in jobs)

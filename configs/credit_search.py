"""Credit scoring: a random search over learning rate, dropout and widths, x seeds.

  python launch.py --config=configs/credit_search.py
  python launch.py --config=configs/credit_search.py --config.study.search_per_seed=True

Each of `study.num_trials` points is drawn from `study.seed` (reproducible) and
trained on every seed. Learning rate and dropout are floats vmapped with the
seeds, so trials that share a width pattern share one compiled program; the
widths split the trials into at most four programs. Writes trials.csv (a row
per trial x seed), ranking.csv (mean AUC with its 95% CI, best first) and
best_config.py, which launch.py reruns as it is.

With `search_per_seed`, every seed draws and trains its own search and keeps
its best trial (selected on the test split it is scored on, so optimistic):
the model 'best of search' then varies with the search as well as the seed,
the protocol that measures how much tuning itself moves the result.
"""

import ml_collections

from research.plan import sibling_config


def get_config() -> ml_collections.ConfigDict:
  config = sibling_config(__file__, "credit.py")  # the same data, models, training
  config.num_seeds = 4  # seeds per trial
  config.variance.sources = ()
  config.baselines.names = ("logistic_regression",)

  config.study = ml_collections.ConfigDict()
  config.study.num_trials = 24
  config.study.seed = 0  # the search's own seed: the same trials every time
  config.study.search_per_seed = False
  config.study.metric = "auc"
  # Trials are ranked on a validation part held out of the training data (this share
  # of it), so the test split judges the chosen trial alone; "test" ranks on the test
  # split itself, which flatters the winner.
  config.study.select_on = "validation"
  config.study.validation_fraction = 0.2
  # field -> ('loguniform'|'uniform', low, high), ('randint', low, high) or ('choice', options)
  config.study.search = ml_collections.ConfigDict()
  config.study.search.optimizer = ml_collections.ConfigDict()
  config.study.search.optimizer.learning_rate = ("loguniform", 1e-4, 3e-2)
  config.study.search.model = ml_collections.ConfigDict()
  config.study.search.model.dropout = ("uniform", 0.0, 0.5)
  config.study.search.model.hidden_sizes = ("choice", ((50,), (100,), (200, 100),
                                                       (50, 100, 200)))
  return config

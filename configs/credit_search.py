"""Credit scoring: a search over learning rate, dropout and widths, x seeds.

  python launch.py --config=configs/credit_search.py
  python launch.py --config=configs/credit_search.py --config.study.sampler=random
  python launch.py --config=configs/credit_search.py --config.study.sampler= \
      --config.study.search_per_seed=True

Optuna's TPE asks for `study.batch_size` trials at a time (research.search);
each batch trains on every seed as one run. Learning rate and dropout are floats
vmapped with the seeds, so trials that share a width pattern share one compiled
program; the widths split a batch into at most four programs. Writes trials.csv
(a row per trial x seed), ranking.csv (mean validation AUC with its 95% CI, best
first), best_config.py (which launch.py reruns as it is), the search's report,
and best/<trial>/, that config rerun beside logistic regression. With an empty
sampler, every point is drawn up front from `study.seed` and trained as one run.

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
  config.study.seed = 0  # the sampler's seed: the same trials every time (on one process)
  # Optuna's sampler: random | tpe | cmaes | qmc | grid; empty for the one-run search
  # (every point drawn up front from study.seed, one run folder, no storage).
  config.study.sampler = "tpe"
  config.study.batch_size = 8  # trials asked at once, trained as one run
  config.study.storage = ""  # '': sqlite:///<workdir>/search.db; or any Optuna storage
  config.study.name = "search"  # processes with one storage and name share the search
  config.study.rerun_best = True  # the best trial's config, rerun beside the baselines
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

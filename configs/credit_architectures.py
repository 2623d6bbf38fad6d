"""Credit scoring: 18 MLP architectures (sigmoid and tanh, nine width patterns) x seeds.

  python launch.py --config=configs/credit_architectures.py --config.num_seeds=8

Follows the credit-scoring study whose eighteen networks (one to three hidden
layers of 50-200 units, sigmoid or tanh) were compared with classical models
on the same data. Each architecture is one trial of a grid; its members are
its seeds, and every architecture sees the same seeds, so trials are paired.
A sigmoid and a tanh network of the same widths share one compiled program
(it computes both activations and selects each member's: the results are the
same bit for bit; --config.study.share_choices=False compiles them apart), so
the 18 architectures are 9 programs, each compiled once (the later ones
compile while the earlier ones train); --config.study.pad_widths=True pads
each depth to its widest widths as well, 3 programs (the results the same to
float rounding: README, "Studies: grids and random searches"). Prints accuracy, AUC (mean ± std)
and training time per network, the best marked; writes trials.csv,
ranking.csv and best_config.py beside the usual files.
"""

import ml_collections

from research.plan import sibling_config

WIDTHS = ((200,), (100,), (50,), (200, 100), (100, 200), (200, 100, 50), (50, 100, 200),
          (150, 50, 150), (50, 200, 50))


def get_config() -> ml_collections.ConfigDict:
  config = sibling_config(__file__, "credit.py")  # the same data, models, training
  config.num_seeds = 8
  config.variance.sources = ()  # the decomposition is for one model: rerun best_config.py

  config.study = ml_collections.ConfigDict()
  # Crossed: every activation with every width pattern (config field -> values).
  config.study.grid = ml_collections.ConfigDict()
  config.study.grid.model = ml_collections.ConfigDict()
  config.study.grid.model.activation = ("sigmoid", "tanh")
  config.study.grid.model.hidden_sizes = WIDTHS
  config.study.metric = "auc"  # trials are ranked by their mean over seeds
  # Trials are ranked on a validation part held out of the training data (this share
  # of it), so the test split judges the chosen trial alone; "test" ranks on the test
  # split itself, which flatters the winner.
  config.study.select_on = "validation"
  config.study.validation_fraction = 0.2
  config.study.share_choices = True  # sigmoid and tanh in one program (see above)
  config.study.pad_widths = False  # True: one program per depth (see above)
  return config

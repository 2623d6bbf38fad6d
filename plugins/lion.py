"""Example plugin: the Lion optimizer (Chen et al., 2023), which the core lacks.

Use it with `--config.optimizer.name=lion --config.optimizer.learning_rate=2e-4`
(Lion wants a learning rate 3-10x smaller than Adam's).
"""

import optax

from research.registry import OPTIMIZERS


@OPTIMIZERS.register("lion")
def lion(learning_rate: float = 1e-4, b1: float = 0.9, b2: float = 0.99,
         weight_decay: float = 0.0) -> optax.GradientTransformation:
  """Sign-based momentum optimizer; float fields are vmappable per member."""
  return optax.lion(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)

"""Flax models; importing this package registers them in `MODELS`."""

from research.models import activations, mlp, rnn  # noqa: F401  (registers)

"""Activation functions by name, so configs can say `activation='tanh'`."""

import flax.linen as nn

from research.registry import ACTIVATIONS

for _name, _fn in {
    "sigmoid": nn.sigmoid,
    "tanh": nn.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "elu": nn.elu,
    "selu": nn.selu,
    "silu": nn.silu,
    "softplus": nn.softplus,
    "leaky_relu": nn.leaky_relu,
    "linear": lambda x: x,
}.items():
  ACTIVATIONS.register(_name)(_fn)

"""Optax optimizers by name, with float hyperparameters injectable per member.

A registered factory takes keyword arguments and returns an Optax gradient
transformation. `make_optimizer` wraps it in `optax.inject_hyperparams`, so
float hyperparameters (learning rate, momentum, weight decay, ...) are arrays
carried in the optimizer state: members of one vmapped run can each have
their own value without recompiling.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import optax

from research.errors import UserError
from research.registry import OPTIMIZERS

OptimizerFactory = Callable[..., optax.GradientTransformation]


@OPTIMIZERS.register("adam")
def adam(learning_rate: float = 1e-3, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8) -> optax.GradientTransformation:
  """Adam (Kingma & Ba, 2015)."""
  return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


@OPTIMIZERS.register("adamw")
def adamw(learning_rate: float = 1e-3, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 1e-4) -> optax.GradientTransformation:
  """Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""
  return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


@OPTIMIZERS.register("sgd")
def sgd(learning_rate: float = 1e-2) -> optax.GradientTransformation:
  """Plain stochastic gradient descent."""
  return optax.sgd(learning_rate)


@OPTIMIZERS.register("momentum")
def momentum(learning_rate: float = 1e-2, momentum: float = 0.9,  # pylint: disable=redefined-outer-name
             nesterov: bool = False) -> optax.GradientTransformation:
  """SGD with heavy-ball momentum, or Nesterov momentum with `nesterov=True`."""
  return optax.sgd(learning_rate, momentum=momentum, nesterov=nesterov)


@OPTIMIZERS.register("rmsprop")
def rmsprop(learning_rate: float = 1e-3, decay: float = 0.9, eps: float = 1e-7,
            momentum: float = 0.0, centered: bool = False) -> optax.GradientTransformation:  # pylint: disable=redefined-outer-name
  """RMSprop with Keras' defaults (decay 0.9, eps 1e-7)."""
  return optax.rmsprop(learning_rate, decay=decay, eps=eps, momentum=momentum,
                       centered=centered)


@OPTIMIZERS.register("lbfgs", full_batch=True)
def lbfgs(learning_rate: float = 1.0, memory_size: int = 10) -> optax.GradientTransformation:
  """L-BFGS with a zoom line search, run on the full training set each step.

  One training step is one L-BFGS iteration; `train.epochs` counts iterations.
  `learning_rate` scales the quasi-Newton direction before the line search:
  1 is the textbook method (switching a config from Adam to L-BFGS on the
  command line, set it back to 1). The credit-scoring study this project
  follows trained with (L-)BFGS.
  """
  return optax.lbfgs(learning_rate=learning_rate, memory_size=memory_size)


def split_hyperparameters(name: str, fields: Mapping[str, Any]
                          ) -> tuple[dict[str, Any], dict[str, float]]:
  """Splits optimizer fields into static ones and per-member float ones.

  A field is a per-member hyperparameter when its value is a number and the
  factory's default for it is not an integer (`memory_size=10` stays static).

  Raises:
    UserError: a field the optimizer does not take, or a non-positive
      learning rate.
  """
  factory = OPTIMIZERS.get(name)
  signature = inspect.signature(factory)
  unknown = sorted(set(fields) - set(signature.parameters))
  if unknown:
    raise UserError(
        f"optimizer {name!r} takes no field {unknown[0]!r}; its fields are "
        f"{', '.join(signature.parameters)}; fix optimizer.{unknown[0]} in the config")
  static, floats = {}, {}
  for key, value in fields.items():
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number and key not in _static_names(factory):
      floats[key] = float(value)
    else:
      static[key] = value
  if "learning_rate" in floats and not floats["learning_rate"] > 0:
    raise UserError(f"optimizer.learning_rate must be > 0, got {floats['learning_rate']}")
  return static, floats


def _static_names(factory: OptimizerFactory) -> tuple[str, ...]:
  """Parameters whose default is not a float: integers, flags, objects."""
  return tuple(name for name, parameter in inspect.signature(factory).parameters.items()
               if not isinstance(parameter.default, float))


def make_optimizer(name: str, static: Mapping[str, Any],
                   hyperparameters: Mapping[str, Any]) -> optax.GradientTransformationExtraArgs:
  """Builds the optimizer with `hyperparameters` (possibly traced arrays) injected."""
  factory = OPTIMIZERS.get(name)
  return optax.inject_hyperparams(factory, static_args=_static_names(factory))(
      **static, **hyperparameters)


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """A checked optimizer: its name, static fields and per-member float fields.

  Attributes:
    name: an `OPTIMIZERS` name.
    static: fields that shape the program (flags, integers), the same for
      every member of a program.
    floats: float fields (learning rate, momentum, ...), which travel as
      per-member arrays (`hyperparameters` of `build`).
  """
  name: str
  static: Mapping[str, Any]
  floats: Mapping[str, float]

  @classmethod
  def from_fields(cls, fields: Mapping[str, Any]) -> "OptimizerSpec":
    """From a config section: `name` and the optimizer's own fields (checked)."""
    fields = dict(fields)
    name = fields.pop("name")
    static, floats = split_hyperparameters(name, fields)
    return cls(name=name, static=static, floats=floats)

  @property
  def full_batch(self) -> bool:
    """Whether every step must see the whole training set (declared by the optimizer)."""
    return OPTIMIZERS.info(self.name).full_batch

  def build(self, hyperparameters: Mapping[str, Any]) -> optax.GradientTransformationExtraArgs:
    """The optimizer, with this member's float `hyperparameters` (traced arrays)."""
    return make_optimizer(self.name, self.static, hyperparameters)

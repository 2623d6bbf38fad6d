"""Multi-seed variance studies of small neural networks in JAX/Flax."""

from research.errors import UserError  # noqa: F401
from research.run import RunResult, run  # noqa: F401

"""Multi-seed variance studies of small neural networks in JAX/Flax."""

from research.errors import UserError  # noqa: F401
from research.results import RunResult  # noqa: F401
from research.run import run  # noqa: F401

"""Multi-seed variance studies of small neural networks in JAX/Flax.

    research.run_study(config, workdir)   # what `launch.py` does

See docs/ARCHITECTURE.md for how the package is laid out.
"""

import importlib.metadata

try:
  __version__ = importlib.metadata.version("research")
except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
  __version__ = "0+unknown"

from research.errors import UserError  # noqa: E402,F401
from research.pipeline import run_study  # noqa: E402,F401
from research.results import RunResult  # noqa: E402,F401

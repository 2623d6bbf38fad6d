"""Multi-seed variance studies of small neural networks in JAX/Flax.

    research.run_study(config, workdir)   # what `launch.py` does

See docs/ARCHITECTURE.md for how the package is laid out.
"""

import importlib
import importlib.metadata

try:
  __version__ = importlib.metadata.version("research")
except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
  __version__ = "0+unknown"

# The pipeline (JAX, Flax) loads on first use, so that `research.malloc` can run
# before any of it (launch.py re-executes itself under another malloc first).
_LAZY = {"UserError": "research.errors", "run_study": "research.pipeline",
         "RunResult": "research.results"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
  if name not in _LAZY:
    raise AttributeError(f"module 'research' has no attribute {name!r}")
  return getattr(importlib.import_module(_LAZY[name]), name)

"""JAX's persistent compilation cache: each program compiles once per machine.

A study of many small programs spends more time compiling than training (3-5 s
a program on CPU). With the cache on, a rerun, a resumed run or another run of
the same shapes loads the compiled program from disk instead. The cache holds
executable code, so it lives in a folder only its user can write
(`~/.cache/research/jax` by default, `$XDG_CACHE_HOME` respected);
`launch.py --compilation_cache=DIR` moves it and `--compilation_cache=` turns it
off. It cannot change results: a program loaded from it is the one compiled
(tests compare cached and uncached runs).
"""

from __future__ import annotations

import collections
import os

import jax
import jax.monitoring
from absl import logging

DEFAULT_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                           "research", "jax")
ENVIRONMENT = "RESEARCH_COMPILATION_CACHE"  # the default of --compilation_cache, if set
_EVENTS = {"/jax/compilation_cache/cache_hits": "hits",
           "/jax/compilation_cache/cache_misses": "misses"}
counts: collections.Counter = collections.Counter()


def default_dir() -> str:
  """The cache folder when none is given: $RESEARCH_COMPILATION_CACHE, or the user's."""
  return os.environ.get(ENVIRONMENT, DEFAULT_DIR)


def enable(path: str) -> str | None:
  """Turns the persistent cache on in `path` ('' leaves it off); returns the folder, or
  None when it is off or cannot be used (then with a warning: the run goes on)."""
  if not private_folder(path, "compilation cache", "compiling"):
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  # Every program, however small or quick to compile (the defaults skip those).
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.monitoring.register_event_listener(_count)
  return path


def private_folder(path: str, what: str, doing: str) -> bool:
  """Whether `path` ('' for none) is a usable cache folder, created for this user alone
  if missing; if not, a warning that the run goes on `doing` without it."""
  if not path:
    return False
  try:
    os.makedirs(path, mode=0o700, exist_ok=True)
  except OSError as e:
    logging.warning("%s %s cannot be used (%s); %s without it", what, path, e.strerror or e,
                    doing)
    return False
  if not os.access(path, os.W_OK | os.X_OK):
    logging.warning("%s %s is not writable; %s without it", what, path, doing)
    return False
  return True


def _count(event: str, **_) -> None:
  if event in _EVENTS:
    counts[_EVENTS[event]] += 1


def summary() -> str:
  """'3 of 4 programs from the compilation cache', or '' when it was not consulted."""
  total = counts["hits"] + counts["misses"]
  return f"{counts['hits']} of {total} programs from the compilation cache" if total else ""

"""launch.py under TBB's scalable malloc, where the `tbb` wheel is installed (Linux x86-64).

XLA's compiler allocates and frees a great many small objects: under glibc's
malloc about a tenth of a first study run's CPU went to `malloc` and `free`
(perf, `credit_architectures` with 8 seeds). Intel's TBB allocator, preloaded,
serves them faster: first runs 3-8 % shorter, the same result files bit for bit
(benchmarks/RESULTS.md, twelfth session). Allocation touches no arithmetic.

malloc can only be replaced before a process starts, so `use_scalable_malloc`,
called first thing by launch.py, executes the same command again with
`LD_PRELOAD` naming the allocator. `RESEARCH_MALLOC=system` keeps the system's.
The re-executed process puts `LD_PRELOAD` back as it was, so the programs it
starts choose for themselves.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Mapping

ENV = "RESEARCH_MALLOC"
CHOICES = ("tbb", "system")
LIBRARIES = ("libtbbmalloc.so.2", "libtbbmalloc_proxy.so.2")  # the proxy needs the first
# Set only in the re-executed process's environment: what LD_PRELOAD was before.
_ORIGINAL_PRELOAD = "_RESEARCH_MALLOC_ORIGINAL_PRELOAD"


def library_paths() -> list[str] | None:
  """The allocator's libraries in the installed `tbb` wheel, or None without them."""
  try:
    files = importlib.metadata.files("tbb") or ()
  except importlib.metadata.PackageNotFoundError:
    return None
  found = {file.name: os.path.normpath(file.locate()) for file in files
           if file.name in LIBRARIES}
  paths = [found.get(name, "") for name in LIBRARIES]
  return paths if all(os.path.isfile(path) for path in paths) else None


def in_use() -> str:
  """'tbbmalloc' when TBB's allocator serves this process's malloc, else 'system'."""
  try:
    with open("/proc/self/maps", encoding="utf-8") as maps:
      return "tbbmalloc" if "libtbbmalloc_proxy" in maps.read() else "system"
  except OSError:  # not Linux
    return "system"


def preload_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
  """The environment to execute this command again in, or None to go on as it is.

  None where `RESEARCH_MALLOC=system`, off Linux, in the re-executed process
  itself, where TBB's allocator is loaded already, or where `tbb` is not installed.
  """
  choice = environ.get(ENV, "tbb")
  if choice not in CHOICES:
    raise ValueError(f"{ENV}={choice!r} is not one of {', '.join(CHOICES)}; unset it for "
                     f"TBB's allocator, or set {ENV}=system for the system's malloc")
  if (choice == "system" or not sys.platform.startswith("linux") or _ORIGINAL_PRELOAD in environ
      or in_use() == "tbbmalloc"):
    return None
  paths = library_paths()
  if paths is None:
    return None
  original = environ.get("LD_PRELOAD", "")
  return {**environ, "LD_PRELOAD": " ".join([*paths, original] if original else paths),
          _ORIGINAL_PRELOAD: original}


def restore_environment(environ: dict[str, str]) -> None:
  """In the re-executed process: LD_PRELOAD as it was, for the programs it starts."""
  if _ORIGINAL_PRELOAD not in environ:
    return
  original = environ.pop(_ORIGINAL_PRELOAD)
  if original:
    environ["LD_PRELOAD"] = original
  else:
    environ.pop("LD_PRELOAD", None)


def use_scalable_malloc() -> None:
  """Executes this command again under TBB's allocator where it can; else returns.

  A bad `RESEARCH_MALLOC` is one line and exit 2, before anything else runs.
  """
  try:
    environ = preload_environment(os.environ)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  if environ is None or not sys.executable:
    restore_environment(os.environ)
    return
  sys.stdout.flush()
  sys.stderr.flush()
  try:
    os.execve(sys.executable, sys.orig_argv, environ)
  except OSError:  # the interpreter cannot be executed again: go on with the system's malloc
    pass

"""Progress on the terminal: compilations, chunks of members, epochs, baselines.

Shown only when `config.progress` is on and stderr is a terminal, so logs and
CI output stay clean. Epochs are reported from inside the compiled run by a
`jax.debug.callback` that is traced into the program only when progress is
shown: with it off the program has no callback at all and costs nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import jax


class Progress:
  """One status line, rewritten in place; finished phases stay as lines above it."""

  def __init__(self, enabled: bool, stream: TextIO | None = None):
    self.stream = stream or sys.stderr
    self.enabled = enabled
    self._lock = threading.Lock()
    self._status = ""
    self._chunk = ""
    self._start = time.perf_counter()

  @classmethod
  def for_terminal(cls, wanted: bool) -> "Progress":
    """Enabled when `wanted` and stderr is a terminal (quiet when piped or in CI)."""
    return cls(bool(wanted) and sys.stderr.isatty())

  def done(self, message: str) -> None:
    """A finished phase, kept as its own line."""
    self._write(message, keep=True)

  def chunk(self, label: str, number: int, total: int, members: int) -> None:
    """A chunk of members starts training."""
    self._chunk = f"{label}: chunk {number}/{total} ({members} members)"
    self._write(self._chunk)

  def epoch_callback(self, epochs: int) -> Callable[[jax.Array], None] | None:
    """`on_epoch(epoch)` for the compiled run, or None when progress is off."""
    if not self.enabled:
      return None
    return lambda epoch: self._write(f"{self._chunk} epoch {int(epoch) + 1}/{epochs}")

  def _write(self, message: str, keep: bool = False) -> None:
    if not self.enabled:
      return
    with self._lock:
      elapsed = time.perf_counter() - self._start
      line = f"[{elapsed:6.1f} s] {message}"
      clear = "\r" + " " * len(self._status) + "\r"
      self.stream.write(clear + (line + "\n" if keep else line))
      self._status = "" if keep else line
      self.stream.flush()

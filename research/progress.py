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
    self._programs = self._members = self._compiled = self._trained = self._timed = 0
    self._train_seconds = 0.0

  @classmethod
  def for_terminal(cls, wanted: bool) -> "Progress":
    """Enabled when `wanted` and stderr is a terminal (quiet when piped or in CI)."""
    return cls(bool(wanted) and sys.stderr.isatty())

  def done(self, message: str) -> None:
    """A finished phase, kept as its own line."""
    self._write(message, keep=True)

  def study(self, programs: int, members: int) -> None:
    """What the whole run will compile and train, for `overall`."""
    self._programs, self._members = programs, members

  def compiled(self, label: str, seconds: float) -> None:
    """A program finished compiling."""
    self._compiled += 1
    self.done(f"{label}: compiled in {seconds:.1f} s ({self._compiled}/{self._programs} "
              "programs)")

  def trained(self, label: str, number: int, total: int, members: int,
              seconds: float | None) -> None:
    """A chunk of members finished training (`seconds` None: loaded, already saved)."""
    self._trained += members
    if seconds is not None:
      self._timed += members
      self._train_seconds += seconds
      self.done(f"{label}: chunk {number}/{total} ({members} members) trained in "
                f"{seconds:.1f} s; {self.overall()}")

  def overall(self) -> str:
    """'40/144 members trained, about 1.2 min left' (from the training so far)."""
    left = self._members - self._trained
    text = f"{self._trained}/{self._members} members trained"
    if self._timed and left > 0:
      eta = self._train_seconds / self._timed * left
      text += f", about {eta / 60:.1f} min left" if eta >= 60 else f", about {eta:.0f} s left"
    return text

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

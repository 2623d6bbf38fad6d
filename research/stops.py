"""Clean stops: Ctrl-C or SIGTERM ends a run at once, with one line and the command
that resumes it.

The study runs on a thread while the main thread waits on it in short,
interruptible waits. A signal therefore reaches Python at once, even while a
compiled program trains for minutes in XLA (which would hold off a signal
handler until it returned) or the baselines fit on their own threads. Nothing
is half-written: every file is written atomically, and the chunks saved so far
are what a resume picks up.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class Stopped(Exception):
  """The process received SIGINT or SIGTERM."""

  def __init__(self, signum: int):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def run(study: Callable[[], T]) -> T:
  """`study()` on a thread; `Stopped` as soon as SIGINT or SIGTERM arrives."""
  outcome: dict[str, Any] = {}

  def target() -> None:
    try:
      outcome["value"] = study()
    except BaseException as e:  # pylint: disable=broad-except  (re-raised below)
      outcome["error"] = e

  def on_signal(signum, frame):
    del frame
    raise Stopped(signum)

  previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
  thread = threading.Thread(target=target, name="study", daemon=True)
  try:
    thread.start()
    while thread.is_alive():
      thread.join(0.2)
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  if "error" in outcome:
    raise outcome["error"]
  return outcome["value"]


def message(workdir: str, argv: Sequence[str]) -> str:
  """One line: what is saved in `workdir`, and the command that resumes the run."""
  command = list(argv)
  if not any(arg.startswith("--workdir") for arg in command):
    command.append(f"--workdir={workdir}")
  again = " ".join(["python"] + [shlex.quote(arg) for arg in command])
  try:
    with open(os.path.join(workdir, "manifest.json")) as file:
      saved = len(json.load(file).get("chunks", {}))
  except (OSError, ValueError, AttributeError):
    saved = 0
  if saved:
    return (f"interrupted: {saved} finished chunk(s) are saved in {workdir}; resume with: "
            f"{again}")
  return f"interrupted before any work was saved; to start again: {again}"


def exit_now(signum: int, workdir: str, argv: Sequence[str]) -> None:
  """Prints `message` and ends the process at once (128 + the signal's number), without
  waiting for a chunk in flight or the baselines' threads."""
  print(message(workdir, argv), file=sys.stderr, flush=True)
  os._exit(128 + signum)  # pylint: disable=protected-access

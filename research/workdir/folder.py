"""A run folder opened for writing: locked, holding only what it can vouch for, and
the store of the run's saved chunks."""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from absl import logging

from research import results
from research.errors import UserError
from research.fingerprint import Fingerprint
from research.workdir.state import (CHUNK_REJECTED_DIR, LOCK_FILE, MANIFEST_FILE, Inspection,
                                    file_hash, in_use, inspect, read_manifest)

class RunFolder:
  """A run folder opened for writing by this process: locked until `close`.

  It is also the store of the run's saved work (`saved`, `load`, `save`,
  `cached`): what `research.train.execute` and the baselines save and reuse.
  """

  def __init__(self, workdir: str, fingerprint: Fingerprint, trusted: frozenset[str],
               manifest: dict, lock: Any):
    self.workdir = workdir
    self._fingerprint = fingerprint
    self._manifest = manifest
    self._lock = lock
    self.saved = set(trusted)

  @classmethod
  def open(cls, workdir: str, config: Mapping[str, Any], fingerprint: Fingerprint,
           expected: Mapping[str, Sequence[int]], inspected: Inspection,
           files: Sequence[str] = ()) -> "RunFolder":
    """Creates and locks the folder, then makes it hold exactly what `inspected` found
    trustworthy: rejected chunks moved aside, the config and manifest written.

    Raises:
      UserError: another process holds the folder, or it changed since `inspected`.
    """
    os.makedirs(os.path.join(workdir, results.CHUNKS_DIR), exist_ok=True)
    lock = _acquire(workdir)
    try:
      again = inspect(workdir, config, fingerprint, expected, files, holding_lock=True)
      if again.as_json() != inspected.as_json():
        raise UserError(f"--workdir {workdir} changed while this run was starting; run the "
                        "same command again")
      _remove_temp_files(workdir)
      _move_aside(workdir, again.rejected)
      if not os.path.exists(os.path.join(workdir, results.CONFIG_FILE)):
        results.write_json(os.path.join(workdir, results.CONFIG_FILE), dict(config))
      previous = read_manifest(workdir) or {}
      manifest = {"fingerprint": fingerprint.as_json(),
                  "chunks": {name: entry for name, entry in previous.get("chunks", {}).items()
                             if name in again.trusted}}
      results.write_json(os.path.join(workdir, MANIFEST_FILE), manifest)
    except BaseException:
      _release(lock)
      raise
    return cls(workdir, fingerprint, again.trusted, manifest, lock)

  def load(self, name: str) -> dict[str, np.ndarray]:
    """A saved chunk's arrays."""
    return results.read_arrays(results.chunk_path(self.workdir, name))

  def save(self, name: str, arrays: Mapping[str, np.ndarray], seeds: Sequence[int]) -> None:
    """Saves a chunk atomically, then records it in the manifest."""
    path = results.chunk_path(self.workdir, name)
    results.write_arrays(path, dict(arrays))
    self._manifest["chunks"][name] = {
        "seeds": [int(s) for s in seeds], "sha256": file_hash(path),
        "fingerprint": self._fingerprint.value,
        "saved": datetime.datetime.now().isoformat(timespec="seconds")}
    results.write_json(os.path.join(self.workdir, MANIFEST_FILE), self._manifest)
    self.saved.add(name)

  def cached(self, name: str, compute: Callable[[], dict[str, np.ndarray]],
             seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """The saved chunk `name`, or `compute()`'s arrays, saved first."""
    if name not in self.saved:
      self.save(name, compute(), seeds)
    return self.load(name)

  def close(self) -> None:
    """Releases the folder's lock."""
    _release(self._lock)


def _acquire(workdir: str):
  """Takes the folder's lock (an OS lock: released if this process dies)."""
  file = open(os.path.join(workdir, LOCK_FILE), "a+")  # pylint: disable=consider-using-with
  try:
    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    file.close()
    raise UserError(in_use(workdir)) from None
  file.seek(0)
  file.truncate()
  json.dump({"pid": os.getpid(), "host": socket.gethostname(),
             "started": datetime.datetime.now().isoformat(timespec="seconds")}, file)
  file.flush()
  return file


def _release(lock) -> None:
  fcntl.flock(lock, fcntl.LOCK_UN)
  lock.close()


def _remove_temp_files(workdir: str) -> None:
  """Temp files a killed run of ours left (our prefix only: nobody else's files)."""
  for folder in (workdir, os.path.join(workdir, results.CHUNKS_DIR)):
    for name in os.listdir(folder):
      if name.startswith(results.TEMP_PREFIX):
        os.unlink(os.path.join(folder, name))


def _move_aside(workdir: str, rejected: Mapping[str, str]) -> None:
  """Moves each rejected chunk to chunks/rejected/, saying why in one line."""
  if not rejected:
    return
  folder = os.path.join(workdir, results.CHUNKS_DIR, CHUNK_REJECTED_DIR)
  os.makedirs(folder, exist_ok=True)
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  for name, why in rejected.items():
    target = os.path.join(folder, f"{name}.{stamp}.npz")
    os.replace(results.chunk_path(workdir, name), target)
    logging.warning("chunks/%s.npz is not used: %s; moved to %s and computed again", name, why,
                    os.path.relpath(target, workdir))


def check_disk(workdir: str, needed: int) -> None:
  """Refuses a run whose outputs would not fit on the disk; says their size when large."""
  path = os.path.abspath(workdir)
  while not os.path.exists(path):
    path = os.path.dirname(path)
  free = shutil.disk_usage(path).free
  if needed > free:
    raise UserError(f"this run's outputs need about {needed / 2**30:.1f} GiB, more than the "
                    f"{free / 2**30:.1f} GiB free under {path}; free some space, pass "
                    "--workdir on another disk, or run fewer seeds or trials")
  if needed > 2**30:
    logging.warning("this run will write about %.1f GiB to %s", needed / 2**30, workdir)

"""What a run folder holds for a run, and which of its saved chunks the run may trust.

Read only: `inspect` changes nothing (see `research.workdir` for the rules).
"""

from __future__ import annotations

import dataclasses
import enum
import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from absl import logging

from research import results
from research.errors import UserError
from research.fingerprint import Fingerprint

LOCK_FILE = ".lock"
MANIFEST_FILE = "manifest.json"
CHUNK_REJECTED_DIR = "rejected"  # under chunks/
# Without these a run has not finished, whatever else its plan writes.
FINAL_FILES = (results.SEEDS_FILE, results.SUMMARY_FILE, results.COMPARISON_FILE,
               results.RUN_FILE)
# Fields that change what is shown, not what is computed: a run resumes across them.
DISPLAY_FIELDS = ("progress", "report", "estimate_time", "reference")


class State(enum.Enum):
  NEW = "new"  # nothing there yet
  RESUME = "resume"  # the same config was started there and did not finish
  FINISHED = "finished"  # the same config finished there


@dataclasses.dataclass(frozen=True)
class Inspection:
  """What a folder holds for a run, found without changing anything.

  Attributes:
    state: new, resumed or finished.
    trusted: names of the saved chunks the run may use.
    rejected: saved chunks it may not use, with the reason.
  """
  state: State
  trusted: frozenset[str] = frozenset()
  rejected: Mapping[str, str] = dataclasses.field(default_factory=dict)

  def as_json(self) -> dict[str, Any]:
    return {"state": self.state.value, "trusted": sorted(self.trusted),
            "rejected": dict(self.rejected)}

  @classmethod
  def from_json(cls, value: Mapping[str, Any]) -> "Inspection":
    return cls(State(value["state"]), frozenset(value["trusted"]), dict(value["rejected"]))


def inspect(workdir: str, config: Mapping[str, Any], fingerprint: Fingerprint,
            expected: Mapping[str, Sequence[int]], files: Sequence[str] = FINAL_FILES,
            holding_lock: bool = False) -> Inspection:
  """What `workdir` holds for this run; reads only.

  Args:
    config: the resolved config.
    fingerprint: of the config, the data and the code of this run.
    expected: the chunk names this run saves, with their members' seeds.
    files: the result files the run writes: it is finished when they all exist
      (one missing, it resumes: from its saved chunks, it writes them again).
    holding_lock: this process holds the folder's lock (another may not).

  Raises:
    UserError: the folder cannot hold this run (see the module docstring).
  """
  check_writable(workdir)
  if _holds_nothing(workdir):
    return Inspection(State.NEW)
  if not holding_lock:
    check_unlocked(workdir)
  has_config = os.path.exists(os.path.join(workdir, results.CONFIG_FILE))
  manifest = read_manifest(workdir)
  if not has_config and (manifest is None or os.path.exists(
      os.path.join(workdir, results.SEEDS_FILE))):
    raise UserError(f"--workdir {workdir} is a non-empty folder that holds no run of this "
                    f"tool (no {results.CONFIG_FILE}); pass a new or empty folder")
  if has_config:
    _check_config(workdir, config)
  if all(os.path.exists(os.path.join(workdir, name)) for name in (*FINAL_FILES, *files)):
    _check_finished(workdir, manifest, fingerprint)
    return Inspection(State.FINISHED)
  trusted, rejected = _sort_chunks(workdir, manifest if has_config else None, fingerprint,
                                   expected)
  return Inspection(State.RESUME, frozenset(trusted), rejected)


def _holds_nothing(workdir: str) -> bool:
  """No folder, an empty one, or only what a run killed while opening it left."""
  if not os.path.isdir(workdir):
    return True
  left = {n for n in os.listdir(workdir) if n != LOCK_FILE and not n.startswith(results.TEMP_PREFIX)}
  chunks = os.path.join(workdir, results.CHUNKS_DIR)
  return not left or (left == {results.CHUNKS_DIR} and os.path.isdir(chunks)
                      and not os.listdir(chunks))


def check_writable(workdir: str) -> None:
  """Refuses a workdir that is a file, lies under a file, or cannot be written."""
  path = os.path.abspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError(f"--workdir {workdir} is a file; pass a folder")
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise UserError(f"--workdir {workdir} lies under {existing}, which is a file; pass "
                    "another folder")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise UserError(f"--workdir {workdir} cannot be written ({existing} is not writable); "
                    "pass a folder you can write to")


def check_unlocked(workdir: str) -> None:
  """Refuses a folder whose lock another process holds, naming that process."""
  path = os.path.join(workdir, LOCK_FILE)
  if not os.path.exists(path):
    return
  with open(path, "a+") as file:
    try:
      fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise UserError(in_use(workdir)) from None
    fcntl.flock(file, fcntl.LOCK_UN)


def in_use(workdir: str) -> str:
  try:
    with open(os.path.join(workdir, LOCK_FILE)) as file:
      holder = json.load(file)
    who = f"process {holder['pid']} on {holder['host']} (started {holder['started']})"
  except (OSError, ValueError, KeyError, TypeError):
    who = "another process"
  return (f"--workdir {workdir} is in use by {who}; wait for it to finish, or pass "
          "another --workdir")


def _check_config(workdir: str, config: Mapping[str, Any]) -> None:
  path = os.path.join(workdir, results.CONFIG_FILE)
  try:
    with open(path) as file:
      saved = json.load(file)
  except (OSError, ValueError) as e:
    raise UserError(f"{path} is unreadable ({' '.join(str(e).split())}); delete it to "
                    "start this folder's run again, or pass a new --workdir") from None
  if not isinstance(saved, dict):
    raise UserError(f"{path} holds {type(saved).__name__}, not a config; delete it to start "
                    "this folder's run again, or pass a new --workdir")
  saved, wanted = _without_display(saved), _without_display(_as_json(dict(config)))
  if saved != wanted:
    raise UserError(f"--workdir {workdir} holds a run of another config "
                    f"({_first_difference(saved, wanted)}); rerun with the same config to "
                    "resume it, or pass a new --workdir")


def _check_finished(workdir: str, manifest: dict | None, fingerprint: Fingerprint) -> None:
  """A finished run answers this command only if it saw the same data."""
  if manifest is None or "fingerprint" not in manifest:
    return  # finished before runs kept a manifest: its config is all there is to check
  changed = fingerprint.differences(manifest["fingerprint"])
  if "data" in changed:
    raise UserError(f"--workdir {workdir} holds this config's finished run on other data "
                    "(the data changed since); pass a new --workdir to run on the data as "
                    "it is now")
  if "code" in changed:
    logging.warning("%s was produced by other code (%s); its results are shown as they are",
                    workdir, json.dumps(manifest["fingerprint"].get("code_detail", {})))


def _sort_chunks(workdir: str, manifest: dict | None, fingerprint: Fingerprint,
                 expected: Mapping[str, Sequence[int]]) -> tuple[set[str], dict[str, str]]:
  """Which saved chunks this run can use, and why the others cannot be."""
  folder = os.path.join(workdir, results.CHUNKS_DIR)
  names = sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".npz")) if os.path.isdir(
      folder) else []
  entries = (manifest or {}).get("chunks", {})
  trusted, rejected = set(), {}
  for name in names:
    entry = entries.get(name)
    if manifest is None:
      why = f"{_unvouched(workdir)}, so nothing vouches for it"
    elif name not in expected:
      why = "this run saves no chunk of that name"
    elif entry is None:
      why = "it is not in the manifest (a copy, or saved by an interrupted write)"
    elif entry.get("fingerprint") != fingerprint.value:
      why = f"it was made from other {' and '.join(fingerprint.differences(manifest['fingerprint'])) or 'inputs'}"
    elif entry.get("seeds") != [int(s) for s in expected[name]]:
      why = "its members' seeds are not this run's"
    elif entry.get("sha256") != file_hash(results.chunk_path(workdir, name)):
      why = "its contents changed since it was saved (damaged, or another chunk copied over it)"
    else:
      trusted.add(name)
      continue
    rejected[name] = why
  return trusted, rejected


def _unvouched(workdir: str) -> str:
  """Why the folder cannot vouch for its chunks: which record is missing or damaged."""
  if not os.path.exists(os.path.join(workdir, results.CONFIG_FILE)):
    return f"the folder's {results.CONFIG_FILE} is missing"
  if os.path.exists(os.path.join(workdir, MANIFEST_FILE)):
    return f"the folder's {MANIFEST_FILE} is damaged (not the JSON object a run writes)"
  return f"the folder's {MANIFEST_FILE} is missing"


def file_hash(path: str) -> str:
  """SHA-256 of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as file:
    for block in iter(lambda: file.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def read_manifest(workdir: str) -> dict | None:
  path = os.path.join(workdir, MANIFEST_FILE)
  try:
    with open(path) as file:
      manifest = json.load(file)
  except (OSError, ValueError):
    return None
  return manifest if isinstance(manifest, dict) else None


def _without_display(config: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in config.items() if k not in DISPLAY_FIELDS}


def _as_json(value: Any) -> Any:
  return json.loads(json.dumps(value, sort_keys=True, default=str))


def _first_difference(saved: Any, wanted: Any, prefix: str = "") -> str:
  if isinstance(saved, dict) and isinstance(wanted, dict):
    for key in sorted(set(saved) | set(wanted)):
      if saved.get(key, _MISSING) != wanted.get(key, _MISSING):
        return _first_difference(saved.get(key, _MISSING), wanted.get(key, _MISSING),
                                 f"{prefix}{key}.")
  shown = lambda v: "absent" if v is _MISSING else json.dumps(v)
  return f"{prefix.rstrip('.')}: {shown(saved)} there, {shown(wanted)} now"


_MISSING = object()

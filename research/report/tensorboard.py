"""TensorBoard event files in RUN_DIR/tb/, written from the run's files after it ended.

One TensorBoard run per member, `tb/<model>/seed_<seed>`, so the Scalars tab
overlays the seeds of a model (filter runs by model name) and the HParams tab
lists every member with its hyperparameters and final metrics:

- scalars `train_loss` and `eval_loss` per epoch (networks, from curves.csv);
- scalars `final/<metric>` (every model, baselines too, from seeds.csv);
- an hparams session: the flattened config shared by the run, plus `model`,
  `seed`, that model's own fields as `model.<field>` and, in a study, the
  fields its trial set (from trials.csv).

Event files hold wall times and the host name, so unlike the report they are
not byte-reproducible: an existing tb/ is kept, not rewritten.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

import numpy as np

from research import results
from research.report.files import RunFiles
from research.trees import leaves, tuples

TB_DIR = "tb"
_SECTIONS = ("model", "models", "baselines")  # per-model fields, given per member instead


def write_events(files: RunFiles) -> bool:
  """Writes `RUN_DIR/tb/` unless it is already there.

  The events are written to a staging folder that is renamed into place, so a
  tb/ that exists is complete.

  Returns:
    Whether event files were written.
  """
  target = files.path(TB_DIR)
  if os.path.isdir(target):
    return False
  staging = tempfile.mkdtemp(dir=files.workdir, prefix=".tb-staging-")
  try:
    _write(files, staging)
    os.replace(staging, target)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return True


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, bool | float | str]:
  """Nested config -> `{'optimizer.learning_rate': 0.002, ...}` with values the
  hparams plugin takes: bools, floats and strings (sequences as '(50, 100)')."""
  return {name: _hparam(value) for name, value in leaves(config, prefix).items()}


def _hparam(value: Any) -> bool | float | str:
  if isinstance(value, (bool, str)):
    return value
  if isinstance(value, (int, float)):
    return float(value)
  return str(tuples(value))


def hparams_of_member(files: RunFiles, model: str, seed: int) -> dict[str, bool | float | str]:
  """One member's hyperparameters: the shared config, `model`, `seed`, the model's
  own fields as `model.<field>`, and in a study the fields its trial set."""
  config = files.config
  shared = flatten({k: v for k, v in config.items() if k not in _SECTIONS})
  models = config.get("models") or {config.get("model", {}).get("name"): config.get("model")}
  if model not in files.networks:
    own = config.get("baselines", {}).get(model)
  else:
    own = models.get(model, next(iter(models.values())) if len(models) == 1 else None)
  own = flatten(own, "model.") if isinstance(own, dict) else {}
  own.pop("model.name", None)
  trial = _trial_fields(files, model, seed)
  # A trial's value replaces the shared field, or a whole section ('optimizer').
  kept = {k: v for k, v in {**shared, **own}.items()
              if not any(k == t or k.startswith(f"{t}.") for t in trial)}
  return {**kept, **trial, "model": model, "seed": float(seed)}


def _trial_fields(files: RunFiles, model: str, seed: int) -> dict[str, bool | float | str]:
  """The config fields that a study's trial set for this member (trials.csv)."""
  if files.trials is None:
    return {}
  fixed = {"trial", "model", "seed", *results.MEMBER_COLUMNS, *files.metrics}
  rows = files.trials[(files.trials["model"] == model) & (files.trials["seed"] == seed)]
  if rows.empty:
    return {}
  row = rows.iloc[0]
  return {column: (bool(value) if isinstance(value, (bool, np.bool_)) else
                   float(value) if isinstance(value, (int, float, np.number)) else str(value))
          for column, value in row.items() if column not in fixed}


def _folders(models: list[str]) -> dict[str, str]:
  """A folder name per model label: 'sigmoid (200, 100)' -> 'sigmoid_200_100'."""
  folders: dict[str, str] = {}
  for model in models:
    folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(model)).strip("_") or "model"
    while folder in folders.values():  # two labels that differ only in punctuation
      folder += "_"
    folders[model] = folder
  return folders


def _write(files: RunFiles, root: str) -> None:
  # Imported here: tensorboardX imports PyTorch when it is installed (1.3 s of every
  # launch otherwise, report or not).
  from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel
  from tensorboardX.summary import hparams  # pylint: disable=import-outside-toplevel
  metrics = [m for m in files.metrics if m in files.seeds.columns]
  metric_tags = {f"final/{m}": 0.0 for m in metrics}
  curves = files.curves
  epochs = int(curves["epoch"].max()) if curves is not None and not curves.empty else 0
  union: dict[str, bool | float | str] = {}
  folders = _folders(files.models)
  for row in files.seeds.itertuples(index=False):
    model, seed = str(row.model), int(row.seed)
    member = hparams_of_member(files, model, seed)
    for key, value in member.items():
      union.setdefault(key, value)
    _, start, end = hparams(member, metric_tags)
    with SummaryWriter(logdir=os.path.join(root, folders[model], f"seed_{seed}")) as writer:
      if curves is not None:
        rows = curves[(curves["model"] == model) & (curves["seed"] == seed)]
        for column in ("train_loss", "eval_loss"):
          _scalars(writer, column, zip(rows["epoch"], rows[column]))
      writer.file_writer.add_summary(start)
      for metric in metrics:
        _scalars(writer, f"final/{metric}", [(epochs, getattr(row, metric))])
      writer.file_writer.add_summary(end)
  # One experiment summary at the root names every hparam and metric, so the
  # HParams tab shows all columns, not only those of the first member.
  experiment, _, _ = hparams(union, metric_tags)
  with SummaryWriter(logdir=root) as writer:
    writer.file_writer.add_summary(experiment)


def _scalars(writer: Any, tag: str, points: Iterable[tuple[int, float]]) -> None:
  for step, value in points:
    # A diverged member's curve stops where it diverged, and it has no metrics.
    if np.isfinite(value):
      writer.add_scalar(tag, float(value), int(step))

"""Trials grouped into buckets: one compiled program per bucket.

Floats that `vmap` can carry (the optimizer's float fields, and the model's
declared `value_fields` such as dropout when the study varies them) travel as
per-member arrays. Every other field fixes shapes or the program itself, so
trials that agree on all of those share one bucket, and one compilation
trains all of their members. With `study.pad_widths`, trials whose models
differ only in layer widths (a model's declared `width_field`, same number of
layers) share a bucket too: its program is built at their widest widths and
each member computes its own network inside it (`research.models.padding`).
With `study.share_choices` (the default), trials that differ in a model's
declared `choice_fields` (the activation) share a bucket too: its program computes each of the bucket's choices and
selects a member's own by an int that travels with its floats.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from research import seeding
from research.registry import MODELS

if TYPE_CHECKING:
  from research.plan import Trial


@dataclasses.dataclass(frozen=True)
class Bucket:
  """Trials whose members run in one compiled program.

  Attributes:
    label: the program's name in logs and chunk files ('members' when a run
      has a single program).
    trials: its trials; their members are stacked trial after trial.
    vmapped_model_fields: model fields that vary per member (as arrays).
    width_field: the model field padded to `padded_widths` ('' if none); each
      member's own widths travel as ints in `true_<width_field>`.
    padded_widths: the widest width of each layer among the trials.
    choices: `(field, names)` for each choice field its trials differ in; each
      member's position in `names` travels as an int in `<field>_index`.
  """
  label: str
  trials: tuple["Trial", ...]
  vmapped_model_fields: tuple[str, ...]
  width_field: str = ""
  padded_widths: tuple[int, ...] = ()
  choices: tuple[tuple[str, tuple[str, ...]], ...] = ()

  @property
  def first(self) -> "Trial":
    """A trial with every static field of the bucket (shapes, program)."""
    return self.trials[0]

  @property
  def num_members(self) -> int:
    return sum(trial.num_members for trial in self.trials)

  @property
  def seeds(self) -> np.ndarray:
    """Every member's seed, trial after trial, group after group."""
    return np.concatenate([g.seeds for trial in self.trials for g in trial.groups])

  def keys(self, base_seed: int) -> dict[str, jax.Array]:
    """Every member's keys, trial after trial, stacked over members."""
    groups = [g for trial in self.trials for g in trial.groups]
    return seeding.group_keys(groups, base_seed)

  @property
  def model_fields(self) -> Mapping[str, Any]:
    """The fields its program's model is built with (padded widths, if any)."""
    fields = dict(self.first.model.fields)
    if self.width_field:
      fields[self.width_field] = self.padded_widths
    fields.update(self.choices)
    return fields

  def hparams(self) -> dict[str, dict[str, np.ndarray]]:
    """Per-member hyperparameters: `{'optimizer': {...}, 'model': {...}}`, floats (and
    each member's true widths as `[layers]` ints, when padded, and its choices'
    positions as ints)."""
    members = [trial for trial in self.trials for group in trial.groups for _ in group.seeds]
    model = {name: np.array([float(t.model.fields[name]) for t in members], np.float32)
             for name in self.vmapped_model_fields}
    if self.width_field:
      model[f"true_{self.width_field}"] = np.array(
          [t.model.fields[self.width_field] for t in members], np.int32)
    for field, names in self.choices:
      model[f"{field}_index"] = np.array([names.index(t.model.fields[field]) for t in members],
                                         np.int32)
    return {"optimizer": {name: np.array([t.optimizer.floats[name] for t in members],
                                         np.float32) for name in members[0].optimizer.floats},
            "model": model}

  def per_trial(self, outputs: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """Splits the bucket's stacked outputs (a nested mapping of arrays) into each
    trial's members."""
    ends = np.cumsum([trial.num_members for trial in self.trials])
    return {trial.index: jax.tree_util.tree_map(lambda a: a[end - trial.num_members:end],
                                                dict(outputs))
            for trial, end in zip(self.trials, ends)}


def buckets(trials: Sequence["Trial"], pad_widths: bool = False,
            share_choices: bool = False) -> list[Bucket]:
  """Trials grouped by everything but their vmapped floats (and, with `pad_widths`,
  their layer widths; with `share_choices`, their choice fields), in first-seen
  order."""
  varied = {path for trial in trials for path in trial.values}
  grouped: dict[str, list["Trial"]] = {}
  fields_of: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # vmapped, chosen
  for trial in trials:
    info = MODELS.info(trial.model.name)
    vmapped = tuple(f for f in info.value_fields
                    if f"model.{f}" in varied and f in trial.model.fields)
    chosen = tuple(f for f in info.choice_fields if share_choices and f"model.{f}" in varied
                   and isinstance(trial.model.fields.get(f), str))
    padded = info.width_field if pad_widths and info.width_field in trial.model.fields else ""
    key = _static_key(trial, vmapped + chosen, padded)
    grouped.setdefault(key, []).append(trial)
    fields_of[key] = vmapped, chosen
  single = len(grouped) == 1
  return [Bucket(label="members" if single else f"bucket-{number:03d}", trials=tuple(group),
                 vmapped_model_fields=fields_of[key][0], **_padding(group, pad_widths),
                 choices=_choices(group, fields_of[key][1]))
          for number, (key, group) in enumerate(grouped.items())]


def _choices(trials: Sequence["Trial"], fields: Sequence[str]
             ) -> tuple[tuple[str, tuple[str, ...]], ...]:
  """Each of `fields` that the trials differ in, with its names in first-seen order."""
  named = {f: tuple(dict.fromkeys(t.model.fields[f] for t in trials)) for f in fields}
  return tuple((f, names) for f, names in named.items() if len(names) > 1)


def _padding(trials: Sequence["Trial"], pad_widths: bool) -> dict[str, Any]:
  """The bucket's `width_field` and `padded_widths`, if its trials' widths differ."""
  field = MODELS.info(trials[0].model.name).width_field if pad_widths else ""
  widths = {tuple(t.model.fields[field]) for t in trials} if field else set()
  if len(widths) < 2:  # one shape: the program is the unpadded one
    return {}
  return {"width_field": field, "padded_widths": tuple(int(max(w)) for w in zip(*widths))}


def _static_key(trial: "Trial", per_member_fields: Sequence[str], padded: str) -> str:
  """The trial's config as JSON with its per-member floats and choices blanked out
  (and the widths of a `padded` field, but not their number)."""
  static = json.loads(trial.config_json)
  for name in trial.optimizer.floats:
    static["optimizer"][name] = "<per member>"
  model = next(iter(static["models"].values())) if "models" in static else static["model"]
  for name in per_member_fields:
    model[name] = "<per member>"
  if padded:
    model[padded] = f"<{len(model[padded])} padded layers>"
  return json.dumps(static, sort_keys=True, default=str)

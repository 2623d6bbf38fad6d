"""The runs the claims need, each in its own folder of the replication's workdir.

A run that finished there before is read back, a killed one resumes, and a
folder holding another config's run is refused (`research.pipeline.run_study`).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ml_collections
from absl import logging

import research
from research.errors import UserError
from research.registry import BASELINES
from research.replicate.claims import EXPERIMENTS, Experiment
from research.report.files import RunFiles, read_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Classical models the credit claims name that are registered only when installed.
OPTIONAL_BASELINES = ("xgboost",)


def experiment_config(experiment: Experiment, scale: str,
                      configs_dir: str = os.path.join(ROOT, "configs")
                      ) -> ml_collections.ConfigDict:
  """The experiment's config at `scale`: its config file (and variant) with the
  scale's overrides, the report on, and the optional baselines that are installed."""
  file, _, variant = experiment.config[scale].partition(":")
  path = os.path.join(configs_dir, file)
  if not os.path.isfile(path):
    raise UserError(f"{path} is missing: run the replication from a checkout of the project")
  spec = importlib.util.spec_from_file_location(f"replicate_{experiment.name}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant) if variant else module.get_config()
  for dotted, value in experiment.overrides.get(scale, {}).items():
    set_field(config, dotted, value)
  config.report = True
  if "baselines" in config and config.get("task", "classification") == "classification":
    extra = tuple(n for n in OPTIONAL_BASELINES if n in BASELINES
                  and n not in config.baselines.names)
    set_field(config, "baselines.names", tuple(config.baselines.names) + extra)
  return config


def set_field(config: ml_collections.ConfigDict, dotted: str, value: Any) -> None:
  """Sets `config.<dotted>`; a field the config lacks is a `UserError`."""
  *parents, last = dotted.split(".")
  node = config
  for parent in parents:
    node = node[parent]
  if last not in node:
    raise UserError(f"the replication sets {dotted}, which the config does not have")
  with node.ignore_type():
    node[last] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value


def run_experiments(workdir: str, scale: str, names: Iterable[str],
                    plugin_dirs: Sequence[str] = ()) -> tuple[dict[str, RunFiles],
                                                              dict[str, float]]:
  """Runs (or reads back) each named experiment into `workdir/<name>`; their files and
  this command's wall time for each (0 for one that had finished before)."""
  files, seconds = {}, {}
  for name in names:
    experiment = EXPERIMENTS[name]
    folder = os.path.join(workdir, name)
    start = time.perf_counter()
    result = research.run_study(experiment_config(experiment, scale), folder, plugin_dirs)
    seconds[name] = 0.0 if result.resumed_finished else time.perf_counter() - start
    logging.info("%s: %s in %.0f s", name, "read back" if result.resumed_finished else "ran",
                 seconds[name])
    files[name] = read_run(folder)
  return files, seconds


def check_workdir(workdir: str, known: Mapping[str, Any]) -> None:
  """Refuses a non-empty folder that holds no replication."""
  if not os.path.isdir(workdir) or not os.listdir(workdir):
    return
  ours = set(known) | {"replication.json", "replication.md", "replication.html", "figures"}
  if not set(os.listdir(workdir)) & ours:
    raise UserError(f"--workdir {workdir} is a non-empty folder that holds no replication; "
                    "pass a new or empty folder")

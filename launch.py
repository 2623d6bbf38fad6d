"""Runs one study: `python launch.py --config=configs/credit.py [--config.field=value]`."""

import datetime
import gc
import os
import sys

if __name__ == "__main__":  # first: a process's malloc is chosen when it starts
  from research import malloc
  malloc.use_scalable_malloc()
  # Imports and tracing allocate objects by the million: a young collection every 50,000
  # of them, not 700, took the collector's time in a first study run from 0.95 s to 0.31 s.
  gc.set_threshold(50_000, 20, 10)

# Before JAX is imported: one XLA host device per core, so the members of a run
# are sharded over every core (on 2 cores the credit study trains 2.5x faster).
# Accelerators are unaffected; set XLA_FLAGS yourself to choose another count.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count={os.cpu_count() or 1}"
                             ).strip()

from absl import app, flags, logging
import ml_collections
from ml_collections import config_flags

import research
from research import baseline_cache, compile_cache, hosts, programs, stops
from research.errors import UserError
from research.report import terminal
from research.study.space import is_search

HERE = os.path.dirname(os.path.abspath(__file__))
_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None,
                               "Output folder (default runs/<config>-<timestamp>).")
_PLUGINS = flags.DEFINE_list("plugins", [os.path.join(HERE, "plugins")],
                             "Folders whose .py files are imported as plugins.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "Multi-host: HOST:PORT where process 0 listens.")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", 1, "Multi-host: processes in the run, each on its own devices.")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", 0, "Multi-host: this process's index; process 0 writes the workdir.")
_CACHE = flags.DEFINE_string(
    "compilation_cache", compile_cache.default_dir(),
    "Folder of JAX's persistent compilation cache (compiled programs are reused across "
    "runs); empty to turn it off.")
_BASELINE_CACHE = flags.DEFINE_string(
    "baseline_cache", baseline_cache.default_dir(),
    "Folder where fitted baselines are kept for the next run of the same data, seeds and "
    "code; empty to turn it off.")
_DRY_RUN = flags.DEFINE_bool(
    "dry_run", False, "Print the plan (programs, members, memory) and exit; writes nothing.")
flags.mark_flag_as_required("config")


def parse_flags(argv):
  """Parses flags; a bad override or config file is one line and exit 2, not a traceback."""
  for arg in argv[1:]:
    path = arg[len("--config="):].split(":")[0]  # a variant may follow: configs/wind.py:full
    if arg.startswith("--config=") and not os.path.isfile(path):
      print(f"error: config file {path} does not exist; e.g. --config=configs/credit.py",
            file=sys.stderr)
      sys.exit(2)
  try:
    return flags.FLAGS(argv)
  except Exception as e:  # pylint: disable=broad-except
    _fail(e, "bad flag or config override")


def _fail(error: Exception, what: str):
  while error.args and isinstance(error.args[0], Exception):  # config_dict nests a KeyError
    error = error.args[0]
  text = str(error.args[0] if error.args else error)
  if "Traceback (most recent call last)" in text:  # config_flags quotes the loader's traceback
    text = text.strip().splitlines()[-1]
  reason = " ".join(text.split())
  if isinstance(error, SyntaxError):
    reason = f"{error.filename}:{error.lineno}: {error.msg}"
  elif isinstance(error, KeyError):
    reason = f"the config has no field {reason}"
  print(f"error: {what}: {reason}; see the fields of the config file and --helpfull",
        file=sys.stderr)
  sys.exit(2)


def main(argv):
  # What is imported by now (JAX, Flax, this package) lives to the end: kept out of
  # the collector's full scans (0.78 of the 1.1 s it took in a first study's run).
  gc.freeze()
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  config_file = flags.FLAGS["config"].config_filename
  config = _CONFIG.value
  if not isinstance(config, ml_collections.ConfigDict):  # a file that failed to load
    try:
      config["num_seeds"]  # re-raises the loading error
    except Exception as e:  # pylint: disable=broad-except
      _fail(e, f"cannot load --config={config_file}")
  if config.get("progress", False) and sys.stderr.isatty() and not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # the progress lines say what the INFO logs would
  config_name = os.path.splitext(os.path.basename(config_file))[0]
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  # The process id keeps two launches in the same second apart.
  workdir = _WORKDIR.value or os.path.join("runs", f"{config_name}-{stamp}-{os.getpid()}")
  plugin_dirs = _PLUGINS.value
  if flags.FLAGS["plugins"].present:
    missing = [d for d in plugin_dirs if not os.path.exists(d)]
    if missing:
      print(f"error: --plugins names {missing[0]}, which does not exist; pass existing "
            "folders of .py files", file=sys.stderr)
      sys.exit(2)
  compile_cache.enable(_CACHE.value)
  baseline_cache.enable(_BASELINE_CACHE.value)
  try:
    searching = is_search(config)
    if searching:  # Optuna is imported only for a search (0.2 s of every start)
      from research import search  # pylint: disable=import-outside-toplevel
    if _DRY_RUN.value:
      if searching:  # what one batch compiles; the sampler picks the rest
        print(f"an Optuna search ({config.study.sampler}) of {config.study.num_trials} trials; "
              "its first batch:")
        config = stops.run(lambda: search.first_batch_config(config))
      print(stops.run(lambda: programs.dry_run(config, plugin_dirs=plugin_dirs)))
      return
    hosts.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    run = search.run_search if searching else research.run_study
    result = stops.run(lambda: run(config, workdir, plugin_dirs=plugin_dirs))
    if compile_cache.summary():
      logging.info("%s", compile_cache.summary())
  except stops.Stopped as e:
    stops.exit_now(e.signum, workdir, sys.argv)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except OSError as e:  # e.g. a full disk: what is saved stays valid, nothing half-written
    print(f"error: {e.strerror or e} ({e.filename or 'a file'}); make room or fix the folder, "
          "then run the same command again to resume", file=sys.stderr)
    sys.exit(2)
  if result is None:  # a worker of a multi-host run: process 0 reports
    print(f"process {_PROCESS_ID.value}: trained its members; process 0 writes the results")
    return
  if result.resumed_finished:
    print(f"{result.workdir} already holds this finished run; nothing to do")
  if result.ranking is not None and len(result.ranking):
    print(terminal.format_study(result.ranking, result.summary, result.comparison,
                                result.metrics))
  else:
    print(terminal.format_summary(result.summary, result.metrics))
    print()
    print(terminal.format_comparison(result.summary, result.comparison, result.metrics,
                                     result.lower_is_better))
  if not result.variance.empty:
    print()
    print(terminal.format_variance(result.variance, result.metrics[0]))
  print(f"results in {result.workdir}")
  gc.freeze()  # and no full collection of everything at the interpreter's exit
  if result.every_network_diverged():
    print("error: every network member diverged (a non-finite loss or update), so the "
          "networks have no results; lower optimizer.learning_rate or check the data, "
          f"see the diverged columns of {result.workdir}/seeds.csv", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main, flags_parser=parse_flags)

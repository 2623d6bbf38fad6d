"""Runs one study: `python launch.py --config=configs/credit.py [--config.field=value]`."""

import datetime
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

import research
from research.errors import UserError
from research.report.terminal import format_summary

HERE = os.path.dirname(os.path.abspath(__file__))
_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None,
                               "Output folder (default runs/<config>-<timestamp>).")
_PLUGINS = flags.DEFINE_list("plugins", [os.path.join(HERE, "plugins")],
                             "Folders whose .py files are imported as plugins.")
flags.mark_flag_as_required("config")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  config_name = os.path.splitext(os.path.basename(flags.FLAGS["config"].config_filename))[0]
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  workdir = _WORKDIR.value or os.path.join("runs", f"{config_name}-{stamp}")
  try:
    result = research.run(_CONFIG.value, workdir, plugin_dirs=_PLUGINS.value)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(format_summary(result.summary, result.metrics))
  print(f"results in {result.workdir}")


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main)

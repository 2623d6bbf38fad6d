"""Runs the experiments behind the source studies' claims and writes the replication report.

    python -m research.replicate --workdir=runs/replication            # CPU preset
    python -m research.replicate --workdir=runs/replication --scale=full  # for a GPU

Each experiment runs in its own folder of --workdir (a normal run folder with
its own report); rerun the command and finished runs are read back, killed
ones resume. Then every claim is judged from those files and DIR/replication.md,
replication.html and replication.json are written. Bad input is one `error:`
line and exit status 2; Ctrl-C stops at once and the same command resumes.
"""

import os
import sys

# Before JAX is imported (as in launch.py): one XLA host device per core, so each
# run's members are sharded over every core.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count={os.cpu_count() or 1}"
                             ).strip()

from absl import app, flags, logging  # noqa: E402

from research import compile_cache, stops  # noqa: E402
from research.errors import UserError  # noqa: E402
from research.replicate import document, runs, verdicts  # noqa: E402
from research.replicate.claims import CLAIMS, EXPERIMENTS, SCALES  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", None, "Folder of the replication and its runs.")
_SCALE = flags.DEFINE_enum("scale", "cpu", SCALES,
                           "cpu: the CPU preset (about 20 minutes on 2 cores); full: the "
                           "original scale (a GPU); smoke: tiny runs (tests).")
_CACHE = flags.DEFINE_string(
    "compilation_cache", compile_cache.default_dir(),
    "Folder of JAX's persistent compilation cache; empty to turn it off.")
flags.mark_flag_as_required("workdir")


def replicate(workdir: str, scale: str) -> str:
  """Runs what the claims need, judges every claim, writes the documents; their path."""
  runs.check_workdir(workdir, EXPERIMENTS)
  needed = list(dict.fromkeys(claim.experiment for claim in CLAIMS))
  files, seconds = runs.run_experiments(workdir, scale, needed)
  findings = {claim.id: verdicts.judge(claim, files[claim.experiment]) for claim in CLAIMS}
  document.write(workdir, scale, findings, files, seconds)
  for claim in CLAIMS:
    print(f"claim {claim.id:>3}: {findings[claim.id].verdict:<15} {claim.text}")
  return os.path.join(workdir, document.FILES[1])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  compile_cache.enable(_CACHE.value)
  try:
    report = stops.run(lambda: replicate(_WORKDIR.value, _SCALE.value))
  except stops.Stopped as e:
    stops.exit_now(e.signum, _WORKDIR.value, sys.argv)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"replication report: {report}")


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main)

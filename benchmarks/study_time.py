"""A study's whole wall time, compilation included, against an earlier commit.

  python benchmarks/study_time.py --before=7323e92 [--config=configs/credit_architectures.py]
      [--flags=--config.num_seeds=8] [--after-flags=... ...] [--rounds=1]

Runs `launch.py` on the config twice in a row at the earlier commit (a git
worktree of it in a temp folder; it compiles every program both times) and
twice at this checkout with new, empty caches of compiled programs and fitted baselines (the first run
compiles and fits and fills them, the second loads from them), and as often again for each
`--after-flags` (more overrides at this checkout, each with its own empty
cache), alternating the sides round by round, and prints the wall times and their ratios. Every run writes
into a new folder and reports nothing (`--config.report=False`), so the time
is compiling, training, fitting the baselines and writing the result files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed_launch(root: str, config: str, flags: list[str], workdir: str,
                 cache: str | None) -> float:
  """Seconds of one `launch.py` run from the checkout at `root`."""
  env = {**os.environ, "PYTHONPATH": root, "JAX_PLATFORMS": "cpu"}
  command = [sys.executable, os.path.join(root, "launch.py"), f"--config={config}", *flags,
             "--config.report=False", "--config.progress=False", f"--workdir={workdir}"]
  if cache is not None:  # this checkout: its own caches of compiled programs and baselines
    command += [f"--compilation_cache={cache}/jax", f"--baseline_cache={cache}/baselines"]
  start = time.perf_counter()
  result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
  seconds = time.perf_counter() - start
  if result.returncode != 0:
    raise SystemExit(f"run failed in {root}:\n{result.stderr[-3000:]}")
  return seconds


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--before", required=True, help="the earlier commit")
  parser.add_argument("--config", default="configs/credit_architectures.py")
  parser.add_argument("--flags", default="--config.num_seeds=8",
                      help="config overrides for both sides, separated by spaces")
  parser.add_argument("--after-flags", action="append", default=None,
                      help="more overrides for this checkout only; given several times, "
                      "each is one more side (e.g. '' and '--config.study.pad_widths=True')")
  parser.add_argument("--rounds", type=int, default=1)
  args = parser.parse_args()
  flags = args.flags.split()
  afters = {("after" + (f" [{extra}]" if extra else "")): extra.split()
            for extra in (args.after_flags or [""])}
  with tempfile.TemporaryDirectory() as tmp:
    before = os.path.join(tmp, "before")
    subprocess.run(["git", "-C", HERE, "worktree", "add", "--detach", before, args.before],
                   check=True, capture_output=True)
    sides = [("before", before, [])] + [(name, HERE, extra) for name, extra in afters.items()]
    try:
      times = {f"{side} {run}": [] for side, _, _ in sides for run in ("1st", "2nd")}
      for round_number in range(args.rounds):
        for number, (side, root, extra) in enumerate(sides):
          cache = None if side == "before" else os.path.join(tmp, f"cache-{round_number}-{number}")
          for run in ("1st", "2nd"):
            workdir = os.path.join(tmp, f"{number}-{round_number}-{run}")
            times[f"{side} {run}"].append(timed_launch(root, args.config, flags + extra,
                                                       workdir, cache))
            print(f"{side} {run} run: {times[f'{side} {run}'][-1]:.1f} s", flush=True)
    finally:
      subprocess.run(["git", "-C", HERE, "worktree", "remove", "--force", before],
                     capture_output=True)
  best = {key: min(values) for key, values in times.items()}
  ratios = {side: {"first_run_ratio": best[f"{side} 1st"] / best["before 1st"],
                   "second_run_ratio": best[f"{side} 2nd"] / best["before 1st"]}
            for side in afters}
  print(json.dumps({"config": args.config, "flags": flags, "before": args.before,
                    "seconds": best, "ratios": ratios}, indent=2))


if __name__ == "__main__":
  main()

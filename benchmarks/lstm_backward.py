"""The LSTM's hand-written backward pass against autodiff's, in training.

  python benchmarks/lstm_backward.py [--seeds=32] [--repeats=3]

Trains the `benchmarks/seeds.py` LSTM workload (64 units, windows of 48
half-hours, batch 32, Adam, one epoch on fpp2/elecdemand) for S members with
the project's strategy for sequence models, once with
`research.models.lstm_scan` (the recurrent kernel's gradient as one product
after the reverse scan) and once with the same forward differentiated by JAX,
alternating the two `--repeats` times in one process; prints the medians,
their ratio and how far apart the two sides' test MAEs are.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__":  # one host device per core, as benchmarks/seeds.py; before JAX
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count={os.cpu_count()}").strip()

import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.seeds import Workload  # pylint: disable=wrong-import-position
from research.models import lstm_scan, rnn  # pylint: disable=wrong-import-position
from research.train import strategies  # pylint: disable=wrong-import-position


def autodiff_scan(x_proj, kernel, reverse=False):
  """The same forward, differentiated by JAX (the previous commit's way)."""
  return lstm_scan._forward(x_proj, kernel, reverse)[0]  # pylint: disable=protected-access


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--seeds", type=int, default=32)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  strategy = strategies.resolve("auto", "sequence")
  programs = {}
  for side, scan in (("autodiff", autodiff_scan), ("hand-written", lstm_scan.lstm_scan)):
    rnn.lstm_scan = scan  # read when the layer is traced, i.e. while compiling below
    workload = Workload("lstm")
    compiled, inputs, compile_s, _, _ = workload.jax_program(args.seeds, strategy)
    jax.block_until_ready(compiled(*inputs))  # warm-up
    programs[side] = (workload, compiled, inputs, compile_s)
  rnn.lstm_scan = lstm_scan.lstm_scan
  times = {side: [] for side in programs}
  quality = {}
  for _ in range(args.repeats):
    for side, (workload, compiled, inputs, _) in programs.items():
      start = time.perf_counter()
      output = jax.block_until_ready(compiled(*inputs))
      times[side].append(time.perf_counter() - start)
      quality[side] = workload.jax_quality(output)
  for side, (_, _, _, compile_s) in programs.items():
    print(f"{side:>12}: {1e3 * statistics.median(times[side]) / args.seeds:8.1f} ms per seed "
          f"(S = {args.seeds}, {strategy}, {len(jax.devices())} device(s)), compiled in "
          f"{compile_s:.1f} s; test MAE {quality[side].mean():.5f}")
  ratio = statistics.median(times["autodiff"]) / statistics.median(times["hand-written"])
  gap = np.max(np.abs(quality["autodiff"] - quality["hand-written"]))
  print(f"autodiff / hand-written: {ratio:.3f}; largest member MAE difference {gap:.2e}")


if __name__ == "__main__":
  main()

"""Coverage of the t and BCa intervals of a mean at few seeds, by simulation.

  python benchmarks/interval_coverage.py                # the table below, ~5 minutes on 2 cores
  python benchmarks/interval_coverage.py --sizes=48,64,128
  python benchmarks/interval_coverage.py --replications=500 --sizes=3,8

For every sample size n and distribution, draws `--replications` samples of n
values, computes `research.inference.t_interval` and
`research.inference.bootstrap_ci` (BCa) on each and counts how often the interval
holds the true mean. Both methods see the same samples. The bootstrap runs
with `--resamples` resamples, 2000 by default rather than the package's 9999
to keep the run short; a run at 9999 (n = 3 to 32) moved no BCa cell by more
than 0.5 points. Each cell's Monte Carlo standard error is about 0.5 points at
2000 replications.

The rule for `research.inference.AUTO_BCA_MIN_SEEDS` was the smallest n at
which BCa covers at least 93% on both the normal and the lognormal(sigma=0.5)
distribution. The lognormal(sigma=1) column is a stress case, reported but not
used for the rule.

Measured (2000 replications, 2000 resamples, nominal 95%, percent):

  | n   | t normal | bca normal | t logn(0.5) | bca logn(0.5) | t logn(1) | bca logn(1) |
  |-----|----------|------------|-------------|---------------|-----------|-------------|
  | 3   | 94.8     | 71.6       | 91.3        | 66.8          | 83.9      | 62.0        |
  | 4   | 95.2     | 79.5       | 91.8        | 77.9          | 83.2      | 70.0        |
  | 5   | 95.9     | 84.7       | 91.9        | 81.5          | 81.6      | 73.8        |
  | 6   | 94.7     | 84.8       | 92.0        | 83.4          | 82.2      | 77.1        |
  | 8   | 94.8     | 88.8       | 92.5        | 86.8          | 83.7      | 81.6        |
  | 10  | 95.0     | 89.9       | 92.2        | 89.0          | 83.2      | 82.4        |
  | 12  | 94.8     | 90.0       | 92.2        | 89.6          | 85.9      | 84.7        |
  | 16  | 94.5     | 92.0       | 92.7        | 90.2          | 83.6      | 84.2        |
  | 20  | 95.8     | 92.7       | 93.0        | 91.3          | 87.5      | 88.6        |
  | 32  | 95.3     | 93.5       | 93.2        | 91.8          | 89.1      | 89.6        |
  | 48  | 95.0     | 94.0       | 94.2        | 93.5          | 88.8      | 90.4        |
  | 64  | 95.2     | 94.4       | 93.5        | 92.8          | 90.2      | 90.5        |
  | 128 | 94.8     | 94.5       | 94.5        | 94.0          | 92.3      | 93.2        |

Up to 32 seeds BCa never reaches 93% on the lognormal(0.5); it first does at
48 (and falls back to 92.8 at 64, within noise). At every n, on the normal
and the lognormal(0.5), BCa covers less than t on the same samples, so
switching to it would never help there; it leads t only on the very skewed
lognormal(1) from 16 seeds on, by 0.3 to 1.6 points, where neither reaches
93% below 128 seeds. Hence AUTO_BCA_MIN_SEEDS = None: "auto" is t at every n.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from research.inference import t_interval  # noqa: E402
from research.inference import bootstrap_ci  # noqa: E402

# name -> (sampler(rng, size), true mean). Normal: the textbook case; the
# lognormals: right-skewed like per-seed error metrics with occasional bad
# seeds (skewness 1.75 at sigma 0.5, 6.2 at sigma 1).
DISTRIBUTIONS = {
    "normal": (lambda rng, n: rng.normal(0.8, 0.01, n), 0.8),
    "lognormal(0.5)": (lambda rng, n: rng.lognormal(0.0, 0.5, n), float(np.exp(0.5 ** 2 / 2))),
    "lognormal(1)": (lambda rng, n: rng.lognormal(0.0, 1.0, n), float(np.exp(0.5))),
}
THRESHOLD_DISTRIBUTIONS = ("normal", "lognormal(0.5)")
THRESHOLD_COVERAGE = 0.93


def coverage(name: str, n: int, replications: int, resamples: int,
             confidence: float) -> tuple[float, float]:
  """Share of samples whose t and BCa intervals hold the true mean."""
  sampler, truth = DISTRIBUTIONS[name]
  # One stream per cell, so a cell's numbers do not depend on which others run.
  rng = np.random.default_rng([n, list(DISTRIBUTIONS).index(name)])
  hits_t = hits_bca = 0
  for replication in range(replications):
    sample = sampler(rng, n)
    low, high = t_interval(sample, confidence)
    hits_t += low <= truth <= high
    low, high = bootstrap_ci(sample, confidence, seed=replication, num_resamples=resamples)
    hits_bca += low <= truth <= high
  return hits_t / replications, hits_bca / replications


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sizes", default="3,4,5,6,8,10,12,16,20,32")
  parser.add_argument("--replications", type=int, default=2000)
  parser.add_argument("--resamples", type=int, default=2000)
  parser.add_argument("--confidence", type=float, default=0.95)
  args = parser.parse_args(argv)
  sizes = [int(size) for size in args.sizes.split(",")]
  header = "| n | " + " | ".join(f"t {name} | bca {name}" for name in DISTRIBUTIONS) + " |"
  print(header)
  print("|" + "---|" * (1 + 2 * len(DISTRIBUTIONS)))
  threshold, bca_ahead = None, []
  for n in sizes:
    cells = {name: coverage(name, n, args.replications, args.resamples, args.confidence)
             for name in DISTRIBUTIONS}
    print(f"| {n} | " + " | ".join(f"{100 * t:.1f} | {100 * bca:.1f}"
                                   for t, bca in cells.values()) + " |", flush=True)
    if threshold is None and all(cells[name][1] >= THRESHOLD_COVERAGE
                                 for name in THRESHOLD_DISTRIBUTIONS):
      threshold = n
    if all(cells[name][1] > cells[name][0] for name in THRESHOLD_DISTRIBUTIONS):
      bca_ahead.append(n)
  names = " and ".join(THRESHOLD_DISTRIBUTIONS)
  print(f"\nsmallest n with BCa >= {100 * THRESHOLD_COVERAGE:.0f}% on {names}: {threshold}")
  print(f"n where BCa covers more than t on {names}: {bca_ahead or 'none'}")


if __name__ == "__main__":
  main()

"""TPE against random search at equal budget, over several search seeds (paired).

  python scripts/compare_samplers.py --seeds=5 [--config=configs/credit_search.py]

Runs the config's Optuna search once per (sampler, search seed), each in its own
folder under --root, and prints, per seed, the best trial's mean over seeds on
the part trials are selected on (what the sampler optimizes) and its test mean,
then TPE minus random, paired by search seed, with a t interval and the
Wilcoxon signed-rank p.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_of(workdir: str) -> tuple[float, float]:
  ranking = pd.read_csv(os.path.join(workdir, "ranking.csv"))
  trials = pd.read_csv(os.path.join(workdir, "trials.csv"))
  best = ranking.iloc[0]
  return float(best["mean"]), float(trials[trials["trial"] == best["trial"]][best["metric"]].mean())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="configs/credit_search.py")
  parser.add_argument("--seeds", type=int, default=5)
  parser.add_argument("--samplers", default="tpe,random")
  parser.add_argument("--root", default="runs/compare_samplers")
  args = parser.parse_args()
  samplers = args.samplers.split(",")
  rows = []
  for seed in range(args.seeds):
    for sampler in samplers:
      workdir = os.path.join(args.root, f"{sampler}-{seed}")
      subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), f"--config={args.config}",
                      f"--workdir={workdir}", f"--config.study.sampler={sampler}",
                      f"--config.study.seed={seed}", "--config.study.rerun_best=False",
                      "--config.progress=False", "--verbosity=-1"], check=True, cwd=ROOT,
                     stdout=subprocess.DEVNULL)
      selected, test = best_of(workdir)
      rows.append({"seed": seed, "sampler": sampler, "selected": selected, "test": test})
      print(f"seed {seed} {sampler:>7}: best {selected:.4f} (selection part), test {test:.4f}",
            flush=True)
  table = pd.DataFrame(rows)
  print(table.pivot(index="seed", columns="sampler", values=["selected", "test"]).round(4))
  a, b = samplers[:2]
  for part in ("selected", "test"):
    wide = table.pivot(index="seed", columns="sampler", values=part)
    diff = (wide[a] - wide[b]).to_numpy()
    low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
    p = stats.wilcoxon(diff).pvalue if np.any(diff != 0) else 1.0
    print(f"{part}: {a} - {b} = {diff.mean():+.4f} [{low:+.4f}, {high:+.4f}] over "
          f"{len(diff)} search seeds; {a} better on {int((diff > 0).sum())}; Wilcoxon p = {p:.3g}")


if __name__ == "__main__":
  main()

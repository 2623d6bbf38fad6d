"""The credit-scoring study's claims, tested on the 18-architecture run's files."""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from research.replicate.evidence import (CONTRADICTED, NOT_COMPARABLE, NOT_SUPPORTED,
                                         SUPPORTED, Finding, best_network, interval_text,
                                         paired_difference, per_seed, significance,
                                         trial_rows, difference_text)
from research.report.files import RunFiles


def _group_means(rows: pd.DataFrame, field: str, value: str, metric: str) -> pd.Series:
  """Per seed, the mean `metric` of the trials whose `field` is `value`."""
  group = rows[rows[field].astype(str) == value]
  if group.empty:
    raise KeyError(f"no trial has {field} = {value!r}")
  return group.groupby("seed")[metric].mean()


def group_gap(files: RunFiles, field: str, better: str, worse: str, metric: str,
              alpha: float) -> Finding:
  """Trials with `field` = `better` against those with `worse`: per seed, each group's
  mean over its trials; paired by seed (t interval and Wilcoxon)."""
  rows = trial_rows(files)
  a, b = (_group_means(rows, field, v, metric) for v in (better, worse))
  d = paired_difference(a, b)
  means = rows.groupby(["model", rows[field].astype(str)])[metric].mean().unstack()
  every = bool(means[better].min() > means[worse].max())
  verdict = significance(d, alpha)
  return Finding(
      ours=f"{better} {interval_text(a.to_numpy())}; {worse} {interval_text(b.to_numpy())}; "
           f"architecture means {better} {means[better].min():.4f}-{means[better].max():.4f}, "
           f"{worse} {means[worse].min():.4f}-{means[worse].max():.4f}",
      test=f"{better} − {worse} (each seed: the mean over its architectures), paired by "
           f"seed: {difference_text(d)}",
      verdict=verdict,
      reason={SUPPORTED: f"{better} is better on average",
              CONTRADICTED: f"{worse} is better on average",
              NOT_SUPPORTED: "the difference is not significant"}[verdict]
             + (f"; every {better} architecture is above every {worse} one" if every else
                f"; not every {better} architecture is above every {worse} one"),
      values={**d, "every": every})


def range_ratio(files: RunFiles, field: str, stable: str, other: str, metric: str,
                confidence: float, resamples: int) -> Finding:
  """Range (max − min) of the architectures' mean `metric` in each group, and their
  ratio with a bootstrap interval over seeds (seeds resampled, all trials together)."""
  rows = trial_rows(files)
  table = rows.pivot_table(index="seed", columns="model", values=metric)
  groups = rows.drop_duplicates("model").set_index("model")[field].astype(str)
  columns = {v: [m for m in table.columns if groups[m] == v] for v in (stable, other)}

  def ranges(frame: pd.DataFrame) -> tuple[float, float]:
    means = frame.mean()
    return tuple(float(means[columns[v]].max() - means[columns[v]].min())
                 for v in (stable, other))

  spread_stable, spread_other = ranges(table)
  rng = np.random.default_rng(0)
  picks = rng.integers(0, len(table), (resamples, len(table)))
  ratios = np.array([np.divide(*ranges(table.iloc[p])) for p in picks])
  low, high = np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2])
  ratio = spread_stable / spread_other
  verdict = SUPPORTED if high < 1 else CONTRADICTED if low > 1 else NOT_SUPPORTED
  return Finding(
      ours=f"range over architectures: {stable} {spread_stable:.4f}, {other} "
           f"{spread_other:.4f}",
      test=f"ratio {stable}/{other} = {ratio:.2f}, {confidence:.0%} bootstrap interval over "
           f"seeds [{low:.2f}, {high:.2f}] ({resamples} resamples)",
      verdict=verdict,
      reason={SUPPORTED: f"{stable}'s range is the narrower, the interval below 1",
              CONTRADICTED: f"{other}'s range is the narrower, the interval above 1",
              NOT_SUPPORTED: "the interval of the ratio contains 1"}[verdict],
      values={"ratio": ratio, "low": float(low), "high": float(high)})


def _layers(sizes) -> int:
  return len(ast.literal_eval(sizes) if isinstance(sizes, str) else sizes)


def _equivalence_verdict(d: dict, margin: float) -> str:
  """Within the margin (90% CI inside it: two one-sided tests at 5%), beyond it (the
  95% CI outside it), or undecided."""
  (low90, high90), (low95, high95) = d["ci90"], d["ci95"]
  if -margin < low90 and high90 < margin:
    return SUPPORTED
  if low95 > margin or high95 < -margin:
    return CONTRADICTED
  return NOT_SUPPORTED


def depth_gap(files: RunFiles, field: str, deep: int, shallow: int, metric: str,
              margin: float, select: str) -> Finding:
  """The best `deep`-layer against the best `shallow`-layer trial (each chosen on the
  validation part), paired by seed on test: within ±`margin`?"""
  rows = trial_rows(files)
  depth = rows.drop_duplicates("model").set_index("model")[field].map(_layers)
  best = {n: best_network(files, metric, select, list(depth.index[depth == n]))
          for n in (deep, shallow)}
  d = paired_difference(per_seed(files, best[deep], metric), per_seed(files, best[shallow],
                                                                       metric))
  verdict = _equivalence_verdict(d, margin)
  low90, high90 = d["ci90"]
  return Finding(
      ours=f"{best[deep]} − {best[shallow]}: {d['mean_diff']:+.4f}",
      test=f"equivalence within ±{margin}: 90% CI [{low90:+.4f}, {high90:+.4f}]; "
           f"{difference_text(d)}",
      verdict=verdict,
      reason={SUPPORTED: f"the difference is within ±{margin} (the deeper net "
                         f"{'better' if d['mean_diff'] > 0 else 'worse'} by "
                         f"{abs(d['mean_diff']):.4f})",
              CONTRADICTED: f"the difference exceeds {margin}",
              NOT_SUPPORTED: f"the interval reaches beyond ±{margin}"}[verdict],
      values={**d, "deep": best[deep], "shallow": best[shallow]})


def spread_ratio(files: RunFiles, baseline: str, metrics: tuple[str, ...], alpha: float,
                 resamples: int, select: str) -> Finding:
  """The best network's spread over seeds against `baseline`'s, per metric: std ratio
  with a bootstrap interval (seeds resampled) and the Brown–Forsythe test."""
  network = best_network(files, metrics[0], select)
  parts, outcomes, values = [], [], {}
  rng = np.random.default_rng(0)
  for metric in metrics:
    joined = pd.concat([per_seed(files, network, metric).rename("a"),
                        per_seed(files, baseline, metric).rename("b")], axis=1).dropna()
    ratio = joined["a"].std() / joined["b"].std()
    picks = rng.integers(0, len(joined), (resamples, len(joined)))
    boot = [joined.iloc[p]["a"].std() / joined.iloc[p]["b"].std() for p in picks]
    low, high = np.nanquantile(boot, [0.025, 0.975])
    p = float(scipy_stats.levene(joined["a"], joined["b"], center="median").pvalue)
    outcomes.append(SUPPORTED if ratio > 1 and p < alpha else
                    CONTRADICTED if ratio < 1 and p < alpha else NOT_SUPPORTED)
    parts.append(f"{metric}: std {joined['a'].std():.4f} against {joined['b'].std():.4f}, "
                 f"ratio {ratio:.2f} [{low:.2f}, {high:.2f}], Brown–Forsythe p = {p:.2g}")
    values[metric] = {"ratio": float(ratio), "low": float(low), "high": float(high), "p": p}
  all_ratios = [per_seed(files, m, metrics[0]).std() / per_seed(files, baseline, metrics[0]).std()
                for m in dict.fromkeys(trial_rows(files)["model"])]
  verdict = (outcomes[0] if len(set(outcomes)) == 1 else NOT_SUPPORTED)
  return Finding(
      ours=f"{network} against {baseline}: " + "; ".join(parts),
      test=f"per metric the std ratio (bootstrap 95% interval over seeds) and Brown–Forsythe "
           f"(Levene about the median); over all {len(all_ratios)} networks the median "
           f"{metrics[0]} std ratio is {np.median(all_ratios):.2f}",
      verdict=verdict,
      reason={SUPPORTED: "the network's spread is significantly larger for every metric",
              CONTRADICTED: f"the {baseline}'s spread is significantly larger",
              NOT_SUPPORTED: "the spreads do not differ significantly for every metric"}[
                  verdict],
      values={**values, "network": network, "median_ratio": float(np.median(all_ratios))})


def equivalence(files: RunFiles, baseline: str, metric: str, margin: float,
                select: str) -> Finding:
  """The best network against `baseline`: equivalent within ±`margin` (TOST)?"""
  network = best_network(files, metric, select)
  a, b = per_seed(files, network, metric), per_seed(files, baseline, metric)
  d = paired_difference(a, b)
  verdict = _equivalence_verdict(d, margin)
  low90, high90 = d["ci90"]
  return Finding(
      ours=f"{network} {interval_text(a.to_numpy())}; {baseline} {interval_text(b.to_numpy())}",
      test=f"equivalence within ±{margin}: 90% CI of the difference [{low90:+.4f}, "
           f"{high90:+.4f}]; {difference_text(d)}",
      verdict=verdict,
      reason={SUPPORTED: f"as good within ±{margin}, "
                         + ("slightly better on average" if d["mean_diff"] > 0 else
                            "slightly worse on average"),
              CONTRADICTED: f"the two differ by more than {margin}: the network is "
                            f"{'better' if d['mean_diff'] > 0 else 'worse'} by "
                            f"{abs(d['mean_diff']):.4f}",
              NOT_SUPPORTED: f"the interval reaches beyond ±{margin}"}[verdict],
      values={**d, "network": network})


def better(files: RunFiles, baseline: str, metric: str, alpha: float, select: str,
           stand_in: str = "") -> Finding:
  """The best network against `baseline` (or `stand_in` when the run lacks it)."""
  network = best_network(files, metric, select)
  used = baseline if baseline in files.models else stand_in
  a, b = per_seed(files, network, metric), per_seed(files, used, metric)
  d = paired_difference(a, b)
  verdict = significance(d, alpha)
  note = "" if used == baseline else (f"; {baseline} is not installed (pip install -e "
                                      f"'.[boosting]'), so {used} stands in for it")
  return Finding(
      ours=f"{network} {interval_text(a.to_numpy())}; {used} {interval_text(b.to_numpy())}",
      test=f"{network} − {used}, paired by seed: {difference_text(d)}",
      verdict=verdict,
      reason={SUPPORTED: f"the network is better than {used}",
              CONTRADICTED: f"{used} is better than the network",
              NOT_SUPPORTED: "the difference is not significant"}[verdict] + note,
      values={**d, "network": network, "baseline": used})


def train_time(files: RunFiles) -> Finding:
  """Our training seconds per network per seed, and compile time per program."""
  seconds = trial_rows(files).groupby("model")["train_seconds"].mean()
  compile_seconds = list((files.run.get("compile_seconds") or {}).values())
  return Finding(
      ours=f"{seconds.min():.2f}-{seconds.max():.2f} s per network per seed (mean "
           f"{seconds.mean():.2f} s over {len(seconds)} networks), plus "
           f"{np.mean(compile_seconds):.1f} s to compile each network's program",
      test="timed on this machine; a seed's time is its chunk's wall time over its members, "
           "which train together",
      verdict=NOT_COMPARABLE,
      reason="another machine and framework (theirs: PyTorch, one network at a time); ours "
             f"on {', '.join(files.run.get('devices', ['?']))}",
      values={"per_network": seconds.to_dict(), "compile": compile_seconds})

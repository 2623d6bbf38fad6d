"""The wind-power and day-ahead load studies' claims, tested on their runs' files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from research import inference
from research.replicate.evidence import (CONTRADICTED, NOT_COMPARABLE, NOT_SUPPORTED,
                                         SUPPORTED, Finding, difference_text, interval_text,
                                         paired_difference, per_seed, significance,
                                         trial_rows)
from research.report.files import RunFiles


def trial_of(files: RunFiles, network: str, optimizer: str) -> str:
  """The label of the trial that trains `network` with `optimizer`."""
  rows = trial_rows(files).drop_duplicates("model")
  match = rows[(rows["model"].str.split().str[0] == network) & (rows["optimizer"] == optimizer)]
  if match.empty:
    raise KeyError(f"{files.workdir} has no trial of {network} with {optimizer}")
  return str(match["model"].iloc[0])


def loss_progress(files: RunFiles, converge: tuple[str, ...], stall: tuple[str, ...],
                  moves: float, flat: float) -> Finding:
  """How far each optimizer's training loss falls from the first epoch to the last:
  per seed `1 - loss_last / loss_first`, averaged over the networks, with its t interval.
  It converges when the interval's lower end is above `moves`, stalls when the
  upper end is below `flat`."""
  curves = files.curves.dropna(subset=["train_loss"])
  first = curves[curves["epoch"] == curves["epoch"].min()].set_index(["model", "seed"])
  last = curves[curves["epoch"] == curves["epoch"].max()].set_index(["model", "seed"])
  fall = (1 - last["train_loss"] / first["train_loss"]).rename("fall").reset_index()
  optimizers = trial_rows(files).drop_duplicates("model").set_index("model")["optimizer"]
  fall["optimizer"] = fall["model"].map(optimizers)
  by_optimizer = {name: group.groupby("seed")["fall"].mean().to_numpy()
                  for name, group in fall.groupby("optimizer")}
  intervals = {name: inference.t_interval(v) for name, v in by_optimizer.items()}
  moving = {n for n, (low, _) in intervals.items() if low > moves}
  flat_ones = {n for n, (_, high) in intervals.items() if high < flat}
  verdict = (SUPPORTED if set(converge) <= moving and set(stall) <= flat_ones else
             CONTRADICTED if moving & set(stall) or flat_ones & set(converge) else
             NOT_SUPPORTED)
  epochs = int(curves["epoch"].max() - curves["epoch"].min())
  shown = lambda names: " and ".join(f"{n} ({by_optimizer[n].mean():.0%})" for n in names
                                     if n in by_optimizer)
  return Finding(
      ours="; ".join(f"{name} {interval_text(by_optimizer[name], 3)}"
                     for name in (*converge, *stall) if name in by_optimizer),
      test=f"relative fall of the training loss from the first epoch to the last ({epochs} "
           f"later), per "
           f"seed the mean over the networks; converges: 95% interval above {moves:.0%}; "
           f"stalls: below {flat:.0%}",
      verdict=verdict,
      reason={SUPPORTED: f"the loss falls for {shown(converge)}, hardly for {shown(stall)}",
              CONTRADICTED: (f"{' and '.join(n for n in stall if n in moving)} do not stall: "
                             f"the training loss falls for {shown(stall)} as for "
                             f"{shown(converge)}" if moving & set(stall) else
                             f"{' and '.join(sorted(flat_ones & set(converge)))} stall"),
              NOT_SUPPORTED: "the losses move between the thresholds"}[verdict],
      values={name: {"mean": float(v.mean()), "ci": intervals[name]}
              for name, v in by_optimizer.items()})


def best_of(files: RunFiles, best: str, others: tuple[str, ...], optimizer: str, metric: str,
            alpha: float) -> Finding:
  """`best` against each of `others`, all with `optimizer`, paired by seed on `metric`
  (lower is better): better than every one of them?"""
  label = trial_of(files, best, optimizer)
  a = per_seed(files, label, metric)
  outcomes, parts, values = [], [], {}
  for other in others:
    d = paired_difference(a, per_seed(files, trial_of(files, other, optimizer), metric),
                          higher_is_better=metric not in files.lower_is_better)
    outcomes.append(significance(d, alpha, higher_is_better=metric not in files.lower_is_better))
    parts.append(f"− {other}: {difference_text(d)}")
    values[other] = d
  verdict = (SUPPORTED if all(o == SUPPORTED for o in outcomes) else
             CONTRADICTED if CONTRADICTED in outcomes else NOT_SUPPORTED)
  means = {n: per_seed(files, trial_of(files, n, optimizer), metric) for n in (best, *others)}
  return Finding(
      ours="; ".join(f"{n} {interval_text(v.to_numpy())}" for n, v in means.items()),
      test=f"test {metric} with {optimizer}, {best} " + "; ".join(parts),
      verdict=verdict,
      reason={SUPPORTED: f"{best} has the lowest {metric}, significantly",
              CONTRADICTED: f"another network has a significantly lower {metric} than {best}",
              NOT_SUPPORTED: f"{best} is not significantly better than every other"}[verdict],
      values=values)


def not_comparable(files: RunFiles, model: str, metric: str, reason: str, also: str = "",
                   more: tuple[str, ...] = ()) -> Finding:
  """Our numbers for a claim whose own numbers came from something else (other data,
  a leak): shown beside it, judged not comparable."""
  parts = []
  for name in [model] + ([also] if also else []):
    parts.append(f"{name}: " + ", ".join(f"{m} {interval_text(per_seed(files, name, m).to_numpy())}"
                                         for m in (metric, *more)))
  values = {name: float(per_seed(files, name, metric).mean()) for name in [model, also] if name}
  return Finding(ours="; ".join(parts), test="not tested: the original's number is not of "
                 "the same quantity", verdict=NOT_COMPARABLE, reason=reason, values=values)

"""Each claim's statistic by name, applied to the files of the run it names."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from research.errors import UserError
from research.replicate import credit, forecasts
from research.replicate.claims import Claim
from research.replicate.evidence import Finding
from research.report.files import RunFiles

STATISTICS: Mapping[str, Callable[..., Finding]] = {
    "group_gap": credit.group_gap, "range_ratio": credit.range_ratio,
    "depth_gap": credit.depth_gap, "spread_ratio": credit.spread_ratio,
    "equivalence": credit.equivalence, "better": credit.better,
    "train_time": credit.train_time, "loss_progress": forecasts.loss_progress,
    "best_of": forecasts.best_of, "not_comparable": forecasts.not_comparable,
}


def judge(claim: Claim, files: RunFiles) -> Finding:
  """The claim's finding: its statistic with its parameters on the run's files.

  Raises:
    UserError: the run lacks a model or file the claim needs (a run of another config).
  """
  try:
    return STATISTICS[claim.statistic](files, **claim.params)
  except KeyError as e:
    raise UserError(f"claim {claim.id}: {e.args[0] if e.args else e}; rerun the replication "
                    "into a new --workdir") from None

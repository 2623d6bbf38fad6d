"""replication.md, replication.html and replication.json: every claim, ours, the test,
the verdict; a paragraph per study; figures where they help."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from research import results
from research.replicate.claims import CLAIMS, EXPERIMENTS, STUDIES, VERDICTS, Claim
from research.replicate.evidence import Finding, trial_rows
from research.report import curves, render
from research.report.files import RunFiles
from research.report.render import Heading, Image, Paragraph, Table
from research.report.style import save, style

FILES = ("replication.md", "replication.html", "replication.json")
FIGURES = "figures"


def write(workdir: str, scale: str, findings: Mapping[str, Finding],
          runs: Mapping[str, RunFiles], seconds: Mapping[str, float]) -> None:
  """Writes the replication's documents and figures into `workdir`."""
  os.makedirs(os.path.join(workdir, FIGURES), exist_ok=True)
  drawn = draw_figures(workdir, runs)
  blocks = [Heading("Replication of the source studies' claims", 1),
            Table(pd.DataFrame([("scale", scale), *[
                (f"run {name}", f"{EXPERIMENTS[name].about}; {name}/report.html"
                 + (f"; {seconds[name]:.0f} s in this command" if seconds.get(name) else
                    "; finished before, read back")) for name in runs]],
                columns=["field", "value"]),
                "Verdicts: supported (our test agrees at the claim's threshold), not "
                "supported (our test cannot tell), contradicted (our test finds the "
                "opposite), not comparable (the original's number measured something "
                "else; ours is shown beside it).")]
  for study, title in STUDIES.items():
    claims = [c for c in CLAIMS if c.study == study]
    blocks += [Heading(title), Table(claim_table(claims, findings)),
               Paragraph(summary(claims, findings))]
    blocks += [Image(f"{FIGURES}/{name}", caption) for name, (study_of, caption) in drawn.items()
               if study_of == study]
  results.write_atomic(os.path.join(workdir, FILES[0]),
                       lambda f: f.write(render.to_markdown(blocks)))
  results.write_atomic(os.path.join(workdir, FILES[1]), lambda f: f.write(render.to_html(
      blocks, "Replication", workdir)))
  results.write_json(os.path.join(workdir, FILES[2]), {
      "scale": scale, "claims": [{**{f.name: getattr(claim, f.name)
                                     for f in dataclasses.fields(claim)},
                                  "params": _json(dict(claim.params)),
                                  **_json(dataclasses.asdict(findings[claim.id]))}
                                 for claim in CLAIMS]})


def claim_table(claims: Sequence[Claim], findings: Mapping[str, Finding]) -> pd.DataFrame:
  """One row per claim: what it says, the original's number, ours, the test, the verdict."""
  return pd.DataFrame([{
      "claim": c.id, "says": c.text, "original": c.original, "ours": findings[c.id].ours,
      "test": findings[c.id].test,
      "verdict": f"**{findings[c.id].verdict}**: {findings[c.id].reason}"} for c in claims])


def summary(claims: Sequence[Claim], findings: Mapping[str, Finding]) -> str:
  """What the study's verdicts mean together, in a paragraph."""
  by_verdict = {v: [c for c in claims if findings[c.id].verdict == v] for v in VERDICTS}
  counts = ", ".join(f"{len(by_verdict[v])} {v}" for v in VERDICTS if by_verdict[v])
  parts = [f"Of {len(claims)} claim{'s' if len(claims) != 1 else ''}, {counts}."]
  for verdict in VERDICTS:
    if by_verdict[verdict]:
      listed = "; ".join(f"{c.id} ({c.text[0].lower()}{c.text[1:].rstrip('.')})"
                         for c in by_verdict[verdict])
      parts.append(f"{verdict.capitalize()}: {listed}.")
  tested = [c for c in claims if findings[c.id].verdict != "not comparable"]
  holding = [c for c in tested if findings[c.id].verdict == "supported"]
  if tested:
    parts.append(f"With seeds and confidence intervals, {len(holding)} of the {len(tested)} "
                 "testable claims hold.")
  return " ".join(parts)


def draw_figures(workdir: str, runs: Mapping[str, RunFiles]) -> dict[str, tuple[str, str]]:
  """The figures the runs allow: `{file name: (study, caption)}`."""
  drawn = {}
  with style():
    if "credit_architectures" in runs:
      figure, caption = architectures(runs["credit_architectures"])
      save(figure, os.path.join(workdir, FIGURES, "architectures.png"))
      drawn["architectures.png"] = ("credit", caption)
    if "wind_optimizers" in runs:
      made = curves.trial_curves(runs["wind_optimizers"])
      if made is not None:
        save(made[0], os.path.join(workdir, FIGURES, "optimizers.png"))
        drawn["optimizers.png"] = ("wind", made[1])
  return drawn


def architectures(files: RunFiles) -> tuple[Figure, str]:
  """Each architecture's mean test AUC with its 95% CI, sigmoid and tanh side by side,
  and the baselines' means as lines."""
  rows = trial_rows(files)
  summary = files.summary[files.summary["metric"] == "auc"].set_index("model")
  trials = rows.drop_duplicates("model")
  widths = list(dict.fromkeys(trials["model.hidden_sizes"].astype(str)))
  figure = Figure(figsize=(10, 4.8), layout="constrained")
  axes = figure.add_subplot()
  for offset, (activation, color) in zip((-0.17, 0.17), (("sigmoid", "tab:blue"),
                                                         ("tanh", "tab:orange"))):
    group = trials[trials["model.activation"] == activation]
    chosen = group.set_index(group["model.hidden_sizes"].astype(str))["model"]
    points = [summary.loc[chosen[w]] for w in widths if w in chosen.index]
    x = np.array([widths.index(w) for w in widths if w in chosen.index]) + offset
    means = np.array([p["mean"] for p in points])
    errors = np.array([[p["mean"] - p["ci_low"] for p in points],
                       [p["ci_high"] - p["mean"] for p in points]])
    axes.errorbar(x, means, yerr=errors, fmt="o", color=color, capsize=3, label=activation)
  baselines = [m for m in files.models if m not in set(rows["model"])]
  for i, name in enumerate(baselines):
    axes.axhline(summary.loc[name, "mean"], color=f"C{i + 2}", linestyle="--", linewidth=1,
                 label=f"{name} (mean)")
  axes.set_xticks(range(len(widths)), widths, rotation=20)
  axes.set(xlabel="hidden layer widths", ylabel="test AUC (mean over seeds, 95% CI)")
  axes.legend(loc="lower right", ncols=2, fontsize=7)
  seeds = rows["seed"].nunique()
  axes.set_title(f"The 18 architectures' test AUC over {seeds} seeds, sigmoid beside tanh")
  return figure, (f"Mean test AUC of each architecture over {seeds} seeds with its 95% "
                  "interval, sigmoid and tanh side by side; dashed: the classical models' means.")


def _json(value):
  """`value` with numpy numbers and tuples as plain JSON values."""
  if isinstance(value, dict):
    return {str(k): _json(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_json(v) for v in value]
  if isinstance(value, (np.floating, np.integer, np.bool_)):
    return value.item()
  return value

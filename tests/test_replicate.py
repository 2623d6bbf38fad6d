"""The replication report: claims as data, verdicts that follow the numbers, one command."""

import inspect
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import research
from research.replicate import credit, evidence, verdicts
from research.replicate.claims import CLAIMS, EXPERIMENTS, SCALES, VERDICTS
from research.replicate.runs import experiment_config
from research.report.files import read_run
from tests.conftest import ROOT


def test_every_claim_names_a_run_and_a_statistic_that_takes_its_parameters():
  assert {c.id for c in CLAIMS} >= {str(n) for n in range(1, 11)} - {"5"} | {"5a", "5b", "5c"}
  for claim in CLAIMS:
    assert claim.experiment in EXPERIMENTS, claim.id
    function = verdicts.STATISTICS[claim.statistic]
    inspect.signature(function).bind(None, **claim.params)  # raises on a wrong parameter
  for experiment in EXPERIMENTS.values():
    for scale in SCALES:
      experiment_config(experiment, scale)  # every config and override exists


@pytest.fixture(scope="module")
def architectures_run(tmp_path_factory):
  """The 18-architecture study shrunk to 2 architectures x 2 activations x 6 seeds."""
  workdir = str(tmp_path_factory.mktemp("replicate") / "credit_architectures")
  config = experiment_config(EXPERIMENTS["credit_architectures"], "smoke")
  config.report = False
  research.run_study(config, workdir)
  return workdir


def _with_auc(run, tmp_path, shift):
  """A copy of `run` whose networks' test AUC is 0.80 plus noise, + `shift` for sigmoid."""
  copy = tmp_path / f"run-{shift}"
  shutil.copytree(run, copy)
  rng = np.random.default_rng(0)
  trials = pd.read_csv(copy / "trials.csv")
  auc = 0.80 + rng.normal(0, 0.002, len(trials)) + shift * (trials["model.activation"] == "sigmoid")
  trials["auc"] = auc
  seeds = pd.read_csv(copy / "seeds.csv")
  by_key = trials.set_index(["model", "seed"])["auc"]
  keyed = seeds.set_index(["model", "seed"]).index
  seeds.loc[keyed.isin(by_key.index), "auc"] = by_key.reindex(keyed[keyed.isin(by_key.index)]).to_numpy()
  trials.to_csv(copy / "trials.csv", index=False)
  seeds.to_csv(copy / "seeds.csv", index=False)
  return read_run(str(copy))


@pytest.mark.parametrize("shift, expected", [(0.03, "supported"), (-0.03, "contradicted"),
                                             (0.0, "not supported")])
def test_the_sigmoid_claim_s_verdict_follows_the_numbers(architectures_run, tmp_path, shift,
                                                         expected):
  claim = next(c for c in CLAIMS if c.id == "1")
  finding = verdicts.judge(claim, _with_auc(architectures_run, tmp_path, shift))
  assert finding.verdict == expected, finding
  assert finding.values["every"] == (shift > 0)


def test_every_claim_of_the_credit_run_gets_a_verdict(architectures_run):
  files = read_run(architectures_run)
  for claim in [c for c in CLAIMS if c.experiment == "credit_architectures"]:
    finding = verdicts.judge(claim, files)
    assert finding.verdict in VERDICTS and finding.ours and finding.test, claim.id
  assert verdicts.judge(next(c for c in CLAIMS if c.id == "6"), files).verdict == \
      "not comparable"


def test_equivalence_and_difference_verdicts():
  seeds = pd.Index(range(12), name="seed")
  rng = np.random.default_rng(1)
  base = pd.Series(0.8 + rng.normal(0, 0.01, 12), index=seeds)
  close = base + rng.normal(0, 0.0005, 12)
  d = evidence.paired_difference(close, base)
  assert credit._equivalence_verdict(d, 0.005) == "supported"  # pylint: disable=protected-access
  far = evidence.paired_difference(base + 0.02 + rng.normal(0, 0.001, 12), base)
  assert credit._equivalence_verdict(far, 0.005) == "contradicted"  # pylint: disable=protected-access
  assert evidence.significance(far, 0.05) == "supported"
  assert evidence.significance(far, 0.05, higher_is_better=False) == "contradicted"
  noisy = evidence.paired_difference(base + rng.normal(0, 0.02, 12), base)
  assert credit._equivalence_verdict(noisy, 0.005) == "not supported"  # pylint: disable=protected-access
  assert evidence.significance(noisy, 0.05) == "not supported"


@pytest.mark.slow
def test_one_command_gives_a_verdict_for_every_claim_and_reuses_its_runs(tmp_path):
  workdir = tmp_path / "replication"
  command = [sys.executable, "-m", "research.replicate", f"--workdir={workdir}", "--scale=smoke"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                         timeout=1200)
  assert first.returncode == 0, first.stderr[-3000:]
  report = json.loads((workdir / "replication.json").read_text())
  assert [c["id"] for c in report["claims"]] == [c.id for c in CLAIMS]
  assert all(c["verdict"] in VERDICTS for c in report["claims"])
  markdown = (workdir / "replication.md").read_text()
  for claim in CLAIMS:
    assert f"| {claim.id} |" in markdown
  assert "figures/architectures.png" in markdown and "figures/optimizers.png" in markdown
  again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                         timeout=600)
  assert again.returncode == 0 and "read back" in again.stderr
  assert json.loads((workdir / "replication.json").read_text()) == report
  mine = tmp_path / "mine"
  mine.mkdir()
  (mine / "thesis.tex").write_text("")
  refused = subprocess.run([*command[:3], f"--workdir={mine}"], cwd=ROOT, capture_output=True,
                           text=True, env=env, timeout=120)
  assert refused.returncode == 2 and "holds no replication" in refused.stderr


def test_the_document_has_a_row_and_a_verdict_for_every_claim(architectures_run, tmp_path):
  from research.replicate import document  # pylint: disable=import-outside-toplevel
  files = read_run(architectures_run)
  stub = evidence.Finding("ours", "test", "not comparable", "a stub for this test", {})
  findings = {c.id: verdicts.judge(c, files) if c.experiment == "credit_architectures" else stub
              for c in CLAIMS}
  document.write(str(tmp_path), "smoke", findings, {"credit_architectures": files}, {})
  markdown = (tmp_path / "replication.md").read_text()
  for claim in CLAIMS:
    assert f"| {claim.id} | {claim.text} |" in markdown
  assert "figures/architectures.png" in markdown and (tmp_path / "replication.html").exists()
  saved = json.loads((tmp_path / "replication.json").read_text())
  assert [c["verdict"] for c in saved["claims"]] == [findings[c.id].verdict for c in CLAIMS]

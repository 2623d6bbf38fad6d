"""Reports, figures and TensorBoard events, built from the files of two tiny runs."""

import base64
import dataclasses
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from research.errors import UserError
from research.report import __main__ as report_main
from research.report import tensorboard
from research.report.document import write_report
from research.report.tables import decimals
from research.report.files import read_run
from research.report.style import best_models
from research.pipeline import run_study as run
from tests.conftest import ROOT, load_config, set_field, tiny_credit_config

CREDIT_FIGURES = ("roc.png", "metric_box.png", "ks.png", "calibration.png", "loss.png",
                  "variance.png")
FORECAST_FIGURES = ("metric_box.png", "forecast_week.png", "loss.png", "variance.png")


@pytest.fixture(scope="module")
def credit_dir(tmp_path_factory):
  """A finished credit run with a baseline and a variance decomposition, reported."""
  workdir = str(tmp_path_factory.mktemp("credit") / "run")
  config = tiny_credit_config({"baselines.names": ("logistic_regression",),
                               "variance.sources": ("init",), "variance.num_seeds": 2})
  run(config, workdir)
  write_report(workdir)
  return workdir


@pytest.fixture(scope="module")
def load_dir(tmp_path_factory):
  """A finished day-ahead load forecast (Elman and four baselines), reported."""
  workdir = str(tmp_path_factory.mktemp("load") / "run")
  config = load_config("load")
  for field, value in {"num_seeds": 2, "train.epochs": 20,
                       "baselines.names": ("linear_autoregression",)}.items():
    set_field(config, field, value)
  run(config, workdir)
  write_report(workdir)
  return workdir


def png_size(path):
  """(width, height) from the PNG's IHDR chunk."""
  with open(path, "rb") as file:
    header = file.read(24)
  assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
  return struct.unpack(">II", header[16:24])


def check_figure(path):
  width, height = png_size(path)
  assert 400 <= width <= 4000 and 300 <= height <= 6000, (path, width, height)
  assert os.path.getsize(path) > 10_000
  pixels = image.imread(path)
  assert pixels.std() > 0.01  # not a blank canvas


def table_row(markdown, section, model):
  """The cells of `model`'s row in the first table after heading `section`."""
  text = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
  for line in text.splitlines():
    cells = [c.strip() for c in line.strip("|").split(" | ")]
    if len(cells) > 2 and model in cells[:2]:
      return cells
  raise AssertionError(f"no row for {model} under {section}")


@pytest.mark.parametrize("run_dir, names", [("credit_dir", CREDIT_FIGURES),
                                            ("load_dir", FORECAST_FIGURES)])
def test_every_figure_is_a_nonblank_png_of_sensible_size(run_dir, names, request):
  workdir = request.getfixturevalue(run_dir)
  assert sorted(os.listdir(os.path.join(workdir, "figures"))) == sorted(names)
  for name in names:
    check_figure(os.path.join(workdir, "figures", name))


@pytest.mark.parametrize("run_dir, metric", [("credit_dir", "auc"), ("load_dir", "mae")])
def test_report_shows_each_model_and_the_headline_means_of_summary_csv(run_dir, metric,
                                                                       request):
  workdir = request.getfixturevalue(run_dir)
  with open(os.path.join(workdir, "report.md")) as file:
    markdown = file.read()
  summary = pd.read_csv(os.path.join(workdir, "summary.csv"))
  means = summary[summary["metric"] == metric].set_index("model")["mean"]
  assert len(means) >= 2
  places = decimals(means)
  for model, mean in means.items():
    cells = table_row(markdown, f"{metric.upper()} across seeds", model)
    shown = float(cells[3].split(" ± ")[0])
    assert shown == pytest.approx(mean, abs=0.51 * 10 ** -places), (model, cells)
  ranks = [int(table_row(markdown, f"{metric.upper()} across seeds", m)[0]) for m in means.index]
  best = means.idxmin() if metric == "mae" else means.idxmax()
  assert ranks[list(means.index).index(best)] == 1
  for name in ("jax", "flax", "optax"):
    assert re.search(rf"{name} \d+\.\d+", markdown)
  for name in os.listdir(os.path.join(workdir, "figures")):
    assert f"](figures/{name})" in markdown


def test_credit_report_has_comparison_and_variance_tables(credit_dir):
  with open(os.path.join(credit_dir, "report.md")) as file:
    markdown = file.read()
  variance = pd.read_csv(os.path.join(credit_dir, "variance.csv"))
  init = variance[(variance["source"] == "init") & (variance["metric"] == "auc")].iloc[0]
  cells = table_row(markdown, "Variance by source", "init")
  assert (f"({init['variance_share']:.0%} [{init['share_low']:.0%}, {init['share_high']:.0%}])"
          in cells[3])
  comparison = table_row(markdown, "Comparisons", "auc")
  assert {"mlp", "logistic_regression"} <= {c.replace(" (best)", "") for c in comparison[1:3]}
  assert comparison[7] == "0.25"  # the smallest p 3 seeds allow
  assert "95% CI = Student t interval of the mean" in markdown


def test_load_report_names_its_intervals_the_smallest_p_and_the_variance_intervals(load_dir):
  markdown = open(os.path.join(load_dir, "report.md")).read()
  assert "95% CI = Student t interval of the mean" in markdown
  comparison = table_row(markdown, "Comparisons", "mae")
  assert comparison[7] == "0.5"  # the smallest p 2 seeds allow
  variance = pd.read_csv(os.path.join(load_dir, "variance.csv"))
  init = variance[(variance["source"] == "init") & (variance["metric"] == "mae")].iloc[0]
  cells = table_row(markdown, "Variance by source", "init")
  assert (f"({init['variance_share']:.0%} [{init['share_low']:.0%}, {init['share_high']:.0%}])"
          in cells[3])
  period = table_row(markdown, "Against fixed baselines, over the test period", "elman")
  assert period[1] in ("persistence", "seasonal_naive") and "DM p" in markdown


@pytest.mark.parametrize("run_dir", ["credit_dir", "load_dir"])
def test_html_is_self_contained_with_every_figure_inlined(run_dir, request):
  workdir = request.getfixturevalue(run_dir)
  with open(os.path.join(workdir, "report.html")) as file:
    page = file.read()
  names = sorted(os.listdir(os.path.join(workdir, "figures")))
  sources = re.findall(r'src="([^"]*)"', page)
  assert len(sources) == len(names) == page.count("data:image/png;base64,")
  assert all(s.startswith("data:image/png;base64,") for s in sources)
  assert "http" not in page and "figures/" not in page and "<link" not in page
  inlined = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
  for name in names:
    with open(os.path.join(workdir, "figures", name), "rb") as file:
      assert file.read() in inlined


def test_rebuild_from_the_files_alone_gives_identical_bytes(credit_dir):
  outputs = ["report.md", "report.html"] + [os.path.join("figures", n) for n in CREDIT_FIGURES]
  before = {}
  for name in outputs:
    with open(os.path.join(credit_dir, name), "rb") as file:
      before[name] = file.read()
  os.remove(os.path.join(credit_dir, "report.md"))
  os.remove(os.path.join(credit_dir, "report.html"))
  shutil.rmtree(os.path.join(credit_dir, "figures"))
  result = subprocess.run([sys.executable, "-m", "research.report", credit_dir], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  for name in outputs:
    with open(os.path.join(credit_dir, name), "rb") as file:
      assert file.read() == before[name], f"{name} changed on rebuild"


def test_a_folder_without_a_finished_run_is_one_error_line(tmp_path, capsys):
  # In-process: a new interpreter costs seconds (jax); the rebuild test runs one.
  (tmp_path / "config.json").write_text(json.dumps({"task": "classification"}))
  for folder, message in ((tmp_path / "absent", "is not a folder"),
                          (tmp_path, "seeds.csv is missing")):  # started, never finished
    assert report_main.main(["research.report", str(folder)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and len(lines) == 1, captured
    assert lines[0].startswith(f"error: {folder} ") and message in lines[0], lines
  with pytest.raises(UserError, match="seeds.csv is missing"):
    write_report(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ["config.json"]  # nothing written


def read_events(folder):
  """Every event of the TFRecord event files in `folder` (not below it)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=import-outside-toplevel
  events = []
  for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
    with open(path, "rb") as file:
      data = file.read()
    offset = 0
    while offset < len(data):
      (length,) = struct.unpack("<Q", data[offset:offset + 8])
      event = event_pb2.Event()
      event.ParseFromString(data[offset + 12:offset + 12 + length])
      events.append(event)
      offset += 12 + length + 4  # length, its CRC, the record, its CRC
  return events


def test_tensorboard_has_each_members_curves_hparams_and_final_metrics(credit_dir):
  curves = pd.read_csv(os.path.join(credit_dir, "curves.csv"))
  seeds = pd.read_csv(os.path.join(credit_dir, "seeds.csv"))
  for seed in sorted(set(curves["seed"])):
    events = read_events(os.path.join(credit_dir, "tb", "mlp", f"seed_{seed}"))
    scalars = {(v.tag, e.step): v.simple_value for e in events for v in e.summary.value
               if v.HasField("simple_value")}
    member = curves[curves["seed"] == seed]
    for row in member.itertuples():
      assert scalars[("train_loss", row.epoch)] == pytest.approx(row.train_loss, rel=1e-6)
      assert scalars[("eval_loss", row.epoch)] == pytest.approx(row.eval_loss, rel=1e-6)
    auc = seeds[(seeds["model"] == "mlp") & (seeds["seed"] == seed)]["auc"].iloc[0]
    assert scalars[("final/auc", member["epoch"].max())] == pytest.approx(auc, rel=1e-6)
    tags = {v.tag for e in events for v in e.summary.value}
    assert "_hparams_/session_start_info" in tags
  session = [v for e in events for v in e.summary.value
             if v.tag == "_hparams_/session_start_info"][0]
  content = session.metadata.plugin_data.content
  assert b"optimizer.learning_rate" in content and b"model.hidden_sizes" in content
  assert os.path.isdir(os.path.join(credit_dir, "tb", "logistic_regression", "seed_0"))
  root_tags = {v.tag for e in read_events(os.path.join(credit_dir, "tb"))
               for v in e.summary.value}
  assert root_tags == {"_hparams_/experiment"}


def test_hparams_flatten_the_config_and_take_a_trials_fields(credit_dir):
  flat = tensorboard.flatten({"a": {"b": [1, [2]], "c": True}, "d": 0.5, "e": None})
  assert flat == {"a.b": "(1, (2,))", "a.c": True, "d": 0.5, "e": "None"}
  files = read_run(credit_dir)
  network = tensorboard.hparams_of_member(files, "mlp", 1)
  assert network["model.hidden_sizes"] == "(8,)" and network["seed"] == 1.0
  assert network["optimizer.name"] == "adam" and "baselines.names" not in network
  baseline = tensorboard.hparams_of_member(files, "logistic_regression", 1)
  assert baseline["model.max_iter"] == 1000.0 and "model.hidden_sizes" not in baseline
  # A study's trial replaces a field, or a whole section named by one value.
  trials = pd.DataFrame({"trial": [0], "model": ["mlp"], "seed": [1],
                         "model.activation": ["tanh"], "optimizer": ["sgd"], "auc": [0.8]})
  trial = tensorboard.hparams_of_member(dataclasses.replace(files, trials=trials), "mlp", 1)
  assert trial["model.activation"] == "tanh" and trial["optimizer"] == "sgd"
  assert not any(k.startswith("optimizer.") for k in trial) and "auc" not in trial


def test_many_models_keep_figures_readable(credit_dir):
  """20 models: the line plots draw the best 8 and say so; the box plot has them all."""
  labels = [f"relu ({w}, {w // 2})" for w in range(10, 210, 10)]
  summary = pd.DataFrame({"model": labels, "metric": "auc", "mean": np.linspace(0.7, 0.9, 20)})
  many = dataclasses.replace(read_run(credit_dir), summary=summary)
  kept, note = best_models(many, labels[::-1])
  assert kept == labels[-8:][::-1] and note == " (best 8 of 20 by AUC)"
  assert best_models(many, labels[:5]) == (labels[:5], "")


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(credit_dir, tmp_path):
  if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("no /usr/bin/chromium: apt-get install -y chromium")
  shot = tmp_path / "report.png"
  result = subprocess.run(
      ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
       "--disable-background-networking", "--disable-component-update", "--disable-sync",
       "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}", f"--screenshot={shot}",
       "--window-size=1200,3000", f"file://{os.path.join(credit_dir, 'report.html')}"],
      capture_output=True, text=True, timeout=120)
  assert shot.exists(), result.stderr[-2000:]
  pixels = image.imread(str(shot))[..., :3]
  assert pixels.shape[:2] == (3000, 1200)
  # Text and tables on white, and the figures' colours further down the page.
  assert pixels.std() > 0.05
  colourful = np.abs(pixels - pixels.mean(axis=-1, keepdims=True)).max(axis=-1) > 0.2
  assert colourful[1500:].mean() > 0.001

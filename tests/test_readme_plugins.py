"""The README's plugin example is a working plugin: loaded as written, run end to end."""

import os
import re

import ml_collections
import pandas as pd

import research
from research.data import get_loader
from research.plugins import load_plugins
from research.registry import ACTIVATIONS, BASELINES, DATASETS, MODELS, OPTIMIZERS
from tests.conftest import ROOT, tiny_credit_config


def readme_plugin() -> str:
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as file:
    text = file.read()
  block = re.search(r"```python\n(# plugins/my_plugins.py\n.*?)```", text, re.S)
  assert block, "the README lost its plugin example"
  return block.group(1)


def test_readme_plugin_registers_in_every_registry_and_runs(tmp_path):
  (tmp_path / "plugins").mkdir()
  (tmp_path / "plugins" / "my_plugins.py").write_text(readme_plugin())
  load_plugins([tmp_path / "plugins"], entry_points=False)
  assert MODELS.info("wide_mlp").value_fields == ("dropout",)
  assert not OPTIMIZERS.info("clipped_adam").full_batch
  assert DATASETS.info("bank_export").task == "classification"
  assert BASELINES.info("knn").task == "classification" and "swish" in ACTIVATIONS
  csv = tmp_path / "bank.csv"
  get_loader("credit_data")().to_csv(csv, index=False)
  config = tiny_credit_config({"data.name": "bank_export", "data.path": str(csv),
                               "optimizer.name": "clipped_adam",
                               "baselines.names": ("logistic_regression", "knn")})
  config.model = ml_collections.ConfigDict({"name": "wide_mlp", "width": 16})
  result = research.run_study(config, str(tmp_path / "run"))
  assert set(result.seeds["model"]) == {"wide_mlp", "logistic_regression", "knn"}
  assert result.seeds.groupby("model")["auc"].min().min() > 0.7
  swish = tiny_credit_config({"model.activation": "swish"})
  assert pd.Series(research.run_study(swish, str(tmp_path / "swish")).seeds["auc"]).gt(0.7).all()

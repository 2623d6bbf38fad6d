import importlib.metadata
import os
import sys
import textwrap
import types
import uuid

import pytest

from research import plugins
from research.errors import UserError
from research.registry import MODELS, OPTIMIZERS
from tests.conftest import TINY_FLAGS, launch


def _unique(prefix):
  return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_folder_plugin_registers_and_loads_once(tmp_path):
  name = _unique("model")
  (tmp_path / "my_model.py").write_text(textwrap.dedent(f"""
      from research.registry import MODELS
      from research.models.mlp import MLP
      MODELS.register({name!r})(MLP)
  """))
  (tmp_path / "_helper.py").write_text("raise RuntimeError('helpers are not plugins')")
  loaded = plugins.load_plugins([tmp_path], entry_points=False)
  assert loaded == [os.path.join(tmp_path, "my_model.py")]
  assert name in MODELS
  assert plugins.load_plugins([tmp_path], entry_points=False) == []  # no duplicate error


def test_missing_folder_is_skipped_and_file_is_refused(tmp_path):
  assert plugins.load_plugins([tmp_path / "absent"], entry_points=False) == []
  (tmp_path / "file").write_text("")
  with pytest.raises(UserError, match="is a file"):
    plugins.load_plugins([tmp_path / "file"], entry_points=False)


def test_failing_plugin_names_its_file(tmp_path):
  (tmp_path / "broken.py").write_text("import numpy\n1 / 0\n")
  with pytest.raises(UserError) as info:
    plugins.load_plugins([tmp_path], entry_points=False)
  message = str(info.value)
  assert "broken.py failed to import: ZeroDivisionError" in message and "\n" not in message


def test_plugin_registering_an_existing_name_is_refused(tmp_path):
  (tmp_path / "clash.py").write_text(
      "from research.registry import OPTIMIZERS\nOPTIMIZERS.register('adam')(lambda: None)\n")
  with pytest.raises(UserError, match=r"clash.py: optimizer 'adam' is registered twice"):
    plugins.load_plugins([tmp_path], entry_points=False)


def test_entry_point_plugins_are_loaded(monkeypatch):
  name = _unique("optimizer")
  module = types.ModuleType(name)

  def register():
    OPTIMIZERS.register(name)(lambda learning_rate=0.1: None)

  module.register = register
  monkeypatch.setitem(sys.modules, name, module)
  entry_point = importlib.metadata.EntryPoint(name="demo", value=f"{name}:register",
                                              group=plugins.ENTRY_POINT_GROUP)
  monkeypatch.setattr(importlib.metadata, "entry_points",
                      lambda group: [entry_point] if group == plugins.ENTRY_POINT_GROUP else [])
  assert plugins.load_plugins() == [f"demo = {name}:register"]
  assert name in OPTIMIZERS


def test_broken_entry_point_is_an_error(monkeypatch):
  entry_point = importlib.metadata.EntryPoint(name="bad", value="no_such_module_xyz",
                                              group=plugins.ENTRY_POINT_GROUP)
  monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [entry_point])
  with pytest.raises(UserError, match="entry point 'bad'.*failed to load: ModuleNotFoundError"):
    plugins.load_plugins()


def test_launch_runs_a_config_naming_a_new_plugin(tmp_path):
  plugin_dir = tmp_path / "plugins"
  plugin_dir.mkdir()
  (plugin_dir / "scaled_sgd.py").write_text(textwrap.dedent("""
      import optax
      from research.registry import OPTIMIZERS

      @OPTIMIZERS.register("scaled_sgd")
      def scaled_sgd(learning_rate: float = 0.1, scale: float = 2.0):
        return optax.sgd(learning_rate * scale)
  """))
  workdir = tmp_path / "run"
  result = launch("--config=configs/credit.py", f"--workdir={workdir}",
                  f"--plugins={plugin_dir}", "--config.optimizer.name=scaled_sgd", *TINY_FLAGS)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "scaled_sgd.py" in result.stderr  # logged as loaded
  assert (workdir / "seeds.csv").exists()
  without = launch("--config=configs/credit.py", f"--workdir={tmp_path / 'other'}",
                   "--config.optimizer.name=scaled_sgd", *TINY_FLAGS)
  assert without.returncode == 2
  assert "unknown optimizer 'scaled_sgd'" in without.stderr

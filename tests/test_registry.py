import pytest

import research.baselines  # noqa: F401  (registers)
import research.models  # noqa: F401
import research.tasks  # noqa: F401
from research.errors import UserError
from research.registry import (BASELINES, MODELS, OPTIMIZERS, TASKS, BaselineInfo, ModelInfo,
                               OptimizerInfo, Registry, TaskInfo)
from research.tasks.base import Task


def test_register_and_get():
  registry = Registry("widget")

  @registry.register("round")
  def round_widget():
    return "round"

  assert registry.get("round") is round_widget
  assert "round" in registry and registry.names() == ["round"] and len(registry) == 1


def test_duplicate_name_raises():
  registry = Registry("widget")
  registry.register("gru")(object)
  with pytest.raises(UserError, match="registered twice"):
    registry.register("gru")(dict)
  assert registry.get("gru") is object  # the first registration stands


def test_unknown_name_suggests_closest_and_plugins():
  registry = Registry("model")
  for name in ("gru", "lstm", "elman"):
    registry.register(name)(object)
  with pytest.raises(UserError) as info:
    registry.get("gruu")
  message = str(info.value)
  assert "did you mean 'gru'?" in message
  assert "elman, gru, lstm" in message and "plugins/" in message
  assert "\n" not in message


def test_unknown_name_without_close_match_has_no_suggestion():
  registry = Registry("model")
  registry.register("mlp")(object)
  with pytest.raises(UserError) as info:
    registry.get("transformer")
  assert "did you mean" not in str(info.value) and "known: mlp" in str(info.value)


def _model_registry():
  return Registry("model", ModelInfo)


def test_declared_metadata_is_typed_and_read_back():
  registry = _model_registry()

  @registry.register("tiny", input="sequence", value_fields=("dropout",))
  def tiny(dropout: float = 0.0, width: int = 4):
    return (dropout, width)

  assert registry.info("tiny") == ModelInfo(input="sequence", value_fields=("dropout",))
  assert registry.names(input="sequence") == ["tiny"] and registry.names(input="tabular") == []
  assert registry.info_fields() == ["input", "value_fields", "width_field", "choice_fields"]


@pytest.mark.parametrize("declared,message", [
    ({"inputs": "tabular"}, r"declares inputs; a model declares input, value_fields"),
    ({"input": "image"}, r"declares input='image'; use one of tabular, sequence"),
    ({"value_fields": "dropout"}, r"value_fields='dropout'; use a tuple of field names"),
    ({"value_fields": ("rate",)}, r"declares value_fields 'rate', which it does not take"),
    ({"width_field": "dropout"},  # a padded model must take its true widths too
     r"declares width_field 'true_dropout', which it does not take"),
    ({"width_field": ("dropout",)}, r"width_field=\('dropout',\); use a field name"),
    ({"choice_fields": ("activation",)}, r"choice_fields 'activation', which it does not"),
    ({"choice_fields": ("dropout",)},  # a shared choice needs each member's index
     r"declares choice_fields 'dropout_index', which it does not take"),
])
def test_bad_model_declarations_are_refused_at_registration(declared, message):
  registry = _model_registry()
  with pytest.raises(UserError, match=message):
    registry.register("tiny", **declared)(lambda dropout=0.0: None)
  assert "tiny" not in registry


def test_baselines_declare_their_task_and_take_a_random_state():
  registry = Registry("baseline", BaselineInfo)
  with pytest.raises(UserError, match="a baseline declares task"):
    registry.register("ridge")(lambda random_state: None)
  with pytest.raises(UserError, match="must take a random_state"):
    registry.register("ridge", task="regression")(lambda alpha=1.0: None)
  registry.register("ridge", task="regression")(lambda random_state, alpha=1.0: None)
  assert registry.info("ridge").task == "regression"


def test_optimizers_declare_full_batch_and_tasks_must_be_complete():
  optimizers = Registry("optimizer", OptimizerInfo)
  with pytest.raises(UserError, match="full_batch='yes'; use True or False"):
    optimizers.register("lbfgs", full_batch="yes")(lambda: None)
  assert OPTIMIZERS.info("lbfgs").full_batch and not OPTIMIZERS.info("adam").full_batch

  class HalfTask(Task):
    metrics = ("mae",)

    def load(self, data):
      return data

  with pytest.raises(UserError, match="task 'half' cannot be created: .*abstract"):
    Registry("task", TaskInfo).register("half")(HalfTask)


@pytest.mark.parametrize("declared, message", [
    ({"metrics": ()}, "metrics=\\(\\); use a non-empty tuple"),
    ({"metrics": "mae"}, "metrics='mae'"),
    ({"lower_is_better": frozenset({"rmse"})}, "lower_is_better=.*some of its metrics"),
    ({"model_input": "image"}, "model_input='image'; use one of tabular, sequence"),
    ({"data_fields": {"test_fraction": 0.2}}, "data_fields=.*use \\{field: type\\}"),
    ({"files": "out.csv"}, "files='out.csv'; use a tuple of names"),
])
def test_bad_task_declarations_are_refused_at_registration(declared, message):
  task = type("Bad", (RegressionLike,), declared)
  with pytest.raises(UserError, match=f"task 'bad' declares {message}"):
    Registry("task", TaskInfo).register("bad")(task)
  Registry("task", TaskInfo).register("good")(RegressionLike)  # the complete one is fine


class RegressionLike(Task):
  """A task that declares and implements everything (nothing of it runs here)."""
  metrics = ("mae", "r2")
  lower_is_better = frozenset({"mae"})
  data_fields = {"test_fraction": float}
  load = describe = problem = metric_rows = fit_baseline = write_files = (
      lambda self, *args, **kwargs: None)


def test_shipped_entries_declare_what_the_pipeline_reads():
  assert MODELS.info("mlp") == ModelInfo(input="tabular", value_fields=("dropout",),
                                         width_field="hidden_sizes",
                                         choice_fields=("activation",))
  assert {MODELS.info(n).input for n in ("elman", "lstm", "gru")} == {"sequence"}
  assert BASELINES.names(task="forecast") == ["linear_autoregression",
                                              "random_forest_regression"]
  assert "logistic_regression" in BASELINES.names(task="classification")
  assert set(TASKS.names()) >= {"classification", "forecast"}

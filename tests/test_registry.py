import pytest

from research.errors import UserError
from research.registry import Registry


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

"""Tasks: one module per kind of study; importing this package registers them in `TASKS`."""

from research.registry import TASKS
from research.tasks import classification, forecast  # noqa: F401  (registers)
from research.tasks.base import Arrays, BaselineMembers, Task  # noqa: F401


def get_task(name: str) -> Task:
  """The task registered as `name` (a did-you-mean `UserError` if unknown)."""
  return TASKS.get(name)()

"""The one exception type that reaches the user as a single line."""


class UserError(Exception):
  """Bad input from the user: a config value, a data file or a plugin.

  The message is one line that names the problem and the fix; `launch.py`
  prints it without a traceback and exits non-zero.
  """

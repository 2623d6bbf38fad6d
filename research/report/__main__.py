"""Rebuilds a finished run's report from its files: `python -m research.report RUN_DIR`.

Writes RUN_DIR/report.md, report.html and figures/ (and tb/ when absent); a
folder that holds no finished run is one `error:` line and exit status 2.
"""

from __future__ import annotations

import sys

from research.errors import UserError
from research.report.document import HTML_FILE, MARKDOWN_FILE, write_report

_USAGE = "usage: python -m research.report RUN_DIR"


def main(argv: list[str]) -> int:
  """Returns the exit status."""
  if len(argv) == 2 and argv[1] in ("-h", "--help"):
    print(_USAGE)
    return 0
  if len(argv) != 2:
    print(f"error: pass one run folder; {_USAGE}", file=sys.stderr)
    return 2
  try:
    write_report(argv[1])
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {MARKDOWN_FILE}, {HTML_FILE} and figures/ in {argv[1]}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))

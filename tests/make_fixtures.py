"""Writes the regression fixtures: `python tests/make_fixtures.py [OUT_DIR]`.

Runs every case of `tests/regression_cases.py` through `launch.py` and copies
the compared files, gzipped, to OUT_DIR/<case>/ (default tests/fixtures/regression).
"""

import gzip
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from regression_cases import CASES, FILES  # noqa: E402  pylint: disable=wrong-import-position


def main(out: str) -> None:
  root = os.path.dirname(HERE)
  for case, flags in CASES.items():
    with tempfile.TemporaryDirectory() as tmp:
      workdir = os.path.join(tmp, "run")
      subprocess.run([sys.executable, os.path.join(root, "launch.py"), *flags,
                      f"--workdir={workdir}"], cwd=root, check=True,
                     env={**os.environ, "JAX_PLATFORMS": "cpu"})
      os.makedirs(os.path.join(out, case), exist_ok=True)
      for name in FILES[case]:  # gzip without a time stamp: the same run, the same bytes
        with open(os.path.join(workdir, name), "rb") as file:
          data = gzip.compress(file.read(), mtime=0)
        with open(os.path.join(out, case, f"{name}.gz"), "wb") as file:
          file.write(data)


if __name__ == "__main__":
  main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "regression"))

"""launch.py re-executes itself under TBB's malloc (research.malloc), once, and can be told not to."""

import os
import subprocess
import sys

import pytest

from research import malloc
from tests.conftest import ROOT, launch

FAKE = ["/lib/libtbbmalloc.so.2", "/lib/libtbbmalloc_proxy.so.2"]
MARKER = malloc._ORIGINAL_PRELOAD  # pylint: disable=protected-access


@pytest.fixture
def with_tbb(monkeypatch):
  """As on Linux with the `tbb` wheel installed and the system's malloc in use."""
  monkeypatch.setattr(malloc, "library_paths", lambda: FAKE)
  monkeypatch.setattr(malloc, "in_use", lambda: "system")
  monkeypatch.setattr(sys, "platform", "linux")


def test_the_allocator_is_preloaded_before_what_was_preloaded_and_that_is_remembered(with_tbb):
  environ = malloc.preload_environment({"PATH": "/bin", "LD_PRELOAD": "/lib/mine.so"})
  assert environ == {"PATH": "/bin", "LD_PRELOAD": " ".join(FAKE + ["/lib/mine.so"]),
                     MARKER: "/lib/mine.so"}
  assert malloc.preload_environment({})["LD_PRELOAD"] == " ".join(FAKE)


@pytest.mark.parametrize("environ", [{"RESEARCH_MALLOC": "system"}, {MARKER: ""}])
def test_no_re_execution_when_told_so_or_when_already_re_executed(with_tbb, environ):
  assert malloc.preload_environment(environ) is None


def test_no_re_execution_without_tbb_or_when_it_is_loaded(with_tbb, monkeypatch):
  monkeypatch.setattr(malloc, "in_use", lambda: "tbbmalloc")
  assert malloc.preload_environment({}) is None
  monkeypatch.setattr(malloc, "in_use", lambda: "system")
  monkeypatch.setattr(malloc, "library_paths", lambda: None)
  assert malloc.preload_environment({}) is None


def test_a_bad_choice_names_the_good_ones(with_tbb):
  with pytest.raises(ValueError, match=r"RESEARCH_MALLOC='jemalloc' is not one of tbb, system"):
    malloc.preload_environment({"RESEARCH_MALLOC": "jemalloc"})


@pytest.mark.parametrize("original, restored", [("/lib/mine.so", "/lib/mine.so"), ("", None)])
def test_the_re_executed_process_puts_ld_preload_back(original, restored):
  environ = {"LD_PRELOAD": " ".join(FAKE + [original]), MARKER: original}
  malloc.restore_environment(environ)
  assert environ.get("LD_PRELOAD") == restored and MARKER not in environ


REPORT = ("import os, sys; sys.path.insert(0, {root!r}); from research import malloc; "
          "print('started', flush=True); malloc.use_scalable_malloc(); "
          "print(malloc.in_use(), os.environ.get('LD_PRELOAD'), {marker!r} in os.environ)")


@pytest.mark.skipif(malloc.library_paths() is None, reason="needs the tbb wheel (Linux x86-64)")
@pytest.mark.parametrize("choice, expected", [(None, "tbbmalloc"), ("system", "system")])
def test_a_process_runs_again_under_tbbs_malloc_and_its_children_start_clean(choice, expected):
  environ = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "RESEARCH_MALLOC")}
  if choice:
    environ["RESEARCH_MALLOC"] = choice
  result = subprocess.run([sys.executable, "-c", REPORT.format(root=ROOT, marker=MARKER)],
                          capture_output=True, text=True, timeout=60, env=environ)
  assert result.returncode == 0, result.stderr
  # One re-execution at most: the first image printed 'started', and so did the second.
  lines = result.stdout.splitlines()
  assert lines[:-1] == ["started"] * (2 if expected == "tbbmalloc" else 1)
  assert lines[-1] == f"{expected} None False"


def test_a_bad_research_malloc_is_one_line_and_exit_2(tmp_path, monkeypatch):
  monkeypatch.setenv("RESEARCH_MALLOC", "jemalloc")
  result = launch("--config=configs/credit.py", f"--workdir={tmp_path / 'run'}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      "error: RESEARCH_MALLOC='jemalloc' is not one of tbb, system; unset it for TBB's "
      "allocator, or set RESEARCH_MALLOC=system for the system's malloc"]
  assert not (tmp_path / "run").exists()

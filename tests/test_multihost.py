"""Two processes joined by `jax.distributed` run one study over both their devices.

Each process has one CPU device (gloo collectives between them). Process 0
writes the workdir; process 1 trains its share of the members and writes
nothing, following process 0's view of the workdir, so a resumed run needs no
shared filesystem.
"""

import os
import socket
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, TINY_FLAGS, launch

FLAGS = ("--config=configs/credit.py", *TINY_FLAGS, "--config.num_seeds=3",
         "--config.chunk_size=2")
ONE_DEVICE = {"XLA_FLAGS": "--xla_force_host_platform_device_count=1", "JAX_PLATFORMS": "cpu"}


def _free_port() -> int:
  with socket.socket() as sock:
    sock.bind(("localhost", 0))
    return sock.getsockname()[1]


def launch_two(writer_workdir, worker_workdir, *flags):
  """Runs launch.py as process 0 and process 1 of one run; their CompletedProcesses."""
  address = f"localhost:{_free_port()}"
  processes = [subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "launch.py"), *flags, f"--workdir={workdir}",
       f"--coordinator_address={address}", "--num_processes=2", f"--process_id={index}"],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env={**os.environ, **ONE_DEVICE}) for index, workdir in enumerate(
          (writer_workdir, worker_workdir))]
  try:
    outputs = [process.communicate(timeout=240) for process in processes]
  finally:
    for process in processes:
      process.kill()
  return [subprocess.CompletedProcess(p.args, p.returncode, out, err)
          for p, (out, err) in zip(processes, outputs)]


def test_two_processes_give_one_process_results_and_resume_from_the_writer(tmp_path):
  writer, worker = tmp_path / "writer", tmp_path / "worker"
  reference = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), *FLAGS,
       f"--workdir={tmp_path / 'single'}"], cwd=ROOT, capture_output=True, text=True,
      timeout=240, env={**os.environ, **ONE_DEVICE})
  assert reference.returncode == 0, reference.stderr[-2000:]

  first = launch_two(writer, worker, *FLAGS)
  assert [p.returncode for p in first] == [0, 0], first[0].stderr[-2000:] + first[1].stderr[-2000:]
  assert "process 1: trained its members" in first[1].stdout
  assert not worker.exists()  # workers write nothing
  expected = pd.read_csv(tmp_path / "single" / "seeds.csv")
  got = pd.read_csv(writer / "seeds.csv")
  pd.testing.assert_frame_equal(got[["model", "seed", "auc", "log_loss"]],
                                expected[["model", "seed", "auc", "log_loss"]], rtol=1e-5)

  # Finished: neither process trains again.
  again = launch_two(writer, worker, *FLAGS)
  assert [p.returncode for p in again] == [0, 0]
  assert "already holds this finished run" in again[0].stdout
  assert "trained in" not in again[1].stderr

  # Killed after the first chunk: only the second is trained, by both processes,
  # although the worker's own (empty) workdir has neither chunk.
  os.unlink(writer / "seeds.csv")
  os.unlink(writer / "chunks" / "members-000002-000003.npz")
  resumed = launch_two(writer, worker, *FLAGS)
  assert [p.returncode for p in resumed] == [0, 0], resumed[1].stderr[-2000:]
  assert "chunk 1/2" not in resumed[1].stderr and "chunk 2/2" in resumed[1].stderr
  timeless = lambda frame: frame.drop(columns=[c for c in frame if "seconds" in c])
  pd.testing.assert_frame_equal(timeless(pd.read_csv(writer / "seeds.csv")), timeless(got))


@pytest.mark.slow  # the classification test above covers the mechanism; this, a second task
def test_a_forecasting_study_over_two_processes_matches_one_process(tmp_path):
  flags = ("--config=configs/load.py", "--config.num_seeds=3", "--config.train.epochs=3",
           "--config.report=False")
  reference = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), *flags,
       f"--workdir={tmp_path / 'single'}"], cwd=ROOT, capture_output=True, text=True,
      timeout=240, env={**os.environ, **ONE_DEVICE})
  assert reference.returncode == 0, reference.stderr[-2000:]
  both = launch_two(tmp_path / "writer", tmp_path / "worker", *flags)
  assert [p.returncode for p in both] == [0, 0], both[1].stderr[-2000:]
  assert not (tmp_path / "worker").exists()
  columns = ["model", "seed", "mae", "mape", "nmse"]
  pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "writer" / "seeds.csv")[columns],
                                pd.read_csv(tmp_path / "single" / "seeds.csv")[columns],
                                rtol=1e-5)


def test_a_workdir_process_0_refuses_stops_every_process(tmp_path):
  writer = tmp_path / "writer"
  writer.mkdir()
  (writer / "config.json").write_text('{"num_seeds": 99}')
  refused = launch_two(writer, tmp_path / "worker", *FLAGS)
  assert [p.returncode for p in refused] == [2, 2]
  assert refused[0].stderr.strip().splitlines()[-1].startswith(
      "error: --workdir") and "holds a run of another config" in refused[0].stderr
  assert "error: process 0 refused the run: --workdir" in refused[1].stderr


@pytest.mark.parametrize("flags, message", [
    (("--num_processes=2", "--process_id=2", "--coordinator_address=localhost:1"),
     "--process_id must be in [0, 2)"),
    (("--num_processes=2", "--process_id=1"), "needs --coordinator_address"),
])
def test_bad_multihost_flags_are_one_line(tmp_path, flags, message):
  result = launch(*FLAGS, f"--workdir={tmp_path / 'run'}", *flags)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert message in result.stderr
  assert not (tmp_path / "run").exists()

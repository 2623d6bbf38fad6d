"""Multi-host runs: one study over the devices of several processes.

Every process runs `launch.py` with the same config and its own
`--process_id` (see the README). `jax.distributed` joins them, and the member
axis is sharded over all their devices. Process 0, the writer, owns the
workdir: it fits the baselines, writes every file and prints the results.
The other processes (workers) compile and run the same member programs on
their own devices, take part in gathering the members' outputs, and write
nothing.

Every process must launch the same programs in the same order. So the workers
do not look at a workdir themselves: the writer broadcasts what it found there
(`from_writer`: new, resumed or finished, and which chunks it trusts) once at
the start, and every process decides what to train from that. No shared
filesystem is needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from research.errors import UserError


def initialize(coordinator_address: str, num_processes: int, process_id: int) -> None:
  """Joins this process to a multi-host run (before anything else uses JAX)."""
  if num_processes < 2:
    return
  if not 0 <= process_id < num_processes:
    raise UserError(f"--process_id must be in [0, {num_processes}), got {process_id}")
  if not coordinator_address:
    raise UserError("a multi-host run needs --coordinator_address=HOST:PORT of process 0")
  # CPU devices of different processes talk through gloo (no effect on GPUs).
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address, num_processes, process_id)


def is_writer() -> bool:
  """Whether this process writes the run's files (process 0; always, with one process)."""
  return jax.process_index() == 0


def gather(tree: Any) -> Any:
  """`tree`'s arrays as NumPy arrays holding every process's shards."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  return multihost_utils.process_allgather(tree, tiled=True)


def place(tree: Any, sharding: jax.sharding.Sharding) -> Any:
  """`tree`'s arrays (the same on every process) laid out with `sharding`.

  The arrays go from the host (typed keys as their key data, wrapped again on
  the devices): putting a device's key array onto a sharding compiles a program
  of its own. With several processes each builds only the shards of its own devices.
  """
  def global_array(value):
    typed_key = _is_key(value)
    host = np.asarray(jax.random.key_data(value) if typed_key else value)
    # (key data has a trailing axis, which the members' spec leaves whole)
    array = (jax.device_put(host, sharding) if jax.process_count() == 1 else
             jax.make_array_from_callback(host.shape, sharding, lambda index: host[index]))
    return jax.random.wrap_key_data(array, impl=jax.random.key_impl(value)) if typed_key else array

  return jax.tree_util.tree_map(global_array, tree)


def rows(tree: Any, index: np.ndarray) -> Any:
  """The rows `index` of the leading axis of `tree`'s arrays, taken on the host (as
  NumPy arrays, and typed keys wrapped again): indexing device arrays would compile
  a program for each shape and type, on the way to every run's first program."""
  def take(value):
    if _is_key(value):
      return jax.random.wrap_key_data(np.asarray(jax.random.key_data(value))[index],
                                      impl=jax.random.key_impl(value))
    return np.asarray(value)[index]

  return jax.tree_util.tree_map(take, tree)


def _is_key(value: Any) -> bool:
  dtype = getattr(value, "dtype", None)
  return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def from_writer(compute: Callable[[], Any]) -> Any:
  """`compute()` as the writer (process 0) finds it, on every process.

  `compute` runs on the writer only and returns a JSON value; a `UserError`
  it raises is raised on every process (on a worker, naming process 0).
  """
  message = {}
  if is_writer():
    try:
      message = {"value": compute()}
    except UserError as e:
      message = {"error": str(e)}
  message = _broadcast_json(message)
  if "error" in message:
    if is_writer():
      raise UserError(message["error"])
    raise UserError(f"process 0 refused the run: {message['error']}")
  return message["value"]


def _broadcast_json(value: Any) -> Any:
  """Process 0's `value` (JSON-serialisable) on every process."""
  if jax.process_count() == 1:
    return value
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  encoded = np.frombuffer(json.dumps(value).encode(), np.uint8) if is_writer() else None
  # Two broadcasts: the size first, since every process must pass the same shape.
  size = int(multihost_utils.broadcast_one_to_all(
      np.int32(len(encoded) if encoded is not None else 0)))
  buffer = encoded if encoded is not None else np.zeros(size, np.uint8)
  received = multihost_utils.broadcast_one_to_all(buffer)
  return json.loads(np.asarray(received, np.uint8).tobytes().decode())

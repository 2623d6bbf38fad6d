"""How a program trains its members: batched, looped or both, across devices.

`train(keys, hparams)` trains one member. A strategy turns it into a function
of stacked members (leading axis):

* `vmap`: all members as one batched computation (best on GPUs).
* `map`: `lax.map`, one member after another inside one compiled program.
* `chunked`: `vmap` within groups of `vmap_size` members, `lax.map` across the
  groups (`lax.map(..., batch_size=vmap_size)`).
* `auto`: `vmap` on accelerators. On CPU, `chunked` for tabular models (under
  memory pressure a vmap of 64 members per device fell to 24% of peak while
  groups of 8 held 35%; otherwise the three are within 5%) and `map` for
  recurrent ones, where batching the members' small recurrent matmuls was
  measured 17-22% slower than looping on one device and far slower on two
  (benchmarks/RESULTS.md).

With several devices the member axis is sharded over a 1-D mesh named
`members` (`shard_map`, `NamedSharding`): each device runs the strategy on its
own members. All strategies and device counts give the same members' results
(to float32 rounding; tests check it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from research.errors import UserError

STRATEGIES = ("auto", "vmap", "map", "chunked")
AXIS = "members"

# XLA's CPU backend compiles at optimization level 1 instead of its default 3: a study's programs
# compiled 25-35% faster and trained as fast (MLPs) or faster (RNNs), with results
# equal to float rounding (benchmarks/RESULTS.md; tests/test_members.py). The
# matmuls are library calls either way; the higher levels spend their time on the small loops.
CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


def compiler_options(backend: str | None = None) -> dict[str, int] | None:
  """XLA options for the members programs on `backend` (default: JAX's); None: XLA's own,
  also where `XLA_FLAGS` sets the level itself (`--xla_backend_optimization_level=3`
  restores XLA's default)."""
  if (backend or jax.default_backend()) != "cpu" or (
      "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", "")):
    return None
  return dict(CPU_COMPILER_OPTIONS)


def resolve(strategy: str, model_input: str, backend: str | None = None) -> str:
  """The concrete strategy for `strategy`; 'auto' chooses by backend and by the
  models' declared input ('sequence' models are recurrent)."""
  if strategy not in STRATEGIES:
    raise UserError(f"train.members must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
  if strategy != "auto":
    return strategy
  if (backend or jax.default_backend()) != "cpu":
    return "vmap"
  return "map" if model_input == "sequence" else "chunked"


def batched(train: Callable, strategy: str, vmap_size: int = 8) -> Callable:
  """`train` (of one member's arguments) over stacked members with a concrete `strategy`."""
  if strategy == "vmap":
    return jax.vmap(train)
  if strategy not in ("map", "chunked"):
    raise UserError(f"unknown member strategy {strategy!r}")
  batch_size = vmap_size if strategy == "chunked" else None
  return lambda *members: jax.lax.map(lambda member: train(*member), members,
                                      batch_size=batch_size)


def mesh(devices: Sequence[jax.Device] | None = None) -> Mesh | None:
  """A 1-D mesh `members` over `devices` (default: all), or None for a single device."""
  devices = list(devices if devices is not None else jax.devices())
  return Mesh(np.array(devices), (AXIS,)) if len(devices) > 1 else None


def program(train: Callable, strategy: str, vmap_size: int, device_mesh: Mesh | None
            ) -> tuple[Callable, NamedSharding | None]:
  """The jitted members program, and the sharding its inputs must have (None: one device).

  `train` takes one member's arguments (e.g. `keys, hparams`); the program takes
  them stacked over members, whose number must be a multiple of the mesh's size.
  """
  members_fn = batched(train, strategy, vmap_size)
  options = compiler_options()
  if device_mesh is None:
    return jax.jit(members_fn, compiler_options=options), None
  spec = PartitionSpec(AXIS)
  sharding = members_sharding(device_mesh)
  # Members never talk to each other (no collectives), so the varying-axis
  # type checks have nothing to find; they would ask every scan carry to be cast.
  sharded = jax.shard_map(members_fn, mesh=device_mesh, in_specs=spec, out_specs=spec,
                          check_vma=False)
  return jax.jit(sharded, in_shardings=sharding, out_shardings=sharding,
                 compiler_options=options), sharding


def members_sharding(device_mesh: Mesh | None) -> NamedSharding | None:
  """The sharding of a members program's inputs and outputs on `device_mesh` (None: one
  device): the member axis split over the mesh."""
  return None if device_mesh is None else NamedSharding(device_mesh, PartitionSpec(AXIS))


def padded_size(num_members: int, device_mesh: Mesh | None) -> int:
  """`num_members` rounded up to a multiple of the devices."""
  devices = device_mesh.size if device_mesh is not None else 1
  return -(-num_members // devices) * devices

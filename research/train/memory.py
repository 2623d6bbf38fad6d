"""How much memory a compiled members program needs, and whether there is that much."""

from __future__ import annotations

import jax

from research.errors import UserError


def memory_bytes(compiled: jax.stages.Compiled) -> int:
  """Arguments + outputs + temporaries of a compiled program, per device (0 if unknown)."""
  analysis = compiled.memory_analysis()
  return int(sum(getattr(analysis, field, 0) or 0 for field in (
      "argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")))


def available_memory() -> tuple[int, bool] | None:
  """Bytes free for one program, and whether that is per device (accelerators) rather
  than shared by all devices (host memory); None when unknown."""
  device = jax.devices()[0]
  if device.platform != "cpu":
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
      return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0)), True
    return None
  try:
    with open("/proc/meminfo") as file:
      fields = dict(line.split(":", 1) for line in file)
    return int(fields["MemAvailable"].split()[0]) * 1024, False
  except (OSError, KeyError, ValueError):
    return None


def check_memory(label: str, per_device: int, chunk_size: int, num_devices: int) -> None:
  """Refuses a program whose chunk needs more memory than there is, suggesting a chunk size."""
  free = available_memory()
  if free is None or per_device == 0:
    return
  limit, is_per_device = free
  needed = per_device if is_per_device else per_device * num_devices
  if needed <= 0.9 * limit:
    return
  fitting = max(1, int(chunk_size * 0.8 * limit / needed) // num_devices * num_devices)
  raise UserError(f"program {label} needs {needed / 2**30:.1f} GiB for chunks of {chunk_size} "
                  f"members, more than the {limit / 2**30:.1f} GiB free; set "
                  f"--config.chunk_size={fitting} (or fewer)")

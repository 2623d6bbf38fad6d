"""Studies: the space of trials (`space`), their compiled programs (`buckets`), and
the tables that rank them (`tables`)."""

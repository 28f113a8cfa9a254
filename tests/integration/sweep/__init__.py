"""Integration tests of rfrobust.sweep: the CLI, worker pools and Dask clusters, stores under faults."""

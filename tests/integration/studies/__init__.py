"""Integration tests of the studies: the driver end to end (child processes, kills, resumes) on synthetic data."""

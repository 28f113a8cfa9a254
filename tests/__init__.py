"""The test suite: a package, so that helper modules and sweep kinds import as ``tests.<dir>.<module>``."""

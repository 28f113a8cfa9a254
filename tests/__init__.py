"""The test suite (a package, so that test helper modules and sweep kinds are importable as ``tests.<dir>.<module>``)."""

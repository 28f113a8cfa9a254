"""Integration tests of the theory: the CLI in a child process, the kappa derivation against cvxpy (slow)."""

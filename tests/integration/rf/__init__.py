"""Integration tests of the RF simulation: the CLI in a child process, statistical agreement with the theory."""

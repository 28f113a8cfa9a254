"""Integration tests of the figure and validation scripts end to end (stores, commands, exit status)."""

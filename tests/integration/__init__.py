"""Integration tier: commands in child processes, faults, end-to-end studies and scripts, statistical agreement."""

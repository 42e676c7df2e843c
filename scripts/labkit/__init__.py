"""Shared code of the lab's scripts and tests: finding, checking and running notebooks."""

"""A run: its description in memory (spec.py, the default run's choices in auto.py) and on disk
(rundir.py)."""

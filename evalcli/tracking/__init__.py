"""Logging runs to experiment trackers (MLflow: :mod:`evalcli.tracking.mlflow`).

Nothing here imports a tracker's package at module level: a run that is not configured to
track never loads it.
"""

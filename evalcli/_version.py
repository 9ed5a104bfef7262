"""Version of evalcli (single source of truth, read by hatchling)."""

__version__ = "0.1.0"

"""Errors of ``evalcli simulate``: bad input, found before anything is written (exit 2)."""

from __future__ import annotations

from evalcli.errors import UsageError


class SimulateError(UsageError):
    """A ``simulate`` option or the input dataset cannot be used (exit 2)."""


class TemplateError(UsageError):
    """A technique template file is invalid (exit 2, naming the file and line)."""


class TechniqueError(UsageError):
    """A ``--technique`` names something that does not exist or does not fit (exit 2)."""

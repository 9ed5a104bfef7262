"""Exceptions raised by :mod:`evalcli.prompts`.

Tree::

    PromptError (ValueError)
    ├── PromptFileError            the file cannot be used: missing, bad front matter, bad body
    ├── PromptRenderError          a row's variables cannot fill the template
    ├── OutputSpecError            an output spec (from a file or the config) is invalid
    └── BuiltinPromptNotFoundError (also LookupError) no built-in rubric by that name
"""

from __future__ import annotations

from pathlib import Path


class PromptError(ValueError):
    """Base class of every error raised by :mod:`evalcli.prompts`."""


class PromptFileError(PromptError):
    """A prompt file cannot be loaded.

    Attributes:
        path: The prompt file.
        line: 1-based line in that file the problem points at, or ``None`` when the problem
            concerns the file as a whole (missing, unreadable).
        message: What is wrong, without the location prefix.
    """

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        location = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{location}: {message}")


class PromptRenderError(PromptError):
    """The variables given to :meth:`PromptFile.render` cannot fill the template.

    Attributes:
        path: The prompt file being rendered.
        variable: The variable at fault when it is known (a missing required input, an
            undefined name), else ``None``.
        message: What went wrong.
    """

    def __init__(self, path: Path, variable: str | None, message: str) -> None:
        self.path = path
        self.variable = variable
        self.message = message
        super().__init__(f"{path}: {message}")


class OutputSpecError(PromptError):
    """An output spec is invalid.

    Attributes:
        key: The offending key inside the spec (``"min"``, ``"threshold"``...), or ``None``
            when the spec as a whole is wrong. Callers use it to point at a file line or a
            config key.
        message: What is wrong.
    """

    def __init__(self, key: str | None, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(message)


class BuiltinPromptNotFoundError(PromptError, LookupError):
    """No built-in rubric has the requested name, or the rubric directory is missing."""

"""The evalcli error tree and the exit-code contract.

Every problem evalcli reports on purpose is an :class:`EvalcliError`. The CLI's single error
boundary prints ``error: <where>: <message>`` (plus an optional ``hint:`` line) to stderr and
exits with the error's ``exit_code``. Anything else that escapes is a bug (exit 4).

Exception tree::

    EvalcliError                 exit 4 unless a subclass says otherwise
    ├── UsageError               exit 2: found before any model call
    │   ├── ConfigError          the run config (YAML, keys, values, evaluator specs, gates)
    │   ├── DatasetError         the dataset file (missing, empty, malformed)
    │   ├── MappingError         column mappings (unknown column, bad expression)
    │   ├── PromptError          prompt/rubric files
    │   └── ResourceError        missing local resources (NLTK data, optional packages)
    └── RunError                 exit 3: the run started but cannot be trusted
        └── RemoteError          judge/target/Content Safety unreachable or unauthorised
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in the README; CI pipelines rely on them)."""

    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    RUN_ERROR = 3
    INTERNAL = 4
    INTERRUPTED = 130


class EvalcliError(Exception):
    """Base class of every error evalcli raises deliberately.

    Args:
        message: One sentence saying what is wrong.
        where: The place: ``file:line[:col]``, a config key, or both.
        hint: Optional second line telling the user what to do.
    """

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def render(self) -> str:
        """The text the CLI prints: ``error: ...`` and, if any, ``hint: ...``."""
        text = f"error: {self}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(EvalcliError):
    """Bad input found before anything was sent to a model (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The run configuration is invalid."""


class DatasetError(UsageError):
    """The dataset cannot be read or is structurally malformed."""


class MappingError(UsageError):
    """A column mapping is malformed or points at a column the dataset does not have."""


class PromptError(UsageError):
    """A prompt (rubric) file is invalid."""


class ResourceError(UsageError):
    """A local resource (NLTK data, an optional package) is missing."""


class RunError(EvalcliError):
    """The run started but its results cannot be trusted (exit 3)."""

    exit_code = ExitCode.RUN_ERROR


class RemoteError(RunError):
    """A remote service (judge, target, Content Safety) is unreachable or refuses us."""


class RowError(Exception):
    """A failure confined to one (row, evaluator) pair; recorded in the results, never fatal.

    Args:
        kind: A short stable identifier (``missing-input``, ``judge-output-unparseable``, ...).
        message: Human-readable explanation.
        extra: Additional output fields to keep in the row (e.g. the judge's raw answer).
    """

    def __init__(self, kind: str, message: str, *, extra: dict[str, object] | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra or {}

    def __reduce__(self) -> tuple[object, ...]:
        # Exception pickling replays ``cls(*args)``, which lacks ``kind``; rebuild it fully.
        return (_rebuild_row_error, (self.kind, self.message, self.extra))


def _rebuild_row_error(kind: str, message: str, extra: dict[str, object]) -> RowError:
    return RowError(kind, message, extra=extra)

"""Keep a command going when the reader of its standard output goes away.

``evalcli run cfg.yaml | head -20`` in a CI step: ``head`` exits after twenty lines and the
next write to the pipe fails with ``BrokenPipeError``. Unguarded, that error reached the
command's error boundary as an "internal error" (exit 4) in the middle of printing the
summary, before the JUnit file, the step summary and the annotations were written, and the
gate verdict was lost. What a reader does with the output does not change the evaluation:
:func:`install` makes ``sys.stdout`` drop what can no longer be delivered (the descriptor
is pointed at ``/dev/null``, so later writes and the flush at exit succeed too), and the
command finishes its work and exits with its own code.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class _Guarded:
    """A text stream that swallows the write or flush that finds the reader gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop_output()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop_output()

    def _drop_output(self) -> None:
        if self.reader_gone:
            return
        self.reader_gone = True
        # From now on the descriptor writes to /dev/null: what the stream still buffers, and
        # the interpreter's flush at exit, go there instead of failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install() -> None:
    """Guard ``sys.stdout`` (once; a stream without a descriptor is left as it is)."""
    stream = sys.stdout
    if stream is None or isinstance(stream, _Guarded):
        return
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real descriptor (a test's capture): nothing to point elsewhere
    sys.stdout = _Guarded(stream)

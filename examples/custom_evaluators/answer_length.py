"""An example code evaluator for evalcli: how long is the answer, and is it short enough?

Used by configs/custom-evaluators.yaml::

    answer_length:
      use: code
      function: ../examples/custom_evaluators/answer_length.py:AnswerLength
      params: {max_words: 60}

evalcli builds one ``AnswerLength(max_words=60)`` when the run starts (a constructor that
rejects the params is reported before anything runs) and calls it once per row with the
row's ``response``. The instance is shared by the worker threads, so it keeps no per-row
state.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+(?:['’-]\w+)*")


class AnswerLength:
    """Counts the words of a response and checks them against a limit.

    Args:
        max_words: The longest answer, in words, that is still within the limit.
    """

    def __init__(self, max_words: int = 80) -> None:
        if not isinstance(max_words, int) or max_words < 1:
            raise ValueError(f"max_words must be a positive whole number, got {max_words!r}")
        self.max_words = max_words

    def __call__(self, response: str) -> dict[str, int | bool]:
        """Score one response: its word count and whether it is within ``max_words``."""
        words = len(_WORD.findall(response))
        return {"words": words, "within_limit": words <= self.max_words}

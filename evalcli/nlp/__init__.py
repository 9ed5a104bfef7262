"""Reference-exact NLP metrics: F1, BLEU, GLEU, METEOR and ROUGE.

Every function here returns the same score as the corresponding evaluator of
the reference SDK (azure-ai-evaluation 1.18.10 with nltk 3.10.4) to within
1e-9, for any input. BLEU, GLEU and METEOR take token lists from
:func:`tokenize`, so a row's texts can be tokenized once and shared between
them; F1 and ROUGE apply their own normalization to the raw strings.

Importing this package is cheap: nltk and its data are loaded on first use
(or by :func:`preload`). Everything is safe to call from several threads, and
from processes forked after (or before) first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalcli._lazy import exports

if TYPE_CHECKING:
    from evalcli.nlp._meteor import meteor
    from evalcli.nlp._metrics import ROUGE_TYPES, bleu, f1_score, gleu, rouge
    from evalcli.nlp._resources import (
        METRICS,
        NLTK_NEEDS,
        clear_caches,
        missing_nltk_resources,
        nltk_package,
        preload,
        required_nltk_resources,
    )
    from evalcli.nlp._tokenize import tokenize

# Each public name and the module defining it. The package imports them on first access
# (PEP 562): `evalcli validate` only reads NLTK_NEEDS, and the tokenizer module compiles
# some 30 patterns at import (a few ms of validate's start-up, issue 15).
_HOME = {
    **dict.fromkeys(("ROUGE_TYPES", "bleu", "f1_score", "gleu", "rouge"), "._metrics"),
    "meteor": "._meteor",
    **dict.fromkeys(
        (
            "METRICS",
            "NLTK_NEEDS",
            "clear_caches",
            "missing_nltk_resources",
            "nltk_package",
            "preload",
            "required_nltk_resources",
        ),
        "._resources",
    ),
    "tokenize": "._tokenize",
}

__all__ = [
    "METRICS",
    "NLTK_NEEDS",
    "ROUGE_TYPES",
    "bleu",
    "clear_caches",
    "f1_score",
    "gleu",
    "meteor",
    "missing_nltk_resources",
    "nltk_package",
    "preload",
    "required_nltk_resources",
    "rouge",
    "tokenize",
]


__getattr__, __dir__ = exports(__name__, _HOME)

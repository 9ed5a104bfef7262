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

from evalcli.nlp._metrics import ROUGE_TYPES, bleu, f1_score, gleu, meteor, rouge
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

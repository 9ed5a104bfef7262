"""METEOR, scoring exactly like the reference evaluator.

METEOR depends on WordNet, the Porter stemmer and nltk's alignment heuristics, so it calls
nltk's ``meteor_score`` with nltk's stemmer, but answers its WordNet questions from
:mod:`evalcli.nlp._wordnet`, which reads only the entries a word needs instead of loading
nltk's whole WordNet reader (seconds) first.

``tests/nlp/test_nlp_exact.py`` compares it with the values the reference SDK produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from evalcli.nlp._sync import new_lock
from evalcli.nlp._wordnet import WordNet, load_wordnet

__all__ = ["clear_cache", "load_meteor", "meteor"]

_LOAD_LOCK = new_lock()
_meteor_impl: Callable[..., float] | None = None


class _Lemma:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class _Synset:
    __slots__ = ("_lemmas",)

    def __init__(self, names: tuple[str, ...]) -> None:
        self._lemmas = tuple(_Lemma(name) for name in names)

    def lemmas(self) -> tuple[_Lemma, ...]:
        return self._lemmas


class _WordNetGate:
    """What nltk's ``meteor_score`` asks of its ``wordnet`` argument, from our reader.

    METEOR calls ``wordnet.synsets(word)`` and reads ``lemma.name()`` of each synset's
    lemmas; :class:`~evalcli.nlp._wordnet.WordNet` gives the same names in the same
    order without building nltk's whole reader. Answers are memoized per word.
    """

    def __init__(self, wordnet: WordNet) -> None:
        self.wordnet = wordnet
        self.synsets = lru_cache(maxsize=16384)(self._synsets)

    def _synsets(self, word: str) -> tuple[_Synset, ...]:
        return tuple(_Synset(names) for names in self.wordnet.synonym_sets(word))


class _StemCache:
    """nltk's Porter stemmer (the one METEOR uses by default), memoized per word."""

    def __init__(self, stemmer: Any) -> None:
        self.stem = lru_cache(maxsize=16384)(stemmer.stem)


_wordnet_gate: _WordNetGate | None = None
_stem_cache: _StemCache | None = None


def load_meteor() -> Callable[..., float]:
    """Open WordNet (lazily: see :mod:`evalcli.nlp._wordnet`) and load METEOR once per process.

    Raises:
        LookupError: WordNet is not installed where nltk looks for it.
    """
    global _meteor_impl, _wordnet_gate, _stem_cache
    with _LOAD_LOCK:
        if _meteor_impl is None:
            from evalcli.nltk_import import import_nltk

            import_nltk()
            from nltk.stem.porter import PorterStemmer
            from nltk.translate.meteor_score import meteor_score

            _wordnet_gate = _WordNetGate(load_wordnet())
            _stem_cache = _StemCache(PorterStemmer())
            _meteor_impl = meteor_score
        return _meteor_impl


def clear_cache() -> None:
    """Forget the memoized stems and WordNet look-ups."""
    if _wordnet_gate is not None:
        _wordnet_gate.synsets.cache_clear()
        _wordnet_gate.wordnet.clear_cache()
    if _stem_cache is not None:
        _stem_cache.stem.cache_clear()


def meteor(
    response_tokens: Sequence[str],
    ground_truth_tokens: Sequence[str],
    *,
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
) -> float:
    """METEOR of a tokenized response against one tokenized ground truth.

    Equals nltk's ``meteor_score([ground_truth_tokens], response_tokens,
    alpha=alpha, beta=beta, gamma=gamma)``: tokens are lowercased and aligned
    by exact match, then Porter stem, then WordNet synonym; the harmonic mean
    of precision and recall is reduced by a fragmentation penalty.

    Args:
        response_tokens: The hypothesis tokens, e.g. from :func:`tokenize`.
        ground_truth_tokens: The reference tokens.
        alpha: Relative weight of precision against recall.
        beta: Shape of the fragmentation penalty.
        gamma: Weight of the fragmentation penalty.

    Returns:
        The score; 0.0 when nothing aligns.

    Raises:
        LookupError: The WordNet corpus is not installed.
    """
    meteor_impl = _meteor_impl or load_meteor()
    return float(
        meteor_impl(
            [list(ground_truth_tokens)],
            list(response_tokens),
            stemmer=_stem_cache,
            wordnet=_wordnet_gate,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
        )
    )

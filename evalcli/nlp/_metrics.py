"""F1, BLEU, GLEU and ROUGE, scoring exactly like the reference evaluators (METEOR: _meteor).

The reference computes BLEU and GLEU with nltk's ``sentence_bleu`` (NIST
smoothing, "method4") and ``sentence_gleu``, and ROUGE with Google's
``rouge-score`` package. For a single reference those algorithms are a few
n-gram counts and one formula, so they are computed here directly: the
arithmetic is the same, operation for operation, so the floats come out the
same, without the per-call overhead of the general multi-reference,
multi-weight code paths (and without importing ``rouge-score``, which pulls in
absl and numpy). ROUGE-L uses a bit-parallel longest-common-subsequence
length instead of rouge-score's quadratic table; only the length is used, and
it is an integer either way.

``tests/nlp/test_nlp_exact.py`` compares every function here with the values
the reference SDK produced and, on randomized inputs, with the libraries.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Final

__all__ = ["ROUGE_TYPES", "bleu", "f1_score", "gleu", "rouge"]

#: The ROUGE variants the reference accepts for ``rouge_type``.
ROUGE_TYPES: Final = ("rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL")

# ---------------------------------------------------------------------------
# F1
# ---------------------------------------------------------------------------

# Deleting characters with str.translate gives the same string as the
# reference's character-by-character filter, in one C-level pass.
_DELETE_PUNCTUATION: Final = str.maketrans("", "", string.punctuation)
_ARTICLE: Final = re.compile(r"\b(a|an|the)\b")


def _f1_tokens(text: str) -> list[str]:
    # Same order as the reference: lowercase, drop ASCII punctuation, blank out
    # articles, then split on whitespace. Lowercasing first matters ("The").
    text = text.lower().translate(_DELETE_PUNCTUATION)
    return _ARTICLE.sub(" ", text).split()


def f1_score(response: str, ground_truth: str) -> float:
    """Token-overlap F1 between a response and its ground truth.

    Both texts are lowercased, stripped of ASCII punctuation and of the
    articles "a", "an" and "the", and split on whitespace. Shared tokens are
    counted as a multiset intersection.

    Args:
        response: The generated text.
        ground_truth: The expected text.

    Returns:
        ``2PR / (P + R)`` with P and R the shares of shared tokens in the
        response and the ground truth; 0.0 when nothing is shared (including
        when either side has no tokens left after normalization).
    """
    response_tokens = _f1_tokens(response)
    truth_tokens = _f1_tokens(ground_truth)
    shared = sum((Counter(response_tokens) & Counter(truth_tokens)).values())
    if shared == 0:
        return 0.0
    # Written as the reference writes it so the float rounding is identical.
    precision = 1.0 * shared / len(response_tokens)
    recall = 1.0 * shared / len(truth_tokens)
    return (2.0 * precision * recall) / (precision + recall)


# ---------------------------------------------------------------------------
# n-gram helpers
# ---------------------------------------------------------------------------


def _ngrams(tokens: Sequence[str], n: int) -> Iterable[Hashable]:
    """The n-grams of ``tokens`` in order; unigrams are the bare tokens.

    Keys only need to compare equal exactly when the n-grams do, which holds
    for bare tokens (n = 1) and for tuples (n > 1).
    """
    if n == 1:
        return tokens
    # The shifted copies are shorter, so zip stops after the last complete n-gram.
    return zip(*(tokens[i:] for i in range(n)), strict=False)


def _clipped_matches(hypothesis: Iterable[Hashable], reference: Iterable[Hashable]) -> int:
    """Sum over distinct n-grams of min(hypothesis count, reference count).

    This is the clipped match count of BLEU, GLEU and ROUGE-N.
    """
    grams = list(hypothesis)
    distinct = set(grams)
    if len(distinct) == len(grams):
        # No n-gram repeats in the hypothesis (the usual case beyond unigrams),
        # so each one matches at most once: a set intersection, done in C.
        return len(distinct.intersection(reference))
    # Otherwise match occurrences one by one against the reference's supply.
    available = Counter(reference)
    matched = 0
    for gram in grams:
        left = available.get(gram)
        if left:
            available[gram] = left - 1
            matched += 1
    return matched


# ---------------------------------------------------------------------------
# BLEU
# ---------------------------------------------------------------------------

_BLEU_MAX_N: Final = 4
_BLEU_WEIGHT: Final = 0.25  # nltk's default uniform weights for 4-grams
_METHOD4_K: Final = 5  # SmoothingFunction's default k


def bleu(response_tokens: Sequence[str], ground_truth_tokens: Sequence[str]) -> float:
    """Sentence BLEU of a tokenized response against one tokenized ground truth.

    Equals nltk's ``sentence_bleu([ground_truth_tokens], response_tokens,
    smoothing_function=SmoothingFunction().method4)`` with uniform 4-gram
    weights. Case-sensitive.

    Args:
        response_tokens: The hypothesis tokens, e.g. from :func:`tokenize`.
        ground_truth_tokens: The reference tokens.

    Returns:
        The score in [0, 1]; 0.0 when no unigram matches (where nltk returns
        the integer 0).
    """
    hyp_len = len(response_tokens)
    ref_len = len(ground_truth_tokens)

    # Modified (clipped) precision per n-gram order, kept as numerator and
    # denominator like nltk's unnormalized Fraction. The denominator is the
    # number of hypothesis n-grams, at least 1.
    numerators: list[int] = []
    denominators: list[int] = []
    for n in range(1, _BLEU_MAX_N + 1):
        if hyp_len >= n:
            # A matching n-gram contains matching (n-1)-grams, so once an order
            # has no match, no higher order has one either.
            if n == 1 or numerators[-1]:
                matches = _clipped_matches(
                    _ngrams(response_tokens, n), _ngrams(ground_truth_tokens, n)
                )
            else:
                matches = 0
            numerators.append(matches)
            denominators.append(hyp_len - n + 1)
        else:
            numerators.append(0)
            denominators.append(1)
        if n == 1 and numerators[0] == 0:
            # nltk returns 0 as soon as no unigram matches, before smoothing.
            return 0.0

    # Brevity penalty against the single reference (the "closest" length).
    if hyp_len > ref_len:
        brevity_penalty = 1.0
    else:
        brevity_penalty = math.exp(1 - ref_len / hyp_len)

    # NIST geometric smoothing ("method4"): the i-th order without matches gets
    # 1 / (2**i * k / ln(hyp_len)) matches instead, for hypotheses longer than
    # one token. Orders still at zero are then left out of the sum.
    log_terms: list[float] = []
    increment = 1
    for numerator, denominator in zip(numerators, denominators, strict=True):
        if numerator == 0 and hyp_len > 1:
            smoothed = 1 / (2**increment * _METHOD4_K / math.log(hyp_len))
            log_terms.append(_BLEU_WEIGHT * math.log(smoothed / denominator))
            increment += 1
        elif numerator > 0:
            # nltk takes the log of Fraction(numerator, denominator), which
            # converts to float by exactly this division.
            log_terms.append(_BLEU_WEIGHT * math.log(numerator / denominator))
    return brevity_penalty * math.exp(math.fsum(log_terms))


# ---------------------------------------------------------------------------
# GLEU
# ---------------------------------------------------------------------------

_GLEU_MAX_N: Final = 4


def gleu(response_tokens: Sequence[str], ground_truth_tokens: Sequence[str]) -> float:
    """Sentence GLEU of a tokenized response against one tokenized ground truth.

    Equals nltk's ``sentence_gleu([ground_truth_tokens], response_tokens)``:
    the 1- to 4-gram matches divided by the larger of the hypothesis' and the
    reference's n-gram totals. Case-sensitive.

    Args:
        response_tokens: The hypothesis tokens, e.g. from :func:`tokenize`.
        ground_truth_tokens: The reference tokens.

    Returns:
        The score in [0, 1]; 0.0 when both sides are empty.
    """
    hyp_len = len(response_tokens)
    ref_len = len(ground_truth_tokens)
    matches = 0
    hyp_total = 0
    ref_total = 0
    order_matches = 1
    # n-grams of different orders never compare equal, so counting each order
    # separately gives the same totals as nltk's single "everygrams" counter.
    for n in range(1, _GLEU_MAX_N + 1):
        if hyp_len >= n:
            hyp_total += hyp_len - n + 1
        if ref_len >= n:
            ref_total += ref_len - n + 1
        # As in BLEU, an order without matches leaves none for higher orders.
        if order_matches and hyp_len >= n and ref_len >= n:
            order_matches = _clipped_matches(
                _ngrams(response_tokens, n), _ngrams(ground_truth_tokens, n)
            )
            matches += order_matches
    total = max(hyp_total, ref_total)
    if total == 0:
        return 0.0
    return matches / total


# ---------------------------------------------------------------------------
# ROUGE
# ---------------------------------------------------------------------------

# rouge-score lowercases, turns every run of characters outside [a-z0-9] into
# a space, splits on whitespace and keeps the non-empty [a-z0-9]+ pieces:
# exactly the maximal [a-z0-9] runs of the lowercased text.
_ROUGE_TOKEN: Final = re.compile(r"[a-z0-9]+")


def _rouge_tokens(text: str) -> list[str]:
    return _ROUGE_TOKEN.findall(text.lower())


def _fmeasure(precision: float, recall: float) -> float:
    # rouge-score's formula, in its evaluation order.
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def _lcs_length(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel.

    Allison-Dix / Hyyrö: bit j of ``row`` stays set while the j-th token of
    ``second`` is not yet used by the best alignment of the prefix of
    ``first`` seen so far, so the LCS length is the number of cleared bits.
    Python integers make this O(len(first)) big-number operations instead
    of rouge-score's O(len(first) * len(second)) table of Python ints.
    """
    positions: dict[str, int] = {}
    for j, token in enumerate(second):
        positions[token] = positions.get(token, 0) | (1 << j)
    width = len(second)
    all_ones = (1 << width) - 1
    row = all_ones
    for token in first:
        matched = row & positions.get(token, 0)
        row = ((row + matched) | (row - matched)) & all_ones
    return width - row.bit_count()


def rouge(response: str, ground_truth: str, rouge_type: str) -> tuple[float, float, float]:
    """ROUGE precision, recall and F-measure of a response against its ground truth.

    Equals ``rouge_score.rouge_scorer.RougeScorer([rouge_type]).score(
    target=ground_truth, prediction=response)`` without stemming: tokens are
    the lowercase ``[a-z0-9]+`` runs, so text in other scripts scores 0.

    Args:
        response: The generated text (the prediction).
        ground_truth: The expected text (the target).
        rouge_type: One of :data:`ROUGE_TYPES` ("rouge1" to "rouge5" compare
            n-grams; "rougeL" the longest common subsequence).

    Returns:
        ``(precision, recall, fmeasure)``.

    Raises:
        ValueError: ``rouge_type`` is not one of :data:`ROUGE_TYPES`.
    """
    if rouge_type not in ROUGE_TYPES:
        raise ValueError(
            f"unknown rouge_type {rouge_type!r}; expected one of {', '.join(ROUGE_TYPES)}"
        )
    target = _rouge_tokens(ground_truth)
    prediction = _rouge_tokens(response)

    if rouge_type == "rougeL":
        if not target or not prediction:
            return 0.0, 0.0, 0.0
        lcs = _lcs_length(target, prediction)
        precision = lcs / len(prediction)
        recall = lcs / len(target)
        return precision, recall, _fmeasure(precision, recall)

    n = int(rouge_type[5:])
    target_total = max(len(target) - n + 1, 0)
    prediction_total = max(len(prediction) - n + 1, 0)
    if target_total and prediction_total:
        overlap = _clipped_matches(_ngrams(prediction, n), _ngrams(target, n))
    else:
        overlap = 0
    # rouge-score divides by at least 1 so that empty sides score 0.
    precision = overlap / max(prediction_total, 1)
    recall = overlap / max(target_total, 1)
    return precision, recall, _fmeasure(precision, recall)

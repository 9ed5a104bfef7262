"""evalcli.metrics.sacrebleu_metrics gives sacrebleu's own numbers.

Sentence scores must equal ``sacrebleu.sentence_bleu`` / ``sentence_chrf`` / ``sentence_ter``;
corpus scores computed from the rows' stored statistics must equal ``corpus_score`` of
sacrebleu's metric classes on the same texts (rows with fewer references padded with None,
as sacrebleu expects), for several parameter combinations; so must scores of resampled rows.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER

from evalcli.metrics.sacrebleu_metrics import SacreBleuMetric

# (hypothesis, references): non-ASCII, empty hypotheses, one to three references per row.
ROWS: list[tuple[str, list[str]]] = [
    ("The cat sat on the mat.", ["The cat is on the mat.", "A cat sat on a mat."]),
    ("", ["Nothing was said."]),
    ("   ", ["Whitespace only.", "Blank.", "Empty"]),
    ("Crème brûlée is délicieux, n'est-ce pas ?", ["La crème brûlée est délicieuse."]),
    ("東京は日本の首都です。", ["日本の首都は東京です。", "東京は首都です"]),
    ("I love pizza 🍕!!", ["I love pizza!", "Pizza 🍕 is what I love."]),
    ("Привет, мир! Hello world.", ["Привет мир", "Hello, world!"]),
    ("مرحبا بالعالم", ["مرحبا"]),
    ("It costs $3.88 (roughly 3 euros) -- cheap.", ["It costs $3.88.", "Roughly 3 EUROS."]),
    ("a b c d e f g h i j", ["a b c d e f g h i j k"]),
    ("Completely unrelated words here", ["The quick brown fox jumps over the lazy dog."]),
    ("The Quick Brown Fox", ["the quick brown fox", "THE QUICK BROWN FOX"]),
    ("Dr. Smith's U.S. office, e.g. at 10:30 a.m.", ["Dr Smith's US office at 10:30am."]),
    ("한국어 문장입니다", ["한국어 문장"]),
    ("Tab\tseparated\nlines here", ["Tab separated lines here"]),
    ("", [""]),
    ("Only the second reference is empty.", ["Only the first reference counts.", ""]),
    (
        " ".join(f"word{i % 37}" for i in range(300)),
        [" ".join(f"word{i % 41}" for i in range(280))],
    ),
]

PARAMS: dict[str, list[dict[str, Any]]] = {
    "chrf": [
        {},
        {"word_order": 2},
        {"char_order": 4, "beta": 1},
        {"lowercase": True, "whitespace": True},
        {"beta": 3, "word_order": 1, "lowercase": True},
    ],
    "ter": [
        {},
        {"normalized": True},
        {"no_punct": True, "case_sensitive": True},
        {"normalized": True, "asian_support": True},
        {"asian_support": True, "no_punct": True},
    ],
    "bleu": [
        {},
        {"tokenize": "intl"},
        {"tokenize": "zh"},
        {"tokenize": "char", "lowercase": True},
        {"tokenize": "none", "smooth_method": "none"},
        {"smooth_method": "floor", "smooth_value": 0.2},
        {"smooth_method": "add-k"},
        {"smooth_method": "add-k", "smooth_value": 2, "lowercase": True},
    ],
}
CASES = [(metric, params) for metric, combos in PARAMS.items() for params in combos]
CASE_IDS = [f"{m}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'default'}" for m, p in CASES]


def _sentence_fn(metric: str, params: dict[str, Any]) -> Callable[[str, list[str]], Any]:
    """sacrebleu's own sentence-level function with the same parameters."""
    if metric == "chrf":
        kw = {k: v for k, v in params.items() if k not in ("whitespace", "lowercase")}
        if params.get("lowercase"):
            # sentence_chrf has no lowercase argument; the class is what it wraps.
            return lambda h, r: CHRF(**params).sentence_score(h, r)
        return lambda h, r: sacrebleu.sentence_chrf(
            h, r, remove_whitespace=not params.get("whitespace", False), **kw
        )
    if metric == "ter":
        return lambda h, r: sacrebleu.sentence_ter(h, r, **params)
    return lambda h, r: sacrebleu.sentence_bleu(h, r, **params)


def _sacrebleu_class(metric: str, params: dict[str, Any]) -> Any:
    return {"chrf": CHRF, "ter": TER, "bleu": BLEU}[metric](**params)


def _streams(refs: list[list[str]]) -> list[list[str | None]]:
    """Reference streams as sacrebleu takes them; rows with fewer references get None."""
    width = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


@pytest.mark.parametrize(("metric", "params"), CASES, ids=CASE_IDS)
def test_sentence_scores_equal_sacrebleu(metric: str, params: dict[str, Any]) -> None:
    ours = SacreBleuMetric(metric, params)
    theirs = _sentence_fn(metric, params)
    for hyp, refs in ROWS:
        assert ours.score_row(hyp, refs).score == theirs(hyp, refs).score, (hyp, refs)


@pytest.mark.parametrize(("metric", "params"), CASES, ids=CASE_IDS)
def test_corpus_score_from_stored_stats_equals_corpus_score(
    metric: str, params: dict[str, Any]
) -> None:
    ours = SacreBleuMetric(metric, params)
    rows = [ours.score_row(hyp, refs) for hyp, refs in ROWS]
    # Statistics travel through results.json: JSON must keep them exact.
    stored = json.loads(json.dumps([row.stats for row in rows]))
    reference = _sacrebleu_class(metric, params)
    expected = reference.corpus_score([h for h, _ in ROWS], _streams([r for _, r in ROWS]))
    assert ours.corpus_score(stored) == expected.score
    assert ours.signature(row.num_refs for row in rows) == reference.get_signature().format()


@pytest.mark.parametrize(("metric", "params"), CASES[::3], ids=CASE_IDS[::3])
def test_resampled_rows_score_like_a_corpus_of_those_rows(
    metric: str, params: dict[str, Any]
) -> None:
    ours = SacreBleuMetric(metric, params)
    stats = [ours.score_row(hyp, refs).stats for hyp, refs in ROWS]
    table = ours.prepare(stats)  # checked once, reused by every resample
    assert ours.corpus_score(table) == ours.corpus_score(stats)
    rng = random.Random(5)
    for _ in range(5):
        picks = [rng.randrange(len(ROWS)) for _ in range(len(ROWS))]  # with repeats
        hyps = [ROWS[i][0] for i in picks]
        refs = _streams([ROWS[i][1] for i in picks])
        expected = _sacrebleu_class(metric, params).corpus_score(hyps, refs).score
        assert ours.resample_score(table, picks) == expected
        assert ours.resample_score(stats, picks) == expected
    subset = [0, 3, 4]
    expected = _sacrebleu_class(metric, params).corpus_score(
        [ROWS[i][0] for i in subset], _streams([ROWS[i][1] for i in subset])
    )
    assert ours.resample_score(stats, subset) == expected.score


def test_a_single_reference_string_is_one_reference() -> None:
    ours = SacreBleuMetric("bleu")
    row = ours.score_row("The cat sat on the mat.", "The cat is on the mat.")
    assert row.num_refs == 1
    assert (
        row.score
        == sacrebleu.sentence_bleu("The cat sat on the mat.", ["The cat is on the mat."]).score
    )
    assert ours.signature([1, 1]).startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")
    assert ours.signature([1], sentence=True).startswith("nrefs:1|case:mixed|eff:yes|")


def test_score_names_and_directions() -> None:
    assert SacreBleuMetric("chrf").score_name == "chrF2"
    assert SacreBleuMetric("chrf", {"word_order": 2}).score_name == "chrF2++"
    assert SacreBleuMetric("bleu").score_name == "BLEU"
    assert SacreBleuMetric("ter").score_name == "TER"
    assert not SacreBleuMetric("ter").higher_is_better
    assert SacreBleuMetric("bleu").higher_is_better


def test_metric_objects_pickle_and_share_between_threads() -> None:
    ours = pickle.loads(pickle.dumps(SacreBleuMetric("chrf", {"word_order": 2})))
    expected = [sacrebleu.sentence_chrf(h, r, word_order=2).score for h, r in ROWS]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda row: ours.score_row(*row).score, ROWS * 4))
    assert got == expected * 4


@pytest.mark.parametrize(
    ("metric", "params", "message"),
    [
        ("meteor", {}, "unknown sacrebleu metric 'meteor'"),
        ("chrf", {"order": 3}, "unknown chrf parameter(s) order; known: char_order"),
        ("chrf", {"char_order": 0}, "char_order must be an integer from 1 to 20, got 0"),
        ("chrf", {"word_order": "2"}, "word_order must be an integer from 0 to 10, got '2'"),
        ("chrf", {"beta": True}, "beta must be an integer"),
        ("chrf", {"lowercase": "yes"}, "lowercase must be true or false, got 'yes'"),
        ("ter", {"normalized": 1}, "normalized must be true or false, got 1"),
        ("bleu", {"tokenize": "spm"}, "tokenize must be one of 13a, intl, zh, ja-mecab"),
        ("bleu", {"smooth_method": "lin"}, "smooth_method must be one of none, floor"),
        ("bleu", {"smooth_value": -1}, "smooth_value must be a number >= 0, got -1"),
    ],
)
def test_bad_parameters_are_named(metric: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        SacreBleuMetric(metric, params)
    assert message in str(info.value)


def test_ja_mecab_works_when_installed_and_is_refused_clearly_when_not() -> None:
    if importlib.util.find_spec("MeCab") and importlib.util.find_spec("ipadic"):
        ours = SacreBleuMetric("bleu", {"tokenize": "ja-mecab"})
        hyp, refs = "東京は日本の首都です。", ["日本の首都は東京です。"]
        assert ours.score_row(hyp, refs).score == (
            sacrebleu.sentence_bleu(hyp, refs, tokenize="ja-mecab").score
        )
    else:
        with pytest.raises(ValueError, match=r"sacrebleu\[ja\]"):
            SacreBleuMetric("bleu", {"tokenize": "ja-mecab"})


@pytest.mark.parametrize(
    ("hypothesis", "references", "message"),
    [
        (None, ["a"], "the response must be a string, got NoneType"),
        (3, ["a"], "the response must be a string, got int"),
        ("a", [], "non-empty list of strings, got an empty list"),
        ("a", None, "non-empty list of strings, got NoneType"),
        ("a", {"text": "a"}, "non-empty list of strings, got dict"),
        ("a", ["a", None], "reference 1 must be a string, got NoneType"),
    ],
)
def test_bad_rows_raise_value_errors(hypothesis: Any, references: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        SacreBleuMetric("chrf").score_row(hypothesis, references)
    assert message in str(info.value)


def test_bad_statistics_are_refused() -> None:
    chrf = SacreBleuMetric("chrf")
    good = chrf.score_row("a cat", "the cat").stats
    with pytest.raises(ValueError, match="no scored rows"):
        chrf.corpus_score([])
    with pytest.raises(ValueError, match="no scored rows"):
        chrf.signature([])
    with pytest.raises(ValueError, match="no rows in the resample"):
        chrf.resample_score([good], [])
    chrf_pp = SacreBleuMetric("chrf", {"word_order": 2})
    pp_row = chrf_pp.score_row("a cat", "the cat").stats
    # chrF statistics stored by a run without word n-grams do not fit chrF++.
    with pytest.raises(ValueError, match=r"row 1: chrF2\+\+ statistics must be a list of 24"):
        chrf_pp.corpus_score([pp_row, good])
    with pytest.raises(ValueError, match="row 0: BLEU statistics must be a list of 10 numbers"):
        SacreBleuMetric("bleu").corpus_score([[1, 2, "3", 4, 5, 6, 7, 8, 9, 10]])
    with pytest.raises(ValueError, match="row 0: TER statistics"):
        SacreBleuMetric("ter").corpus_score([[float("nan"), 2.0]])

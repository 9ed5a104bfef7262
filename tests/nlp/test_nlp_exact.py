"""evalcli.nlp scores equal the reference SDK's, to 1e-9, on every stored case.

Expected values come from ``reference_values.json``, written by
``gen_reference_values.py`` with the reference SDK (see that file). On top of
the stored cases, randomized inputs check the parts that were re-implemented
for speed (the word tokenizer, BLEU, GLEU and ROUGE) against the libraries the
reference uses, and subprocess tests check thread and fork safety from a cold
start.

These tests need the NLTK data (punkt_tab, perluniprops, wordnet); CI
provisions it. Without it they fail with a message saying what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evalcli import nlp

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-9


def _load_generator() -> ModuleType:
    # Imported by path: tests/nlp is not a package, and this works whatever
    # pytest import mode the project uses.
    spec = importlib.util.spec_from_file_location(
        "_nlp_reference_gen", HERE / "gen_reference_values.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
REFERENCE: dict[str, Any] = json.loads((HERE / "reference_values.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = REFERENCE["cases"]
CASE_IDS = [case["id"] for case in CASES]
METEOR_CUSTOM: dict[str, float] = REFERENCE["meteor_custom_params"]


def _texts(case: dict[str, Any]) -> tuple[str, str]:
    response, truth = GEN.case_texts(case)
    return str(response), str(truth)


@pytest.fixture(scope="session")
def nltk_data() -> None:
    """Fail (not skip) with instructions when the NLTK data is not installed."""
    missing = nlp.missing_nltk_resources(nlp.required_nltk_resources("meteor"))
    if missing:
        packages = sorted({nlp.nltk_package(resource) for resource in missing})
        pytest.fail(
            "NLTK data missing: "
            + ", ".join(missing)
            + f" (packages {', '.join(packages)}). Point NLTK_DATA at a directory that has "
            "them (CI provisions one), e.g. NLTK_DATA=/path/to/nltk_data pytest tests/nlp",
            pytrace=False,
        )


def _close(got: float, expected: float) -> bool:
    return isinstance(got, float) and abs(got - expected) <= TOLERANCE


# ---------------------------------------------------------------------------
# Stored reference values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_f1_matches_reference(case: dict[str, Any]) -> None:
    response, truth = _texts(case)
    got = nlp.f1_score(response, truth)
    assert _close(got, case["expected"]["f1_score"]), (got, case["expected"]["f1_score"])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_rouge_matches_reference(case: dict[str, Any]) -> None:
    response, truth = _texts(case)
    for rouge_type in nlp.ROUGE_TYPES:
        got = nlp.rouge(response, truth, rouge_type)
        expected = case["expected"][rouge_type]
        assert all(_close(g, e) for g, e in zip(got, expected, strict=True)), (
            rouge_type,
            got,
            expected,
        )


@pytest.mark.usefixtures("nltk_data")
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_tokenized_metrics_match_reference(case: dict[str, Any]) -> None:
    response, truth = _texts(case)
    hyp, ref = nlp.tokenize(response), nlp.tokenize(truth)
    if "tokens" in case:
        assert hyp == case["tokens"]["response"]
        assert ref == case["tokens"]["ground_truth"]
    expected = case["expected"]
    got = {
        "bleu": nlp.bleu(hyp, ref),
        "gleu": nlp.gleu(hyp, ref),
        "meteor": nlp.meteor(hyp, ref),
        "meteor_custom": nlp.meteor(hyp, ref, **METEOR_CUSTOM),
    }
    wrong = {k: (v, expected[k]) for k, v in got.items() if not _close(v, expected[k])}
    assert not wrong


@pytest.mark.usefixtures("nltk_data")
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_tokenize_equals_nltk(case: dict[str, Any]) -> None:
    from nltk.tokenize import word_tokenize
    from nltk.tokenize.nist import NISTTokenizer

    for text in _texts(case):
        if text.isascii():
            expected = word_tokenize(text)
        else:
            expected = NISTTokenizer().international_tokenize(text)
        assert nlp.tokenize(text) == expected


def test_reference_file_is_broad_and_small() -> None:
    assert len(CASES) >= 60
    assert (HERE / "reference_values.json").stat().st_size < 1_000_000
    assert any("generate" in case for case in CASES)
    assert any(not _texts(case)[0].isascii() for case in CASES)


# ---------------------------------------------------------------------------
# Randomized comparisons with the libraries the reference calls
# ---------------------------------------------------------------------------

_PIECES = [
    "can", "not", "cannot", "CanNot", "gonna", "gimme", "gotta", "lemme", "wanna", "more'n",
    "d'ye", "'tis", "'Twas", "'t", "is", "was", "n't", "N'T", "'s", "'S", "'m", "'d", "'ll",
    "'LL", "'re", "'ve", "'", "''", '"', "``", "`", "...", "..", ".", "?", "!", "--", "---",
    "-", ",", ":", ";", "@", "#", "$", "%", "&", "*", "(", ")", "[", "]", "{", "}", "<", ">",
    "Mr.", "U.S.", "e.g.", "p.m.", "No.", "3.5", "1,000", "10:30", "a", "the", "Hello",
    "world", "don't", "I'm", "it's", "rock'n'roll", " ", "  ", "\t", "\n", "\n\n", "\r\n",
    "\x0b", "\x0c", "\x1c", "\x1f", "x", "Y", "Paris", "France", "&amp;", "&lt;",
]  # fmt: skip
_ASCII = [chr(c) for c in range(128)]
# Accents, dotless/dotted i, long s, CJK, emoji, currency, dashes, curly quotes,
# guillemets, ellipsis, no-break space, line separator, combining accent, XML entities.
_UNICODE = [
    *"\u00e9\u00fc\u00f1\u00df\u0130\u0131\u017f\u6771\u4eac\U0001f600\U0001f44d\u20ac",
    *"\u2014\u2013\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026\u00a0\u2028\u0301\u03a9",
    "&amp;",
    "&quot;",
    "<skipped>",
]


def _random_texts(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        draw = rng.random()
        if draw < 0.3:
            yield "".join(rng.choice(_ASCII) for _ in range(rng.randint(0, 40)))
        elif draw < 0.85:
            yield "".join(
                rng.choice(_PIECES) + rng.choice(["", " ", " ", " "])
                for _ in range(rng.randint(0, 25))
            )
        else:
            pool = _PIECES + _UNICODE
            yield " ".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))


@pytest.mark.usefixtures("nltk_data")
def test_tokenize_fuzz_equals_nltk() -> None:
    from nltk.tokenize import word_tokenize
    from nltk.tokenize.nist import NISTTokenizer

    nist = NISTTokenizer()
    mismatches = []
    for text in _random_texts(seed=7, count=4000):
        expected = word_tokenize(text) if text.isascii() else nist.international_tokenize(text)
        if nlp.tokenize(text) != expected:
            mismatches.append(text)
    assert not mismatches, mismatches[:5]


@pytest.mark.usefixtures("nltk_data")
def test_nist_tokenize_fuzz_equals_nltk() -> None:
    from nltk.tokenize.nist import NISTTokenizer

    nist = NISTTokenizer()
    # Characters from the Unicode number/punctuation/symbol tables the NIST
    # tokenizer splits on, ASCII, the strings it rewrites, and any code point.
    tables = [nist.pup_number, nist.pup_punct, nist.pup_symbol]
    specials = ["<skipped>", "\u2028", "&amp;", "&lt;", "&quot;", "&#91;", "\ud800", " ", "\n"]
    rng = random.Random(19)
    mismatches = []
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 40)):
            draw = rng.random()
            if draw < 0.35:
                parts.append(rng.choice(_ASCII))
            elif draw < 0.6:
                parts.append(rng.choice(rng.choice(tables)))
            elif draw < 0.8:
                parts.append(rng.choice(specials + _UNICODE))
            else:
                parts.append(chr(rng.randint(0x80, 0x2FFFF)))
        text = "".join(parts) + "\u00e9"  # always off the ASCII path
        if nlp.tokenize(text) != nist.international_tokenize(text):
            mismatches.append(text)
    assert not mismatches, mismatches[:5]


@pytest.mark.usefixtures("nltk_data")
def test_nist_character_classes_match_exactly_the_table_characters() -> None:
    # The classes are written as ranges of consecutive code points; each must match
    # every character of its perluniprops table and nothing else, over all of Unicode.
    import re

    from nltk.tokenize.nist import NISTTokenizer

    from evalcli.nlp import _tokenize

    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for table in (NISTTokenizer.pup_number, NISTTokenizer.pup_punct, NISTTokenizer.pup_symbol):
        pattern = re.compile(_tokenize._char_class(table))
        assert set(pattern.findall(everything)) == set(table)
    assert _tokenize._char_class("a-]^\\b") == r"[\-\\-\^a-b]"  # \ ] ^ are consecutive


@pytest.mark.usefixtures("nltk_data")
def test_nist_path_does_not_compile_nltks_nist_patterns() -> None:
    # Importing nltk.tokenize.nist compiles all its `regex` patterns (0.2 s or more).
    out = _run_python(
        "import sys\n"
        "from evalcli import nlp\n"
        "assert nlp.tokenize('café 1,5 €') == ['caf', 'é', '1,5', '€']\n"  # as nltk's
        "print('nltk.tokenize.nist' in sys.modules)\n"
    )
    assert out.strip() == "False"


def _random_token_pairs(seed: int, count: int) -> Iterator[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "the", "cat", "Cat", "dog", "dogs", "ran", "run", ".", ",", "é"]
    for _ in range(count):
        sizes = (rng.choice([0, 1, 2, 3, 4, 5, 9, 30]), rng.choice([0, 1, 2, 3, 4, 5, 9, 30]))
        words = vocab[: rng.randint(1, len(vocab))]
        yield tuple([rng.choice(words) for _ in range(size)] for size in sizes)  # type: ignore[misc]


def test_bleu_gleu_fuzz_equal_nltk() -> None:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.gleu_score import sentence_gleu

    method4 = SmoothingFunction().method4
    for hyp, ref in _random_token_pairs(seed=11, count=3000):
        expected_bleu = float(sentence_bleu([ref], hyp, smoothing_function=method4))
        assert nlp.bleu(hyp, ref) == expected_bleu, (hyp, ref)
        assert nlp.gleu(hyp, ref) == sentence_gleu([ref], hyp), (hyp, ref)


def test_rouge_fuzz_equals_rouge_score() -> None:
    from rouge_score.rouge_scorer import RougeScorer

    scorers = {name: RougeScorer([name]) for name in nlp.ROUGE_TYPES}
    texts = list(_random_texts(seed=13, count=1200))
    for response, truth in zip(texts[::2], texts[1::2], strict=True):
        for name, scorer in scorers.items():
            expected = tuple(float(x) for x in scorer.score(truth, response)[name])
            assert nlp.rouge(response, truth, name) == expected, (name, response, truth)


def test_rouge_lcs_long_texts_equal_rouge_score() -> None:
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rougeL"])
    rng = random.Random(17)
    for size in (1, 2, 63, 64, 65, 700):
        a = " ".join(rng.choice("abcdefgh") for _ in range(size))
        b = " ".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 700)))
        assert nlp.rouge(a, b, "rougeL") == tuple(scorer.score(b, a)["rougeL"])


def test_rouge_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="rougeLsum"):
        nlp.rouge("a", "a", "rougeLsum")


def test_bleu_is_always_float() -> None:
    assert nlp.bleu([], []) == 0.0
    assert type(nlp.bleu(["x"], ["y"])) is float


# ---------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------


def test_required_resources() -> None:
    assert nlp.required_nltk_resources("f1_score") == ()
    assert nlp.required_nltk_resources("rouge") == ()
    assert "tokenizers/punkt_tab/english/" in nlp.required_nltk_resources("bleu")
    assert "misc/perluniprops/" in nlp.required_nltk_resources("gleu")
    meteor = nlp.required_nltk_resources("meteor")
    assert {nlp.nltk_package(r) for r in meteor} == {"punkt_tab", "perluniprops", "wordnet"}
    with pytest.raises(ValueError, match="unknown metric"):
        nlp.required_nltk_resources("bogus")


def test_missing_resources_reported_without_download(tmp_path: Path) -> None:
    assert nlp.missing_nltk_resources([]) == []
    assert nlp.missing_nltk_resources(["corpora/evalcli-no-such-corpus/", "x/none"]) == [
        "corpora/evalcli-no-such-corpus/",
        "x/none",
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("nltk_data")
def test_present_resources_not_reported() -> None:
    everything = {r for m in nlp.METRICS for r in nlp.required_nltk_resources(m)}
    assert nlp.missing_nltk_resources(sorted(everything)) == []


def test_import_is_cheap() -> None:
    # `evalcli --help` must start fast: nothing heavy may load at import time.
    out = _run_python(
        "import sys, evalcli.nlp\n"
        "heavy = ('nltk', 'rouge_score', 'numpy', 'regex')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------


def _score_all(response: str, truth: str) -> tuple[Any, ...]:
    hyp, ref = nlp.tokenize(response), nlp.tokenize(truth)
    return (
        nlp.f1_score(response, truth),
        nlp.bleu(hyp, ref),
        nlp.gleu(hyp, ref),
        nlp.meteor(hyp, ref),
        nlp.meteor(hyp, ref, **METEOR_CUSTOM),
        *(nlp.rouge(response, truth, name) for name in nlp.ROUGE_TYPES),
    )


@pytest.mark.usefixtures("nltk_data")
def test_threads_score_identically() -> None:
    pairs = [_texts(case) for case in CASES if "generate" not in case]
    serial = [_score_all(*pair) for pair in pairs]
    work = [i for i in range(len(pairs)) for _ in range(6)]
    random.Random(3).shuffle(work)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: (i, _score_all(*pairs[i])), work))
    assert all(result == serial[i] for i, result in results)


# A cold process: forked children load everything themselves, then several
# threads hit the lazy loaders (Punkt, NIST, WordNet) at the same moment with
# very frequent thread switches, then children forked from the warm parent
# score with what it loaded.
_COLD_START_SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing, sys, threading, warnings
    warnings.simplefilter("error")
    sys.setswitchinterval(1e-5)
    from evalcli import nlp

    pairs = json.loads(sys.stdin.read())

    def score(pair):
        response, truth = pair
        hyp, ref = nlp.tokenize(response), nlp.tokenize(truth)
        return [nlp.bleu(hyp, ref), nlp.gleu(hyp, ref), nlp.meteor(hyp, ref)]

    with multiprocessing.get_context("fork").Pool(2) as pool:
        forked_cold = pool.map(score, pairs, chunksize=3)

    barrier = threading.Barrier(8)
    threaded = [None] * 8

    def worker(k):
        barrier.wait()
        threaded[k] = [score(p) for p in pairs]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with multiprocessing.get_context("fork").Pool(2) as pool:
        forked_warm = pool.map(score, pairs, chunksize=3)
    print(json.dumps({"runs": [forked_cold, *threaded, forked_warm]}))
    """
)


def _run_python(script: str, stdin: str = "", nltk_data: str | None = None) -> str:
    env = dict(os.environ)
    # The package under test, whether or not it is installed in this interpreter.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE.parents[1]), *filter(None, [env.get("PYTHONPATH")])]
    )
    if nltk_data is not None:
        env["NLTK_DATA"] = nltk_data
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.usefixtures("nltk_data")
def test_cold_start_threads_and_forks_score_identically() -> None:
    pairs = [list(_texts(case)) for case in CASES if "generate" not in case]
    expected = [
        [c["expected"]["bleu"], c["expected"]["gleu"], c["expected"]["meteor"]]
        for c in CASES
        if "generate" not in c
    ]
    runs = json.loads(_run_python(_COLD_START_SCRIPT, stdin=json.dumps(pairs)))["runs"]
    assert len(runs) == 10
    for run in runs:
        assert len(run) == len(expected)
        for got, want in zip(run, expected, strict=True):
            assert all(abs(g - w) <= TOLERANCE for g, w in zip(got, want, strict=True))


# nltk's WordNet reader reads synsets by seek() + readline() on one shared
# handle. Threads would interleave on it, and so would forked processes when
# the corpus is an unpacked directory (they share the file offset). Thousands
# of distinct words force real reads; any torn read makes nltk warn "No
# WordNet synset found" (an error here) or crash.
_WORDNET_RACE_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys, threading, warnings
    warnings.simplefilter("error")
    sys.setswitchinterval(1e-6)
    from evalcli import nlp
    from nltk.corpus import wordnet

    nlp.preload(["meteor"])
    words = sorted(w for w in wordnet.all_lemma_names() if "_" not in w)[::3]
    chunks = [words[i:i + 40] for i in range(0, 12000, 40)]

    def score(chunk):
        try:
            return nlp.meteor(chunk, ["zzzz"])
        except BaseException as exc:
            return repr(exc)

    results = []
    threads = [
        threading.Thread(target=lambda k=k: results.extend(map(score, chunks[k:150:8])))
        for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results += pool.map(score, chunks[150:], chunksize=5)
    errors = [r for r in results if r != 0.0]
    print(len(results), len(errors), errors[:3])
    """
)


@pytest.mark.slow
@pytest.mark.usefixtures("nltk_data")
def test_wordnet_reads_are_safe_across_threads_and_forks(tmp_path: Path) -> None:
    import nltk.data

    # Run against an unpacked copy of WordNet: the zipped corpus is read into
    # memory, so only a directory exercises the file offsets forks share.
    lexnames = str(nltk.data.find("corpora/wordnet/lexnames"))
    if ".zip" in lexnames:
        archive = lexnames.split(".zip", 1)[0] + ".zip"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tmp_path / "corpora")
        roots = [str(tmp_path), *filter(None, [os.environ.get("NLTK_DATA")])]
        nltk_data_path = os.pathsep.join(roots)
    else:
        nltk_data_path = os.environ.get("NLTK_DATA")
    out = _run_python(_WORDNET_RACE_SCRIPT, nltk_data=nltk_data_path).split(maxsplit=2)
    assert out[:2] == ["300", "0"], out

"""evalcli's lazy WordNet reader answers METEOR's questions exactly as nltk's reader does.

METEOR asks WordNet for the synsets of a word: Morphy's base forms for each part of
speech, then the lemma names of each synset the index lists for them. The sweep below
compares :class:`evalcli.nlp._wordnet.WordNet` with nltk's ``WordNetCorpusReader`` on
more than 20,000 words: every token of the sample data, a spread of WordNet's own index
words, inflections of them (plurals, -ed, -ing, -er, -est, ...) and every entry of the
exception lists, both the inflected forms and their base forms.

Layouts (directory, ``wordnet.zip``) and path-security refusals are covered in
``tests/test_nltk_data_layouts.py``, where each layout gets its own process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from evalcli import nlp
from evalcli.nlp import _wordnet
from tests.conftest import json_strings

REPO = Path(__file__).resolve().parents[2]
POS = _wordnet.POS_ORDER


@pytest.fixture(scope="module")
def nltk_reader() -> Any:
    import warnings

    from nltk.corpus import wordnet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        wordnet.ensure_loaded()
    return wordnet


@pytest.fixture(scope="module")
def ours() -> _wordnet.WordNet:
    return _wordnet.load_wordnet()


def sample_data_words() -> set[str]:
    """Every token METEOR would see in the bundled sample data, as given and lowercased."""
    words: set[str] = set()
    for path in sorted((REPO / "sample_data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                for text in json_strings(json.loads(line)):
                    for token in nlp.tokenize(text):
                        words.update((token, token.lower()))
    return words


def inflections(word: str) -> list[str]:
    """Regular inflected forms Morphy's suffix rules are meant to undo (and some they miss)."""
    forms = [word + suffix for suffix in ("s", "es", "ed", "ing", "er", "est", "men")]
    if word.endswith("y"):
        forms += [word[:-1] + "ies", word[:-1] + "ied", word[:-1] + "ier", word[:-1] + "iest"]
    if word.endswith("e"):
        forms += [word[:-1] + "ing", word + "d", word + "r", word + "st"]
    if word.endswith("f"):
        forms.append(word[:-1] + "ves")
    if word.endswith("man"):
        forms.append(word[:-3] + "men")
    return forms


def sweep_words(nltk_reader: Any) -> list[str]:
    index = sorted(nltk_reader._lemma_pos_offset_map)
    words = sample_data_words()
    words.update(index[::20])  # a spread over the whole alphabet and every part of speech
    for word in index[::131]:
        words.update(inflections(word))
        words.add(word.upper())  # synsets() lowercases; morphy() does not
    for table in nltk_reader._exception_map.values():
        for inflected, bases in table.items():
            words.add(inflected)
            words.update(bases)
    # Words no index holds, and edge cases of the binary search.
    words.update(["", " ", "zzzz", "ice cream", "café", "a\tb", index[0], index[-1], "!", "'s"])
    return sorted(words)


@pytest.mark.slow
def test_sweep_matches_nltk(nltk_reader: Any, ours: _wordnet.WordNet) -> None:
    words = sweep_words(nltk_reader)
    assert len(words) >= 20_000, len(words)
    mismatches = []
    started = time.perf_counter()
    for word in words:
        theirs = (
            [tuple(nltk_reader._morphy(word, pos)) for pos in POS],
            nltk_reader.morphy(word),
            [tuple(s.lemma_names()) for s in nltk_reader.synsets(word)],
        )
        mine = (
            [ours.morphy(word, pos) for pos in POS],
            ours.base_form(word),
            list(ours.synonym_sets(word)),
        )
        if mine != theirs:
            mismatches.append((word, theirs, mine))
    assert mismatches == [], mismatches[:5]
    # Exercised for real: many words have synsets in several parts of speech.
    assert sum(1 for w in words if len(ours.synonym_sets(w)) > 1) > 5_000
    print(f"{len(words)} words compared in {time.perf_counter() - started:.1f} s")


def test_known_answers(ours: _wordnet.WordNet) -> None:
    # From nltk's own documentation of morphy().
    assert ours.base_form("dogs") == "dog"
    assert ours.base_form("churches") == "church"
    assert ours.base_form("aardwolves") == "aardwolf"
    assert ours.base_form("abaci") == "abacus"  # noun.exc
    assert ours.base_form("hardrock", "r") is None
    assert ours.base_form("book", "n") == "book"
    assert ours.base_form("book", "a") is None
    assert ours.morphy("geese", "n") == ("goose",)
    assert ours.morphy("better", "a") == ("better", "good", "well")  # exceptions, then rules
    assert ("car", "auto", "automobile", "machine", "motorcar") in ours.synonym_sets("cars")
    assert ours.synonym_sets("zzzz") == ()


def test_lookups_are_lazy(ours: _wordnet.WordNet) -> None:
    # Opening the reader reads no index or data file; a look-up maps only what it needs.
    fresh = _wordnet.load_wordnet()
    assert fresh._buffers == {}
    fresh.synonym_sets("quick")
    assert {"index.noun", "data.noun", "noun.exc"} <= set(fresh._buffers)
    assert "index.sense" not in fresh._buffers


def test_meteor_never_builds_nltks_wordnet_reader() -> None:
    # Building nltk's reader parses every index file (seconds); METEOR must not trigger it.
    import subprocess
    import sys

    script = (
        "from evalcli import nlp\n"
        "assert nlp.meteor(['quick'], ['fast']) == 0.5\n"  # a WordNet synonym match
        "from nltk.corpus import wordnet\n"
        "print(type(wordnet).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "LazyCorpusLoader"


def test_archive_answers_like_the_directory(ours: _wordnet.WordNet, tmp_path: Path) -> None:
    # nltk's downloader leaves corpora/wordnet.zip; its members are read into memory instead
    # of being memory-mapped, so the same searches run over bytes.
    import io
    import zipfile

    from evalcli import nltk_data

    [status] = nltk_data.status(["wordnet"])
    source = Path(str(status.location))
    assert source.is_dir(), f"this test zips an unpacked WordNet; found {source}"
    archive = tmp_path / "wordnet.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.iterdir()):
            zf.write(path, f"wordnet/{path.name}")
    with zipfile.ZipFile(archive) as zf:
        zipped = _wordnet.WordNet(lambda name: io.BytesIO(zf.read(f"wordnet/{name}")))
        words = sorted(sample_data_words())
        words += [w.decode() for w in _index_words(source)[::50]]
        assert len(words) > 3_000
        for word in words:
            assert zipped.synonym_sets(word) == ours.synonym_sets(word), word
            assert zipped.base_form(word) == ours.base_form(word), word
    assert isinstance(zipped._buffers["index.noun"], bytes)


def _index_words(wordnet_dir: Path) -> list[bytes]:
    return [
        line.split(b" ", 1)[0]
        for pos in ("noun", "verb", "adj", "adv")
        for line in (wordnet_dir / f"index.{pos}").read_bytes().splitlines()
        if line and not line.startswith(b" ")
    ]

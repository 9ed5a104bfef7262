"""The word tokenizer shared by BLEU, GLEU and METEOR, identical to the reference's.

The reference tokenizes ASCII text with ``nltk.word_tokenize`` (Punkt sentence
split, then NLTK's Treebank-style word tokenizer on each sentence) and any other
text with ``NISTTokenizer().international_tokenize``. Calling those functions as
the reference does is slow: the reference re-checks its NLTK resources on every
call, and nltk 3.10 routes every one of the ~26 substitutions of the word
tokenizer through the third-party ``regex`` engine under a wall-clock timeout.

This module keeps the output token-for-token identical while doing less work,
and without importing nltk at all (``import nltk`` alone costs ~0.15 s):

* sentences are split by :mod:`evalcli.nlp._punkt`, a repetition of nltk's
  Punkt on the English ``punkt_tab`` model, whose files (like the perluniprops
  tables) are found and read where nltk's loaders would by
  :mod:`evalcli.nlp._nltk_files`; both are loaded once per process;
* a text with no candidate sentence boundary skips Punkt, whose answer for such
  a text is fixed (the text without trailing whitespace, or nothing);
* the word tokenizer is re-expressed with stdlib ``re`` patterns that behave
  like nltk's on ASCII input (the only input it ever sees here), and each
  substitution is skipped when the characters it needs are absent;
* the NIST tokenizer's huge Unicode character classes, the characters of three
  perluniprops tables, are compiled with the stdlib engine, which matches them
  by table lookup, and its XML unescaping is nltk's ``xml_unescape`` repeated.

``tests/nlp/test_nlp_exact.py`` checks the result against ``nltk.word_tokenize``
and the NIST tokenizer on the reference cases and on large randomized fuzz
corpora; ``tests/nlp/test_punkt.py`` checks the sentence splitter alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise

from evalcli.nlp._sync import new_lock

__all__ = ["clear_cache", "load_tokenizers", "tokenize"]

_LOAD_LOCK = new_lock()

# Loaded on first use (~30 ms), which `evalcli --help` must not pay.
_sentence_splitter: Callable[[str], list[str]] | None = None
_nist_tokenize: Callable[[str], list[str]] | None = None

# nltk compiles its patterns with the `regex` engine, whose `\s` is Unicode
# White_Space. On ASCII that is tab, LF, VT, FF, CR and space; the stdlib `\s`
# would also match the separators \x1c-\x1f, so those classes are spelled out.
_WS = r"[\t\n\x0b\x0c\r ]"

# Opening quotes. The curly quotes and guillemets of nltk's patterns are
# non-ASCII and can never occur here, so only their ASCII parts remain.
_BACKTICK_RUN = re.compile(r"(`+)")
_OPENING_DOUBLE_QUOTE = re.compile(r"([ (\[{<])(\"|'{2})")
_OPENING_SINGLE_QUOTE = re.compile(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)")

# Punctuation.
_FINAL_PERIOD_TAIL = "])}>\"' \t\n\x0b\x0c\r"
_FINAL_PERIOD_SPLIT = re.compile(r"([^.])(\.)([\])}>\"' ]*+)" + _WS + r"*$")
_COLON_COMMA_BEFORE_NON_DIGIT = re.compile(r"([:,])([^\d])")
_COLON_COMMA_AT_END = re.compile(r"([:,])$")
_ELLIPSIS = re.compile(r"\.{2,}")
_SYMBOLS = re.compile(r"[;@#$%&]")
_FINAL_PERIOD_KEEP_QUOTES = re.compile(r"([^.])(\.)([\])}>\"']*)" + _WS + r"*$")
_QUESTION_EXCLAMATION = re.compile(r"[?!]")
_QUOTE_BEFORE_SPACE = re.compile(r"([^'])' ")
_BRACKETS = re.compile(r"[\][(){}<>]")

# Closing quotes and clitics; these run on the space-padded text.
_WHITESPACE_RUN = re.compile(_WS + "+")
_CLITIC_SHORT = re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') ")
_CLITIC_LONG = re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ")

# Robert MacIntyre's contractions, as nltk applies them (with the stdlib engine
# there too). Each pattern needs one of these words, matched case-insensitively;
# when none occurs in the lowercased text, all eight can be skipped.
_CONTRACTION_WORDS = ("cannot", "d'ye", "gimme", "gonna", "gotta", "lemme", "more'n", "wanna")
_CONTRACTIONS = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?i)\b(can)(?#X)(not)\b",
        r"(?i)\b(d)(?#X)('ye)\b",
        r"(?i)\b(gim)(?#X)(me)\b",
        r"(?i)\b(gon)(?#X)(na)\b",
        r"(?i)\b(got)(?#X)(ta)\b",
        r"(?i)\b(lem)(?#X)(me)\b",
        r"(?i)\b(more)(?#X)('n)\b",
        r"(?i)\b(wan)(?#X)(na)(?=\s)",
    )
)
_TIS_TWAS = (re.compile(r"(?i) ('t)(?#X)(is)\b"), re.compile(r"(?i) ('t)(?#X)(was)\b"))


def _word_tokenize_sentence(text: str) -> list[str]:
    """Split one ASCII sentence exactly like nltk's ``NLTKWordTokenizer.tokenize``.

    The steps run in nltk's order. A step is skipped only when the characters its
    pattern requires are missing from the current text, in which case nltk's
    substitution would have left the text unchanged.
    """
    # Opening quotes.
    if "`" in text:
        text = _BACKTICK_RUN.sub(r" \1 ", text)
    if text.startswith('"'):
        text = "``" + text[1:]
    if "``" in text:
        text = text.replace("``", " `` ")
    has_single_quote = "'" in text
    if '"' in text or "''" in text:
        text = _OPENING_DOUBLE_QUOTE.sub(r"\1 `` ", text)
    if has_single_quote:
        text = _OPENING_SINGLE_QUOTE.sub(r"\1 ", text)

    # Punctuation.
    # Both final-period patterns need a period followed only by closing
    # brackets/quotes and whitespace up to the end of the text.
    final_period = text.rstrip(_FINAL_PERIOD_TAIL).endswith(".")
    if final_period:
        text = _FINAL_PERIOD_SPLIT.sub(r"\1 \2 \3 ", text)
    if ":" in text or "," in text:
        text = _COLON_COMMA_BEFORE_NON_DIGIT.sub(r" \1 \2", text)
        text = _COLON_COMMA_AT_END.sub(r" \1 ", text)
    if ".." in text:
        text = _ELLIPSIS.sub(r" \g<0> ", text)
    if "&" in text or "$" in text or "%" in text or "#" in text or ";" in text or "@" in text:
        text = _SYMBOLS.sub(r" \g<0> ", text)
    # nltk's figure/en/em dash step cannot match ASCII text.
    if final_period:
        # Still valid: the steps since only inserted spaces, which cannot change
        # the last character outside the tail set.
        text = _FINAL_PERIOD_KEEP_QUOTES.sub(r"\1 \2\3 ", text)
    if "?" in text or "!" in text:
        text = _QUESTION_EXCLAMATION.sub(r" \g<0> ", text)
    if "' " in text:
        text = _QUOTE_BEFORE_SPACE.sub(r"\1 ' ", text)
    if "*" in text:
        # A literal replacement scans left to right without overlap, as re.sub does.
        text = text.replace("*", " * ")

    if (
        "(" in text
        or ")" in text
        or "[" in text
        or "]" in text
        or "{" in text
        or "}" in text
        or "<" in text
        or ">" in text
    ):
        text = _BRACKETS.sub(r" \g<0> ", text)
    if "--" in text:
        text = text.replace("--", " -- ")

    text = " " + text + " "

    # Closing quotes. Both replacements are literal, so str.replace is exact.
    if "''" in text:
        text = text.replace("''", " '' ")
    if '"' in text:
        text = text.replace('"', " '' ")
    # Checked again: the line above turns double quotes into apostrophes.
    has_single_quote = "'" in text
    if has_single_quote:
        # Collapsing whitespace only matters to the patterns below that expect a
        # literal space; every one of them also needs an apostrophe. The final
        # split() gives the same tokens whether or not runs were collapsed.
        text = _WHITESPACE_RUN.sub(" ", text)
        text = _CLITIC_SHORT.sub(r"\1 \2 ", text)
        text = _CLITIC_LONG.sub(r"\1 \2 ", text)

    # The text is ASCII, where lower() is exactly the case folding of (?i).
    lowered = text.lower()
    for word in _CONTRACTION_WORDS:
        if word in lowered:
            for pattern in _CONTRACTIONS:
                text = pattern.sub(r" \1 \2 ", text)
            break
    if "'t" in lowered:
        for pattern in _TIS_TWAS:
            text = pattern.sub(r" \1 \2 ", text)

    return text.split()


def _load_sentence_splitter() -> Callable[[str], list[str]]:
    """Build the Punkt-based sentence splitter once per process."""
    global _sentence_splitter
    with _LOAD_LOCK:
        if _sentence_splitter is None:
            from evalcli.nlp import _punkt
            from evalcli.nlp._nltk_files import read_resource_files

            # The model PunktTokenizer("english") loads for nltk.word_tokenize.
            files = read_resource_files("punkt_tab", _punkt.MODEL_FILES)
            params = _punkt.PunktParams(files)
            # Parse the orthographic contexts now rather than on first use, so worker
            # processes forked after loading share them instead of each parsing its own.
            params.ortho("")
            punkt_tokenize = _punkt.SentenceSplitter(params)
            boundary_search = _punkt.BOUNDARY_CANDIDATE.search

            def split_sentences(text: str) -> list[str]:
                has_end_char = "." in text or "?" in text or "!" in text
                if has_end_char and boundary_search(text) is not None:
                    return punkt_tokenize(text)
                # With no candidate boundary Punkt yields one slice running to
                # the end of text.rstrip(), and drops it when it is empty.
                stripped = text.rstrip()
                return [stripped] if stripped else []

            _sentence_splitter = split_sentences
        return _sentence_splitter


def _char_class(chars: str) -> str:
    """A stdlib regex character class matching exactly the given characters.

    Runs of consecutive code points become ranges: the perluniprops tables hold
    thousands of characters, mostly in runs, and a class of a few hundred ranges
    compiles several times faster than one listing every character.
    """
    points = sorted(set(map(ord, chars)))
    # A run ends where the next code point is not one more; its first point follows
    # the previous run's last (a comprehension keeps this ~4x faster than a while loop).
    ends = [i for i, (a, b) in enumerate(pairwise(points)) if b != a + 1]
    if points:
        ends.append(len(points) - 1)
    parts = []
    start = 0
    for end in ends:
        # Escaping every endpoint keeps "[", "]", "^", "-" and "\\" literal.
        first = re.escape(chr(points[start]))
        if end == start:
            parts.append(first)
        else:
            parts.append(f"{first}-{re.escape(chr(points[end]))}")
        start = end + 1
    return "[" + "".join(parts) + "]"


# What nltk.tokenize.util.xml_unescape replaces, in its order: xml.sax.saxutils.unescape
# replaces "&lt;" and "&gt;", then these Moses entities, and "&amp;" last.
_XML_ENTITIES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&apos;", "'"),
    ("&quot;", '"'),
    ("&#124;", "|"),
    ("&#91;", "["),
    ("&#93;", "]"),
    ("&amp;", "&"),
)


def _xml_unescape(text: str) -> str:
    """``nltk.tokenize.util.xml_unescape``: the same replacements, one after another."""
    if "&" not in text:
        return text
    for entity, char in _XML_ENTITIES:
        text = text.replace(entity, char)
    return text


def _load_nist_tokenizer() -> Callable[[str], list[str]]:
    """Build the NIST international tokenizer once per process.

    nltk's ``NISTTokenizer.international_tokenize`` runs four substitutions
    whose character classes hold thousands of characters (Unicode numbers,
    punctuation and symbols, read from ``perluniprops``); the ``regex`` engine
    spends ~80 us on each for a short sentence. The same classes compiled with
    the stdlib engine become lookup tables, ~30x faster, and match the same
    characters (the patterns use nothing but classes, groups and ``+``).
    """
    global _nist_tokenize
    with _LOAD_LOCK:
        if _nist_tokenize is None:
            # NISTTokenizer's classes are the characters of three perluniprops tables,
            # read as nltk's corpus reader reads them (UTF-8, whitespace stripped at
            # both ends). Importing nltk.tokenize.nist instead would compile every one
            # of its patterns with the `regex` engine, for patterns never used here.
            from evalcli.nlp._nltk_files import read_resource_files

            tables = read_resource_files(
                "perluniprops", ("Number.txt", "Punctuation.txt", "Symbol.txt"), corpus=True
            )

            def table(name: str) -> str:
                return _char_class(tables[f"{name}.txt"].decode("utf-8-sig").strip())

            number = table("Number")
            punct = table("Punctuation")
            symbol = table("Symbol")
            ascii_run = re.compile(r"([\x00-\x7f]+)")
            number_punct = re.compile(f"({number})({punct})")
            punct_number = re.compile(f"({punct})({number})")
            symbols = re.compile(f"({symbol})")

            def international_tokenize(text: str) -> list[str]:
                # nltk's steps and order, lowercase=False.
                if "<skipped>" in text:
                    text = text.replace("<skipped>", "")
                if "\u2028" in text:
                    text = text.replace("\u2028", " ")
                text = _xml_unescape(text)
                text = ascii_run.sub(r" \1 ", text)
                text = number_punct.sub(r"\1 \2 ", text)
                text = punct_number.sub(r" \1 \2", text)
                text = symbols.sub(r" \1 ", text)
                # nltk joins the split text with spaces and splits it again.
                return text.split()

            _nist_tokenize = international_tokenize
        return _nist_tokenize


def load_tokenizers() -> None:
    """Load the Punkt model and the NIST tokenizer now instead of on first use.

    Raises:
        LookupError: ``punkt_tab`` or ``perluniprops`` is not installed.
    """
    _load_sentence_splitter()
    _load_nist_tokenizer()


def _tokenize_uncached(text: str) -> list[str]:
    if text.isascii():
        split_sentences = _sentence_splitter or _load_sentence_splitter()
        tokens: list[str] = []
        for sentence in split_sentences(text):
            tokens += _word_tokenize_sentence(sentence)
        return tokens
    nist_tokenize = _nist_tokenize or _load_nist_tokenizer()
    return list(nist_tokenize(text))


# Rows often repeat a ground truth, and the runner scores BLEU, GLEU and METEOR
# of one row as separate tasks, so recent texts are remembered. Long texts are
# left out to keep the cache small (at most a few MB).
_CACHE_MAX_CHARS = 1000


@lru_cache(maxsize=2048)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    return tuple(_tokenize_uncached(text))


def clear_cache() -> None:
    """Forget the memoized tokenizations."""
    _tokenize_cached.cache_clear()


def tokenize(text: str) -> list[str]:
    """Tokenize ``text`` exactly as the reference BLEU, GLEU and METEOR evaluators do.

    ASCII text gets ``nltk.word_tokenize`` semantics (Punkt sentence split with
    the English ``punkt_tab`` model, then NLTK's word tokenizer per sentence);
    any other text gets ``NISTTokenizer().international_tokenize`` without
    lowercasing, which also unescapes XML entities. Case is kept.

    Safe to call from several threads at once. Results for recently seen texts
    are memoized, since ground truths often repeat across rows.

    Args:
        text: The text to split; used as given (no stripping).

    Returns:
        The tokens, as a new list the caller may modify.

    Raises:
        LookupError: The NLTK data the text needs (``punkt_tab`` for ASCII
            text, ``perluniprops`` for any other) is not installed.
    """
    if len(text) > _CACHE_MAX_CHARS:
        return _tokenize_uncached(text)
    return list(_tokenize_cached(text))

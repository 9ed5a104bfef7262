"""Punkt sentence splitting exactly as nltk 3.10.4 does it, for ASCII text, without nltk.

``nltk.word_tokenize`` first splits a text into sentences with
``PunktTokenizer("english").tokenize`` (boundaries realigned, the default). Importing nltk
for that costs ~0.15 s and loading the model through nltk's stream reader ~35 ms, so this
module repeats the inference half of Punkt on the trained English parameters read from the
same ``punkt_tab`` files:

1. every ``.``, ``?`` or ``!`` followed by other punctuation or by whitespace and a token is
   a candidate boundary; its context is the word before it, the mark and what follows;
2. the context is split into Punkt's word tokens, which are classified by type (first
   pass: sentence break, abbreviation, ellipsis) and then by the next token (second pass:
   collocations, the orthographic heuristic, frequent sentence starters, initials and
   ordinals); the candidate is a boundary when a token other than the last is a break;
3. closing quotes and brackets after a boundary are moved into the sentence before it.

The patterns are stdlib ``re`` with the whitespace classes spelled out: nltk compiles its
own with the ``regex`` engine, whose ``\\s`` is Unicode White_Space and so, on ASCII, lacks
the separators ``\\x1c``-``\\x1f`` that the stdlib ``\\s`` includes. The Python string
methods nltk calls (``strip``, ``rstrip``, ``lower``, ``isupper``) are called here too, so
their own notion of whitespace is kept where nltk relies on it. Only ASCII text is split
here (``evalcli.nlp._tokenize`` sends anything else to the NIST tokenizer), and only ASCII
is covered by ``tests/nlp/test_punkt.py``, which compares this module with nltk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = ["BOUNDARY_CANDIDATE", "MODEL_FILES", "PunktParams", "SentenceSplitter"]

#: The four files of a ``punkt_tab`` language directory, all of which the model needs.
MODEL_FILES: Final = (
    "collocations.tab",
    "sent_starters.txt",
    "abbrev_types.txt",
    "ortho_context.tab",
)

# Orthographic context bits, as trained: where a type was seen capitalized or lowercase.
_BEG_UC: Final = 1 << 1  # sentence-initial, uppercase
_MID_UC: Final = 1 << 2  # sentence-internal, uppercase
_UNK_UC: Final = 1 << 3
_BEG_LC: Final = 1 << 4
_MID_LC: Final = 1 << 5
_UNK_LC: Final = 1 << 6
_UC: Final = _BEG_UC | _MID_UC | _UNK_UC
_LC: Final = _BEG_LC | _MID_LC | _UNK_LC

_WHITESPACE: Final = r"[\t\n\x0b\x0c\r ]"  # the regex engine's \s, on ASCII
_NOT_WHITESPACE: Final = r"[^\t\n\x0b\x0c\r ]"
# Characters that cannot occur inside a word: the English end marks other than "." and the
# punctuation below (nltk's class also holds curly quotes and guillemets: never ASCII).
_NON_WORD: Final = r"""[)";}\]*:@'({\[?!]"""
_MULTI_CHAR: Final = rf"(?:-{{2,}}|\.{{2,}}|(?:\.{_WHITESPACE}){{2,}}\.)"
_WORD_START: Final = r"""[^("`{\[:;&#*@)}\]\-,]"""

# Punkt's word tokens: a dash run or ellipsis; else a word from a permitted first character
# up to whitespace, other punctuation or a comma ending the word; else one character.
_WORD: Final = re.compile(
    rf"{_MULTI_CHAR}"
    rf"|(?={_WORD_START}){_NOT_WHITESPACE}+?"
    rf"(?={_WHITESPACE}|$|{_NON_WORD}|{_MULTI_CHAR}"
    rf"|,(?=$|{_WHITESPACE}|{_NON_WORD}|{_MULTI_CHAR}))"
    rf"|{_NOT_WHITESPACE}"
)
# A candidate boundary: the end mark, with what follows it in a lookahead, so consecutive
# marks ("!!!") are each a candidate.
BOUNDARY_CANDIDATE: Final = re.compile(
    rf"[.?!](?=(?P<after_tok>{_NON_WORD}|{_WHITESPACE}+(?P<next_tok>{_NOT_WHITESPACE}+)))"
)
# Closing punctuation at the start of the next sentence that belongs to the previous one.
_REALIGN: Final = re.compile(rf"""["')\]}}]+?(?:{_WHITESPACE}+|(?=--)|$)""", re.MULTILINE)
# Tokens whose type is "##number##" (matched against the lowercased token).
_NUMBER: Final = re.compile(r"-?[.,]?\d[\d,.-]*\.?")
_INITIAL: Final = re.compile(r"[^\W\d]\.")
# string.whitespace: what nltk scans for when it looks for the word before a candidate.
_SPACE_CHARS: Final = " \t\n\r\x0b\x0c"
# Tokens the orthographic heuristic never takes for a sentence start.
_PUNCTUATION: Final = frozenset(";:,.!?")
_TWO_TABS: Final = re.compile(r"\t[^\n]*\t")

# First-pass classes.
_BREAK: Final = 1
_ABBREV: Final = 2
_ELLIPSIS: Final = 3


def _model_lines(data: bytes) -> list[str]:
    """The lines nltk reads from a model file: UTF-8 (BOM skipped), one trailing LF dropped.

    nltk iterates its stream reader, which splits like ``str.splitlines(True)``; its
    decoder then removes a final ``"\\n"`` only, so a CR of a CRLF line stays.
    """
    text = data.decode("utf-8-sig")
    return [line[:-1] if line.endswith("\n") else line for line in text.splitlines(True)]


class PunktParams:
    """The trained parameters of one ``punkt_tab`` model.

    The orthographic contexts (20,000 lines for English) are parsed on first use.
    """

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.collocations = frozenset(
            tuple(line.split("\t")) for line in _model_lines(files["collocations.tab"])
        )
        self.sent_starters = frozenset(_model_lines(files["sent_starters.txt"]))
        self.abbrev_types = frozenset(_model_lines(files["abbrev_types.txt"]))
        self._ortho_source = files["ortho_context.tab"]
        self._ortho: dict[str, str] | dict[str, int] | None = None

    def ortho(self, typ: str) -> int:
        """The orthographic context bits of a type (0 for a type never seen)."""
        ortho = self._ortho
        if ortho is None:
            # Threads that get here together each parse; their dicts are equal.
            ortho = self._ortho = _parse_ortho(self._ortho_source)
        return int(ortho.get(typ, 0))

    @property
    def ortho_context(self) -> dict[str, int]:
        """Every type's orthographic context bits, as nltk's ``ortho_context``."""
        self.ortho("")
        assert self._ortho is not None
        return {typ: int(flags) for typ, flags in self._ortho.items()}


def _parse_ortho(data: bytes) -> dict[str, str] | dict[str, int]:
    """``type<TAB>flags`` lines; a later line for a type wins, as in nltk's dict.

    The usual file (ASCII, LF line ends, one tab a line, decimal flags) is split in one
    go, and its flags are kept as digit strings that ``int`` cannot fail on: 1 ms instead
    of 5 ms. Any other file is parsed line by line and fails where nltk's parser fails.
    """
    text = data.decode("utf-8-sig")
    if text.isascii() and not any(c in text for c in "\r\x0b\x0c\x1c\x1d\x1e"):
        lines = text.split("\n")
        if lines[-1] == "" and text:
            lines.pop()  # the LF ending the last line ends no further line
        fields = "\t".join(lines).split("\t")
        flags = fields[1::2]
        # As many tabs as lines and no line with two: every line has exactly one.
        if (
            len(fields) == 2 * len(lines)
            and not _TWO_TABS.search(text)
            and all(flags)
            and "".join(flags).isdigit()
        ):
            return dict(zip(fields[0::2], flags, strict=True))
    ortho = {}
    for line in _model_lines(data):
        typ, value = line.split("\t")  # nltk fails on any other line, as this does
        ortho[typ] = int(value)
    return ortho


def _type(tok: str) -> str:
    """The token lowercased, or ``##number##`` for a number."""
    low = tok.lower()
    return "##number##" if _NUMBER.fullmatch(low) else low


def _without_period(typ: str) -> str:
    return typ[:-1] if len(typ) > 1 and typ[-1] == "." else typ


class SentenceSplitter:
    """``PunktSentenceTokenizer.tokenize`` for ASCII text, given trained parameters."""

    def __init__(self, params: PunktParams) -> None:
        self._params = params

    def __call__(self, text: str) -> list[str]:
        """The sentences of ``text``, as nltk returns them."""
        return [text[start:stop] for start, stop in self._realigned(text, self._slices(text))]

    # -- boundaries --------------------------------------------------------------------

    def _slices(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans before realignment: nltk's ``_slices_from_text``."""
        spans = []
        last_break = 0
        for match, context in self._candidates(text):
            if self._has_break(context):
                spans.append((last_break, match.end()))
                last_break = match.start("next_tok") if match.group("next_tok") else match.end()
        spans.append((last_break, len(text.rstrip())))
        return spans

    def _candidates(self, text: str) -> list[tuple[re.Match[str], str]]:
        """Each candidate with its context; one whose word overlaps the last one's wins."""
        found: list[tuple[re.Match[str], str]] = []
        previous: re.Match[str] | None = None
        word_start = word_stop = 0
        for match in BOUNDARY_CANDIDATE.finditer(text):
            # The word before the mark starts after the last whitespace since the previous
            # word's end; whitespace found at offset 0 counts as none found, as in nltk.
            stop = match.start()
            space = max(text.rfind(c, word_stop, stop) for c in _SPACE_CHARS)
            start = space + 1 if space > word_stop else word_start
            if previous is not None and word_stop <= start:
                found.append((previous, self._context(text, previous, word_start, word_stop)))
            previous = match
            word_start, word_stop = start, stop
        if previous is not None:
            found.append((previous, self._context(text, previous, word_start, word_stop)))
        return found

    @staticmethod
    def _context(text: str, match: re.Match[str], start: int, stop: int) -> str:
        return text[start:stop] + match.group() + match.group("after_tok")

    def _realigned(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Move closing quotes and brackets that open a sentence to the one before."""
        out = []
        shift = 0
        for i, (start, stop) in enumerate(spans):
            start += shift
            if i + 1 == len(spans):
                if text[start:stop]:
                    out.append((start, stop))
                break
            next_start, next_stop = spans[i + 1]
            moved = _REALIGN.match(text[next_start:next_stop])
            if moved:
                out.append((start, next_start + len(moved.group().rstrip())))
                shift = moved.end()
            else:
                shift = 0
                if text[start:stop]:
                    out.append((start, stop))
        return out

    # -- classification ----------------------------------------------------------------

    def _has_break(self, context: str) -> bool:
        """Whether a token of ``context`` other than the last is a sentence break."""
        tokens: list[str] = []
        for line in context.split("\n"):
            if line.strip():
                tokens += _WORD.findall(line)
        if len(tokens) < 2:
            return False
        classes = [self._first_pass(tok) for tok in tokens]
        return any(
            self._is_break(tokens[i], classes[i], tokens[i + 1], classes[i + 1])
            for i in range(len(tokens) - 1)
        )

    def _first_pass(self, tok: str) -> int:
        """Classify a token by its type alone."""
        if tok in (".", "?", "!"):
            return _BREAK
        if len(tok) > 1 and not tok.strip("."):
            return _ELLIPSIS
        if tok.endswith(".") and not tok.endswith(".."):
            word = tok[:-1].lower()
            abbrevs = self._params.abbrev_types
            if word in abbrevs or word.split("-")[-1] in abbrevs:
                return _ABBREV
            return _BREAK
        return 0

    def _is_break(self, tok: str, cls: int, next_tok: str, next_cls: int) -> bool:
        """Whether ``tok`` ends a sentence, given the token after it (the second pass)."""
        if not tok.endswith("."):
            return cls == _BREAK
        params = self._params
        typ = _without_period(_type(tok))
        next_typ = _type(next_tok)
        if next_cls == _BREAK:
            next_typ = _without_period(next_typ)
        initial = _INITIAL.fullmatch(tok) is not None

        if (typ, next_typ) in params.collocations:
            return False
        if cls in (_ABBREV, _ELLIPSIS) and not initial:
            if self._starts_sentence(next_tok, next_typ) is True:
                return True
            if next_tok[0].isupper() and next_typ in params.sent_starters:
                return True
        if initial or typ == "##number##":
            starts = self._starts_sentence(next_tok, next_typ)
            if starts is False:
                return False
            if (
                starts is None
                and initial
                and next_tok[0].isupper()
                and not params.ortho(next_typ) & _LC
            ):
                # An initial before a word only ever seen capitalized: "J. Bach".
                return False
        return cls == _BREAK

    def _starts_sentence(self, tok: str, typ: str) -> bool | None:
        """The orthographic heuristic: True, False, or None for unknown."""
        if tok in _PUNCTUATION:
            return False
        ortho = self._params.ortho(typ)
        if tok[0].isupper() and ortho & _LC and not ortho & _MID_UC:
            return True
        if tok[0].islower() and (ortho & _UC or not ortho & _BEG_LC):
            return False
        return None

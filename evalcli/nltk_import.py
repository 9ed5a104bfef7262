"""Import nltk in the ``evalcli`` command without its optional scientific integrations.

``import nltk`` runs the package's whole ``__init__``, which tries scikit-learn (for
``nltk.classify.scikitlearn``) and SciPy (``scipy.stats.fisher_exact`` for collocation
statistics) and takes them when they are installed. evalcli uses none of those parts
(Punkt, the Porter stemmer, METEOR, perluniprops), yet on a machine with the usual ML stack
the two imports cost 1.3-1.7 s of the quickstart's whole-process time (measured in
benchmarks/bench_quickstart.py; see docs/benchmarks.md, issue 15 part 1).

:func:`import_nltk` therefore imports nltk with those two packages hidden, but only when
:func:`use_lean_import` was called, which the ``evalcli`` command does at start-up: in that
process nltk is evalcli's, and nltk falls back by itself (it guards both imports with
``except ImportError``). The Python API (a notebook, a Spark task) never hides anything:
there nltk belongs to the user's program as well. Once nltk is imported, SciPy and
scikit-learn import normally for any other code.

NumPy is hidden too: nltk's ``__init__`` imports it (through ``nltk.metrics.aline``, guarded
the same way) for alignment, clustering and classification code that evalcli never calls,
~40 ms of every run that imports nltk (METEOR's stemmer and WordNet matching do not use it).
A package the program had already imported stays as it is: nothing to save.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

# Top-level packages nltk's __init__ imports only for parts evalcli never calls.
HIDDEN = ("sklearn", "scipy", "numpy")

_lean = False
_lock = threading.Lock()


def use_lean_import() -> None:
    """Let :func:`import_nltk` hide nltk's optional integrations (the CLI calls this)."""
    global _lean
    _lean = True


class _Hide:
    """A meta-path finder that answers ImportError for the hidden packages.

    (Duck-typed rather than an ``importlib.abc.MetaPathFinder``: importing importlib.abc
    would cost the CLI's start-up more than this whole module.)
    """

    def __init__(self, hidden: frozenset[str]) -> None:
        self.hidden = hidden

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> None:
        if fullname.partition(".")[0] in self.hidden:
            raise ImportError(f"{fullname} is not used by evalcli's nltk", name=fullname)
        return


def import_nltk() -> ModuleType:
    """Import nltk once (lean in the ``evalcli`` command) and return the package."""
    loaded = sys.modules.get("nltk")
    if loaded is not None:
        return loaded
    with _lock:
        hidden = frozenset(name for name in HIDDEN if name not in sys.modules)
        if not _lean or not hidden:
            # Outside the CLI, or nothing to save because the program already paid for them.
            importlib.import_module("nltk")
        else:
            finder = _Hide(hidden)
            sys.meta_path.insert(0, finder)
            try:
                importlib.import_module("nltk")
            finally:
                sys.meta_path.remove(finder)
    return sys.modules["nltk"]

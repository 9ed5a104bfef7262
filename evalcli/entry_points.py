"""Whether any installed distribution declares an entry-point group, without importlib.metadata.

``importlib.metadata`` costs 15-20 ms to import and scan (it brings ``email``, ``zipfile``,
``csv``...), which is a tenth of ``evalcli validate`` (issue 15, part 2). Most
environments hold no evalcli plugin and no pydantic plugin, and proving that takes a
directory listing and a few small reads. :func:`may_declare` answers ``False`` only when it
is certain; everything it cannot see through (a zip or egg on ``sys.path``, a custom
distribution finder) makes it answer ``True``, and the caller then asks importlib.metadata
as before. A ``True`` is never trusted as proof: only the real look-up loads anything.

What it mirrors: importlib.metadata finds distributions through each ``sys.meta_path``
finder's ``find_distributions``; the standard one looks in every ``sys.path`` entry (``""``
meaning the current directory) for ``*.dist-info`` and ``*.egg-info`` children (names
compared case-insensitively) and reads their ``entry_points.txt``, whose ``[group]``
headers name the groups. A file that merely mentions the group's name anywhere counts.
"""

from __future__ import annotations

import os
import sys

__all__ = ["may_declare"]

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def may_declare(group: str) -> bool:
    """False when no distribution on the import path declares entry points in ``group``.

    Args:
        group: An entry-point group, e.g. ``"evalcli.evaluators"``.

    Returns:
        False when certain that ``importlib.metadata.entry_points(group=group)`` is empty;
        True otherwise (some file names the group, or a place could not be inspected).
    """
    texts = _entry_point_files()
    return texts is None or any(group in text for text in texts)


# The files read by the last scan, and the path and directory times they were read under:
# a process asks twice (pydantic's plugins, evalcli's), and a new or removed distribution
# changes its directory's modification time, as importlib.metadata's own cache assumes.
_last: tuple[tuple[tuple[str, float], ...], list[str] | None] | None = None


def _entry_point_files() -> list[str] | None:
    """Every ``entry_points.txt`` on the import path; None when some place is opaque."""
    global _last
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return None  # a finder of its own: only importlib.metadata can ask it
    key = tuple((entry, _mtime(entry or ".")) for entry in sys.path)
    if _last is not None and _last[0] == key:
        return _last[1]
    texts: list[str] = []
    for entry in sys.path:
        found = _scan(entry or ".")
        if found is None:
            _last = (key, None)
            return None
        texts += found
    _last = (key, texts)
    return texts


def _mtime(root: str) -> float:
    try:
        return os.stat(root).st_mtime  # noqa: PTH116
    except OSError:
        return -1.0


def _scan(root: str) -> list[str] | None:
    try:
        children = os.scandir(root)
    except NotADirectoryError:
        return None  # a zip or egg on the path: read through importlib.metadata
    except OSError:
        return []  # missing or unreadable: importlib.metadata skips it as well
    found = []
    with children:
        for child in children:
            if child.name.lower().endswith(_METADATA_SUFFIXES):
                text = _read(child.path)
                if text is None:
                    return None
                found.append(text)
    return found


def _read(metadata_dir: str) -> str | None:
    """A distribution's ``entry_points.txt`` ("" when it has none); None when unsure."""
    try:
        with open(os.path.join(metadata_dir, "entry_points.txt"), encoding="utf-8") as fh:  # noqa: PTH118, PTH123
            return fh.read()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        # What importlib.metadata also reads as "no entry points" (an egg-info *file* too).
        return ""
    except (OSError, UnicodeDecodeError):
        return None  # importlib.metadata would fail or differ: let it decide

"""Read the files of an NLTK data resource where nltk's own loader would, without nltk.

The tokenizers read a few small files (the Punkt model, three perluniprops tables). nltk
finds them with ``nltk.data.find`` and opens them through its path security; importing nltk
for that costs ~0.15 s. The resource is found by the same rules the data check uses
(:func:`evalcli.nltk_data.check.find_like_loader`): :mod:`evalcli.nltk_data._search` while
nltk is not imported, nltk itself once a program has imported it (and may have changed
``nltk.data.path``). A file is then read as nltk reads it:

* through nltk's own pointer when nltk found it;
* otherwise only when, links resolved, it lies inside a directory of nltk's search path
  (nltk refuses a path leaving its data roots) and, on POSIX, when it is a regular file
  with a single name, not itself a link, that this account or root owns and no other
  account can write to (the checks of nltk's hardened open).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import zipfile
from collections.abc import Sequence
from typing import Any

__all__ = ["read_resource_files"]


def read_resource_files(
    resource: str, names: Sequence[str], *, corpus: bool = False
) -> dict[str, bytes]:
    """The bytes of ``names`` inside ``resource``, found and read as nltk would.

    Args:
        resource: A key of :data:`evalcli.nltk_data.RESOURCES` (``"punkt_tab"``,
            ``"perluniprops"``).
        names: File names inside the resource directory.
        corpus: Read as nltk's corpus readers read (``CorpusReader.open``), which also
            refuse a file whose links lead out of the resource directory (ValueError).

    Raises:
        LookupError: The resource is not installed (or nltk's path security refuses every
            copy), or a file is missing from it.
        PermissionError: A file is refused by nltk's path security.
        ValueError: With ``corpus``, a file leads out of the resource directory.
    """
    from evalcli.nltk_data import check

    lookup, pointer, refused = check.find_like_loader(resource, None)
    if pointer is None:
        missing = check.MissingResource(resource, "not found", refused)
        where = f"; nltk refused {', '.join(refused)}" if refused else ""
        raise LookupError(
            f"NLTK resource {lookup!r} ({resource}) not found{where}: {check.hint([missing])}"
        )
    nltk_found = "nltk" in sys.modules and not _is_own_pointer(pointer)
    files = {}
    for name in names:
        try:
            member: Any = pointer.join(name)  # type: ignore[attr-defined]
        except OSError as exc:
            raise LookupError(f"NLTK resource {pointer} has no {name!r}") from exc
        if nltk_found:
            if corpus:
                from nltk.pathsec import validate_path

                validate_path(member, context="CorpusReader", required_root=pointer)
            with member.open() as stream:
                files[name] = stream.read()
        else:
            if corpus and not hasattr(member, "zipfile"):
                _check_inside(member.path, pointer.path)  # type: ignore[attr-defined]
            files[name] = _read(member)
    return files


def _is_own_pointer(pointer: object) -> bool:
    from evalcli.nltk_data import _search

    return isinstance(pointer, _search.DirPointer | _search.ZipPointer)


def _read(member: Any) -> bytes:
    """Read a :mod:`~evalcli.nltk_data._search` pointer under nltk's rules (see above)."""
    from evalcli.nltk_data import _search

    if isinstance(member, _search.ZipPointer):
        archive = str(member.zipfile.filename)
        _check_inside_data_roots(archive)
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member.entry)
    path = member.path
    _check_inside_data_roots(path)
    if os.name != "posix":
        with open(path, "rb") as stream:  # noqa: PTH123 (nltk's plain open off POSIX)
            return stream.read()
    # nltk's hardened open: a link as the last component is refused rather than
    # followed, and so is anything but a regular file with one name that this account
    # (or root) owns and no other account can write to.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PermissionError(f"NLTK will not follow the link {path!r}") from exc
        raise
    with os.fdopen(fd, "rb") as stream:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise PermissionError(f"NLTK will not read {path!r}: not a plain, single-named file")
        if st.st_uid not in (os.geteuid(), 0) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(
                f"NLTK will not read {path!r}: it is writable by, or owned by, another "
                "account (chmod go-w)"
            )
        return stream.read()


def _check_inside(path: str, root: str) -> None:
    """nltk's scoped check for a corpus file: links resolved, it must stay in the root."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    if not (real == top or real.startswith(top.rstrip(os.sep) + os.sep)):
        raise ValueError(f"Security Violation [CorpusReader]: Path {real} escapes root {top}")


def _check_inside_data_roots(path: str) -> None:
    from evalcli.nltk_data import _search

    real = os.path.realpath(path)
    for root in _search.default_paths():
        top = os.path.realpath(root)  # default_paths() expanded '~' already
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return
    raise PermissionError(f"NLTK will not read {path!r}: it resolves outside the NLTK data path")

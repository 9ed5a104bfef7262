"""nltk 3.10.4's data search, for the check, without importing nltk.

``import nltk`` runs nltk's whole package ``__init__``: 0.3 s with evalcli's own
dependencies, and more than a second when scipy, scikit-learn or pandas are installed (nltk
imports them when present). ``validate`` and the check before a run only need to know where
``nltk.data.find`` would find three resources, so this module repeats what ``find`` does for
them, rule for rule:

* the search path of ``nltk.data.path`` as nltk builds it at import (``NLTK_DATA``,
  ``~/nltk_data``, the ``sys.prefix`` directories, the system ones);
* each directory (or ``.zip`` file) of the path in turn; a name with a ``.zip`` component is
  looked up inside that archive, and a name without one is retried once per component as
  ``<component>.zip/<component>`` when no directory holds it;
* nltk's path security (POSIX, as enforced by default): a data root, every directory on the way
  to a resource, a resource directory and every entry under it, and a resource file or archive
  must be owned by this account or root and not be group- or world-writable; anything else is
  refused, and the refusal is reported.

It is used only while nltk is not imported: once a program has imported nltk (and may have
changed ``nltk.data.path``, ``pathsec.ENFORCE`` or ``TRY_ZIPFILE_FIRST``), the check asks
nltk itself. ``tests/test_nltk_data_layouts.py`` compares both answers on every layout it
builds. nltk's Hugging Face fallback serves only ``stopwords``, so it is not repeated here.
"""

# The os.path calls are nltk's own, kept as they are: pathlib's equivalents differ in the
# corners this module must agree on (abspath vs resolve, "~" expansion, trailing separators).
# ruff: noqa: PTH100, PTH110, PTH111, PTH112, PTH113, PTH116, PTH117, PTH118, PTH120, PTH206

from __future__ import annotations

import os
import re
import stat
import sys
import zipfile
from collections.abc import Sequence
from typing import Final

# urllib.request's own url2pathname, without importing urllib.request (http.client, ssl,
# email: 5-7 ms of `evalcli validate`'s start-up, issue 15): the same two definitions.
if sys.platform == "win32":  # os.name == "nt", as urllib.request tests it
    from nturl2path import url2pathname
else:
    from urllib.parse import unquote as url2pathname

__all__ = ["DirPointer", "ZipPointer", "default_paths", "find"]

# find() retries a name without a .zip component at most this many components deep.
_MAX_ZIP_FALLBACK_DEPTH: Final = 8
_ZIP_NAME: Final = re.compile(r"(.*?\.zip)/?(.*)$", re.DOTALL)


def default_paths() -> list[str]:
    """``nltk.data.path`` as nltk 3.10.4 sets it up when it is imported."""
    paths = [os.path.expanduser(d) for d in os.environ.get("NLTK_DATA", "").split(os.pathsep) if d]
    if "APPENGINE_RUNTIME" not in os.environ and os.path.expanduser("~/") != "~/":
        paths.append(os.path.expanduser("~/nltk_data"))
    prefix_dirs = [
        os.path.join(sys.prefix, "nltk_data"),
        os.path.join(sys.prefix, "share", "nltk_data"),
        os.path.join(sys.prefix, "lib", "nltk_data"),
    ]
    if os.name == "nt":
        paths += [
            *prefix_dirs,
            os.path.join(os.environ.get("APPDATA", "C:\\"), "nltk_data"),
            r"C:\nltk_data",
            r"D:\nltk_data",
            r"E:\nltk_data",
        ]
    else:
        paths += [
            *prefix_dirs,
            "/usr/share/nltk_data",
            "/usr/local/share/nltk_data",
            "/usr/lib/nltk_data",
            "/usr/local/lib/nltk_data",
        ]
    return paths


def _normalize(name: str) -> str:
    """nltk's ``normalize_resource_name(name, True)``: normalized, trailing "/" kept."""
    is_dir = name.endswith(("\\", "/", ".", os.path.sep))
    name = name.lstrip("/") if os.name == "nt" else re.sub(r"^/+", "/", name)
    name = os.path.normpath(name).replace("\\", "/").replace(os.path.sep, "/")
    if os.name == "nt" and os.path.isabs(name):
        name = "/" + name
    if is_dir and not name.endswith("/"):
        name += "/"
    return name


class DirPointer:
    """A file or directory nltk found on disk (its ``FileSystemPathPointer``)."""

    def __init__(self, path: str) -> None:
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise OSError(f"No such file or directory: {path!r}")
        self.path = path

    def __str__(self) -> str:
        return self.path

    def join(self, fileid: str) -> DirPointer:
        """The entry ``fileid`` under this directory; raises like nltk when it is absent."""
        fileid = fileid.replace("\\", "/")
        if ".." in fileid.split("/"):
            raise ValueError(f"Traversal blocked: {fileid}")
        joined = os.path.normpath(os.path.join(self.path, fileid))
        root = os.path.normpath(self.path)
        if not (joined == root or joined.startswith(root + os.sep)):
            raise ValueError(f"Escape outside root blocked: {joined}")
        return DirPointer(joined)


class ZipPointer:
    """An entry of an archive nltk found (its ``ZipFilePathPointer``)."""

    def __init__(self, archive: str | zipfile.ZipFile, entry: str = "") -> None:
        zf = zipfile.ZipFile(os.path.abspath(archive)) if isinstance(archive, str) else archive
        if isinstance(archive, str):
            zf.close()  # nltk reopens on demand; the directory of members stays readable
        if entry:
            entry = _normalize(entry).lstrip("/")
            try:
                zf.getinfo(entry)
            except KeyError as exc:
                # Archives need not list directories: one holding files under it will do.
                if not (entry.endswith("/") and any(n.startswith(entry) for n in zf.namelist())):
                    raise OSError(f"Zipfile {zf.filename!r} does not contain {entry!r}") from exc
        self.zipfile = zf
        self.entry = entry

    def join(self, fileid: str) -> ZipPointer:
        """The member ``fileid`` under this entry; raises like nltk when it is absent."""
        return ZipPointer(self.zipfile, f"{self.entry}/{fileid}")

    def __str__(self) -> str:
        return os.path.normpath(os.path.join(str(self.zipfile.filename), self.entry))


# -- path security (nltk.pathsec, POSIX, enforced) ---------------------------------------------


def _private_stat(st: os.stat_result) -> bool:
    return st.st_uid in (os.geteuid(), 0) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _is_private_dir(path: str) -> bool:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(st.st_mode) and (os.name != "posix" or _private_stat(st))


def _first_entry_not_ours(top: str) -> str | None:
    unlisted: list[OSError] = []
    for current, dirs, files in os.walk(top, onerror=unlisted.append):
        for name in dirs + files:
            entry = os.path.join(current, name)
            try:
                st = os.lstat(entry)
            except FileNotFoundError:
                continue
            except OSError:
                return entry
            if stat.S_ISLNK(st.st_mode):
                if st.st_uid not in (os.geteuid(), 0):
                    return entry
            elif not _private_stat(st):
                return entry
    for error in unlisted:
        where = error.filename or top
        if os.access(where, os.X_OK):
            return str(where)
    return None


def _writable_by_others(root: str, below: str | None = None) -> str | None:
    if os.name != "posix":
        return None
    if not _is_private_dir(root):
        return root
    if below is None:
        return None
    current = root
    for part in os.path.relpath(os.path.dirname(below), root).split(os.sep):
        if not part or part in (os.curdir, os.pardir):
            continue
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            break
        if not _is_private_dir(current):
            return current
    resource = below.rstrip(os.sep)
    if os.path.isdir(resource):
        if not _is_private_dir(resource):
            return resource
        return _first_entry_not_ours(resource)
    return None


def _file_not_ours(path: str) -> bool:
    if os.name != "posix":
        return False
    try:
        return not _private_stat(os.stat(path))
    except OSError:
        return False


# -- find --------------------------------------------------------------------------------------


def find(name: str, paths: Sequence[str], refused: list[str]) -> DirPointer | ZipPointer:
    """What ``nltk.data.find(name, paths)`` returns, or the ``LookupError`` it raises.

    Args:
        name: A resource name such as ``"corpora/wordnet"`` or ``"corpora/wordnet.zip/wordnet/"``.
        paths: The directories (or ``.zip`` files) to search, in order.
        refused: Receives each location path security refused, in the order met.
    """
    name = _normalize(name)
    match = _ZIP_NAME.match(name)
    archive, member = match.groups() if match else (None, "")

    def refuse(where: str) -> None:
        if where not in refused:
            refused.append(where)

    for path in paths:
        if path and os.path.isfile(path) and path.endswith(".zip"):
            unsafe = _writable_by_others(os.path.dirname(os.path.abspath(path)))
            if unsafe is None and _file_not_ours(path):
                unsafe = path
            if unsafe is not None:
                refuse(unsafe)
                continue
            try:
                return ZipPointer(path, name)
            except OSError:
                continue
        elif not path or os.path.isdir(path):
            if path:
                unsafe = _writable_by_others(path)
                if unsafe is not None:
                    refuse(unsafe)
                    continue
            target = os.path.join(path, url2pathname(archive if archive else name))
            if not os.path.exists(target):
                continue
            unsafe = _writable_by_others(path or os.path.dirname(os.path.abspath(target)), target)
            if unsafe is None and (archive or os.path.isfile(target)) and _file_not_ours(target):
                unsafe = target
            if unsafe is not None:
                refuse(unsafe)
                continue
            if archive is None:
                return DirPointer(target)
            try:
                return ZipPointer(target, member)
            except OSError:
                continue

    if archive is None:
        pieces = name.split("/")
        for i in range(min(len(pieces), _MAX_ZIP_FALLBACK_DEPTH)):
            retry = "/".join([*pieces[:i], pieces[i] + ".zip", *pieces[i:]])
            try:
                return find(retry, paths, refused)
            except LookupError:
                pass
    raise LookupError(f"Resource {name!r} not found")

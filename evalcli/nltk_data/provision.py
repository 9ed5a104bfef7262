"""Provision the NLTK data: ``evalcli nltk-data build`` and ``evalcli nltk-data download``.

Only those two commands import this module; runs never do (they only check, with
:mod:`evalcli.nltk_data.check`, and never download anything).

* :func:`build_offline` assembles the data from package registries the machines can reach:
  punkt_tab from the PyPI wheel ``llama-index-core`` (an unmodified copy of NLTK's
  ``punkt_tab.zip``), perluniprops from the PyPI wheel ``sacremoses`` and WordNet from the Debian
  packages ``wordnet-base`` and ``wordnet-sense-index`` plus a generated ``lexnames`` file. Both
  wheels are pinned and their payloads checked against SHA-256 digests.
* :func:`download_online` runs NLTK's own downloader, for users with internet access.

nltk >= 3.10 ("pathsec") refuses data directories that another account can write to, so
everything is written with modes 0755/0644.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final, NamedTuple

from evalcli.nltk_data.check import (
    DEFAULT_WORDNET_DIR,
    RESOURCES,
    WORDNET_DEBIAN_FILES,
    NltkDataError,
    apt_install_command,
    status,
)

__all__ = ["build_offline", "download_online"]

# WordNet 3.0 lexicographer files in number order, as listed in lexnames(5WN). The file NLTK
# reads holds one ``NN<TAB>name<TAB>pos-number`` line per entry; only the order and the names
# matter to it (Synset.lexname()).
_LEXNAMES: Final = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)  # fmt: skip
_POS_NUMBER: Final = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class _Wheel(NamedTuple):
    """A pinned PyPI wheel: distribution name, wheel file-name stem, version."""

    dist: str
    stem: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.dist}=={self.version}"


# The wheels are pinned so a build is reproducible, and their payloads are checked against
# the digests of the data the reference scores were measured with: scores must match the
# reference SDK to 1e-9, so "roughly the same tokenizer tables" is not good enough.
_LLAMA: Final = _Wheel("llama-index-core", "llama_index_core", "0.14.25")
_PUNKT_MEMBER: Final = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab.zip"
_PUNKT_ZIP_SHA256: Final = "e57f64187974277726a3417ca6f181ec5403676c717672eef6a748a7b20e0106"
_SACREMOSES: Final = _Wheel("sacremoses", "sacremoses", "0.2.0")
_PERLUNIPROPS_MEMBER: Final = "sacremoses/_data_perluniprops.py"
# The categories NLTK's perluniprops package ships (sacremoses carries more).
_PERLUNIPROPS_CATEGORIES: Final = (
    "Close_Punctuation", "Currency_Symbol", "IsAlnum", "IsAlpha", "IsLower", "IsN", "IsSc",
    "IsSo", "IsUpper", "Line_Separator", "Number", "Open_Punctuation", "Punctuation",
    "Separator", "Symbol",
)  # fmt: skip
# The three tables NISTTokenizer reads, byte-identical to NLTK's perluniprops.zip.
_PERLUNIPROPS_SHA256: Final = {
    "Number": "bdd4091ffb857b47bb10e10c82f750e30419aa7a3ce6da39dae92f77efa28476",
    "Punctuation": "e2f503ffac0d4c69620ff0ce22a6b4a28b328363602a74270efbbe92ed0efcac",
    "Symbol": "d57b6f965049bb8a0b2f43e17bb32a71bd4ca82bc86766c059ca80273660c99e",
}

_STAGE_PREFIX: Final = ".{}.partial-"  # hidden sibling of the target, same filesystem


def build_offline(
    target: Path,
    *,
    wordnet_dir: Path = DEFAULT_WORDNET_DIR,
    wheel_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Build the three resources into ``target`` from registry packages only.

    The tree is assembled in a temporary sibling of ``target`` and moved into place only
    once complete and verified, so a failed or interrupted build never leaves a resource that
    looks installed. Existing copies of the same resources in ``target`` are replaced; other
    content of ``target`` is left alone.

    Args:
        target: The NLTK data root to fill (created if needed).
        wordnet_dir: Directory with the Debian WordNet 3.0 files.
        wheel_dir: Directory that may already hold the ``llama-index-core`` and
            ``sacremoses`` wheels; whatever is not there is fetched with ``pip download``.
        progress: Called with a short message before each step.

    Raises:
        NltkDataError: WordNet files missing, pip failing, a wheel with unexpected content,
            or ``target`` not writable.
    """
    import shutil
    import tempfile

    say = progress or (lambda _msg: None)
    _check_wordnet_dir(wordnet_dir)
    target = target.expanduser().absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = _STAGE_PREFIX.format(target.name)
        stage = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    except OSError as exc:
        raise _os_error(target, exc) from exc
    try:
        with tempfile.TemporaryDirectory(prefix="evalcli-wheels-") as scratch:
            llama = _fetch_wheel(_LLAMA, wheel_dir, Path(scratch), say)
            sacremoses = _fetch_wheel(_SACREMOSES, wheel_dir, Path(scratch), say)
            say(f"punkt_tab: extracting from {llama.name}")
            _build_punkt_tab(stage, llama)
            say(f"perluniprops: reading the tables in {sacremoses.name}")
            _build_perluniprops(stage, sacremoses)
        say(f"wordnet: copying {wordnet_dir} and generating lexnames")
        _build_wordnet(stage, wordnet_dir)
        _set_modes(stage)
        bad = [s for s in status(RESOURCES, paths=[str(stage)]) if not s.ok]
        if bad:  # a bug in this module, but never install a tree nltk cannot read
            raise NltkDataError(f"built NLTK data is unusable: {bad[0].name}: {bad[0].problem}")
        say(f"installing into {target}")
        _install(stage, target)
    except OSError as exc:
        raise _os_error(target, exc) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def download_online(target: Path) -> None:
    """Download the resources with nltk's own downloader (needs internet; explicit use only).

    Raises:
        NltkDataError: When a package cannot be downloaded.
    """
    import nltk

    target = target.expanduser().absolute()
    try:
        target.mkdir(parents=True, exist_ok=True)
        _make_private_dir(target)
    except OSError as exc:
        raise _os_error(target, exc) from exc
    for package in RESOURCES:
        try:
            # extract=True unpacks wordnet too, so accounts other than the installer can read
            # it (nltk 3.10 keeps downloaded archives at 0600).
            done = nltk.download(
                package, download_dir=str(target), raise_on_error=True, extract=True
            )
        except Exception as exc:  # nltk raises assorted network and value errors
            raise _download_error(package, str(exc)) from exc
        if not done:
            raise _download_error(package, "nltk's downloader reported a failure")
    bad = [s for s in status(RESOURCES, paths=[str(target)]) if not s.ok]
    if bad:
        raise _download_error(bad[0].name, bad[0].problem or "unusable after download")


# ---------------------------------------------------------------------------------------------
# helpers


def _download_error(package: str, why: str) -> NltkDataError:
    return NltkDataError(
        f"could not download NLTK package {package!r}: {why}",
        hint="without internet access, run `evalcli nltk-data build` instead",
    )


def _os_error(target: Path, exc: OSError) -> NltkDataError:
    where = str(exc.filename or target)
    # Only a failure at the destination is fixed by choosing another one; a source file that
    # cannot be read (say, a WordNet file) is reported as it is.
    at_target = where == str(target.parent) or where.startswith(
        (str(target), str(target.parent / _STAGE_PREFIX.format(target.name)))
    )
    return NltkDataError(
        f"cannot {'write' if at_target else 'read'} {where}: {exc.strerror or exc}",
        hint="choose a writable directory with --target (and set NLTK_DATA to it)"
        if at_target
        else None,
    )


def _check_wordnet_dir(wordnet_dir: Path) -> None:
    # Checked before any download, so the commonest set-up mistake fails at once.
    lacking = [f for f in WORDNET_DEBIAN_FILES if not (wordnet_dir / f).is_file()]
    if lacking:
        shown = ", ".join(lacking[:3]) + (", ..." if len(lacking) > 3 else "")
        raise NltkDataError(
            f"WordNet 3.0 files missing from {wordnet_dir}: {shown}",
            hint=f"install them with `{apt_install_command()}` or pass --wordnet-dir DIR",
        )


def _fetch_wheel(
    wheel: _Wheel, wheel_dir: Path | None, scratch: Path, say: Callable[[str], None]
) -> Path:
    """The wheel file: from ``wheel_dir`` if it holds one, else ``pip download`` it."""
    import subprocess

    pattern = f"{wheel.stem}-*.whl"
    if wheel_dir is not None:
        local = sorted(wheel_dir.glob(pattern))
        if local:
            # Prefer the pinned version; another one is accepted and checked by content.
            pinned = f"{wheel.stem}-{wheel.version}-"
            return next((p for p in local if p.name.startswith(pinned)), local[-1])
    say(f"downloading {wheel.requirement} from PyPI (pip download --no-deps)")
    dest = scratch / wheel.stem
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "--dest", str(dest),
           wheel.requirement]  # fmt: skip
    fix = (
        "check that pip can reach PyPI, or run `pip download --no-deps "
        f"{_LLAMA.requirement} {_SACREMOSES.requirement} -d DIR` where it can "
        "and pass --wheel-dir DIR"
    )
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise NltkDataError(f"cannot run pip with {sys.executable}: {exc}", hint=fix) from exc
    found = sorted(dest.glob(pattern))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
        raise NltkDataError(f"pip download {wheel.requirement} failed: {last}", hint=fix)
    return found[0]


def _read_member(wheel: Path, member: str) -> bytes:
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise NltkDataError(f"{wheel.name} has no readable {member}: {exc}") from exc


def _check_digest(data: bytes, expected: str, what: str) -> None:
    import hashlib

    if hashlib.sha256(data).hexdigest() != expected:
        raise NltkDataError(
            f"{what} differs from the verified copy (sha256 mismatch); "
            "refusing to build data that could change scores",
            hint="use the pinned wheels: pip download --no-deps "
            f"{_LLAMA.requirement} {_SACREMOSES.requirement}",
        )


def _build_punkt_tab(stage: Path, wheel: Path) -> None:
    import io
    import zipfile
    from pathlib import PurePosixPath

    data = _read_member(wheel, _PUNKT_MEMBER)
    _check_digest(data, _PUNKT_ZIP_SHA256, f"punkt_tab.zip in {wheel.name}")
    tokenizers = stage / "tokenizers"
    tokenizers.mkdir()
    # Keep the unmodified archive as nltk.download leaves it (its checksum then matches
    # NLTK's index), and unpack it: nltk looks for the unpacked directory first.
    (tokenizers / "punkt_tab.zip").write_bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            # The digest already pins the content; this just keeps the unpacking obviously
            # confined to tokenizers/punkt_tab.
            if parts[:1] != ("punkt_tab",) or any(p in ("", ".", "..") for p in parts):
                raise NltkDataError(f"unexpected entry {info.filename!r} in punkt_tab.zip")
            out = tokenizers.joinpath(*parts)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(info))


def _perluniprops_tables(source: bytes) -> dict[str, str]:
    """The ``PERLUNIPROPS`` dict literal of sacremoses' data module, read without running it."""
    import ast

    try:
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "PERLUNIPROPS" for t in targets):
                    tables = ast.literal_eval(node.value)  # literals only: nothing is executed
                    if isinstance(tables, dict) and all(
                        isinstance(k, str) and isinstance(v, str) for k, v in tables.items()
                    ):
                        return tables
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        pass  # not a plain literal (or not Python): same verdict as no table at all
    raise NltkDataError(f"{_PERLUNIPROPS_MEMBER} has no PERLUNIPROPS table of strings")


def _build_perluniprops(stage: Path, wheel: Path) -> None:
    tables = _perluniprops_tables(_read_member(wheel, _PERLUNIPROPS_MEMBER))
    absent = [c for c in _PERLUNIPROPS_CATEGORIES if c not in tables]
    if absent:
        raise NltkDataError(f"{wheel.name} lacks perluniprops tables: {', '.join(absent)}")
    for category, digest in _PERLUNIPROPS_SHA256.items():
        _check_digest(tables[category].encode(), digest, f"perluniprops {category} table")
    out = stage / "misc" / "perluniprops"
    out.mkdir(parents=True)
    for category in _PERLUNIPROPS_CATEGORIES:
        (out / f"{category}.txt").write_bytes(tables[category].encode("utf-8"))
    # nltk's reader skips README (fileid pattern r"(?!README|\.).*"), so provenance fits here.
    (out / "README").write_text(
        f"Unicode property tables from the PyPI wheel {wheel.name} (MIT licence),\n"
        f"module {_PERLUNIPROPS_MEMBER}; built by `evalcli nltk-data build`.\n",
        encoding="utf-8",
    )


def _build_wordnet(stage: Path, wordnet_dir: Path) -> None:
    import shutil

    out = stage / "corpora" / "wordnet"
    out.mkdir(parents=True)
    for name in WORDNET_DEBIAN_FILES:
        shutil.copyfile(wordnet_dir / name, out / name)
    lines = [
        f"{i:02d}\t{lexname}\t{_POS_NUMBER[lexname.split('.')[0]]}\n"
        for i, lexname in enumerate(_LEXNAMES)
    ]
    (out / "lexnames").write_text("".join(lines), encoding="ascii")
    # The WordNet licence asks for its notice to travel with the database.
    notice = Path("/usr/share/doc/wordnet-base/copyright")
    if notice.is_file():
        shutil.copyfile(notice, out / "LICENSE")


def _set_modes(root: Path) -> None:
    # One pass at the end instead of per-file chmods: everything was written inside the 0700
    # stage directory, so nobody else could touch it meanwhile; nltk's pathsec then needs
    # every directory and file on the way free of group/world write bits.
    root.chmod(0o755)
    for here, dirs, files in os.walk(root):
        for d in dirs:
            Path(here, d).chmod(0o755)
        for f in files:
            Path(here, f).chmod(0o644)


def _make_private_dir(path: Path) -> None:
    # nltk refuses a data root that others can write to. Only drop those bits on a directory
    # that already exists; its other permissions are the owner's business.
    mode = path.stat().st_mode
    if mode & 0o022:
        path.chmod(mode & 0o7755)


def _install(stage: Path, target: Path) -> None:
    """Move the finished resources from ``stage`` into ``target`` by renames."""
    if not target.exists():
        stage.rename(target)  # the whole tree appears at once
        return
    _make_private_dir(target)
    entries = ("tokenizers/punkt_tab", "tokenizers/punkt_tab.zip", "misc/perluniprops",
               "corpora/wordnet")  # fmt: skip
    for entry in entries:
        src, dst = stage / entry, target / entry
        dst.parent.mkdir(mode=0o755, exist_ok=True)
        _make_private_dir(dst.parent)
        if dst.exists() or dst.is_symlink():
            # Same filesystem (stage is a sibling), so both renames are atomic; the old copy
            # is deleted with the stage afterwards.
            dst.rename(stage / f"{entry.replace('/', '_')}.old")
        src.rename(dst)

"""The NLTK data check accepts every layout nltk's loaders accept, and only those.

``nltk.download`` leaves ``corpora/wordnet.zip`` and ``misc/perluniprops.zip`` (archives
holding ``wordnet/`` and ``perluniprops/``); ``evalcli nltk-data build`` leaves directories.
Every layout here is made from the unpacked data `make` builds into the venv
(``<venv>/share/nltk_data``), zipped the way nltk's downloader zips it: no network.

Whatever loads NLTK data runs in a subprocess: nltk's corpus loaders load once per process
and would otherwise carry one test's layout into the next. Those subprocesses see only the
directories in NLTK_DATA (see ``ONLY_NLTK_DATA``), so the venv's own data cannot fill a gap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli import nltk_data
from evalcli.cli.nltk_cmd import app
from evalcli.nltk_data import provision
from tests.conftest import REPO, write_jsonl

SOURCE = nltk_data.default_target()
PLACE = {"punkt_tab": "tokenizers", "perluniprops": "misc", "wordnet": "corpora"}
NAMES = tuple(PLACE)

# Prepended to every subprocess: nltk.data.path keeps NLTK_DATA's directories (added by nltk
# itself) and drops its defaults, the venv's share/nltk_data among them.
ONLY_NLTK_DATA = """
import os, sys
import nltk.data
wanted = [d for d in os.environ["NLTK_DATA"].split(os.pathsep) if d]
nltk.data.path[:] = [p for p in nltk.data.path if p in wanted]
assert nltk.data.path == wanted, nltk.data.path
"""

# What the check says next to what the metrics' own loaders then do, in one fresh process.
CHECK_THEN_LOAD = """
import json, warnings
from evalcli import nlp, nltk_data
from evalcli.nlp import _meteor, _tokenize

check = {s.name: s.problem for s in nltk_data.status()}

def wordnet():
    _meteor.load_meteor()
    nlp.meteor(["quick", "car"], ["fast", "automobile"])  # reads synsets
    assert nlp.meteor(["quick"], ["fast"]) == 0.5  # a synonym, found through WordNet

def nltk_wordnet():
    # nltk's own reader, found and opened by nltk's own corpus loader.
    from nltk.corpus import wordnet
    wordnet.ensure_loaded()
    wordnet.synsets("cars")

loaded = {}
for name, load in [("punkt_tab", _tokenize._load_sentence_splitter),
                   ("perluniprops", _tokenize._load_nist_tokenizer),
                   ("wordnet", wordnet),
                   ("nltk's wordnet", nltk_wordnet)]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about each directory it refuses
        try:
            load()
            loaded[name] = None
        except Exception as exc:
            loaded[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"check": check, "loaded": loaded}))
"""

CLI = "sys.argv[0] = 'evalcli'\nfrom evalcli.cli import main\nmain()\n"

# The check without nltk imported (evalcli.nltk_data._search), then with nltk's own find, on
# the same directories, in one fresh process.
MIRROR_THEN_NLTK = """
import json, os, sys, warnings
from evalcli import nltk_data
paths = [d for d in os.environ["NLTK_DATA"].split(os.pathsep) if d]
mirror = [list(map(str, vars(s).values())) for s in nltk_data.status(paths=paths)]
assert "nltk" not in sys.modules, "the check imported nltk"
import nltk.data
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    theirs = [list(map(str, vars(s).values())) for s in nltk_data.status(paths=paths)]
print(json.dumps({"mirror": mirror, "nltk": theirs}))
"""


def python(
    script: str, nltk_path: Iterable[Path], *args: str, only_nltk_data: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter that finds NLTK data only in ``nltk_path``.

    With ``only_nltk_data=False`` nltk is not imported first (nor its path trimmed).
    """
    env = {
        **os.environ,
        "NLTK_DATA": os.pathsep.join(str(p) for p in nltk_path),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-c", (ONLY_NLTK_DATA if only_nltk_data else "") + script, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def zip_resource(name: str, out: Path, *, omit: tuple[str, ...] = ()) -> Path:
    """Zip ``SOURCE/<place>/<name>/`` as nltk's downloader does: ``<name>.zip`` with ``<name>/``."""
    base = SOURCE / PLACE[name]
    # The English model is all the metrics read: the other languages only cost test time.
    top = base / name / "english" if name == "punkt_tab" else base / name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in [*dict.fromkeys([base / name, top]), *sorted(top.rglob("*"))]:
            arcname = path.relative_to(base).as_posix()
            if path.is_dir():
                zf.writestr(f"{arcname}/", b"")  # nltk's archives list directories too
            elif path.name not in omit:
                zf.write(path, arcname)
    return out


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three archives, plus a WordNet archive without index.sense and lexnames."""
    bad = [s for s in nltk_data.status(paths=[str(SOURCE)]) if not s.ok]
    unpacked = all((SOURCE / PLACE[n] / n).is_dir() for n in NAMES)
    if bad or not unpacked:
        pytest.fail(
            f"these tests zip the unpacked NLTK data in {SOURCE}, which is not complete: "
            "run `make setup` (or `evalcli nltk-data build`)",
            pytrace=False,
        )
    out = tmp_path_factory.mktemp("archives")
    made = {name: zip_resource(name, out / f"{name}.zip") for name in NAMES}
    made["wordnet-incomplete"] = zip_resource(
        "wordnet", out / "wordnet-incomplete.zip", omit=("index.sense", "lexnames")
    )
    return made


LayOut = Callable[..., Path]


@pytest.fixture
def lay_out(archives: dict[str, Path], tmp_path: Path) -> LayOut:
    """Make an NLTK data root: ``dirs`` unpacked, ``zips`` as archives (mode 0755/0644).

    ``zips`` maps a resource to an archive key of :func:`archives` (default: its own).
    """

    def make(
        root: str, *, dirs: Iterable[str] = (), zips: Iterable[str] | dict[str, str] = ()
    ) -> Path:
        path = tmp_path / root
        path.mkdir()
        for name in dirs:
            shutil.copytree(SOURCE / PLACE[name] / name, path / PLACE[name] / name)
        chosen = zips if isinstance(zips, dict) else {n: n for n in zips}
        for name, key in chosen.items():
            (path / PLACE[name]).mkdir(exist_ok=True)
            shutil.copyfile(archives[key], path / PLACE[name] / f"{name}.zip")
        provision._set_modes(path)  # independent of the umask: nltk refuses g/o-writable data
        return path

    return make


@pytest.fixture
def nltk_path(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set nltk's search path for this test only (lookups only: nothing is loaded in-process)."""
    import nltk.data

    def set_path(*dirs: Path) -> None:
        monkeypatch.setattr(nltk.data, "path", [str(d) for d in dirs])

    return set_path


def with_group_write(path: Path) -> Path:
    path.chmod(path.stat().st_mode | 0o020)
    return path


def problem(name: str) -> str:
    """Why the check refuses ``name`` (it must refuse it)."""
    [missing] = nltk_data.missing([name])
    assert isinstance(missing, nltk_data.MissingResource)
    return missing.problem


# --- the check, in-process ------------------------------------------------------------------


def test_zipped_layout_is_found(lay_out: LayOut, nltk_path: Callable[..., None]) -> None:
    root = lay_out("data", zips=NAMES)
    nltk_path(root)
    statuses = nltk_data.status()
    assert [(s.name, s.problem) for s in statuses] == [(n, None) for n in NAMES]
    assert [s.location for s in statuses] == [
        str(root / "tokenizers" / "punkt_tab.zip" / "punkt_tab" / "english"),
        str(root / "misc" / "perluniprops.zip" / "perluniprops"),
        str(root / "corpora" / "wordnet.zip" / "wordnet"),
    ]
    assert nltk_data.missing() == []
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(" found ") == 3


@pytest.mark.parametrize(
    ("dirs", "zips"),
    [
        (("punkt_tab", "perluniprops"), ("wordnet",)),
        (("wordnet",), ("punkt_tab", "perluniprops")),
        (("punkt_tab", "wordnet"), ("perluniprops",)),
    ],
)
def test_mixed_layout_is_found(
    lay_out: LayOut, nltk_path: Callable[..., None], dirs: tuple[str, ...], zips: tuple[str, ...]
) -> None:
    root = lay_out("data", dirs=dirs, zips=zips)
    nltk_path(root)
    assert nltk_data.missing() == []
    for s in nltk_data.status():
        assert (".zip" in (s.location or "")) == (s.name in zips), s


def test_incomplete_wordnet_archive_is_reported_like_a_directory(
    lay_out: LayOut, nltk_path: Callable[..., None]
) -> None:
    zipped = lay_out("zipped", zips={"wordnet": "wordnet-incomplete"})
    nltk_path(zipped)
    where = zipped / "corpora" / "wordnet.zip" / "wordnet"
    assert problem("wordnet") == f"{where} lacks index.sense, lexnames"

    unpacked = lay_out("unpacked", dirs=["wordnet"])
    for name in ("index.sense", "lexnames"):
        (unpacked / "corpora" / "wordnet" / name).unlink()
    nltk_path(unpacked)
    where = unpacked / "corpora" / "wordnet"
    assert problem("wordnet") == f"{where} lacks index.sense, lexnames"


def test_a_directory_is_used_before_an_archive_unless_nltk_is_told_otherwise(
    lay_out: LayOut, nltk_path: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nltk.corpus import util

    zipped = lay_out("zipped", zips=["wordnet"])
    unpacked = lay_out("unpacked", dirs=["wordnet"])
    (unpacked / "corpora" / "wordnet" / "lexnames").unlink()
    nltk_path(zipped, unpacked)  # the archive comes first, but the loader wants a directory
    assert problem("wordnet") == f"{unpacked / 'corpora' / 'wordnet'} lacks lexnames"

    monkeypatch.setattr(util, "TRY_ZIPFILE_FIRST", True)  # nltk's switch for its loaders
    [wordnet] = nltk_data.status(["wordnet"])
    assert wordnet.location == str(zipped / "corpora" / "wordnet.zip" / "wordnet")
    assert wordnet.lookup == "corpora/wordnet.zip/wordnet/"


@pytest.mark.parametrize("writable", ["corpora", "corpora/wordnet.zip"])
def test_group_writable_archive_or_its_dir_is_refused(
    lay_out: LayOut, nltk_path: Callable[..., None], writable: str
) -> None:
    root = lay_out("data", zips=["wordnet"])
    with_group_write(root / writable)
    nltk_path(root)
    [missing] = nltk_data.missing(["wordnet"])
    assert isinstance(missing, nltk_data.MissingResource)
    assert missing.refused == (str(root / writable),)
    assert missing.problem == (
        f"not found; NLTK refused to read {root / writable}: writable by, or owned by, "
        "another account (nltk >= 3.10 path security)"
    )
    assert f"chmod -R go-w {root / writable}" in nltk_data.hint([missing])


# --- the check agrees with the loaders ------------------------------------------------------


def writable_wordnet_zip(lay_out: LayOut, writable: str) -> Path:
    """Unpacked tokenizer data and wordnet.zip, with ``writable`` (under the root) g+w."""
    root = lay_out("a", dirs=TOKENIZERS, zips=["wordnet"])
    with_group_write(root / writable)
    return root


def writable_wordnet_file(lay_out: LayOut) -> Path:
    root = lay_out("a", dirs=NAMES)
    with_group_write(root / "corpora" / "wordnet" / "data.verb")
    return root


def incomplete_dirs(lay_out: LayOut) -> Path:
    root = lay_out("dirs", dirs=NAMES)
    (root / "corpora" / "wordnet" / "lexnames").unlink()
    return root


TOKENIZERS = {"punkt_tab", "perluniprops"}
# Each case: (NLTK_DATA directories, the resources both the check and the loaders accept).
CASES: dict[str, Callable[[LayOut], tuple[list[Path], set[str]]]] = {
    "all zipped": lambda lay_out: ([lay_out("a", zips=NAMES)], set(NAMES)),
    "zips in the second directory": lambda lay_out: (
        [lay_out("a", dirs=["punkt_tab"]), lay_out("b", zips=["perluniprops", "wordnet"])],
        set(NAMES),
    ),
    "zip in a group-writable dir": lambda lay_out: (
        [writable_wordnet_zip(lay_out, "corpora")],
        TOKENIZERS,
    ),
    "group-writable zip": lambda lay_out: (
        [writable_wordnet_zip(lay_out, "corpora/wordnet.zip")],
        TOKENIZERS,
    ),
    # nltk refuses a corpus directory when any entry in it is writable by another account.
    "group-writable file in the WordNet dir": lambda lay_out: (
        [writable_wordnet_file(lay_out)],
        TOKENIZERS,
    ),
    "zip without index.sense and lexnames": lambda lay_out: (
        [lay_out("a", dirs=TOKENIZERS, zips={"wordnet": "wordnet-incomplete"})],
        TOKENIZERS,
    ),
    # The loader takes a directory from anywhere in the path over an archive, so an
    # incomplete WordNet directory shadows a complete archive whichever comes first.
    "incomplete dir, then complete zip": lambda lay_out: (
        [incomplete_dirs(lay_out), lay_out("zip", zips=["wordnet"])],
        TOKENIZERS,
    ),
    "complete zip, then incomplete dir": lambda lay_out: (
        [lay_out("zip", zips=["wordnet"]), incomplete_dirs(lay_out)],
        TOKENIZERS,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_check_agrees_with_what_the_metrics_load(lay_out: LayOut, case: str) -> None:
    roots, accepted = CASES[case](lay_out)
    proc = python(CHECK_THEN_LOAD, roots)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {n for n, p in result["check"].items() if p is None} == accepted, result["check"]
    # evalcli's lazy WordNet reader loads exactly where nltk's own reader loads.
    loaded = result["loaded"]
    assert (loaded.pop("nltk's wordnet") is None) == ("wordnet" in accepted), result["loaded"]
    assert {n for n, e in loaded.items() if e is None} == accepted, result["loaded"]


def data_root_as_one_archive(lay_out: LayOut) -> Path:
    """A data root zipped whole, listed in NLTK_DATA as a file (nltk searches inside it)."""
    root = lay_out("a", dirs=NAMES)
    archive = root.parent / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            zf.write(path, path.relative_to(root).as_posix())
    archive.chmod(0o644)
    return archive


# More layouts for the check without nltk: (NLTK_DATA entries) only, compared with nltk's find.
MORE_LAYOUTS: dict[str, Callable[[LayOut], list[Path]]] = {
    "group-writable data root": lambda lay_out: [with_group_write(lay_out("a", dirs=NAMES))],
    "the whole data root as one archive": lambda lay_out: [data_root_as_one_archive(lay_out)],
    "nothing there": lambda lay_out: [lay_out("empty")],
}


@pytest.mark.slow
@pytest.mark.parametrize("case", [*CASES, *MORE_LAYOUTS])
def test_check_without_nltk_finds_what_nltk_finds(lay_out: LayOut, case: str) -> None:
    roots = CASES[case](lay_out)[0] if case in CASES else MORE_LAYOUTS[case](lay_out)
    proc = python(MIRROR_THEN_NLTK, roots, only_nltk_data=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["mirror"] == result["nltk"]  # name, lookup, location, problem, refused


def test_default_search_path_is_nltks(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NLTK_DATA": os.pathsep.join(["~/first", str(tmp_path), ""]),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    script = (
        "import json\n"
        "from evalcli.nltk_data import _search\n"
        "ours = _search.default_paths()\n"
        "import nltk.data\n"
        "print(json.dumps([ours, nltk.data.path]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    ours, theirs = json.loads(proc.stdout)
    assert ours == theirs
    assert ours[:3] == [str(tmp_path / "first"), str(tmp_path), str(tmp_path / "nltk_data")]


@pytest.mark.slow
def test_wordnet_file_linked_from_outside_the_corpus_is_refused_like_nltk(
    lay_out: LayOut, tmp_path: Path
) -> None:
    # A data file that is a link leaving the corpus directory: nltk's CorpusReader.open
    # refuses it, so nltk's reader fails on it and evalcli's reader must too.
    root = lay_out("a", dirs=NAMES)
    data_noun = root / "corpora" / "wordnet" / "data.noun"
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o755)
    shutil.copyfile(data_noun, outside / "data.noun")
    data_noun.unlink()
    data_noun.symlink_to(outside / "data.noun")
    proc = python(CHECK_THEN_LOAD, [root])
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)["loaded"]
    assert "escapes root" in (loaded["nltk's wordnet"] or ""), loaded
    assert loaded["wordnet"] == loaded["nltk's wordnet"]  # the same refusal, word for word
    assert loaded["punkt_tab"] is None and loaded["perluniprops"] is None, loaded


# --- real runs through the CLI --------------------------------------------------------------


@pytest.mark.slow
def test_status_finds_archives_in_a_second_nltk_data_dir(lay_out: LayOut) -> None:
    first = lay_out("first", dirs=["punkt_tab"])
    second = lay_out("second", zips=["perluniprops", "wordnet"])
    proc = python(CLI, [first, second], "nltk-data", "status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(" found ") == 3
    assert str(second / "corpora" / "wordnet.zip" / "wordnet") in proc.stdout
    assert str(second / "misc" / "perluniprops.zip" / "perluniprops") in proc.stdout


ROWS = [
    {"answer": "The quick brown fox leaps", "truth": "The fast brown fox jumps"},
    {"answer": "He bought a car yesterday.", "truth": "Yesterday he purchased an automobile."},
    {"answer": "The physician examined the patient", "truth": "The doctor checked the sick one"},
    {"answer": "café &amp; thé", "truth": "café et thé"},  # non-ASCII: NIST and perluniprops
]


@pytest.mark.slow
def test_run_on_zipped_data_scores_like_unpacked_data(lay_out: LayOut, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        "dataset: {path: data.jsonl}\n"
        "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
        "evaluators: {bleu: {}, gleu: {}, meteor: {}}\n"
    )
    rows = {}
    for layout in ("unpacked", "zipped"):
        root = lay_out(layout, **{"dirs" if layout == "unpacked" else "zips": NAMES})
        out = tmp_path / f"out-{layout}"
        proc = python(CLI, [root], "run", str(cfg), "-q", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        rows[layout] = json.loads((out / "results.json").read_text())["rows"]
    metrics = ("bleu", "gleu", "meteor")
    scores = [[row[f"outputs.{m}.{m}"] for m in metrics] for row in rows["zipped"]]
    assert all(isinstance(x, float) for row in scores for x in row), scores
    assert rows["zipped"] == rows["unpacked"]
    assert scores[0][2] == 0.996  # "fast" matched "quick" through WordNet

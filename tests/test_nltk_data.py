"""Tests for evalcli.nltk_data (check and provision) and the ``nltk-data`` sub-commands.

The offline build runs for real once per session (it needs pip to reach PyPI and the Debian
packages wordnet-base and wordnet-sense-index). Set EVALCLI_WHEEL_DIR to a directory holding
the llama-index-core and sacremoses wheels to skip the download.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli import nltk_data
from evalcli.cli.nltk_cmd import app
from evalcli.errors import ExitCode
from evalcli.nltk_data import check, provision

WORDNET_DIR = Path("/usr/share/wordnet")

# Scores computed with nltk 3.10.4 and the shared reference data (shared/tools/
# build_nltk_data.py); the tokenizer choice follows reference.md §1.
REFERENCE = [
    # (hypothesis, reference, METEOR, BLEU)
    ("The quick brown fox leaps", "The fast brown fox jumps", 0.996, 0.13414195051824768),
    (
        "He bought a car yesterday.",
        "Yesterday he purchased an automobile.",
        0.25,
        0.03759340464156993,
    ),
    (
        "The children were running happily in the park.",
        "Kids ran joyfully through the park.",
        0.5208333333333334,
        0.1444977144915524,
    ),
    (
        "The physician examined the patient",
        "The doctor checked the sick person",
        0.43314500941619577,
        0.0444463871528882,
    ),
    ("café &amp; thé", "café et thé", 0.7500000000000001, 0.17141814854755813),
]

# Runs in a fresh interpreter so nltk sees only NLTK_DATA, exactly as a user's process would.
SCORE_SCRIPT = """
import json, sys
import nltk
from nltk.tokenize.nist import NISTTokenizer
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from nltk.translate.meteor_score import meteor_score

def tok(text):
    if text.isascii():
        return nltk.word_tokenize(text)
    return NISTTokenizer().international_tokenize(text)

pairs = json.load(sys.stdin)
print(json.dumps({
    "word_tokenize": nltk.word_tokenize("Mr. Smith isn't here. He left!"),
    "nist": NISTTokenizer().international_tokenize("café &amp; thé"),
    "scores": [
        [
            meteor_score([tok(r)], tok(h), alpha=0.9, beta=3.0, gamma=0.5),
            float(sentence_bleu([tok(r)], tok(h),
                                smoothing_function=SmoothingFunction().method4)),
        ]
        for h, r in pairs
    ],
}))
"""

needs_wordnet = pytest.mark.skipif(
    not (WORDNET_DIR / "index.sense").is_file(),
    reason="needs the Debian packages wordnet-base and wordnet-sense-index",
)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real offline build per session, into a target that already holds other data."""
    if not (WORDNET_DIR / "index.sense").is_file():
        pytest.skip("needs the Debian packages wordnet-base and wordnet-sense-index")
    target = tmp_path_factory.mktemp("nltk-build") / "nltk_data"
    # Pre-existing content exercises the in-place install: unrelated data must survive and
    # a stale copy of a resource must be replaced, not merged.
    (target / "corpora" / "other").mkdir(parents=True)
    (target / "corpora" / "other" / "keep.txt").write_text("mine\n")
    (target / "corpora" / "wordnet").mkdir()
    (target / "corpora" / "wordnet" / "stale").write_text("old\n")
    wheels = os.environ.get("EVALCLI_WHEEL_DIR")
    messages: list[str] = []
    provision.build_offline(
        target, wheel_dir=Path(wheels) if wheels else None, progress=messages.append
    )
    assert messages, "progress was never reported"
    return target


@pytest.fixture
def nltk_path(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set nltk's search path for this test only."""
    import nltk.data

    def set_path(*dirs: Path) -> None:
        monkeypatch.setattr(nltk.data, "path", [str(d) for d in dirs])

    return set_path


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()


def make_perluniprops(root: Path) -> Path:
    out = root / "misc" / "perluniprops"
    out.mkdir(parents=True)
    for name in ("Number", "Punctuation", "Symbol"):
        (out / f"{name}.txt").write_text("1\n")
    for path in (root, root / "misc", out):
        path.chmod(0o755)
    return out


def details(item: str) -> nltk_data.MissingResource:
    assert isinstance(item, nltk_data.MissingResource)
    return item


def fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# --- lookups ---------------------------------------------------------------------------------


def test_resources_use_nltk_lookup_paths() -> None:
    assert dict(nltk_data.RESOURCES) == {
        "punkt_tab": "tokenizers/punkt_tab/english/",
        "perluniprops": "misc/perluniprops",
        "wordnet": "corpora/wordnet",
    }


def test_one_table_says_which_metric_needs_which_package() -> None:
    from evalcli import nlp
    from evalcli.evaluators import nlp as nlp_evaluators

    # The evaluators (and so the check before a run) read the metrics' own table, not a copy.
    assert nlp_evaluators.NLTK_NEEDS is nlp.NLTK_NEEDS
    assert list(nlp.NLTK_NEEDS) == list(nlp.METRICS)
    for metric, packages in nlp.NLTK_NEEDS.items():
        resources = nlp.required_nltk_resources(metric)
        assert {nlp.nltk_package(r) for r in resources} == set(packages), metric
    # The check knows how to find every package a metric needs, and nothing else.
    assert {p for ps in nlp.NLTK_NEEDS.values() for p in ps} == set(nltk_data.RESOURCES)


def test_run_time_check_loads_neither_nltk_nor_provisioning_until_it_looks() -> None:
    # validate/run import the check on every run: it must stay light.
    script = (
        "import sys\n"
        "from evalcli import nltk_data\n"
        "print('nltk' in sys.modules)\n"
        "nltk_data.hint(nltk_data.missing())\n"
        "print('evalcli.nltk_data.provision' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.split() == ["False", "False"]


def test_default_target_is_searched_by_nltk_without_env_var() -> None:
    import nltk.data

    target = nltk_data.default_target()
    assert target.is_relative_to(sys.prefix)
    assert str(target) in nltk.data.path


def test_missing_lists_everything_in_an_empty_dir(
    tmp_path: Path, nltk_path: Callable[..., None]
) -> None:
    nltk_path(tmp_path)
    missing = nltk_data.missing()
    assert missing == ["punkt_tab", "perluniprops", "wordnet"]
    assert all(isinstance(m, nltk_data.MissingResource) for m in missing)
    assert "not found" in details(missing[0]).problem
    text = nltk_data.hint(missing)
    assert "evalcli nltk-data build" in text
    assert "evalcli nltk-data download" in text


def test_missing_reports_a_world_writable_data_dir(
    tmp_path: Path, nltk_path: Callable[..., None]
) -> None:
    root = tmp_path / "shared"
    make_perluniprops(root)
    nltk_path(root)
    assert nltk_data.missing(["perluniprops"]) == []

    root.chmod(0o777)  # nltk >= 3.10 refuses a data root other accounts can write to
    missing = nltk_data.missing(["perluniprops"])
    assert missing == ["perluniprops"]
    assert details(missing[0]).refused == (str(root),)
    assert "refused" in details(missing[0]).problem
    assert f"chmod -R go-w {root}" in nltk_data.hint(missing)


def test_missing_reports_a_group_writable_resource_file(
    tmp_path: Path, nltk_path: Callable[..., None]
) -> None:
    out = make_perluniprops(tmp_path / "data")
    (out / "Number.txt").chmod(0o664)
    nltk_path(tmp_path / "data")
    [missing] = nltk_data.missing(["perluniprops"])
    assert details(missing).refused == (str(out / "Number.txt"),)


def test_wordnet_without_lexnames_is_missing(
    tmp_path: Path, nltk_path: Callable[..., None]
) -> None:
    wordnet = tmp_path / "corpora" / "wordnet"
    wordnet.mkdir(parents=True)
    for name in ("data.noun", "index.noun", "index.sense"):
        (wordnet / name).write_text("")
    nltk_path(tmp_path)
    [missing] = nltk_data.missing(["wordnet"])
    assert "lexnames" in details(missing).problem


def test_unknown_resource_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="punkt_tab"):
        nltk_data.missing(["punkt"])


# --- build and download failures (no network) ------------------------------------------------


def test_build_without_wordnet_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(nltk_data.NltkDataError) as info:
        provision.build_offline(tmp_path / "out", wordnet_dir=tmp_path / "nowhere")
    assert info.value.exit_code == ExitCode.USAGE
    assert "apt-get install wordnet-base wordnet-sense-index" in (info.value.hint or "")
    assert list(tmp_path.iterdir()) == []  # nothing half-built left behind


def test_build_refuses_a_wheel_with_other_data(tmp_path: Path) -> None:
    wordnet = tmp_path / "wordnet"
    wordnet.mkdir()
    for name in check.WORDNET_DEBIAN_FILES:
        (wordnet / name).write_text("")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(
        wheels / "llama_index_core-0.0.1-py3-none-any.whl",
        {provision._PUNKT_MEMBER: b"not NLTK's punkt_tab.zip"},
    )
    fake_wheel(
        wheels / "sacremoses-0.0.1-py3-none-any.whl",
        {provision._PERLUNIPROPS_MEMBER: b"PERLUNIPROPS = {}\n"},
    )
    out = tmp_path / "out"
    with pytest.raises(nltk_data.NltkDataError, match="sha256 mismatch"):
        provision.build_offline(out, wordnet_dir=wordnet, wheel_dir=wheels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wheels", "wordnet"]


def test_perluniprops_tables_are_read_without_running_the_module() -> None:
    source = b'PERLUNIPROPS = {"Number": "1\\n2"}\nraise SystemExit("executed")\n'
    assert provision._perluniprops_tables(source) == {"Number": "1\n2"}
    with pytest.raises(nltk_data.NltkDataError):
        provision._perluniprops_tables(b"PERLUNIPROPS = make_tables()\n")


def test_download_failure_points_to_the_offline_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk

    def offline(*_args: object, **_kwargs: object) -> bool:
        raise ValueError("Error loading punkt_tab: <urlopen error no route>")

    monkeypatch.setattr(nltk, "download", offline)
    with pytest.raises(nltk_data.NltkDataError, match="punkt_tab") as info:
        provision.download_online(tmp_path / "data")
    assert "evalcli nltk-data build" in (info.value.hint or "")
    monkeypatch.setattr(nltk, "download", lambda *_a, **_k: False)
    with pytest.raises(nltk_data.NltkDataError, match="reported a failure"):
        provision.download_online(tmp_path / "data")


# --- the real build -------------------------------------------------------------------------


@pytest.mark.slow
def test_build_layout_and_modes(built: Path) -> None:
    for path in [built, *built.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), path
    assert (built / "corpora" / "other" / "keep.txt").read_text() == "mine\n"
    assert not (built / "corpora" / "wordnet" / "stale").exists()
    lexnames = (built / "corpora" / "wordnet" / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45
    assert lexnames[0] == "00\tadj.all\t3"
    assert lexnames[-1] == "44\tadj.ppl\t3"
    assert (built / "tokenizers" / "punkt_tab.zip").is_file()
    assert [p.name for p in built.parent.iterdir()] == ["nltk_data"]  # no staging leftovers


@pytest.mark.slow
def test_missing_is_empty_with_built_data(built: Path, nltk_path: Callable[..., None]) -> None:
    nltk_path(built)
    assert nltk_data.missing() == []
    assert all(s.ok and s.location for s in nltk_data.status())


@pytest.mark.slow
def test_built_data_gives_reference_scores(built: Path, tmp_path: Path) -> None:
    env = {**os.environ, "NLTK_DATA": str(built), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCORE_SCRIPT],
        input=json.dumps([[h, r] for h, r, _, _ in REFERENCE]),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["word_tokenize"] == ["Mr.", "Smith", "is", "n't", "here", ".", "He", "left", "!"]
    assert result["nist"] == ["caf", "é", "&", "th", "é"]  # NIST splits accents; entity unescaped
    assert result["scores"] == [[meteor, bleu] for _, _, meteor, bleu in REFERENCE]


# --- CLI -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_status_ok(built: Path, nltk_path: Callable[..., None], runner: CliRunner) -> None:
    nltk_path(built)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("found") == 3


def test_cli_status_missing(
    tmp_path: Path, nltk_path: Callable[..., None], runner: CliRunner
) -> None:
    nltk_path(tmp_path)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "error: NLTK data missing: punkt_tab, perluniprops, wordnet" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.output


def test_cli_build_error_is_one_message(tmp_path: Path, runner: CliRunner) -> None:
    args = ["build", "--target", str(tmp_path / "out"), "--wordnet-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: WordNet 3.0 files missing from")
    assert "apt-get install wordnet-base wordnet-sense-index" in lines[1]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_check_does_not_import_nltk() -> None:
    # `validate` and the check before a run: importing nltk costs 0.3 s to over a second.
    script = (
        "import sys\n"
        "from evalcli import nltk_data\n"
        "assert nltk_data.missing() == [], nltk_data.missing()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nltk'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

"""evalcli's Punkt splits sentences exactly like nltk's, and the tokenizers never import nltk.

``evalcli.nlp._punkt`` repeats ``PunktTokenizer("english").tokenize`` and the tokenizers
read ``punkt_tab`` and ``perluniprops`` without nltk (``evalcli.nlp._nltk_files``). Here:

* the splitter equals nltk's on a randomized corpus built from the model's own
  abbreviations, collocations, sentence starters and orthographic entries, plus initials,
  ordinals, ellipses, closing quotes and brackets, odd whitespace and long texts, and on
  every ASCII text of ``sample_data/`` and ``reference_values.json``;
* the model files parse as nltk parses them, also with CRLF line ends, a BOM or blank lines;
* the data loads from a directory and from the downloader's ``punkt_tab.zip``, in a fresh
  process that never imports nltk, and a missing resource raises ``LookupError``, with and
  without nltk imported.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalcli.nlp import _punkt, _tokenize
from evalcli.nlp._nltk_files import read_resource_files
from evalcli.nltk_data import provision
from tests.conftest import json_strings
from tests.test_nltk_data_layouts import ONLY_NLTK_DATA, PLACE, SOURCE, python, zip_resource

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module")
def nltk_punkt() -> Any:
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


@pytest.fixture(scope="module")
def params() -> _punkt.PunktParams:
    return _punkt.PunktParams(read_resource_files("punkt_tab", _punkt.MODEL_FILES))


# --- the corpus ------------------------------------------------------------------------------

_NUMBERS = ["3", "12", "1,000", "-5", ".5", "3.14", "12-3", "2nd", "1990s", "0", "42"]
_KNOWN_ABBREVIATIONS = [
    "No.", "no.", "Nos.", "vs.", "St.", "Dr.", "Mr.", "Mrs.", "U.S.", "e.g.", "i.e.", "etc.",
    "a.m.", "p.m.", "ex-gov.", "Inc.", "Co.", "Jan.",
]  # fmt: skip
_OPENERS = ['"', "'", "(", "[", "{", "``", "`"]
_CLOSERS = ['"', "'", ")", "]", "}", "''", '")', "'\"", ">"]
_ENDS = [".", "?", "!", "!!!", "?!", "...", "..", ". . .", ".?", "!."]
# Separators, with the ASCII characters str.isspace() takes for whitespace and nltk's
# patterns do not (\x1c-\x1f), and CR, VT and FF, which both do.
_SEPARATORS = [" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", "\r\n", " \n ", "\x0b", "\x0c",
               "\x1c", "\x1f", "", "\n \n"]  # fmt: skip
_PLAIN = ["the", "a", "went", "home", "he", "She", "It", "dog", "Paris", "said", "and", "I",
          "x", "Y", "--", "-", ",", ";", ":", "*", "@", "&", "#", "%"]  # fmt: skip


def _corpus(params: _punkt.PunktParams, seed: int, count: int, size: int) -> Iterator[str]:
    """``count`` texts of up to ``size`` pieces each, drawn from the model's own entries."""
    rng = random.Random(seed)
    abbreviations = sorted(params.abbrev_types)
    starters = sorted(params.sent_starters)
    collocations = sorted(c for c in params.collocations if len(c) == 2)
    known_words = sorted(w for w in params.ortho_context if w.isalpha())

    def cased(word: str) -> str:
        draw = rng.random()
        return word if draw < 0.45 else word.capitalize() if draw < 0.85 else word.upper()

    def collocation() -> str:
        first, second = rng.choice(collocations)
        first = rng.choice(_NUMBERS) if first == "##number##" else first
        second = rng.choice(_NUMBERS) if second == "##number##" else second
        return f"{cased(first)}.{rng.choice([' ', '  ', chr(10)])}{cased(second)}"

    def piece() -> str:
        draw = rng.random()
        if draw < 0.26:
            return f"{cased(rng.choice(abbreviations))}."
        if draw < 0.34:
            return collocation()
        if draw < 0.42:
            return cased(rng.choice(starters))
        if draw < 0.55:
            return cased(rng.choice(known_words))
        if draw < 0.62:
            return rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz_") + "."  # initials
        if draw < 0.68:
            return rng.choice(_NUMBERS) + rng.choice([".", "", ".", ","])  # ordinals
        if draw < 0.72:
            return rng.choice(_KNOWN_ABBREVIATIONS)
        if draw < 0.80:
            return rng.choice(_ENDS) + rng.choice(["", "", rng.choice(_CLOSERS)])
        if draw < 0.86:
            return rng.choice(_OPENERS) + cased(rng.choice(_PLAIN + known_words))
        if draw < 0.90:
            return rng.choice(_CLOSERS)
        return cased(rng.choice(_PLAIN))

    for _ in range(count):
        draw = rng.random()
        if draw < 0.15:
            yield "".join(rng.choice("aB. .?!\"')(]-\n\t,:;x1_") for _ in range(rng.randint(0, 30)))
        elif draw < 0.2:
            yield "".join(chr(rng.randint(0, 127)) for _ in range(rng.randint(0, 40)))
        else:
            pieces = [piece() + rng.choice(_SEPARATORS) for _ in range(rng.randint(1, size))]
            yield "".join(pieces) + rng.choice(["", "", " ", "\n", ".", '."'])


def _data_texts() -> list[str]:
    """Every ASCII string of the sample data and of the stored reference cases."""
    texts = []
    for path in sorted((REPO / "sample_data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts += json_strings(json.loads(line))
    spec = importlib.util.spec_from_file_location("_punkt_gen", HERE / "gen_reference_values.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    reference = json.loads((HERE / "reference_values.json").read_text(encoding="utf-8"))
    for case in reference["cases"]:
        texts += gen.case_texts(case)
    return [text for text in texts if text.isascii()]


HANDWRITTEN = [
    "Mr. Smith went. He left!",
    "J. R. R. Tolkien wrote it. Then he left.",
    "She came 3rd. in the 3. place, No. 5 on the list. It was 1,000. And more.",
    'He left." Then she came.',
    "(He left.) Then she came. [Really?] Yes!",
    "Wait... What? No!!! Yes?! Fine.",
    "A sentence.  Two spaces.\n\nA paragraph.\tA tab.",
    "e.g. this. i.e. that. etc. Then U.S. troops came. The U.S. Army won.",
    "It ends with an abbreviation, Inc.",
    "lower case after a period. so no break? maybe. Maybe.",
    "",
    "   ",
    "...",
    ". . . and then.",
]


def _mismatches(nltk_punkt: Any, params: _punkt.PunktParams, texts: list[str]) -> list[Any]:
    """Texts on which Punkt here, or the tokenizer's splitter, differs from nltk's Punkt."""
    # The tokenizer's splitter skips Punkt for a text without a candidate boundary.
    splitters = (_punkt.SentenceSplitter(params), _tokenize._load_sentence_splitter())
    mismatches = []
    for text in texts:
        expected = nltk_punkt.tokenize(text)
        got = [split(text) for split in splitters]
        if got != [expected, expected]:
            mismatches.append((text, expected, got))
    return mismatches


def test_splitter_equals_nltk_on_a_randomized_corpus(
    params: _punkt.PunktParams, nltk_punkt: Any
) -> None:
    texts = [
        *HANDWRITTEN,
        *_corpus(params, seed=11, count=20_000, size=8),
        *_corpus(params, seed=12, count=10, size=2_000),  # long texts
    ]
    mismatches = _mismatches(nltk_punkt, params, texts)
    assert not mismatches, mismatches[:3]


def test_splitter_equals_nltk_on_the_data_texts(
    params: _punkt.PunktParams, nltk_punkt: Any
) -> None:
    texts = _data_texts()
    assert len(texts) > 1000
    mismatches = _mismatches(nltk_punkt, params, texts)
    assert not mismatches, mismatches[:3]


def test_the_corpus_reaches_every_rule(params: _punkt.PunktParams, nltk_punkt: Any) -> None:
    # nltk names the rule behind each second-pass decision; the corpus must reach them all.
    from nltk.tokenize.punkt import PunktTokenizer

    reasons: set[str | None] = set()
    probe = PunktTokenizer("english")
    decide = probe._second_pass_annotation

    def recording(token: Any, next_token: Any) -> Any:
        reason = decide(token, next_token)
        reasons.add(reason)
        return reason

    probe._second_pass_annotation = recording
    for text in _corpus(params, seed=11, count=2_000, size=10):
        probe.tokenize(text)
    assert reasons >= {
        "known collocation (both words)",
        "abbreviation + orthographic heuristic",
        "abbreviation + frequent sentence starter",
        "initial + orthographic heuristic",
        "initial + special orthographic heuristic",
    }


def _outcome(load: Any) -> Any:
    try:
        return load()
    except ValueError as exc:  # a malformed line: nltk's tab parsing raises ValueError
        return type(exc)


@pytest.mark.parametrize(
    "content",
    [
        b"a\tb\nc\td",
        b"a\tb\r\nc\td\r\n",
        b"\xef\xbb\xbfa\tb\n\nc\td\n",
        b"a\tb\x0cc\td\x1ce\tf\n",
        b"a\tb\tc\nd\n",
        b"",
    ],
)
def test_model_files_parse_as_nltk_parses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    import nltk.data
    from nltk.tokenize.punkt import load_punkt_params

    files = dict.fromkeys(_punkt.MODEL_FILES, content)
    # Numbers where nltk's ortho_context parser expects them.
    files["ortho_context.tab"] = content.replace(b"b", b"2").replace(b"d", b"4").replace(b"f", b"6")
    model = tmp_path / "model"
    model.mkdir()
    for name, data in files.items():
        (model / name).write_bytes(data)
        (model / name).chmod(0o644)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])  # nltk reads only its data roots

    def theirs() -> Any:
        params = load_punkt_params(nltk.data.FileSystemPathPointer(str(model)))
        return (params.collocations, params.sent_starters, params.abbrev_types,
                dict(params.ortho_context))  # fmt: skip

    def ours() -> Any:
        params = _punkt.PunktParams(files)
        return (params.collocations, params.sent_starters, params.abbrev_types,
                params.ortho_context)  # fmt: skip

    assert _outcome(ours) == _outcome(theirs)


# --- loading without nltk -------------------------------------------------------------------

# In a fresh process, for each list of data roots in argv[1]: search only those and load
# each tokenizer anew (they load once per process otherwise).
LOAD = """
import json, os, sys
from evalcli.nltk_data import _search
from evalcli.nlp import _tokenize
results = []
for roots in json.loads(sys.argv[1]):
    if "nltk" in sys.modules:
        nltk.data.path[:] = roots
    else:
        _search.default_paths = lambda roots=roots: list(roots)
    _tokenize._sentence_splitter = _tokenize._nist_tokenize = None
    result = {}
    for name, load, texts in [("punkt_tab", _tokenize._load_sentence_splitter, SENTENCES),
                              ("perluniprops", _tokenize._load_nist_tokenizer, NIST)]:
        try:
            split = load()
            result[name] = [split(text) for text in texts]
        except (LookupError, PermissionError, ValueError) as exc:
            result[name] = f"{type(exc).__name__}: {exc}"
    results.append(result)
print(json.dumps({"results": results, "nltk imported": "nltk" in sys.modules}))
"""
SENTENCES = ["Mr. Smith went. He left!", 'J. R. R. Tolkien left." Then (he came.) No. 5 won.']
NIST = ["caf\u00e9 \u20ac5 &amp; 1,5\u2026 &#124;&lt;"]


def _load(cases: list[list[Path]], *, nltk_first: bool) -> list[dict[str, Any]]:
    """What the tokenizers load from each list of data roots, in one fresh process."""
    script = LOAD.replace("SENTENCES", repr(SENTENCES)).replace("NIST", repr(NIST))
    roots = list(dict.fromkeys(root for case in cases for root in case))
    argv = json.dumps([[str(root) for root in case] for case in cases])
    proc = python(
        (ONLY_NLTK_DATA if nltk_first else "") + script, roots, argv, only_nltk_data=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    output = json.loads(proc.stdout)
    assert output["nltk imported"] is nltk_first
    results: list[dict[str, Any]] = output["results"]
    return results


def _layout(root: Path, *, zipped: bool, omit: tuple[str, ...] = ()) -> Path:
    """A data root with the English Punkt model and perluniprops, unpacked or zipped."""
    for name in ("punkt_tab", "perluniprops"):
        place = root / PLACE[name]
        place.mkdir(parents=True, exist_ok=True)
        if zipped:
            zip_resource(name, place / f"{name}.zip", omit=omit)
        else:
            top = Path(name, "english") if name == "punkt_tab" else Path(name)
            shutil.copytree(SOURCE / PLACE[name] / top, place / top)
            for missing in omit:
                (place / top / missing).unlink(missing_ok=True)
    provision._set_modes(root)  # nltk refuses group- or world-writable data
    return root


@pytest.mark.parametrize("nltk_first", [False, True], ids=["without nltk", "nltk imported"])
def test_tokenizers_load_from_each_layout_or_raise_lookup_error(
    tmp_path: Path, nltk_punkt: Any, nltk_first: bool
) -> None:
    from nltk.tokenize.nist import NISTTokenizer

    nist = NISTTokenizer()
    expected = {
        "punkt_tab": [nltk_punkt.tokenize(text) for text in SENTENCES],
        "perluniprops": [nist.international_tokenize(text) for text in NIST],
    }
    unpacked = _layout(tmp_path / "unpacked", zipped=False)
    zipped = _layout(tmp_path / "zipped", zipped=True)
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    incomplete = _layout(tmp_path / "incomplete", zipped=True, omit=("ortho_context.tab",))
    found, found_zipped, missing, partial = _load(
        [[unpacked], [empty, zipped], [empty], [incomplete]], nltk_first=nltk_first
    )
    assert found == expected
    assert found_zipped == expected
    assert missing["punkt_tab"].startswith("LookupError: "), missing
    assert "punkt_tab" in missing["punkt_tab"]
    assert missing["perluniprops"].startswith("LookupError: "), missing
    assert partial["punkt_tab"].startswith("LookupError: "), partial
    assert "ortho_context.tab" in partial["punkt_tab"]
    assert partial["perluniprops"] == expected["perluniprops"]


def _link_out(root: Path, relative: str, target_dir: Path) -> None:
    """Replace ``root/relative`` by a link to a copy of it in ``target_dir``."""
    path = root / relative
    target_dir.mkdir(mode=0o755, exist_ok=True)
    shutil.copyfile(path, target_dir / path.name)
    (target_dir / path.name).chmod(0o644)
    path.unlink()
    path.symlink_to(target_dir / path.name)


@pytest.mark.parametrize("nltk_first", [False, True], ids=["without nltk", "nltk imported"])
def test_linked_files_are_refused_as_nltk_refuses_them(tmp_path: Path, nltk_first: bool) -> None:
    model = "tokenizers/punkt_tab/english/ortho_context.tab"
    table = "misc/perluniprops/Number.txt"
    # Links out of every data root.
    outside = _layout(tmp_path / "outside", zipped=False)
    _link_out(outside, model, tmp_path / "elsewhere")
    _link_out(outside, table, tmp_path / "elsewhere")
    # Links to another place in the same data root.
    inside = _layout(tmp_path / "inside", zipped=False)
    _link_out(inside, model, inside / "kept")
    _link_out(inside, table, inside / "kept")
    # A second (hard) link to the model file.
    hard = _layout(tmp_path / "hard", zipped=False)
    (tmp_path / "ortho_context.tab").hardlink_to(hard / model)
    provision._set_modes(inside)
    results = _load([[outside], [inside], [hard]], nltk_first=nltk_first)
    # nltk's open follows no link and reads no file with two names; its corpus reader
    # first refuses a table whose link leads out of the corpus directory.
    for result in results[:2]:
        assert result["punkt_tab"].startswith("PermissionError: "), result
        assert result["perluniprops"].startswith("ValueError: "), result
        assert "escapes root" in result["perluniprops"]
    assert results[2]["punkt_tab"].startswith("PermissionError: "), results[2]
    assert isinstance(results[2]["perluniprops"], list)


def test_tokenize_never_imports_nltk() -> None:
    script = textwrap.dedent(
        """
        import sys
        import evalcli.nlp as n
        assert n.tokenize('Mr. Smith went. He left!') == [
            'Mr.', 'Smith', 'went', '.', 'He', 'left', '!']
        assert n.tokenize('caf\u00e9 \u20ac5') == ['caf', '\u00e9', '\u20ac', '5']
        assert 'nltk' not in sys.modules, sorted(m for m in sys.modules if 'nltk' in m)
        assert 'regex' not in sys.modules
        """
    )
    proc = python(script, [SOURCE], only_nltk_data=False)
    assert proc.returncode == 0, proc.stderr


def test_perluniprops_tables_read_as_nltks_corpus_reader_reads_them() -> None:
    from nltk.corpus import perluniprops

    files = read_resource_files("perluniprops", ["Number.txt", "Punctuation.txt", "Symbol.txt"])
    for name in ("Number", "Punctuation", "Symbol"):
        ours = files[f"{name}.txt"].decode("utf-8-sig").strip()
        assert list(ours) == perluniprops.chars(name)


def test_xml_unescape_equals_nltks() -> None:
    from nltk.tokenize.util import xml_unescape

    # Entities, their parts and nestings such as "&amp;lt;", whose result depends on order.
    pieces = ["&", "amp;", "lt;", "gt;", "apos;", "quot;", "#124;", "#91;", "#93;", "#", ";",
              "x", "&amp;", "&lt;", "&quot;", "\u00e9"]  # fmt: skip
    rng = random.Random(5)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    assert [_tokenize._xml_unescape(t) for t in texts] == [xml_unescape(t) for t in texts]

"""The sacrebleu evaluators (``chrf``, ``ter``, ``sacrebleu``) in real runs.

A run's sentence scores must equal sacrebleu's ``sentence_*`` functions and its corpus
metrics (``<alias>.corpus_<name>``) sacrebleu's ``corpus_score`` on the same texts - in
process and through the worker pool, where every row's statistics travel back from a worker.
Gates work on corpus metrics, the signature is recorded, a list of references is accepted by
these evaluators and stays a row error for the NLTK BLEU, and ``compare`` bootstraps corpus
scores from the rows' stored statistics.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER

from evalcli.compare import compare_runs
from evalcli.compare.engine import CompareOptions
from evalcli.evaluators.translation import sacrebleu_fields
from evalcli.evaluators.turns import aggregate_turns
from tests.conftest import MakeConfig, RunMode

# (response, references): non-ASCII, empty responses, one to three references per row.
PAIRS: list[tuple[str, str | list[str]]] = [
    ("The cat sat on the mat.", ["The cat is on the mat.", "A cat sat on a mat."]),
    ("", "Nothing was said."),
    ("Crème brûlée est délicieux, n'est-ce pas ?", "La crème brûlée est délicieuse."),
    ("東京は日本の首都です。", ["日本の首都は東京です。", "東京は首都です"]),
    ("Привет, мир! Hello world.", ["Привет мир", "Hello, world!", "Hi world"]),
    ("It costs $3.88 (roughly 3 euros).", "It costs $3.88."),
    ("Completely unrelated words", "The quick brown fox jumps over the lazy dog."),
    ("", ["", "Blank"]),
]

CONFIG = """
    dataset: {path: data.jsonl}
    columns: {response: ${data.answer}, ground_truth: ${data.truth}}
    evaluators:
      chrf: {params: {word_order: 2}}
      ter: {}
      bleu4: {use: sacrebleu, params: {tokenize: intl}}
    output: {dir: out}
"""


def _rows(pairs: list[tuple[str, str | list[str]]]) -> list[dict[str, Any]]:
    return [{"id": i, "answer": a, "truth": t} for i, (a, t) in enumerate(pairs)]


def _refs(truth: str | list[str]) -> list[str]:
    return [truth] if isinstance(truth, str) else truth


def _streams(rows: list[dict[str, Any]]) -> list[list[str | None]]:
    """Reference streams as sacrebleu takes them; rows with fewer references get None."""
    refs = [_refs(r["truth"]) for r in rows]
    width = max(len(r) for r in refs)
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


def test_run_scores_equal_sacrebleu(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    rows = run_mode.rows(_rows(PAIRS), _rows(PAIRS))
    cfg = make_config(CONFIG, rows)
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    data = run_mode.results(tmp_path / "out")
    hyps = [r["answer"] for r in rows]
    classes = {
        "chrf": CHRF(word_order=2),
        "ter": TER(),
        "bleu4": BLEU(tokenize="intl"),
    }
    for alias, key in (("chrf", "chrf"), ("ter", "ter"), ("bleu4", "sacrebleu")):
        expected = classes[alias].corpus_score(hyps, _streams(rows))
        assert data["metrics"][f"{alias}.corpus_{key}"] == expected.score, alias
        corpus = data["metric_info"][f"{alias}.corpus_{key}"]
        assert corpus["kind"] == "corpus"
        assert corpus["corpus"]["signature"] == classes[alias].get_signature().format()
    # Sentence scores per row, and their mean as the ordinary metric.
    for row, out in zip(rows, data["rows"], strict=True):
        refs = _refs(row["truth"])
        hyp = row["answer"]
        assert out["outputs.chrf.chrf"] == CHRF(word_order=2).sentence_score(hyp, refs).score
        assert out["outputs.ter.ter"] == sacrebleu.sentence_ter(hyp, refs).score
        bleu = sacrebleu.sentence_bleu(hyp, refs, tokenize="intl").score
        assert out["outputs.bleu4.sacrebleu"] == bleu
        assert out["outputs.bleu4.sacrebleu_refs"] == len(refs)
        assert isinstance(out["outputs.chrf.chrf_stats"], list)
    scores = [r["outputs.ter.ter"] for r in data["rows"]]
    assert data["metrics"]["ter.ter"] == pytest.approx(sum(scores) / len(scores))
    # TER is an edit rate: lower is better, for the mean and the corpus score alike.
    assert data["metric_info"]["ter.corpus_ter"]["direction"] == "lower"
    assert data["metric_info"]["ter.ter"]["direction"] == "lower"


def test_list_of_references_is_a_row_error_for_nltk_bleu_only(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    good = [{"answer": "the cat sat", "truth": "the cat sat down"}]
    listed = [{"answer": "the cat sat", "truth": ["the cat sat down", "a cat sat"]}]
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {bleu: {}, chrf: {}}
        run: {max_error_rate: 1.0}
        output: {dir: out}
        """,
        run_mode.rows(listed, good),
    )
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    row = run_mode.results(tmp_path / "out")["rows"][0]
    assert row["outputs.bleu.error_kind"] == "bad-input"
    assert "must be text, got list" in row["outputs.bleu.error"]
    assert "outputs.chrf.error" not in row
    expected = CHRF().sentence_score("the cat sat", ["the cat sat down", "a cat sat"]).score
    assert row["outputs.chrf.chrf"] == expected
    assert row["outputs.chrf.chrf_refs"] == 2


@pytest.mark.parametrize(
    ("truth", "message"),
    [
        ([], "got an empty list"),
        (["fine", 3], "got a list holding non-text values"),
        (None, "got null"),
        ({"text": "x"}, "got dict"),
    ],
)
def test_bad_references_are_row_errors(
    truth: Any, message: str, make_config: MakeConfig, cli: Any, tmp_path: Path
) -> None:
    from evalcli.cli import app

    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {chrf: {}, ter: {}}
        run: {max_error_rate: 1.0}
        output: {dir: out}
        """,
        [{"answer": "a", "truth": truth}, {"answer": "a b", "truth": "a b"}],
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    row = data["rows"][0]
    for alias in ("chrf", "ter"):
        assert row[f"outputs.{alias}.error_kind"] == "bad-input"
        assert message in row[f"outputs.{alias}.error"]
    # The corpus score covers the scored row only, never the failed one.
    assert data["metrics"]["chrf.corpus_chrf"] == CHRF().corpus_score(["a b"], [["a b"]]).score


@pytest.mark.parametrize(
    ("gate", "code"),
    [("{metric: chrf.corpus_chrf, min: 10}", 0), ("{metric: ter.corpus_ter, max: 1}", 1)],
)
def test_gates_on_corpus_metrics(
    gate: str, code: int, make_config: MakeConfig, cli: Any, tmp_path: Path
) -> None:
    from evalcli.cli import app

    cfg = make_config(CONFIG + f"    gates: [{gate}]\n", _rows(PAIRS))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == code, res.stderr
    gates = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))["gates"]
    assert gates[0]["passed"] is (code == 0)
    assert isinstance(gates[0]["value"], float)


def test_console_shows_the_corpus_score_as_a_score(make_config: MakeConfig, cli: Any) -> None:
    from evalcli.cli import app

    cfg = make_config(CONFIG, _rows(PAIRS))
    res = cli.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if "corpus_chrf" in x)
    expected = CHRF(word_order=2).corpus_score([a for a, _ in PAIRS], _streams(_rows(PAIRS)))
    assert f"{expected.score:.4g}" in line
    assert "%" not in line  # a score, not a rate


def test_gate_on_a_corpus_metric_that_does_not_exist(make_config: MakeConfig, cli: Any) -> None:
    from evalcli.cli import app

    cfg = make_config(CONFIG + "    gates: [{metric: chrf.corpus_chr, min: 10}]\n", _rows(PAIRS))
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "gate on unknown metric 'chrf.corpus_chr'" in res.stderr
    assert "chrf.corpus_chrf" in res.stderr  # did you mean


@pytest.mark.parametrize(
    ("spec", "line", "expected"),
    [
        ("chrf: {params: {word_order: -1}}", 4, "evaluators.chrf.params.word_order"),
        ("chrf: {params: {char_order: 2.5}}", 4, "params.char_order must be a whole number"),
        ("chrf: {params: {nc: 6}}", 4, "unknown key 'evaluators.chrf.params.nc'"),
        ("chrf: {threshold: 150}", 4, "between 0 and 100"),
        ("ter: {threshold: -1}", 4, "a number >= 0"),
        ("ter: {params: {normalized: yes please}}", 4, "must be true or false"),
        ("x: {use: sacrebleu, params: {tokenize: moses}}", 4, "must be one of '13a'"),
        ("x: {use: sacrebleu, params: {smooth_value: -1}}", 4, "greater than or equal to 0"),
    ],
)
def test_bad_settings_are_exit_2_with_a_location(
    spec: str, line: int, expected: str, make_config: MakeConfig, cli: Any
) -> None:
    from evalcli.cli import app

    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{response: ${{data.answer}}, ground_truth: ${{data.truth}}}}
        evaluators:
          {spec}
        """,
        _rows(PAIRS),
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.stdout
    assert expected in res.stderr
    assert f"eval.yaml:{line}:" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("MeCab") is not None, reason="sacrebleu[ja] is installed here"
)
def test_ja_mecab_without_its_packages_is_a_config_error(make_config: MakeConfig, cli: Any) -> None:
    from evalcli.cli import app

    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators:
          ja: {use: sacrebleu, params: {tokenize: ja-mecab}}
        """,
        _rows(PAIRS),
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "eval.yaml:4:" in res.stderr
    assert "evaluators.ja.params.tokenize: BLEU tokenize 'ja-mecab' is not available" in res.stderr
    assert "pip install 'sacrebleu[ja]'" in res.stderr


def test_conversation_turns_add_their_statistics() -> None:
    turns = [
        {"chrf": 40.0, "chrf_threshold": 50.0, "chrf_stats": [1, 2, 3], "chrf_refs": 1},
        {"chrf": 70.0, "chrf_threshold": 50.0, "chrf_stats": [10, 20, 30.5], "chrf_refs": 1},
    ]
    combined = aggregate_turns(sacrebleu_fields("chrf"), turns, "mean")
    assert combined["chrf_stats"] == [11, 22, 33.5]  # each turn is a segment of the corpus
    assert combined["chrf"] == 55.0
    assert combined["chrf_result"] == "pass"


def _run(make_config: MakeConfig, cli: Any, pairs: list[Any], name: str) -> Path:
    from evalcli.cli import app

    config = CONFIG.replace("dir: out", f"dir: {name}")
    cfg = make_config(config, _rows(pairs), data_name=f"{name}.jsonl", name=f"{name}.yaml")
    cfg.write_text(cfg.read_text("utf-8").replace("data.jsonl", f"{name}.jsonl"), "utf-8")
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    return cfg.parent / name / "results.json"


def test_compare_bootstraps_corpus_scores_from_row_statistics(
    make_config: MakeConfig, cli: Any
) -> None:
    good = [
        (f"the number {i} is small and round", f"the number {i} is small and round")
        for i in range(30)
    ]
    worse = [(f"a number {i} small", truth) for i, (_, truth) in enumerate(good)]
    base = _run(make_config, cli, good, "base")
    cand = _run(make_config, cli, worse, "cand")
    report = compare_runs(base, cand, CompareOptions(resamples=300))
    by_name = {m.metric: m for c in report.comparisons for m in c.metrics}
    chrf = by_name["chrf.corpus_chrf"]
    hyps = [h for h, _ in worse]
    refs = [[t for _, t in worse]]
    assert chrf.candidate == CHRF(word_order=2).corpus_score(hyps, refs).score
    assert chrf.baseline == 100.0
    assert chrf.ci_low is not None and chrf.ci_high is not None and chrf.ci_high < 0
    assert chrf.verdict == "worse" and chrf.regression
    ter = by_name["ter.corpus_ter"]
    assert ter.direction == "lower" and ter.diff is not None and ter.diff > 0
    assert ter.verdict == "worse"
    assert "chrf.corpus_chrf" in report.regressions
    # Recomputing every corpus metric from the stored rows gives what each run recorded.
    assert not [w for w in report.warnings if "recomputed" in w], report.warnings

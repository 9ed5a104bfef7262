"""Custom evaluators (code and prompt) and ``list-evaluators`` (plugins: test_plugins.py).

Code evaluators are real files and packages written into the test's directory; prompt
evaluators are judged by the loopback stub server (the real ``openai`` client runs).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import REPO, MakeConfig

KEY = "sk-test-custom-0123456789"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "prompts"
EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def run(cli: CliRunner, cfg: Path, *args: str) -> Any:
    return cli.invoke(app, ["run", str(cfg), "-q", *args])


def results(cfg: Path) -> dict[str, Any]:
    return json.loads((cfg.parent / "out" / "results.json").read_text())


def csv_rows(cfg: Path) -> list[dict[str, str]]:
    with (cfg.parent / "out" / "results.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def usage_error(cli: CliRunner, cfg: Path, *needles: str) -> str:
    """``validate`` rejects the config: exit 2, one message (plus a hint), naming the place."""
    res = cli.invoke(app, ["validate", str(cfg)])
    err = res.stderr
    assert res.exit_code == 2, (res.exit_code, res.stdout, err)
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 2, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


# -- code evaluators ------------------------------------------------------------------------

CHECKS_PY = """
    from typing import TypedDict


    def word_count(response, *, limit=100):
        return min(len(response.split()), limit)


    def has_question(query: str) -> bool:
        return query.rstrip().endswith("?")


    def count_kwargs(**inputs):
        return len(inputs)


    class Scores(TypedDict):
        chars: int
        upper: bool


    def typed(response: str) -> Scores:
        return {"chars": len(response), "upper": response.isupper()}
"""

ROWS = [
    {"q": "What is two plus two?", "a": "Four.", "truth": "4"},
    {"q": "Name a colour", "a": "Blue is a colour of the sky", "truth": "blue"},
    {"q": "Say hello?", "a": "HELLO", "truth": "hello"},
]


def test_code_functions_from_a_file(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    write(tmp_path / "evals" / "checks.py", CHECKS_PY)
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {query: ${data.q}, response: ${data.a}}
        evaluators:
          wc:
            use: code
            function: evals/checks.py:word_count
            params: {limit: 5}             # bound to the keyword parameter, not an input
            threshold: 3
            outputs: {wc: lower}           # fewer words is better: pass when <= 3
          has_q: {use: code, function: evals/checks.py:has_question}
          nkw:
            use: code
            function: evals/checks.py:count_kwargs
            columns: {response: ${data.a}, truth: ${data.truth}}
          typed: {use: code, function: evals/checks.py:typed}
        output: {dir: out}
        gates:
          - {metric: wc.pass_rate, min: 0.3}
          - {metric: has_q.has_q, min: 0.5}
        """,
        ROWS,
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(cfg)
    rows = data["rows"]
    assert [r["outputs.wc.wc"] for r in rows] == [1, 5, 1]  # 7 words capped by params.limit
    assert [r["outputs.wc.wc_result"] for r in rows] == ["pass", "fail", "pass"]
    assert rows[0]["outputs.wc.wc_threshold"] == 3.0
    assert [r["outputs.has_q.has_q"] for r in rows] == [True, False, True]
    assert [r["outputs.nkw.nkw"] for r in rows] == [2, 2, 2]  # **kwargs get the own columns
    assert rows[2]["outputs.typed.chars"] == 5 and rows[2]["outputs.typed.upper"] is True
    m = data["metrics"]
    assert m["wc.wc"] == pytest.approx(7 / 3)
    assert m["wc.pass_rate"] == pytest.approx(2 / 3)
    assert m["has_q.has_q"] == pytest.approx(2 / 3)  # a bool averages as 1/0
    assert m["typed.upper"] == pytest.approx(1 / 3)
    assert data["metric_info"]["wc.wc"]["direction"] == "lower"
    params = data["run"]["evaluators"]["wc"]["params"]
    assert params["function"] == "evals/checks.py:word_count" and params["params"] == {"limit": 5}
    table = csv_rows(cfg)
    assert table[1]["outputs.wc.wc_result"] == "fail"
    assert table[0]["outputs.has_q.has_q"] == "true"
    assert "outputs.typed.chars" in table[0]  # TypedDict keys are declared columns


MODULE_PY = '''
    """A module-path evaluator (package on sys.path)."""

    __version__ = "2.1.0"


    class Overlap:
        def __init__(self, lowercase=True, min_len=1):
            if min_len < 1:
                raise ValueError("min_len must be at least 1")
            self.lowercase = lowercase
            self.min_len = min_len

        def __call__(self, response, ground_truth="fallback truth"):
            norm = str.lower if self.lowercase else str
            a = {w for w in norm(response).split() if len(w) >= self.min_len}
            b = {w for w in norm(ground_truth).split() if len(w) >= self.min_len}
            shared = sorted(a & b)
            return {
                "overlap": len(shared) / max(len(b), 1),
                "n_shared": len(shared),
                "shared": shared,
                "note": "ok" if shared else None,
            }
'''


@pytest.fixture
def overlap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    write(tmp_path / "pkg_custom_demo" / "__init__.py", '"""Demo package."""\n')
    write(tmp_path / "pkg_custom_demo" / "scoring.py", MODULE_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in [m for m in sys.modules if m.startswith("pkg_custom_demo")]:
        del sys.modules[name]


def test_code_class_from_a_module_with_params_and_an_open_dict(
    cli: CliRunner, make_config: MakeConfig, overlap_module: None
) -> None:
    rows = [
        {"a": "The cat sat", "truth": "the cat"},
        {"a": "Dogs bark", "truth": "cats purr"},
        {"a": "a fallback answer"},  # ground_truth is optional: its default is used
    ]
    text = """
        dataset: {path: data.jsonl}
        columns: {response: ${data.a}, ground_truth: ${data.truth}}
        evaluators:
          ov:
            use: code
            function: pkg_custom_demo.scoring:Overlap
            params: {lowercase: true, min_len: 2}
            threshold: {overlap: 0.5}
        output: {dir: out}
        gates:
          - {metric: ov.n_shared, min: 0.5}     # a key known only at run time
    """
    cfg = make_config(text, rows)
    assert cli.invoke(app, ["validate", str(cfg)]).exit_code == 0
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(cfg)
    r = data["rows"]
    assert [x["outputs.ov.overlap"] for x in r] == [1.0, 0.0, 0.5]
    assert [x["outputs.ov.overlap_result"] for x in r] == ["pass", "fail", "pass"]
    assert r[0]["outputs.ov.shared"] == ["cat", "the"] and r[1]["outputs.ov.note"] is None
    m = data["metrics"]
    assert m["ov.overlap"] == pytest.approx(0.5)
    assert m["ov.overlap_pass_rate"] == pytest.approx(2 / 3)
    assert m["ov.n_shared"] == pytest.approx(1.0)  # learned when first seen
    assert "ov.shared" not in m and "ov.note" not in m  # lists and text are not averaged
    assert "ov.ov" not in m  # the scalar layout is declared, but no number ever came
    table = csv_rows(cfg)
    assert table[0]["outputs.ov.overlap"] == "1.0"  # declared through the threshold
    assert json.loads(table[0]["outputs.ov"]) == {
        "n_shared": 2,
        "shared": ["cat", "the"],
        "note": "ok",
    }

    # A gate on a key that never appeared cannot be judged: exit 3 naming the keys that did.
    cfg = make_config(text.replace("ov.n_shared", "ov.n_sharde"), rows)
    res = run(cli, cfg)
    assert res.exit_code == 3, res.stderr
    data = results(cfg)
    assert data["status"] == "run_error"
    assert "'ov.n_sharde'" in data["message"] and "ov.n_shared" in data["message"]


BAD_PY = """
    import math


    def check(case):
        if case == "good":
            return 0.5
        if case == "boom":
            raise KeyError("no such thing")
        if case == "exit":
            raise SystemExit(3)
        return {
            "none": None,
            "text": "high",
            "list": [1, 2],
            "nan": math.nan,
            "inf": math.inf,
            "int_keys": {1: 2},
            "set_value": {"a": {1, 2}},
            "nan_value": {"a": [math.nan]},
            "reserved": {"error": 1},
            "empty": {},
        }[case]


    def declared(case):
        return 1.0 if case == "scalar" else {"a": 1, "b": 2}
"""

BAD_CASES = {
    "good": None,
    "boom": ("evaluator-exception", "KeyError: 'no such thing'"),
    "exit": ("evaluator-exception", "SystemExit: 3"),
    "none": ("evaluator-bad-output", "returned None"),
    "text": ("evaluator-bad-output", "returned str"),
    "list": ("evaluator-bad-output", "returned list"),
    "nan": ("evaluator-bad-output", "nan; results must be finite"),
    "inf": ("evaluator-bad-output", "inf; results must be finite"),
    "int_keys": ("evaluator-bad-output", "the key 1; keys are text"),
    "set_value": ("evaluator-bad-output", "the value of 'a' is not JSON"),
    "nan_value": ("evaluator-bad-output", "the value of 'a' is not JSON"),
    "reserved": ("evaluator-bad-output", "'error', which evalcli writes itself"),
    "empty": ("evaluator-bad-output", "returned an empty dict"),
}


def test_code_bad_returns_and_exceptions_are_row_errors(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    write(tmp_path / "bad.py", BAD_PY)
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          chk: {use: code, function: bad.py:check, threshold: 0.4}
          strict:
            use: code
            function: bad.py:declared
            outputs: [a]
        run: {max_error_rate: 1.0}
        output: {dir: out}
        """,
        [{"case": c} for c in BAD_CASES] + [{"case": "scalar"}],
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(cfg)
    rows = data["rows"]
    for row, (case, expected) in zip(rows, BAD_CASES.items(), strict=False):
        if expected is None:
            assert row["outputs.chk.chk"] == 0.5 and row["outputs.chk.chk_result"] == "pass"
            continue
        kind, text = expected
        assert row["outputs.chk.error_kind"] == kind, (case, row)
        assert text in row["outputs.chk.error"], (case, row["outputs.chk.error"])
        assert "outputs.chk.chk" not in row  # an error never carries a score
    # every case but "good" fails, and so does the extra "scalar" row (no such case: KeyError)
    assert data["metrics"]["chk.error_count"] == len(BAD_CASES)
    assert data["metrics"]["chk.pass_rate"] == 1.0  # errors are not failures
    strict = [r["outputs.strict.error"] for r in rows if "outputs.strict.error" in r]
    assert "returned the undeclared key 'b' (declared outputs: a)" in strict[0]
    assert "returned a single float, but the declared outputs are a" in strict[-1]
    assert {e["evaluator"] for e in data["errors"]} == {"chk", "strict"}
    json.loads((cfg.parent / "out" / "results.json").read_text())  # still strict JSON


STUCK_PY = """
    import threading
    import time
    from pathlib import Path

    RELEASE = Path(__file__).with_name("release")


    def check(response):
        if response == "hang":
            # Stuck (a lock, a socket that never answers) until the test lets it go.
            deadline = time.monotonic() + 60
            while not RELEASE.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        return len(response)


    def forever(response):
        if response == "hang":
            threading.Event().wait()
        return len(response)
"""


@pytest.fixture
def release_stuck_calls(tmp_path: Path) -> Iterator[None]:
    """Lets an abandoned call of the test's code return once the test is over."""
    yield
    (tmp_path / "release").touch()


@pytest.mark.usefixtures("release_stuck_calls")
def test_code_timeout_is_a_row_error_and_the_run_goes_on(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    write(tmp_path / "stuck.py", STUCK_PY)
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          chk: {use: code, function: stuck.py:check, timeout_s: 0.5}
        run: {max_error_rate: 1.0}
        output: {dir: out}
        """,
        [{"response": r} for r in ("one", "hang", "three")],
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(cfg)
    rows = data["rows"]
    assert [r.get("outputs.chk.chk") for r in rows] == [3, None, 5]
    assert rows[1]["outputs.chk.error_kind"] == "code-timeout"
    assert rows[1]["outputs.chk.error"].startswith(
        "stuck.py:check did not return within timeout_s=0.5 s; the call was abandoned"
    )
    assert data["errors"][0]["kind"] == "code-timeout"
    assert data["metrics"]["chk.error_count"] == 1
    # The limit is how long to wait, not a scoring parameter: comparing runs ignores it.
    assert "timeout_s" not in data["run"]["evaluators"]["chk"]["params"]
    assert "warning: 1 call of your Python code" in res.stderr


def test_stuck_code_evaluator_does_not_keep_the_process_alive(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    # A separate process: the stuck thread can never end, so only exiting the process ends it.
    write(tmp_path / "stuck.py", STUCK_PY)
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          chk: {use: code, function: stuck.py:forever, timeout_s: 1}
        run: {max_error_rate: 0.5}
        output: {dir: out}
        """,
        [{"response": r} for r in ("one", "hang", "three")],
    )
    started = time.monotonic()
    proc = subprocess.run(
        [EVALCLI, "run", str(cfg), "-q"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr  # 1 error in 3 is within max_error_rate
    assert elapsed < 30, elapsed  # within seconds of the 1 s limit, not never
    data = results(cfg)
    assert data["status"] == "completed"
    assert [(e["line"], e["evaluator"], e["kind"]) for e in data["errors"]] == [
        (2, "chk", "code-timeout")
    ]
    assert [r.get("outputs.chk.chk") for r in data["rows"]] == [3, None, 5]
    assert "1 call of your Python code" in proc.stderr and "1 still running" in proc.stderr


def test_code_evaluator_over_conversations(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    write(tmp_path / "conv.py", "def length(response):\n    return len(response)\n")
    conversation = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},  # 6
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Bye"},  # 3
        ]
    }
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          length: {use: code, function: conv.py:length, threshold: 5}
        output: {dir: out}
        """,
        [{"conversation": conversation}, {"response": "four"}],
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    rows = results(cfg)["rows"]
    assert rows[0]["outputs.length.length"] == 4.5  # mean of the turns
    assert rows[0]["outputs.length.length_result"] == "fail"  # recomputed from the mean
    assert rows[0]["outputs.length.evaluation_per_turn"]["length"] == [6, 3]
    assert rows[1]["outputs.length.length"] == 4


# -- prompt evaluators ----------------------------------------------------------------------


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", srv.url)
        yield srv


JUDGE = """
judge:
  type: azure_openai
  endpoint: ${env:AZURE_OPENAI_ENDPOINT}
  deployment: gpt-4o
  api_key: ${env:AZURE_OPENAI_API_KEY}
  max_retries: 1
  timeout_s: 5
"""


def with_judge(text: str) -> str:
    """A config text with the stub judge section (both parts dedented on their own)."""
    return JUDGE.lstrip() + textwrap.dedent(text).lstrip()


LABEL_PROMPT = """
    ---
    name: apology
    version: 3
    description: Does the reply apologise?
    inputs:
      response: {type: string}
    model:
      parameters: {temperature: 0, max_tokens: 50}
    output:
      kind: label
      direction: higher
      details: [sincere]
    ---
    system:
    Answer {"label": true|false, "reason": "...", "details": {"sincere": true|false}}.
    user:
    {{ response }}
"""


def apology_judge(req: StubRequest) -> Reply | None:
    """Answers the apology rubric (a label with a ``sincere`` detail); None for the others."""
    text = json.dumps(req.body)
    if "sincere" not in text:
        return None
    label = "STUB_LABEL=true" in text
    answer = {"label": label, "reason": "stub apology judge", "details": {"sincere": label}}
    return Reply(content=json.dumps(answer))


def test_prompt_evaluators_prompty_both_shapes_and_evalcli_label(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    for name in ("friendliness.prompty", "friendliness_samples.prompty"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    write(tmp_path / "apology.prompty", LABEL_PROMPT)
    stub.add_responder(apology_judge)
    cfg = make_config(
        with_judge(
            """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}}
        evaluators:
          friendly:
            use: prompt
            prompt: friendliness.prompty          # inputs as {type: ...} mappings
            params: {min: 1, max: 5}
          warm:
            use: prompt
            prompt: friendliness_samples.prompty  # inputs given as sample values
            params: {min: 1, max: 5, direction: higher}
            threshold: 4
            columns: {tone_hint: ${data.tone}}
          sorry:
            use: prompt
            prompt: apology.prompty               # evalcli format: output block in the file
            columns: {response: ${data.verdict}}
        output: {dir: out}
        gates:
          - {metric: friendly.pass_rate, min: 0.5}
          - {metric: sorry.sorry_passing_rate, min: 0.5}
        """
        ),
        [
            {"answer": "Glad to help! STUB_SCORE=5", "tone": "warm", "verdict": "STUB_LABEL=true"},
            {"answer": "Whatever. STUB_SCORE=2", "tone": "warm", "verdict": "STUB_LABEL=false"},
            {"answer": "Fine. STUB_SCORE=3", "tone": "neutral", "verdict": "STUB_LABEL=true"},
        ],
    )
    res = run(cli, cfg, "--no-cache")
    assert res.exit_code == 0, res.stderr
    data = results(cfg)
    rows = data["rows"]
    assert [r["outputs.friendly.friendly"] for r in rows] == [5, 2, 3]
    assert [r["outputs.friendly.friendly_result"] for r in rows] == ["pass", "fail", "pass"]
    assert [r["outputs.warm.warm_result"] for r in rows] == ["pass", "fail", "fail"]
    assert [r["outputs.sorry.sorry_label"] for r in rows] == [True, False, True]
    assert rows[0]["outputs.sorry.sorry_details"] == {"sincere": True}
    assert rows[0]["outputs.sorry.sorry_prompt_tokens"] > 0
    assert data["metrics"]["sorry.sorry_passing_rate"] == pytest.approx(2 / 3)
    info = data["run"]["evaluators"]
    assert info["sorry"]["params"]["output"]["kind"] == "label"
    assert info["friendly"]["params"]["output"] == {
        "kind": "score",
        "min": 1,
        "max": 5,
        "direction": "higher",
    }
    assert info["friendly"]["params"]["threshold"] == 3.0  # middle of the 1-5 scale
    assert info["warm"]["prompt_sha256"] and info["warm"]["params"]["threshold"] == 4.0
    # The Prompty file's model parameters reach the judge (temperature 0.1 in the fixture).
    bodies = [r.body for r in stub.requests if "Rate how friendly" in json.dumps(r.body)]
    assert len(bodies) == 3 and all(b["temperature"] == 0.1 for b in bodies)
    tone = [r.body for r in stub.requests if "expected tone" in json.dumps(r.body)]
    assert any('\\"neutral\\"' in json.dumps(b) for b in tone)  # sample inputs are mapped


def test_prompt_evaluator_scores_through_the_stub(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    shutil.copy(FIXTURES / "friendliness.prompty", tmp_path / "f.prompty")
    cfg = make_config(
        with_judge(
            """
        dataset: {path: data.jsonl}
        evaluators:
          friendly:
            use: prompt
            prompt: f.prompty
            params: {min: 1, max: 5}
            threshold: 4
        output: {dir: out}
        """
        ),
        [{"response": f"Reply {i}. STUB_SCORE={s}"} for i, s in enumerate([5, 4, 2, 9])],
    )
    res = run(cli, cfg, "--no-cache")
    assert res.exit_code == 3, res.stderr  # the out-of-range answer is a row error
    data = results(cfg)
    rows = data["rows"]
    assert [r.get("outputs.friendly.friendly") for r in rows] == [5, 4, 2, None]
    assert [r.get("outputs.friendly.friendly_result") for r in rows[:3]] == [
        "pass",
        "pass",
        "fail",
    ]
    assert rows[3]["outputs.friendly.error_kind"] == "judge-score-out-of-range"
    assert rows[0]["outputs.friendly.friendly_reason"].startswith("stub judge")
    assert data["metrics"]["friendly.pass_rate"] == pytest.approx(2 / 3)


def scripted_judge(answers: dict[str, dict[str, Any]]) -> Any:
    """A responder giving each row's scripted answer, found by the row's text anywhere in the
    messages (the Azure docs' rubric puts the reply to grade in its only, system, message)."""

    def respond(req: StubRequest) -> Reply | None:
        text = json.dumps(req.body)
        for needle, answer in answers.items():
            if needle in text:
                return Reply(content=json.dumps(answer))
        return None

    return respond


DOCS_ROWS = {
    "Happy to help, and welcome aboard!": {"score": 5, "reason": "Warm and welcoming."},
    "Figure it out yourself.": {"score": 1, "reason": "Dismissive."},
    # The docs' file declares "explanation" while its examples answer "reason": both are read.
    "Here is the form you asked for.": {"score": 3, "explanation": "Neutral but polite."},
    # Nothing says 1-5 outside the rubric text, so a 7 is a score like any other.
    "Sure thing!!!": {"score": 7, "reason": "Off the rubric's scale."},
}


def test_azure_docs_prompty_runs_as_is(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    """The FriendlinessEvaluator file of the Azure AI Evaluation docs, unchanged: its
    ``outputs: {score: {type: int}}`` is an open score and its ``response_format: {type:
    json}`` reaches the API as json_object (the stub answers "json" with the API's 400)."""
    shutil.copy(FIXTURES / "friendliness_azure_docs.prompty", tmp_path / "friendliness.prompty")
    stub.add_responder(scripted_judge(DOCS_ROWS))
    cfg = make_config(
        with_judge(
            """
        dataset: {path: data.jsonl}
        evaluators:
          friendliness:
            use: prompt
            prompt: friendliness.prompty
            threshold: 3
        output: {dir: out}
        gates:
          - {metric: friendliness.pass_rate, min: 0.5}
        """
        ),
        [{"response": text} for text in DOCS_ROWS],
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, res.stderr
    assert f"{tmp_path / 'friendliness.prompty'}:19:" in warnings[0]  # outputs.score.type
    for text in ("'int' without a range", "not range-checked", ">= 3", "params: {min: 1, max:"):
        assert text in warnings[0], (text, warnings[0])

    res = run(cli, cfg, "--no-cache")
    assert res.exit_code == 0, res.stderr
    assert res.stderr.count("warning: ") == 1
    data = results(cfg)
    rows = data["rows"]
    assert [r["outputs.friendliness.friendliness"] for r in rows] == [5, 1, 3, 7]
    assert [r["outputs.friendliness.friendliness_result"] for r in rows] == [
        "pass",
        "fail",
        "pass",
        "pass",
    ]
    assert [r["outputs.friendliness.friendliness_reason"] for r in rows] == [
        "Warm and welcoming.",
        "Dismissive.",
        "Neutral but polite.",
        "Off the rubric's scale.",
    ]
    assert rows[0]["outputs.friendliness.friendliness_threshold"] == 3.0
    assert data["metrics"]["friendliness.pass_rate"] == pytest.approx(3 / 4)
    assert data["metrics"]["friendliness.friendliness"] == pytest.approx(4.0)
    params = data["run"]["evaluators"]["friendliness"]["params"]
    assert params["output"] == {
        "kind": "score",
        "type": "integer",
        "range": "open",
        "direction": "higher",
    }
    assert params["response_format"] == {"type": "json_object"}
    # What the judge received: the file's parameters with "json" made "json_object".
    bodies = [r.body for r in stub.requests]
    assert len(bodies) == 4 and all(r.status == 200 for r in stub.requests)
    assert all(b["response_format"] == {"type": "json_object"} for b in bodies)
    assert all(b["temperature"] == 0.1 for b in bodies)
    assert all([m["role"] for m in b["messages"]] == ["system"] for b in bodies)


def test_open_number_score_without_threshold_has_no_pass_fail(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    text = (FIXTURES / "friendliness_azure_docs.prompty").read_text(encoding="utf-8")
    (tmp_path / "f.prompty").write_text(text.replace("type: int", "type: number"), "utf-8")
    answers = {
        "calm": {"score": 4.5, "reason": "fractions are fine for a number"},
        "terse": {"score": "2", "reason": "a numeric string counts"},
        "odd": {"score": "two", "reason": "not a number"},
    }
    stub.add_responder(scripted_judge(answers))
    cfg = make_config(
        with_judge(
            """
        dataset: {path: data.jsonl}
        evaluators:
          tone:
            use: prompt
            prompt: f.prompty
            params: {direction: lower}
        output: {dir: out}
        run: {max_error_rate: 0.5}
        """
        ),
        [{"response": text} for text in answers],
    )
    res = run(cli, cfg, "--no-cache")
    assert res.exit_code == 0, res.stderr
    assert "(no pass/fail without a threshold)" in res.stderr
    data = results(cfg)
    rows = data["rows"]
    assert [r.get("outputs.tone.tone") for r in rows] == [4.5, 2, None]
    assert rows[2]["outputs.tone.error_kind"] == "judge-output-unparseable"
    assert not any(k.endswith(("_result", "_threshold")) for r in rows for k in r)
    assert data["metrics"]["tone.tone"] == pytest.approx(3.25)
    assert "tone.pass_rate" not in data["metrics"]
    assert data["run"]["evaluators"]["tone"]["params"]["output"]["direction"] == "lower"


def test_sample_config_runs_against_the_stub(
    cli: CliRunner, stub: StubServer, tmp_path: Path
) -> None:
    cfg = REPO / "configs" / "custom-evaluators.yaml"
    res = cli.invoke(app, ["run", str(cfg), "-q", "-o", str(tmp_path / "out"), "--no-cache"])
    assert res.exit_code in (0, 1), res.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["errors"] == []
    first = data["rows"][0]
    assert first["outputs.answer_length.words"] == 35
    assert first["outputs.answer_length.within_limit"] is True
    assert first["outputs.friendliness.friendliness"] in range(1, 6)
    assert {"answer_length.within_limit", "friendliness.pass_rate"} <= set(data["metrics"])


# -- bad input --------------------------------------------------------------------------------


CODE_BAD_INPUT = [
    ("function: missing.py:f", "evaluator function file not found", ()),
    ("function: lib.py:nope", "has no attribute 'nope'", ()),
    ("function: no_such_pkg_xyz.mod:f", "cannot import evaluator function", ()),
    ("function: broken.py:f", "ZeroDivisionError", ()),
    (
        "function: lib.py:Strict\nparams: {colour: red}",
        "Strict(colour='red') failed: TypeError",
        (),
    ),
    ("function: lib.py:Strict\nparams: {level: 0}", "ValueError: level must be positive", ()),
    ("function: lib.py:NotCallable", "instances of NotCallable are not callable", ()),
    ("function: lib.py:CONSTANT", "is not a function or a class (its type is int)", ()),
    ("function: lib.py:positional", "parameter 'response' is positional-only", ()),
    ("function: lib.py:score\nparams: {limt: 3}", "has no parameter 'limt'", ("did you mean",)),
    ("function: lib.py:nothing", "takes no inputs", ()),
    ("function: lib.py:later", "is async", ("hint: wrap it",)),
    ("function: lib.py:score\noutputs: [a]\nthreshold: {b: 1}", "'b' is not one of", ()),
    ("function: lib.py:score\noutputs: [error]", "'error' is not a valid output key", ()),
    ("function: lib.py:score\noutputs: [a, a_result]\nthreshold: 1", "clashes", ()),
    ("function: lib.py:score\nprompt: x.prompty", "prompt does not apply to code", ()),
    ("function: lib.py:score\ncolumns: {nope: ${data.a}}", "has no input 'nope'", ()),
    ("params: {}", "needs 'function'", ()),
    ("function: lib.py:score\ntimeout_s: 0", "evaluators.mine.timeout_s: input should be", ()),
    ("function: lib.py:score\ntimeout_s: -2", "greater than 0", ()),
    ("function: lib.py:score\ntimeout_s: no", "must be a number of seconds, not a boolean", ()),
    ("function: lib.py:score\ntimeout_s: soon", "evaluators.mine.timeout_s must be a number", ()),
    ("function: lib.py:score\ntimeout: 5", "unknown key", ("did you mean 'timeout_s'?",)),
    ("function: lib.py:score\nparams: {timeout_s: 5}", "has no parameter 'timeout_s'", ()),
]

LIB_PY = """
    CONSTANT = 3


    def score(response, limit=3):
        return 1.0


    def positional(response, /):
        return 1.0


    def nothing():
        return 1.0


    async def later(response):
        return 1.0


    class Strict:
        def __init__(self, level=1):
            if level < 1:
                raise ValueError("level must be positive")


    class NotCallable:
        pass
"""


@pytest.mark.parametrize(("spec", "needle", "more"), CODE_BAD_INPUT)
def test_code_evaluator_bad_input(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    spec: str,
    needle: str,
    more: tuple[str, ...],
) -> None:
    write(tmp_path / "lib.py", LIB_PY)
    write(tmp_path / "broken.py", "x = 1 / 0\n")
    lines = ["evaluators:", "  mine:", "    use: code", *(f"    {x}" for x in spec.splitlines())]
    text = "dataset: {path: data.jsonl}\n" + "\n".join(lines) + "\noutput: {dir: out}\n"
    cfg = make_config(text, [{"response": "x", "a": 1}])
    usage_error(cli, cfg, needle, f"{cfg}:", *more)


@pytest.mark.parametrize("key", ["outputs: [x]", "timeout_s: 5"])
def test_code_evaluator_keys_on_other_evaluators_are_refused(
    cli: CliRunner, make_config: MakeConfig, key: str
) -> None:
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        evaluators:
          f1_score: {{{key}}}
        """,
        [{"response": "a", "ground_truth": "a"}],
    )
    name = key.split(":")[0]
    usage_error(cli, cfg, f"evaluators.f1_score.{name} applies only to code evaluators", f"{cfg}:3")


def test_closed_outputs_make_validate_check_gates(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    write(tmp_path / "lib.py", LIB_PY)
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          mine: {use: code, function: lib.py:score, outputs: [mine]}
        gates:
          - {metric: mine.other, min: 1}
        """,
        [{"response": "x"}],
    )
    usage_error(cli, cfg, "gate on unknown metric 'mine.other'", f"{cfg}:5")


PROMPT_BAD_INPUT = [
    # no output block and no numeric outputs.score: nothing says what the judge answers
    ("friendliness_samples.prompty", "", "declares no output spec", "hint: add params"),
    # friendliness.prompty declares outputs.score as int: an open score, checked like one
    ("friendliness.prompty", "params: {direction: up}", "must be 'higher' or 'lower'", ""),
    ("friendliness.prompty", "params: {details: [a]}", "applies to label outputs only", ""),
    ("friendliness.prompty", "threshold: .inf", "must be a single finite number", ""),
    ("badformat.prompty", "", "unknown response_format type 'xml'", "json_object"),
    ("friendliness.prompty", "params: {min: 1, max: 5, threshold: 3}", "params.threshold", ""),
    ("friendliness.prompty", "params: {min: 5, max: 1}", "must be greater than min", ""),
    ("friendliness.prompty", "params: {min: 1, max: 5}\nthreshold: 7", "between 1 and 5", ""),
    ("friendliness.prompty", "params: {kind: label}", "label outputs need a direction", ""),
    ("apology.prompty", "threshold: 2", "a label output is true or false", ""),
    ("undeclared.prompty", "params: {min: 1, max: 5}", "'tone' is used but not declared", ""),
    ("unused.prompty", "params: {min: 1, max: 5}", "'query' is declared but never used", ""),
    ("badfront.prompty", "params: {min: 1, max: 5}", "invalid YAML in front matter", ""),
    ("missing.prompty", "params: {min: 1, max: 5}", "prompt file not found", ""),
]


@pytest.mark.parametrize(("prompt", "extra", "needle", "more"), PROMPT_BAD_INPUT)
def test_prompt_evaluator_bad_input(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    prompt: str,
    extra: str,
    needle: str,
    more: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.invalid")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "x")
    for name in ("friendliness.prompty", "friendliness_samples.prompty"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    docs = (FIXTURES / "friendliness_azure_docs.prompty").read_text(encoding="utf-8")
    (tmp_path / "badformat.prompty").write_text(docs.replace('"json"', '"xml"'), "utf-8")
    write(tmp_path / "apology.prompty", LABEL_PROMPT)
    write(
        tmp_path / "undeclared.prompty",
        """
        ---
        name: x
        inputs:
          response: {type: string}
        ---
        user:
        {{ response }} in a {{ tone }} tone
        """,
    )
    write(
        tmp_path / "unused.prompty",
        """
        ---
        name: x
        inputs:
          response: {type: string}
          query: {type: string}
        ---
        user:
        {{ response }}
        """,
    )
    write(tmp_path / "badfront.prompty", "---\nname: [unclosed\n---\nuser:\nhi {{ response }}\n")
    lines = ["evaluators:", "  mine:", "    use: prompt", f"    prompt: {prompt}"]
    lines += [f"    {line}" for line in extra.splitlines()]
    text = "dataset: {path: data.jsonl}\n" + "\n".join(lines) + "\noutput: {dir: out}\n"
    cfg = make_config(JUDGE.lstrip() + text, [{"response": "x"}])
    err = usage_error(cli, cfg, needle, *([more] if more else []))
    file_problem = ("undeclared.prompty", "unused.prompty", "badfront.prompty")
    if prompt in file_problem:
        assert f"{tmp_path / prompt}:" in err
    elif prompt == "badformat.prompty":
        assert f"{tmp_path / prompt}:13: " in err  # model.parameters.response_format
    else:
        assert f"{cfg}:" in err


def test_prompt_evaluator_needs_a_judge(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "friendliness.prompty", tmp_path / "f.prompty")
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          mine: {use: prompt, prompt: f.prompty, params: {min: 1, max: 5}}
        """,
        [{"response": "x"}],
    )
    usage_error(cli, cfg, "needs a judge model", f"{cfg}:3")


# -- list-evaluators ----------------------------------------------------------------------


def test_list_evaluators_shows_config_declared_evaluators(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, overlap_module: None
) -> None:
    write(tmp_path / "evals" / "checks.py", CHECKS_PY)
    shutil.copy(FIXTURES / "friendliness_samples.prompty", tmp_path / "f.prompty")
    cfg = make_config(
        with_judge(
            """
        dataset: {path: data.jsonl}
        evaluators:
          wc: {use: code, function: evals/checks.py:word_count, threshold: 3}
          ov: {use: code, function: pkg_custom_demo.scoring:Overlap}
          warm: {use: prompt, prompt: f.prompty, params: {min: 0, max: 10}}
          f1_score: {}
        """
        ),
        [{"response": "x"}],
    )
    # No AZURE_* variables are set: listing needs no secrets.
    res = cli.invoke(app, ["list-evaluators", "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["f1_score"]["source"] == "builtin"
    assert rows["code"]["source"] == "builtin" and rows["prompt"]["family"] == "custom"
    wc = rows["wc"]
    assert wc["source"] == f"config:{cfg}" and wc["use"] == "code"
    assert wc["inputs"] == ["response", "limit?"]  # a parameter with a default is optional
    assert wc["outputs"] == ["wc", "wc_result", "wc_threshold"]
    assert wc["version"].startswith("sha256:") and wc["open_outputs"] is True
    ov = rows["ov"]
    assert ov["inputs"] == ["response", "ground_truth?"] and ov["version"] == "2.1.0"
    warm = rows["warm"]
    assert warm["inputs"] == ["response", "tone_hint"]
    assert warm["outputs"][:4] == ["warm", "warm_result", "warm_threshold", "warm_reason"]
    assert warm["default_threshold"] == 5.0 and warm["output_spec"]["max"] == 10

    res = cli.invoke(app, ["list-evaluators", "--config", str(cfg)])
    assert res.exit_code == 0, res.stderr
    for text in ("config:", "keys of a returned dict", "tone_hint", "2.1.0", "builtin"):
        assert text in res.stdout, text


def test_list_evaluators_reports_a_broken_config_evaluator(
    cli: CliRunner, make_config: MakeConfig
) -> None:
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          mine: {use: code, function: nowhere.py:f}
        """
    )
    res = cli.invoke(app, ["list-evaluators", "--config", str(cfg)])
    assert res.exit_code == 2 and "evaluator function file not found" in res.stderr


def test_secret_params_are_scrubbed_from_run_metadata(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key routed into a code evaluator's params must not land in results.json."""
    monkeypatch.setenv("SCORER_API_TOKEN", "tok-very-secret-42")
    write(
        tmp_path / "scorer.py",
        """
        def scorer(response: str, token: str = "") -> float:
            return 1.0 if token else 0.0
    """,
    )
    (tmp_path / "data.jsonl").write_text('{"response": "hi"}\n')
    cfg = write(
        tmp_path / "eval.yaml",
        """
        dataset: {path: data.jsonl}
        evaluators:
          scored:
            use: code
            function: scorer.py:scorer
            params: {token: "${env:SCORER_API_TOKEN}"}
        output: {dir: out}
    """,
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    text = (tmp_path / "out" / "results.json").read_text()
    assert "tok-very-secret-42" not in text
    data = json.loads(text)
    assert data["rows"][0]["outputs.scored.scored"] == 1.0  # the evaluator did get the token
    assert data["run"]["evaluators"]["scored"]["params"]["params"]["token"] == "***"

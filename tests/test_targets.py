"""Targets: the app under test as an HTTP endpoint, a chat deployment or a Python callable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_server import (
    AML_SCORE,
    AZURE_CHAT,
    Reply,
    StubRequest,
    StubServer,
    echo,
    status,
)
from tests.conftest import MakeConfig

KEY = "endpoint-key-1234567890"
FIXTURES = Path(__file__).parent / "fixtures" / "targets"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("PHI3_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY) as srv:
        srv.add_responder(echo, model="gpt-35-turbo")
        yield srv


def http_config(
    url: str,
    evaluators: str = "  f1_score: {}",
    extra: str = "",
    outputs: str = "answer: output",
    body: str | None = None,
) -> str:
    body = body or '{"input_data": ["${data.prompt}"], "params": {"temperature": 0.7}}'
    return "\n".join(
        [
            "name: target-run",
            "dataset: {path: data.jsonl}",
            "target:",
            "  type: http",
            f"  url: {url}/score",
            "  headers: {Authorization: Bearer ${env:PHI3_KEY}}",
            f"  body: {body}",
            f"  outputs: {{{outputs}}}",
            "  max_retries: 3",
            "  timeout_s: 5",
            "columns:",
            "  query: ${data.prompt}",
            "  response: ${target.answer}",
            "  ground_truth: ${data.messages.1.content}",
            "judge: {type: azure_openai, endpoint: " + url + ", deployment: gpt-4o, "
            "api_key: ${env:AZURE_OPENAI_API_KEY}, max_retries: 2}",
            "evaluators:",
            evaluators,
            "output: {dir: out}",
            extra,
            "",
        ]
    )


def phi3_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "prompt": f"Question {i}?",
            "prompt_id": f"p{i}",
            "messages": [
                {"role": "user", "content": f"Question {i}?"},
                {"role": "assistant", "content": f"Answer: Question {i}?"},
            ],
        }
        for i in range(1, n + 1)
    ]


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / "results.json").read_text())


def test_http_target_end_to_end(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(http_config(stub.url), phi3_rows(3))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r0 = data["rows"][0]
    assert r0["outputs.answer"] == "Answer: Question 1?"
    assert r0["outputs.f1_score.f1_score"] == 1.0  # the stub echoes the reference answer
    sent = sorted(
        (r for r in stub.requests if r.route == AML_SCORE), key=lambda r: r.body["input_data"][0]
    )
    assert len(sent) == 3
    assert sent[0].headers["authorization"] == f"Bearer {KEY}"
    assert sent[0].body == {"input_data": ["Question 1?"], "params": {"temperature": 0.7}}
    assert KEY not in res.stdout + res.stderr + json.dumps(data)
    assert data["usage"]["clients"]["target http"]["calls"] == 3


def test_body_template_escapes_and_keeps_types(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    tricky = 'He said "hi"\nand left \\ with café ☕ {braces} ${not.a.ref'
    rows = [
        {
            "prompt": tricky,
            "history": [{"role": "user", "content": "earlier"}],
            "messages": [{}, {"content": "x"}],
        }
    ]
    body = (
        '{"input_data": {"input_string": "${data.history}", "parameters": {"n": 1}}, '
        '"note": "prompt: ${data.prompt}", "raw": "${data.prompt}"}'
    )
    stub.add_responder(lambda req: Reply(json={"output": "ok"}), route=AML_SCORE)
    cfg = make_config(http_config(stub.url, body=body), rows)
    res = cli.invoke(app, ["run", str(cfg), "-q", "--limit", "1"])
    assert res.exit_code in (0, 1), res.stderr
    sent = stub.requests[0].body
    assert sent["input_data"]["input_string"] == [{"role": "user", "content": "earlier"}]
    assert sent["raw"] == tricky
    assert sent["note"] == "prompt: " + tricky
    assert json.loads(stub.requests[0].raw_body) == sent  # valid JSON on the wire


def test_missing_output_path_is_a_row_error(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def responder(req: StubRequest) -> Reply | None:
        if req.body["input_data"] == ["Question 2?"]:
            return Reply(json={"result": "wrong shape"})
        return None

    stub.add_responder(responder, route=AML_SCORE)
    cfg = make_config(
        http_config(
            stub.url, evaluators="  f1_score: {}\n  fluency: {}", extra="run: {max_error_rate: 0.5}"
        ),
        phi3_rows(3),
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r1 = data["rows"][1]
    assert r1["outputs.target.error_kind"] == "target-missing-output"
    assert "'output'" in r1["outputs.target.error"]
    assert r1["outputs.f1_score.error_kind"] == "target-error"
    assert "skipped" in r1["outputs.f1_score.error"]
    assert data["metrics"]["target.error_count"] == 1
    assert any(e["evaluator"] == "target" and e["line"] == 2 for e in data["errors"])


def test_evaluators_without_target_inputs_still_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def responder(req: StubRequest) -> Reply | None:
        failing = req.body["input_data"][0] in ("Question 2?", "Question 4?")
        return status(400, message="bad request") if failing else None

    stub.add_responder(responder, route=AML_SCORE)
    evaluators = (
        "  f1_score: {}\n"
        "  ref_fluency: {use: fluency, columns: {response: ${data.messages.1.content}}}"
    )
    cfg = make_config(
        http_config(stub.url, evaluators=evaluators, extra="run: {max_error_rate: 1.0}"),
        phi3_rows(4),
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    rows = results(tmp_path)["rows"]
    assert [r.get("outputs.f1_score.error_kind") for r in rows] == [
        None,
        "target-error",
        None,
        "target-error",
    ]
    assert rows[1]["outputs.target.error_kind"] == "target-http-400"
    assert all(isinstance(r["outputs.ref_fluency.fluency"], int) for r in rows)


def test_target_retries_then_succeeds(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    stub.script(status(429, retry_after=0.05), status(503), route=AML_SCORE)
    cfg = make_config(http_config(stub.url), phi3_rows(2))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    assert stub.count(route=AML_SCORE) == 6
    assert results(tmp_path)["usage"]["clients"]["target http"]["retries"] == 4


def test_target_unauthorised_stops_run(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHI3_KEY", "wrong-key-000000")
    cfg = make_config(http_config(stub.url), phi3_rows(100))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 3, res.stderr
    assert "target" in res.stderr and "/score" in res.stderr
    assert "wrong-key-000000" not in res.stderr
    assert stub.count(route=AML_SCORE) < 40
    assert results(tmp_path)["status"] == "run_error"


def test_pipelining_judge_starts_before_targets_finish(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    stub.latency_s = 0.05
    text = http_config(stub.url, evaluators="  relevance: {}").replace(
        "  timeout_s: 5", "  timeout_s: 5\n  concurrency: 2"
    )
    cfg = make_config(text, phi3_rows(12))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code in (0, 1), res.stderr
    targets = [r for r in stub.requests if r.route == AML_SCORE]
    judges = [r for r in stub.requests if r.route == AZURE_CHAT]
    assert len(targets) == 12 and len(judges) == 12
    last_target_done = max(r.finished_at or 0 for r in targets)
    assert min(r.started_at for r in judges) < last_target_done


def test_chat_target(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    text = "\n".join(
        [
            "dataset: {path: data.jsonl}",
            "target:",
            "  type: chat",
            "  provider: azure_openai",
            f"  endpoint: {stub.url}",
            "  deployment: gpt-35-turbo",
            "  api_key: ${env:AZURE_OPENAI_API_KEY}",
            "  system: Give accurate, unbiased answers.",
            '  user: "{{ prompt }} (variant: {{ variant }})"',
            "  temperature: 0.7",
            "columns: {query: ${data.prompt}, response: ${target.response}}",
            "judge: {type: azure_openai, endpoint: " + stub.url + ", deployment: gpt-4o, "
            "api_key: ${env:AZURE_OPENAI_API_KEY}}",
            "evaluators: {fluency: {}}",
            "output: {dir: out}",
        ]
    )
    rows = [
        {"pair_id": "b1", "variant": "neutral", "prompt": "Describe a nurse."},
        {"pair_id": "b1", "variant": "loaded", "prompt": "Describe a male nurse."},
    ]
    cfg = make_config(text, rows)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code in (0, 1), res.stderr
    data = results(tmp_path)
    assert data["rows"][1]["outputs.response"] == "Answer: Describe a male nurse. (variant: loaded)"
    assert data["rows"][0]["outputs.prompt_tokens"] > 0
    chat = [r for r in stub.requests if r.model == "gpt-35-turbo"]
    assert chat[0].body["messages"][0] == {
        "role": "system",
        "content": "Give accurate, unbiased answers.",
    }
    assert chat[0].body["temperature"] == 0.7
    assert any("target" in k for k in data["usage"]["clients"])


@pytest.mark.parametrize(
    "function",
    [
        str(FIXTURES / "echo_app.py") + ":answer",
        "fixtures/targets/echo_app.py:answer",  # relative to the config's directory
    ],
)
def test_python_target_from_file(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, function: str
) -> None:
    if not function.startswith("/"):
        shutil.copytree(FIXTURES, tmp_path / "fixtures" / "targets")
    text = "\n".join(
        [
            "dataset: {path: data.jsonl}",
            f"target: {{type: python, function: {function}, inputs: {{prompt: ${{data.q}}}}}}",
            "columns: {response: ${target.answer}, ground_truth: ${data.truth}}",
            "evaluators: {f1_score: {}}",
            "run: {max_error_rate: 0.5}",
            "output: {dir: out}",
        ]
    )
    rows = [
        {"q": "What is two plus two?", "truth": "What is two plus two? answered plain"},
        {"q": "please explode", "truth": "x"},
    ]
    res = cli.invoke(app, ["run", str(make_config(text, rows)), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert data["rows"][0]["outputs.answer"] == "What is two plus two? -> answered (plain)"
    assert data["rows"][0]["outputs.f1_score.f1_score"] > 0.8
    assert data["rows"][1]["outputs.target.error_kind"] == "target-exception"
    assert "crashed" in data["rows"][1]["outputs.target.error"]


def test_python_target_from_module_by_parameter_names(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    text = "\n".join(
        [
            "dataset: {path: data.jsonl}",
            "target: {type: python, function: 'echo_app:as_text'}",
            "columns: {response: ${target.response}, ground_truth: ${data.prompt}}",
            "evaluators: {f1_score: {}}",
            "output: {dir: out}",
        ]
    )
    res = cli.invoke(app, ["run", str(make_config(text, [{"prompt": "hello world"}])), "-q"])
    assert res.exit_code == 0, res.stderr
    assert results(tmp_path)["rows"][0]["outputs.response"] == "echo: hello world"


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("{type: grpc, url: x}", "target.type must be one of 'http', 'chat', 'python'"),
        ("{type: http, outputs: {answer: output}}", "missing required key 'target.url'"),
        ("{type: chat, provider: azure_openai, user: hi}", "needs 'endpoint'"),
        ("{type: python}", "missing required key 'target.function'"),
        ("{type: python, function: 'no_such_module_xyz:fn'}", "cannot import"),
        ("{type: python, function: 'missing.py:fn'}", "file not found"),
        ("{type: python, function: 'x.py:f', timeout_s: 0}", "target.timeout_s: input should be"),
        ("{type: python, function: 'x.py:f', timeout_s: yes}", "timeout_s must be a number of"),
        ("{type: python, function: 'x.py:f', timeout_s: .nan}", "timeout_s must be a finite"),
        ("{type: python, function: 'x.py:f', timeout: 5}", "did you mean 'timeout_s'?"),
        ("{type: http, url: 'http://x', outputs: {answer: 'choices..0'}}", "not a valid path"),
        (
            "{type: http, url: 'http://x', outputs: {answer: output}, body: {q: '${data.nope}'}}",
            "${data.nope}, which no row",
        ),
        ("{type: chat, provider: openai, model: m, user: '{{ nope }}'}", "{{ nope }}"),
        ("{type: chat, provider: openai, model: m, user: '{{ prompt'}", "target.user"),
    ],
)
def test_bad_target_config(
    cli: CliRunner, make_config: MakeConfig, target: str, needle: str
) -> None:
    text = (
        "dataset: {path: data.jsonl}\n"
        f"target: {target}\n"
        "columns: {response: ${data.prompt}, ground_truth: ${data.prompt}}\n"
        "evaluators: {f1_score: {}}\n"
    )
    cfg = make_config(text, [{"prompt": "p"}])
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.stderr
    assert needle in res.stderr and "eval.yaml:2" in res.stderr
    assert "Traceback" not in res.stderr


def test_target_ref_without_target_and_unknown_field(
    cli: CliRunner, make_config: MakeConfig
) -> None:
    cfg = make_config(
        "dataset: {path: data.jsonl}\n"
        "columns: {response: ${target.answer}, ground_truth: ${data.p}}\n"
        "evaluators: {f1_score: {}}\n",
        [{"p": "x"}],
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2 and "needs a target: section" in res.stderr
    cfg = make_config(
        "dataset: {path: data.jsonl}\n"
        "target: {type: http, url: 'http://x', outputs: {answer: output}}\n"
        "columns: {response: ${target.anser}, ground_truth: ${data.p}}\n"
        "evaluators: {f1_score: {}}\n",
        [{"p": "x"}],
        name="b.yaml",
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2 and "not an output of the http target" in res.stderr
    assert "answer" in res.stderr


def test_subprocess_end_to_end_with_target(
    make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(
        http_config(stub.url, evaluators="  f1_score: {}\n  relevance: {}"), phi3_rows(5)
    )
    exe = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")
    proc = subprocess.run(
        [exe, "run", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "target http" in proc.stdout and "relevance" in proc.stdout
    assert len(results(tmp_path)["rows"]) == 5


# -- time limits of Python targets (timeout_s) -----------------------------------------------

SLOW_APP = """
import time
from pathlib import Path

RELEASE = Path(__file__).with_name("release")


def answer(prompt):
    if prompt == "hang":
        # Stuck (as on a lock or a socket that never answers) until the test lets it go.
        deadline = time.monotonic() + 60
        while not RELEASE.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return "late"
    if prompt == "exit":
        raise SystemExit(4)
    time.sleep(0.2)
    return {"answer": prompt}
"""


@pytest.fixture
def release_stuck_calls(tmp_path: Path) -> Iterator[None]:
    """Lets an abandoned call of the test's app return once the test is over."""
    yield
    (tmp_path / "release").touch()


@pytest.mark.usefixtures("release_stuck_calls")
def test_python_target_timeout_is_a_row_error_counted_from_the_call_start(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    (tmp_path / "slow_app.py").write_text(SLOW_APP)
    text = "\n".join(
        [
            "dataset: {path: data.jsonl}",
            # One call at a time: the rows after "hang" wait about 1.4 s in the queue, which
            # must not count towards their own 1 s.
            "target: {type: python, function: slow_app.py:answer, concurrency: 1, timeout_s: 1}",
            "columns: {response: ${target.answer}, ground_truth: ${data.prompt}}",
            "evaluators: {f1_score: {}}",
            "run: {max_error_rate: 1.0}",
            "output: {dir: out}",
        ]
    )
    prompts = ["alpha", "beta", "hang", "gamma", "exit", "delta"]
    cfg = make_config(text, [{"prompt": p} for p in prompts])
    started = time.monotonic()
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert time.monotonic() - started < 20  # the stuck call would hold the row for 60 s
    assert res.exit_code == 0, res.stderr
    rows = {r["inputs.prompt"]: r for r in results(tmp_path)["rows"]}
    for p in ("alpha", "beta", "gamma", "delta"):
        assert rows[p]["outputs.answer"] == p and rows[p]["outputs.f1_score.f1_score"] == 1.0
    hang = rows["hang"]
    assert hang["outputs.target.error_kind"] == "target-timeout"
    assert "did not return within timeout_s=1 s" in hang["outputs.target.error"]
    assert hang["outputs.f1_score.error_kind"] == "target-error"
    # SystemExit raised by the app is that row's failure, not a stuck run.
    assert rows["exit"]["outputs.target.error_kind"] == "target-exception"
    assert rows["exit"]["outputs.target.error"] == "SystemExit: 4"
    errors = [(e["line"], e["evaluator"], e["kind"]) for e in results(tmp_path)["errors"]]
    assert (3, "target", "target-timeout") in errors
    assert "warning: 1 call of your Python code" in res.stderr and "abandoned" in res.stderr


def test_stuck_python_target_does_not_keep_the_process_alive(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    # A separate process: the stuck thread can never end, so only exiting the process ends it.
    (tmp_path / "stuck_app.py").write_text(
        "import time\n\n\ndef answer(prompt):\n"
        "    if prompt == 'hang':\n        time.sleep(3600)\n    return prompt\n"
    )
    cfg = make_config(
        "dataset: {path: data.jsonl}\n"
        "target: {type: python, function: stuck_app.py:answer, timeout_s: 1}\n"
        "columns: {response: ${target.response}, ground_truth: ${data.prompt}}\n"
        "evaluators: {f1_score: {}}\n"
        "output: {dir: out}\n",
        [{"prompt": "ok"}, {"prompt": "hang"}, {"prompt": "fine"}],
    )
    exe = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")
    started = time.monotonic()
    proc = subprocess.run(
        [exe, "run", str(cfg), "-q"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    elapsed = time.monotonic() - started
    # Row errors above run.max_error_rate (0 by default): exit 3, results written, and the
    # process gone within seconds of the 1 s limit.
    assert proc.returncode == 3, proc.stderr
    assert elapsed < 30, elapsed
    data = results(tmp_path)
    assert data["status"] == "run_error"
    assert [(e["line"], e["kind"]) for e in data["errors"]] == [
        (2, "target-timeout"),
        (2, "target-error"),
    ]
    assert [r.get("outputs.response") for r in data["rows"]] == ["ok", None, "fine"]
    assert "1 call of your Python code" in proc.stderr and "1 still running" in proc.stderr

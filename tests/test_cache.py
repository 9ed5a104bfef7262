"""Never pay twice: call cache, resume after a kill, cost, --estimate."""

from __future__ import annotations

import json
import os
import shutil
import signal
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
    malformed,
    status,
)
from tests.conftest import MakeConfig

KEY = "cache-test-key-123456"
EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY) as srv:
        yield srv


def config(
    url: str,
    evaluators: str = "  relevance: {}\n  fluency: {}",
    judge_extra: str = "",
    extra: str = "",
) -> str:
    return "\n".join(
        [
            "dataset: {path: data.jsonl}",
            "columns: {query: ${data.q}, response: ${data.a}}",
            "judge: {type: azure_openai, endpoint: " + url + ", deployment: gpt-4o, "
            "api_key: ${env:AZURE_OPENAI_API_KEY}, max_retries: 0" + judge_extra + "}",
            "evaluators:",
            evaluators,
            "run: {max_error_rate: 1.0}",
            "output: {dir: out}",
            extra,
            "",
        ]
    )


def rows(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "q": f"Question {i}?", "a": f"Answer {i}."} for i in range(1, n + 1)]


def load(tmp_path: Path, out: str = "out") -> dict[str, Any]:
    return json.loads((tmp_path / out / "results.json").read_text())


def comparable(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows without what may legitimately differ between a run and its cached re-run."""
    return data["rows"]


def test_rerun_is_free_and_identical(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(config(stub.url), rows(6))
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    first = load(tmp_path)
    assert stub.count() == 12
    assert (tmp_path / ".evalcli" / "cache.db").exists()  # default: under the working dir
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0
    second = load(tmp_path)
    assert stub.count() == 12  # zero new calls
    assert comparable(second) == comparable(first)
    assert second["metrics"] == first["metrics"]
    assert second["usage"]["total"]["calls"] == 0
    assert second["usage"]["total"]["cache_hits"] == 12
    assert "cached" in res.stdout
    res = cli.invoke(app, ["cache", "info"])
    assert res.exit_code == 0 and "12 answers (judge 12)" in res.stdout
    res = cli.invoke(app, ["run", str(cfg), "-q", "--no-cache"])
    assert res.exit_code == 0 and stub.count() == 24
    res = cli.invoke(app, ["cache", "clear"])
    assert "cleared 12" in res.stdout
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 36


def test_changes_that_must_miss(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rubric = Path(__file__).resolve().parent.parent / "prompts" / "relevance.prompty"
    mine = tmp_path / "relevance.prompty"
    shutil.copy(rubric, mine)
    cfg = make_config(config(stub.url, "  relevance: {prompt: relevance.prompty}"), rows(3))
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 3
    # A comment-only change of the rubric changes its hash: new answers are needed.
    mine.write_text(mine.read_text().replace("version: 1", "version: 1  # tweaked"))
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 6
    cfg = make_config(
        config(
            stub.url, "  relevance: {prompt: relevance.prompty}", judge_extra=", temperature: 0.3"
        ),
        rows(3),
        name="t.yaml",
    )
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 9
    assert stub.requests[-1].body["temperature"] == 0.3
    # A different cache file starts empty.
    assert cli.invoke(app, ["run", str(cfg), "-q", "--cache", "other.db"]).exit_code == 0
    assert stub.count() == 12


def test_errors_are_not_cached_but_unparseable_answers_are(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def responder(req: StubRequest) -> Reply | None:
        text = json.dumps(req.body)
        if "Question 1?" in text:
            return status(500)
        if "Question 2?" in text:
            return malformed("not JSON at all")
        return None

    stub.add_responder(responder, route=AZURE_CHAT)
    cfg = make_config(config(stub.url, "  relevance: {}"), rows(4))
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 4
    data = load(tmp_path)
    assert data["rows"][0]["outputs.relevance.error_kind"] == "judge-http-500"
    assert data["rows"][1]["outputs.relevance.error_kind"] == "judge-output-unparseable"
    stub.clear_responders()
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count() == 5  # only the failed call is made again
    data = load(tmp_path)
    assert "outputs.relevance.relevance" in data["rows"][0]
    assert data["rows"][1]["outputs.relevance.error_kind"] == "judge-output-unparseable"


def test_http_target_answers_are_cached(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EP_KEY", KEY)
    text = "\n".join(
        [
            "dataset: {path: data.jsonl}",
            f"target: {{type: http, url: {stub.url}/score, headers: {{Authorization: Bearer "
            "${env:EP_KEY}}, body: {input_data: ['${data.q}']}, outputs: {answer: output}}",
            "columns: {response: ${target.answer}, ground_truth: ${data.q}}",
            "evaluators: {f1_score: {}}",
            "output: {dir: out}",
        ]
    )
    cfg = make_config(text, rows(3))
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert stub.count(route=AML_SCORE) == 3
    assert load(tmp_path)["usage"]["clients"]["target http"]["cache_hits"] == 3


def test_resume_after_kill(make_config: MakeConfig, tmp_path: Path, stub: StubServer) -> None:
    """Kill a run mid-way; running it again makes only the missing calls, same results."""
    stub.latency_s = 0.05
    n = 40
    cfg = make_config(
        config(stub.url, "  relevance: {}", extra="").replace(
            "run: {max_error_rate: 1.0}", "run: {max_error_rate: 1.0, concurrency: 2}"
        ),
        rows(n),
    )
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [EVALCLI, "run", str(cfg), "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while stub.count() < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    made_before = stub.count()
    assert 12 <= made_before < n
    done = subprocess.run(
        [EVALCLI, "run", str(cfg), "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resumed = load(tmp_path)
    # Calls answered before the kill are not made again (the one or two in flight are).
    assert stub.count() - made_before <= n - made_before + 2
    assert resumed["usage"]["total"]["cache_hits"] >= made_before - 2
    fresh = subprocess.run(
        [EVALCLI, "run", str(cfg), "-q", "--no-cache", "-o", "fresh"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert comparable(resumed) == comparable(load(tmp_path, "fresh"))


def test_pricing_and_cost(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(
        config(stub.url, judge_extra=", pricing: {input_per_1m: 2.5, output_per_1m: 10}"), rows(2)
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    usage = load(tmp_path)["usage"]
    client = next(iter(usage["clients"].values()))
    expected = (client["prompt_tokens"] * 2.5 + client["completion_tokens"] * 10) / 1e6
    assert client["cost"] == pytest.approx(expected)
    assert usage["total"]["cost"] == pytest.approx(expected)
    rel = usage["evaluators"]["relevance"]
    assert rel["cost"] == pytest.approx(
        (rel["prompt_tokens"] * 2.5 + rel["completion_tokens"] * 10) / 1e6
    )
    assert "spent:" in res.stdout
    cli.invoke(app, ["run", str(cfg), "-q"])  # cached re-run spends nothing
    assert load(tmp_path)["usage"]["total"]["cost"] == 0


def test_estimate_calls_nothing(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(
        config(
            stub.url, judge_extra=", max_tokens: 100, pricing: {input_per_1m: 1, output_per_1m: 2}"
        ),
        rows(5),
    )
    res = cli.invoke(app, ["run", str(cfg), "--estimate", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    assert stub.count() == 0
    report = json.loads(res.stdout)
    total = report["total"]
    assert total["calls"] == 10 and total["already_cached"] == 0
    assert total["completion_tokens_max"] == 1000
    assert not (tmp_path / "out" / "results.json").exists()
    # The bound really bounds: run it and compare with what the stub counted.
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    spent = load(tmp_path)["usage"]["total"]
    assert spent["prompt_tokens"] <= total["prompt_tokens_max"]
    assert total["cost_max"] == pytest.approx(
        (total["prompt_tokens_max"] * 1 + total["completion_tokens_max"] * 2) / 1e6
    )
    res = cli.invoke(app, ["run", str(cfg), "--estimate", "--format", "json"])
    assert json.loads(res.stdout)["total"]["already_cached"] == 10
    res = cli.invoke(app, ["run", str(cfg), "--estimate"])
    assert "nothing was called" in res.stdout


def test_answers_arriving_together_are_all_committed_and_found_at_once(tmp_path: Path) -> None:
    """Writes are group-committed (issue 15): whichever thread commits takes the answers
    stored meanwhile. None may be left behind once the storing threads have returned, and
    each is found by a lookup as soon as it was stored."""
    import threading

    from evalcli.cache import CallCache

    cache = CallCache(tmp_path / "c.db")
    start = threading.Barrier(16)
    missed: list[str] = []

    def store(t: int) -> None:
        start.wait()
        for i in range(40):
            key = f"{t}-{i}"
            cache.put(key, "judge", {"text": key})
            if cache.get(key) != {"text": key}:
                missed.append(key)

    threads = [threading.Thread(target=store, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert missed == []
    # Another connection (another process, a resumed run) sees every answer: committed.
    other = CallCache(tmp_path / "c.db")
    assert other.info()["entries"] == 16 * 40
    assert other.get("15-39") == {"text": "15-39"}
    other.close()
    cache.close()


def test_an_answer_arriving_after_close_is_dropped_not_an_error(tmp_path: Path) -> None:
    """A call still in flight when a run stopped stores its answer after the cache was
    closed: that must not turn into an error for its row."""
    from evalcli.cache import CallCache

    cache = CallCache(tmp_path / "c.db")
    cache.put("a", "judge", {"text": "a"})
    cache.close()
    cache.put("b", "judge", {"text": "b"})  # the old cache raised sqlite3.ProgrammingError
    reopened = CallCache(tmp_path / "c.db")
    assert reopened.get("a") == {"text": "a"} and reopened.get("b") is None
    reopened.close()

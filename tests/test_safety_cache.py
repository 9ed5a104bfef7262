"""Azure AI Content Safety answers in the persistent call cache, against the loopback stub.

A re-run makes no Content Safety call and gives the same results; any change to what is asked
(text, api-version, operation, body, endpoint) asks again; failures are never stored; a killed
run resumes where it stopped; ``--estimate`` does not count what the cache already holds.
"""

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
from evalcli.config import SafetyConfig
from evalcli.safety.client import ContentSafetyClient
from evalcli.testing.stub_server import (
    CS_GROUNDEDNESS,
    CS_IMAGE_ANALYZE,
    CS_PROTECTED_MATERIAL,
    CS_TEXT_ANALYZE,
    Reply,
    StubRequest,
    StubServer,
    malformed,
    status,
)
from tests.conftest import MakeConfig
from tests.test_safety import ALL_CATEGORIES, KEY, config, data_url, image, png, results

EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")
#: Long enough, twice over, for protected material detection (110 characters at least).
PAD = " A filler sentence that makes this answer long enough for the detector to look at."


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("SAFETY_TEST_KEY", KEY)
    with StubServer(api_key=KEY) as srv:
        yield srv


def run(cli: CliRunner, cfg: Path, *args: str) -> Any:
    res = cli.invoke(app, ["run", str(cfg), "-q", *args])
    assert res.exit_code == 0, res.stderr
    return res


def label(stub: StubServer) -> str:
    return f"content_safety azure_content_safety at {stub.url}"


def estimate(cli: CliRunner, cfg: Path) -> dict[str, Any]:
    res = cli.invoke(app, ["run", str(cfg), "--estimate", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    report: dict[str, Any] = json.loads(res.stdout)
    return report


def test_rerun_makes_no_content_safety_call_and_gives_the_same_results(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, tmp_path: Path
) -> None:
    rows = [
        {
            "q": "When did the bridge open?",
            "a": "It opened in 1974. STUB_SEVERITY=Violence:3" + PAD * 2,
            "c": "The bridge opened in 1974.",
            "imgs": [image(data_url(png("STUB_SEVERITY=Hate:2")))],
        },
        {"q": "Is it open today?", "a": "Calm, short answer.", "c": "Open daily.", "imgs": []},
        {
            "q": "When did the bridge open?",
            "a": "In 1980. STUB_UNGROUNDED STUB_PROTECTED STUB_SEVERITY=Sexual:6" + PAD * 2,
            "c": "The bridge opened in 1974.",
            "imgs": [],
        },
    ]
    cfg = make_config(
        config(
            stub.url,
            "  cs: {use: content_safety}\n  pm: {use: protected_material}\n"
            "  gp: {use: groundedness_pro}",
            backend="azure_content_safety",
            columns="  context: ${data.c}\n  images: ${data.imgs}",
        ),
        rows,
    )
    # Rows 1-3: text:analyze 3 (shared by the four harms), image:analyze 1, protected
    # material 2 (row 2 is too short to send), groundedness 3.
    calls = 9
    before = estimate(cli, cfg)["clients"][label(stub)]
    assert (before["calls"], before["already_cached"]) == (calls, 0)

    run(cli, cfg)
    first = results(tmp_path)
    assert stub.count() == calls
    assert [stub.count(r) for r in (CS_TEXT_ANALYZE, CS_IMAGE_ANALYZE)] == [3, 1]
    assert [stub.count(r) for r in (CS_PROTECTED_MATERIAL, CS_GROUNDEDNESS)] == [2, 3]
    assert first["rows"][0]["outputs.cs.hate_unfairness_score"] == 2  # from the image
    assert first["rows"][2]["outputs.pm.protected_material_label"] is True

    run(cli, cfg)
    second = results(tmp_path)
    assert stub.count() == calls  # not one new call
    for part in ("rows", "metrics", "summaries", "errors", "status"):
        assert second[part] == first[part], part
    usage = second["usage"]["clients"][label(stub)]
    assert (usage["calls"], usage["cache_hits"]) == (0, calls)

    res = cli.invoke(app, ["cache", "info"])
    assert res.exit_code == 0 and f"{calls} answers (content_safety {calls})" in res.stdout
    after = estimate(cli, cfg)
    assert (after["clients"][label(stub)]["calls"], after["total"]["already_cached"]) == (
        0,
        calls,
    )
    assert stub.count() == calls  # the estimate calls nothing

    run(cli, cfg, "--no-cache")
    assert stub.count() == 2 * calls
    assert results(tmp_path)["rows"] == first["rows"]


def test_a_change_in_what_is_asked_makes_new_calls(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    evaluators = "  violence: {}"
    rows = [{"q": "q", "a": "First answer."}, {"q": "q", "a": "Second answer."}]
    cfg = make_config(config(stub.url, evaluators, backend="azure_content_safety"), rows)
    run(cli, cfg)
    assert stub.count() == 2
    # Another text in one row: only that row is asked again.
    rows[1]["a"] = "Second answer, edited."
    cfg = make_config(config(stub.url, evaluators, backend="azure_content_safety"), rows)
    run(cli, cfg)
    assert stub.count() == 3
    assert stub.requests[-1].body["text"] == "Second answer, edited."
    # Another api-version: every text is asked again.
    older = config(
        stub.url, evaluators, backend="azure_content_safety", safety="  api_version: '2023-10-01'"
    )
    run(cli, make_config(older, rows, name="older.yaml"))
    assert stub.count() == 5
    assert {r.query["api-version"] for r in stub.requests[-2:]} == {"2023-10-01"}
    # Both versions' answers stay: going back makes no call.
    run(cli, cfg)
    assert stub.count() == 5


def test_the_cache_key_covers_operation_endpoint_version_and_body() -> None:
    def client(endpoint: str, key: str = "key-one") -> ContentSafetyClient:
        cfg = SafetyConfig(backend="azure_content_safety", endpoint=endpoint, api_key=key)
        return ContentSafetyClient(cfg)

    body = {"text": "hello", "categories": ALL_CATEGORIES, "outputType": "EightSeverityLevels"}
    base = client("https://cs.example.test")
    other_key = client("https://CS.example.test/", key="key-two")  # same resource
    other_host = client("https://cs2.example.test")
    gateway = client("https://cs.example.test/gateway")
    try:
        key = base.cache_key("text:analyze", body, "2024-09-01")
        assert other_key.cache_key("text:analyze", body, "2024-09-01") == key
        variants = [
            key,
            base.cache_key("text:detectProtectedMaterial", body, "2024-09-01"),
            base.cache_key("text:analyze", body, "2023-10-01"),
            base.cache_key("text:analyze", {**body, "text": "hello!"}, "2024-09-01"),
            base.cache_key("text:analyze", {**body, "categories": ["Hate"]}, "2024-09-01"),
            base.cache_key(
                "text:analyze", {**body, "outputType": "FourSeverityLevels"}, "2024-09-01"
            ),
            other_host.cache_key("text:analyze", body, "2024-09-01"),
            gateway.cache_key("text:analyze", body, "2024-09-01"),
        ]
        assert len(set(variants)) == len(variants)
    finally:
        for c in (base, other_key, other_host, gateway):
            c.close()


def test_failures_are_not_cached_and_are_retried_on_the_next_run(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, tmp_path: Path
) -> None:
    def faults(req: StubRequest) -> Reply | None:
        text = str(req.body.get("text", ""))
        if "FAIL_500" in text:
            return status(500)
        if "GARBLED" in text:
            return malformed("not JSON at all")
        if "OUT_OF_RANGE" in text:  # an answer, just an unusable one
            return Reply(
                json={
                    "categoriesAnalysis": [{"category": c, "severity": 8} for c in ALL_CATEGORIES]
                }
            )
        return None

    stub.add_responder(faults, route=CS_TEXT_ANALYZE)
    texts = ["Fine one.", "Fine two.", "FAIL_500 three", "GARBLED four", "OUT_OF_RANGE five"]
    text = config(stub.url, "  violence: {}", backend="azure_content_safety")
    cfg = make_config(
        text.replace("max_retries: 2", "max_retries: 0"), [{"q": "q", "a": a} for a in texts]
    )
    run(cli, cfg)
    assert stub.count() == 5
    kinds = [r.get("outputs.violence.error_kind") for r in results(tmp_path)["rows"]]
    assert kinds == [
        None,
        None,
        "content-safety-http-500",
        "content-safety-bad-answer",
        "content-safety-severity-out-of-range",
    ]
    res = cli.invoke(app, ["cache", "info"])
    assert "3 answers (content_safety 3)" in res.stdout  # the two failures are not there

    stub.clear_responders()
    run(cli, cfg)
    assert stub.count() == 7  # only the two failed calls are made again
    assert sorted(r.body["text"] for r in stub.requests[-2:]) == sorted(texts[2:4])
    rows = results(tmp_path)["rows"]
    assert [r.get("outputs.violence.violence_score") for r in rows[:4]] == [0, 0, 0, 0]
    # A 2xx answer is kept even when unusable, as judge answers that fail to parse are.
    assert rows[4]["outputs.violence.error_kind"] == "content-safety-severity-out-of-range"


def test_a_killed_content_safety_run_resumes_with_only_the_missing_calls(
    make_config: MakeConfig, stub: StubServer, tmp_path: Path
) -> None:
    stub.latency_s = 0.05
    n = 40
    text = config(
        stub.url, "  violence: {}", backend="azure_content_safety", safety="  concurrency: 2"
    )
    cfg = make_config(text, [{"q": "q", "a": f"Answer number {i}."} for i in range(n)])
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

    def evalcli(*args: str) -> None:
        done = subprocess.run(
            [EVALCLI, "run", str(cfg), "-q", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    evalcli()
    resumed = results(tmp_path)
    # Answers stored before the kill are not asked again (the one or two in flight are).
    assert stub.count() - made_before <= n - made_before + 2
    assert resumed["usage"]["clients"][label(stub)]["cache_hits"] >= made_before - 2
    evalcli("--no-cache", "-o", "fresh")
    fresh = json.loads((tmp_path / "fresh" / "results.json").read_text())
    assert resumed["rows"] == fresh["rows"]

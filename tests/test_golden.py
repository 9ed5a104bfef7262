"""Golden outputs of every sample config, run against the loopback stub.

Recorded before the evaluator-contract refactor (issue 11) so that refactors keep behaviour:
``results.json`` and ``results.csv`` must stay identical, apart from what legitimately
changes between two runs (timestamps, durations, versions, absolute paths, latencies).

Re-record (only when a change of output is intended, and say so in the commit):
``EVALCLI_RECORD_GOLDEN=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_demo import demo_env
from evalcli.testing.stub_server import StubServer

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
KEY = "golden-key"
RECORD = os.environ.get("EVALCLI_RECORD_GOLDEN") == "1"

_HOST = re.compile(r"127\.0\.0\.1:\d+")
# Keys whose values differ between two identical runs.
_VOLATILE = {"started_at", "finished_at", "duration_s", "evalcli_version", "config_path"}


def _normalize(value: Any, url: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _VOLATILE or "latency" in k or (k.endswith("_s") and isinstance(v, float)):
                out[k] = "<volatile>"
            else:
                out[_normalize(k, url)] = _normalize(v, url)
        return out
    if isinstance(value, list):
        return [_normalize(v, url) for v in value]
    if isinstance(value, str):
        return _text(value)
    return value


def _text(value: str) -> str:
    value = _HOST.sub("<stub>", value)
    return value.replace(str(REPO), "<repo>")


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY) as srv:
        yield srv


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_sample_config_outputs_match_golden(
    cfg: Path,
    stub: StubServer,
    cli: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in demo_env(stub.url, KEY).items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    res = cli.invoke(app, ["run", str(cfg), "-o", str(out), "--no-cache", "-q"])
    assert res.exit_code in (0, 1), res.stderr
    results = _normalize(json.loads((out / "results.json").read_text("utf-8")), stub.url)
    results["output_dir"] = None
    text = json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    csv_text = _text((out / "results.csv").read_text("utf-8"))
    golden_json = GOLDEN / f"{cfg.stem}.results.json"
    golden_csv = GOLDEN / f"{cfg.stem}.results.csv"
    if RECORD:
        golden_json.write_text(text, encoding="utf-8")
        golden_csv.write_text(csv_text, encoding="utf-8", newline="")
    assert text == golden_json.read_text(encoding="utf-8")
    assert csv_text == golden_csv.read_text(encoding="utf-8")

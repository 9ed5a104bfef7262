"""The offline demo: the stub server's ``export`` lines run every sample config in configs/."""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.envref import ENV_REF
from evalcli.testing.stub_demo import DEMO_ENV
from evalcli.testing.stub_server import main as stub_main
from tests.conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
# Every ${env:NAME} the sample configs use (read from the files, not from DEMO_ENV).
CONFIG_VARS = {name for cfg in CONFIGS for name in ENV_REF.findall(cfg.read_text("utf-8"))}


def test_demo_covers_every_variable_of_the_sample_configs() -> None:
    assert len(CONFIGS) >= 9 and len(CONFIG_VARS) >= 6
    assert not CONFIG_VARS - set(DEMO_ENV), "not in the demo exports"


def test_help_names_the_api_key_and_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        stub_main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "test-key" in out and "export" in out and "configs/" in out


def _read_until(lines: queue.Queue[str], prefix: str, timeout_s: float = 20.0) -> list[str]:
    """Lines up to and including the first one starting with ``prefix`` (bounded wait)."""
    out: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not out or not out[-1].startswith(prefix):
        out.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
    return out


@pytest.fixture
def demo_server() -> Iterator[list[str]]:
    """``python -m evalcli.testing.stub_server`` as a user starts it; yields what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalcli.testing.stub_server"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads, so that a server that never prints the last line fails the test
    # instead of hanging it.
    pump = threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in stdout])
    pump.start()
    try:
        yield _read_until(lines, "# Ctrl-C")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        pump.join(timeout=10)
        stdout.close()


def _exports(printed: list[str]) -> dict[str, str]:
    """What a shell makes of the pasted lines: ``export NAME=value`` (comments ignored)."""
    env: dict[str, str] = {}
    for line in printed[1:]:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "export" and len(words) == 2, line
        name, _, value = words[1].partition("=")
        env[name] = value
    return env


def test_printed_exports_run_every_sample_config(
    demo_server: list[str],
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = demo_server[0]
    assert url.startswith("http://127.0.0.1:")
    env = _exports(demo_server)
    assert set(env) >= CONFIG_VARS
    assert env["AZURE_OPENAI_API_KEY"] == "test-key"
    # Exactly the printed variables: nothing else of the same names leaks in.
    for name in CONFIG_VARS | set(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    for cfg in CONFIGS:
        res = cli.invoke(app, ["validate", str(cfg)])
        assert res.exit_code == 0, (cfg.name, res.stderr)

    # Every sample config runs end to end against the stub, whole (at most 20 rows each):
    # the Azure ML endpoint, the judge, chat targets, Content Safety, code and prompt
    # evaluators. Gates may fail on the stub's fake scores (exit 1); nothing may error.
    for cfg in CONFIGS:
        out = tmp_path / cfg.stem
        res = cli.invoke(app, ["run", str(cfg), "-o", str(out), "--no-cache", "-q"])
        assert res.exit_code in (0, 1), (cfg.name, res.stderr)
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert results["errors"] == [], (cfg.name, results["errors"][:3])
        data = (REPO / results["run"]["dataset"]["path"]).read_text(encoding="utf-8")
        rows = len(data.splitlines())
        assert len(results["rows"]) == results["run"]["dataset"]["rows"] == rows, cfg.name

"""The installed `evalcli` command, as a user runs it, in a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, write_jsonl

EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EVALCLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def test_quickstart_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("run", str(REPO / "configs" / "quickstart.yaml"), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "quickstart" in proc.stdout and "f1_score" in proc.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["status"] == "completed"
    assert data["run"]["dataset"]["rows"] == 20
    assert len(data["rows"]) == 20
    assert all(g["passed"] for g in data["gates"])
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 21


def test_version_and_help() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("evalcli ")
    for cmd in ([], ["run"], ["validate"], ["list-evaluators"], ["nltk-data"]):
        proc = run(*cmd, "--help")
        assert proc.returncode == 0, (cmd, proc.stderr)
        assert "Usage" in proc.stdout


def test_process_pool_matches_in_process(tmp_path: Path) -> None:
    """Forked workers and the in-process path give identical rows (ordering included)."""
    rows = [
        {
            "answer": f"answer number {i} about the river, city and sea",
            "truth": f"the answer {i % 7} is about a river city by the sea",
        }
        for i in range(400)
    ]
    write_jsonl(tmp_path / "data.jsonl", rows)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "dataset: {path: data.jsonl}\n"
        "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
        "evaluators: {f1_score: {}, bleu: {}, gleu: {}, meteor: {},\n"
        "  rouge2: {use: rouge, params: {rouge_type: rouge2}}}\n"
    )
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("run", str(cfg), "-q", "-o", str(a), "--workers", "2").returncode == 0
    assert run("run", str(cfg), "-q", "-o", str(b), "--workers", "0").returncode == 0
    rows_a = json.loads((a / "results.json").read_text())["rows"]
    rows_b = json.loads((b / "results.json").read_text())["rows"]
    assert [r["line"] for r in rows_a] == list(range(1, 401))
    assert rows_a == rows_b
    assert (a / "results.csv").read_text() == (b / "results.csv").read_text()


def test_ctrl_c_writes_partial_results_and_exits_130(tmp_path: Path) -> None:
    n = 300_000
    with (tmp_path / "big.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"answer": f"a b c {i}", "truth": f"a b d {i}"}) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "dataset: {path: big.jsonl}\n"
        "columns: {response: ${data.answer}, ground_truth: ${data.truth}}\n"
        "evaluators: {f1_score: {}}\noutput: {dir: out}\n"
    )
    proc = subprocess.Popen(
        [EVALCLI, "run", str(cfg), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    part = tmp_path / "out" / ".results.json.rows.part"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 0):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["status"] == "interrupted"
    done = len(data["rows"])
    assert 0 < done < n
    assert [r["line"] for r in data["rows"]] == list(range(1, done + 1))
    assert "Traceback" not in err

"""The forked worker pool on the path users run: default settings, real processes, ≥ 1,000 rows.

Every run here goes through the CLI in a subprocess, because the runner only forks workers
from a process with no other thread (pytest's in-process runs with a stub server stay
in-process). The misbehaving evaluators live in tests/fixtures/pool/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_jsonl

SCRIPT = Path(__file__).parent / "fixtures" / "pool" / "run_with_pool_evaluators.py"
ROWS = 1200


def _config(tmp_path: Path, evaluators: str, extra: str = "") -> Path:
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        "dataset: {path: data.jsonl}\n"
        "columns:\n  response: ${data.answer}\n  ground_truth: ${data.truth}\n"
        f"evaluators:\n{evaluators}"
        "output: {dir: out}\n" + extra,
        encoding="utf-8",
    )
    return cfg


def _rows(markers: dict[int, str]) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, ROWS + 1):
        answer = f"The cat number {i} sat on the mat {markers.get(i, '')}".strip()
        rows.append({"answer": answer, "truth": f"A cat numbered {i} was sitting on a mat"})
    return rows


def _start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "run", "eval.yaml", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), **(env or {})},
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _out, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid follows its closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _scores(results: dict[str, Any], alias: str) -> dict[int, Any]:
    return {r["line"]: r.get(f"outputs.{alias}.{alias}") for r in results["rows"]}


def test_a_row_that_kills_its_worker_is_marked_and_the_run_goes_on(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", _rows({500: "POISON", 777: "POISON"}))
    _config(tmp_path, "  poison: {}\n  f1_score: {}\n  bleu: {}\n")
    code, err = _finish(_start(tmp_path))
    assert code == 3, err  # two failed rows > max_error_rate 0: a run error, never exit 4
    assert "internal error" not in err
    res = _results(tmp_path)
    assert len(res["rows"]) == ROWS
    crashed = {(e["line"], e["evaluator"]) for e in res["errors"] if e["kind"] == "worker-crashed"}
    assert {line for line, _ in crashed} == {500, 777}
    assert {e["kind"] for e in res["errors"]} == {"worker-crashed"}
    for row in res["rows"]:
        if row["line"] in (500, 777):
            assert row["outputs.poison.error_kind"] == "worker-crashed"
            assert "outputs.poison.poison" not in row
        else:
            assert row["outputs.poison.poison"] == len(row["inputs.answer"])
            assert isinstance(row["outputs.bleu.bleu"], float)
    assert res["metrics"]["poison.error_count"] == 2


def test_worker_crashes_follow_max_error_rate(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", _rows({42: "POISON"}))
    _config(tmp_path, "  poison: {}\n  f1_score: {}\n", "run: {max_error_rate: 0.01}\n")
    code, err = _finish(_start(tmp_path))
    assert code == 0, err
    assert _results(tmp_path)["status"] == "completed"


def test_a_worker_killed_mid_run_is_replaced_and_nothing_is_lost(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data.jsonl", _rows({}))
    _config(tmp_path, "  poison: {}\n  f1_score: {}\n  bleu: {}\n")
    # Reference: the same run, undisturbed.
    code, err = _finish(_start(tmp_path, "--output-dir", "ref"))
    assert code == 0, err
    reference = json.loads((tmp_path / "ref" / "results.json").read_text(encoding="utf-8"))

    proc = _start(tmp_path, env={"EVALCLI_TEST_SLEEP_MS": "4"})
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        spawners = _children(proc.pid)
        workers = [w for s in spawners for w in _children(s)]
        if len(workers) >= 2:
            time.sleep(0.5)  # let them get into their batches
            victim = workers[0]
        else:
            time.sleep(0.02)
    assert victim is not None, "the run never started its worker pool"
    os.kill(victim, signal.SIGKILL)
    code, err = _finish(proc)
    assert code == 0, err
    assert "worker process" in err and "died" in err  # the user is told
    res = _results(tmp_path)
    assert res["errors"] == []
    assert [r["line"] for r in res["rows"]] == list(range(1, ROWS + 1))
    for alias in ("poison", "f1_score", "bleu"):
        assert _scores(res, alias) == _scores(reference, alias)


def test_errors_cross_the_process_boundary_as_data(tmp_path: Path) -> None:
    markers = {10: "UNPICKLABLE", 20: "MEMORY", 30: "BADVALUE"}
    write_jsonl(tmp_path / "data.jsonl", _rows(markers))
    _config(tmp_path, "  misbehave: {}\n  f1_score: {}\n", "run: {max_error_rate: 0.01}\n")
    code, err = _finish(_start(tmp_path))
    assert code == 0, err
    res = _results(tmp_path)
    by_line = {e["line"]: e for e in res["errors"]}
    assert set(by_line) == set(markers)
    assert "_UnpicklableError" in by_line[10]["message"]
    assert "MemoryError" in by_line[20]["message"]
    assert "cannot leave its worker process" in by_line[30]["message"]
    assert all(e["kind"] == "evaluator-exception" for e in res["errors"])
    assert res["metrics"]["f1_score.error_count"] == 0


@pytest.mark.parametrize("workers", ["0", "2"])
def test_null_value_in_a_default_parallel_run(tmp_path: Path, workers: str) -> None:
    """The field report: 400 rows, one null response, f1_score + bleu, default settings."""
    rows = _rows({})[:400]
    rows[136]["answer"] = None
    write_jsonl(tmp_path / "data.jsonl", rows)
    _config(tmp_path, "  f1_score: {}\n  bleu: {}\n")
    args = () if workers == "2" else ("--workers", "0")
    code, err = _finish(_start(tmp_path, *args))
    assert code == 3, err
    res = _results(tmp_path)
    assert [(e["line"], e["evaluator"], e["kind"]) for e in res["errors"]] == [
        (137, "f1_score", "bad-input"),
        (137, "bleu", "bad-input"),
    ]

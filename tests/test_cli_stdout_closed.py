"""A reader that stops reading (``evalcli run cfg.yaml | head``) changes nothing but the output.

The command runs as the console script does, with its standard output a pipe whose reader is
closed before evalcli writes anything: every write fails with EPIPE. The command must still
write its files (results, JUnit), exit with the evaluation's own code, and say nothing of an
internal error (it used to: exit 4, "internal error, please report (BrokenPipeError ...)",
before the JUnit file was written).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, MakeConfig

_MAIN = "import sys\nsys.argv[0] = 'evalcli'\nfrom evalcli.cli import main\nmain()\n"


def run_with_reader_gone(*args: str) -> tuple[int, str]:
    """Run ``evalcli *args`` with stdout a pipe nobody reads; returns (exit code, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # long before the interpreter has started: every write finds it gone
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def assert_quiet(err: str) -> None:
    for sign in ("internal error", "Traceback", "BrokenPipeError", "Exception ignored"):
        assert sign not in err, err


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_a_run_finishes_its_files_and_keeps_its_exit_code(tmp_path: Path, fmt: str) -> None:
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    code, err = run_with_reader_gone(
        "run", "configs/quickstart.yaml", "-o", str(out), "--junit", str(junit), "-f", fmt
    )
    assert code == 0, err
    assert_quiet(err)
    assert (out / "results.json").is_file() and (out / "report.html").is_file()
    assert junit.read_text(encoding="utf-8").startswith("<?xml")


def test_a_failed_gate_is_still_exit_1(make_config: MakeConfig) -> None:
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}}
        gates: [{metric: f1_score.f1_score, min: 0.99}]
        output: {dir: out}
        """,
        rows=[{"answer": "Paris", "truth": "The capital is Lyon"}] * 5,
    )
    code, err = run_with_reader_gone("run", str(cfg), "--workers", "0")
    assert code == 1, err
    assert_quiet(err)


@pytest.mark.parametrize(
    "args",
    [("validate", "configs/quickstart.yaml"), ("list-evaluators",), ("--help",)],
    ids=" ".join,
)
def test_quick_commands_exit_0(args: tuple[str, ...]) -> None:
    code, err = run_with_reader_gone(*args)
    assert code == 0, err
    assert_quiet(err)

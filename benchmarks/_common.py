"""Helpers shared by the benchmark scripts (not part of the package, not run by pytest)."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")

WORDS = (
    "the a of and to in is was for on that with as by at from it this be are or an which "
    "model answer question data water city river capital country people system energy light "
    "small large early late first last new old high low good great important common public "
    "found made used known called built grew moved changed gave took said held kept ran "
    "north south east west summer winter morning evening history science music language"
).split()


def sentence(rng: random.Random, n: int) -> str:
    """A sentence of ``n`` words with capitalisation and punctuation."""
    words = [rng.choice(WORDS) for _ in range(n)]
    if n > 6 and rng.random() < 0.5:
        words[n // 2] += ","
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def qa_rows(n: int, seed: int = 7, words: int = 20) -> list[dict[str, object]]:
    """``n`` rows whose answer/truth texts have about ``words`` words and share some."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        truth = sentence(rng, words // 2) + " " + sentence(rng, words - words // 2)
        toks = truth.split()
        answer = " ".join(t if rng.random() < 0.6 else rng.choice(WORDS) for t in toks)
        rows.append({"id": i + 1, "question": f"q{i}", "answer": answer, "truth": truth})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    """Write JSON Lines."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, CPU seconds of the child, peak RSS of the child in MB).

    Peak RSS comes from wait4(2): the largest resident set of the process itself, which for a
    process with forked workers is the largest single process.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    if proc.stderr:
        proc.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss // 1024


def children_cpu() -> float:
    """CPU seconds used by all waited-for children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def summary(values: list[float]) -> str:
    """median (min–max) of a list of seconds."""
    return f"median {statistics.median(values):.3f}s (min {min(values):.3f}, max {max(values):.3f})"

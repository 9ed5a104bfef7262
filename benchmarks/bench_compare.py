"""Time ``evalcli compare`` on two synthetic runs (default 10,000 rows x 20 metrics).

    python benchmarks/bench_compare.py [--rows 10000] [--evaluators 10] [--resamples 2000]

Each synthetic evaluator has a continuous score (``mean``), a pass/fail result (``pass_rate``)
and an error count, so 10 evaluators give 20 bootstrapped metrics. About 1 % of rows are
errors in each run. Prints the library time (load + pair + bootstrap) and the whole-process
wall time of the CLI.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def synthetic_results(rows: int, evaluators: int, seed: int, shift: float = 0.0) -> dict[str, Any]:
    """A results.json dict with ``evaluators`` score evaluators over ``rows`` rows."""
    rng = random.Random(seed)
    aliases = [f"score{i}" for i in range(evaluators)]
    out_rows = []
    sums = {a: [0.0, 0, 0, 0] for a in aliases}  # score sum, scored, passes, errors
    for line in range(1, rows + 1):
        row: dict[str, Any] = {"line": line, "inputs.id": f"r{line}"}
        for a in aliases:
            if rng.random() < 0.01:
                row[f"outputs.{a}.error"] = "synthetic failure"
                row[f"outputs.{a}.error_kind"] = "synthetic"
                sums[a][3] += 1
                continue
            score = min(1.0, max(0.0, rng.gauss(0.6 + shift, 0.2)))
            row[f"outputs.{a}.{a}"] = score
            row[f"outputs.{a}.{a}_result"] = "pass" if score >= 0.5 else "fail"
            sums[a][0] += score
            sums[a][1] += 1
            sums[a][2] += score >= 0.5
        out_rows.append(row)
    metrics: dict[str, float | None] = {}
    info: dict[str, dict[str, Any]] = {}
    for a in aliases:
        total, scored, passes, errors = sums[a]
        metrics[f"{a}.{a}"] = total / scored
        metrics[f"{a}.pass_rate"] = passes / scored
        metrics[f"{a}.error_count"] = float(errors)
        info[f"{a}.{a}"] = _info(a, "mean", "higher", a)
        info[f"{a}.pass_rate"] = _info(a, "pass_rate", "higher", f"{a}_result")
        info[f"{a}.error_count"] = _info(a, "error_count", "lower", None)
    evaluator_records = {
        a: {"use": "custom", "family": "custom", "params": {}, "prompt_sha256": None, "judge": None}
        for a in aliases
    }
    return {
        "schema_version": 1,
        "status": "completed",
        "exit_code": 0,
        "run": {"name": f"synthetic-{seed}", "evaluators": evaluator_records},
        "metrics": metrics,
        "metric_info": info,
        "rows": out_rows,
    }


# The console script, with `compare` mounted even before evalcli.cli mounts it itself.
_CLI = """
from evalcli.cli import app
from evalcli.cli.compare_cmd import register
if not any(c.name == "compare" for c in app.registered_commands):
    register(app)
app(prog_name="evalcli")
"""


def _info(alias: str, kind: str, direction: str, source: str | None) -> dict[str, Any]:
    return {"evaluator": alias, "kind": kind, "direction": direction, "source_key": source}


def main() -> None:
    """Write two synthetic runs, compare them in-process and through the CLI."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--evaluators", type=int, default=10)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()

    from evalcli.compare import CompareOptions, compare_runs

    with tempfile.TemporaryDirectory() as tmp:
        base, cand = Path(tmp, "base.json"), Path(tmp, "cand.json")
        base.write_text(json.dumps(synthetic_results(args.rows, args.evaluators, 1)))
        cand.write_text(json.dumps(synthetic_results(args.rows, args.evaluators, 2, -0.01)))
        t = time.perf_counter()
        report = compare_runs(base, cand, CompareOptions(resamples=args.resamples))
        lib = time.perf_counter() - t
        tested = sum(m.ci_low is not None for m in report.comparisons[0].metrics)
        t = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                _CLI,
                "compare",
                str(base),
                str(cand),
                "-f",
                "json",
                "--resamples",
                str(args.resamples),
            ],
            capture_output=True,
            check=False,
        )
        wall = time.perf_counter() - t
    print(
        f"{args.rows} rows x {tested} bootstrapped metrics x {args.resamples} resamples: "
        f"library {lib:.2f} s; CLI whole process {wall:.2f} s (exit {proc.returncode})"
    )


if __name__ == "__main__":
    main()

"""Time report.html: writing it, its size, and Chromium loading and rendering it.

    python benchmarks/bench_report.py [--rows 5000] [--repeat 7] [--big 100000]

A synthetic judge run (two 1-5 judge evaluators with results, thresholds, reasons and token
counts; a 15-word query and a 40-word response per row; 20 % failing rows, 1 % errors) of
``--rows`` rows is written to a results.json, then:

* ``write_report`` in this process, ``--repeat`` times (the median counts);
* the file's size against the budget, 200 KB + 1 KB per embedded row;
* headless Chromium (Debian's ``chromium``) opening the file in a fresh tab: navigation to
  two animation frames after the load event, i.e. parsed, the table script run, laid out
  and painted; ``--repeat`` tabs, median; and the main-thread task time the page's own
  ``Performance`` metrics report (parsing, script, style, layout, paint);
* ``evalcli report`` as a whole process on a ``--big``-row run (the table still embeds
  5,000 rows): wall time and peak RSS, which stays flat because rows are streamed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import EVALCLI, sentence, summary, timed
from evalcli.report import MAX_ROWS, write_report
from evalcli.testing.chromium import Browser

EVALUATORS = ("relevance", "coherence")


def write_run(path: Path, rows: int, seed: int = 3) -> Path:
    """A results.json in evalcli's layout with ``rows`` judge-scored rows."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    for ev in EVALUATORS:
        info[f"{ev}.{ev}"] = {
            "evaluator": ev,
            "kind": "mean",
            "direction": "higher",
            "source_key": ev,
            "defect_threshold": None,
            "scale": {"min": 1, "max": 5, "integer": True},
        }
        info[f"{ev}.pass_rate"] = {
            "evaluator": ev,
            "kind": "pass_rate",
            "direction": "higher",
            "source_key": f"{ev}_result",
            "defect_threshold": None,
        }
        info[f"{ev}.error_count"] = {
            "evaluator": ev,
            "kind": "error_count",
            "direction": "lower",
            "source_key": None,
            "defect_threshold": None,
        }
    header = {
        "schema_version": 1,
        "status": "completed",
        "exit_code": 0,
        "message": None,
        "run": {
            "name": "bench",
            "started_at": "",
            "finished_at": "",
            "duration_s": 1.0,
            "evalcli_version": "bench",
            "config_path": "bench.yaml",
            "config_sha256": "0" * 64,
            "dataset": {"path": "data.jsonl", "format": "jsonl", "rows": rows, "sha256": "0" * 64},
            "evaluators": {
                ev: {
                    "use": ev,
                    "family": "quality",
                    "params": {},
                    "judge": "judge azure_openai deployment 'gpt-4o'",
                }
                for ev in EVALUATORS
            },
        },
        "metrics": dict.fromkeys(info),
        "metric_info": info,
        "summaries": [
            {"alias": ev, "use": ev, "family": "quality", "scored": rows, "errors": 0, "extra": {}}
            for ev in EVALUATORS
        ],
        "gates": [],
        "errors": [],
        "usage": {},
        "warnings": [],
    }
    errors = []
    with (path / "results.json").open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header)[:-1] + ', "rows": [')
        for line in range(1, rows + 1):
            row: dict[str, Any] = {
                "line": line,
                "inputs.id": f"r{line}",
                "inputs.query": sentence(rng, 15),
                "inputs.response": sentence(rng, 20) + " " + sentence(rng, 20),
            }
            for ev in EVALUATORS:
                if rng.random() < 0.01:
                    row[f"outputs.{ev}.error"] = "the judge's answer had no score"
                    row[f"outputs.{ev}.error_kind"] = "judge-output-unparseable"
                    errors.append(
                        {
                            "line": line,
                            "evaluator": ev,
                            "kind": "judge-output-unparseable",
                            "message": "the judge's answer had no score",
                        }
                    )
                    continue
                score = 1 + int(rng.random() * 5) if rng.random() < 0.2 else rng.choice([4, 5])
                row[f"outputs.{ev}.{ev}"] = score
                row[f"outputs.{ev}.{ev}_result"] = "pass" if score >= 3 else "fail"
                row[f"outputs.{ev}.{ev}_threshold"] = 3
                row[f"outputs.{ev}.{ev}_reason"] = sentence(rng, 10)
                row[f"outputs.{ev}.{ev}_prompt_tokens"] = 600 + line % 90
                row[f"outputs.{ev}.{ev}_completion_tokens"] = 19
            fh.write(("" if line == 1 else ",\n") + json.dumps(row))
        fh.write("]}\n")
    return path


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    print(
        f"machine: nproc={os.cpu_count()}, CPU {cpu_model()!r}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp) / "run", args.rows)
        writes, cpus = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            report = write_report(run)
            writes.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        size = report.stat().st_size
        embedded = min(args.rows, MAX_ROWS)
        budget = 200_000 + 1_000 * embedded
        print(f"write_report, {args.rows:,} rows: {summary(writes)}; CPU {summary(cpus)}")
        print(
            f"size: {size:,} bytes = {size / embedded:.0f} B per embedded row "
            f"(budget {budget:,}: {'within' if size <= budget else 'OVER'})"
        )
        with Browser(width=1280, height=900) as browser:
            print(f"browser: {browser.version}")
            loads, tasks = [], []
            for _ in range(args.repeat):
                page = browser.new_page()
                page.call("Performance.enable")
                loads.append(page.goto(report))
                metrics = page.call("Performance.getMetrics")["metrics"]
                tasks.append(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))
                assert not page.console_errors(), page.console_errors()
                shown = page.evaluate("document.querySelectorAll('#rows tr.row').length")
                page.close()
            print(f"chromium load + render ({shown:,} table rows): {summary(loads)}")
            print(f"  of which the page's main-thread tasks: {summary(tasks)}")
        if args.big:
            big = write_run(Path(tmp) / "big", args.big, seed=5)
            mb = (big / "results.json").stat().st_size / 1e6
            wall, cpu, rss = timed([EVALCLI, "report", str(big)])
            print(
                f"evalcli report, {args.big:,} rows ({mb:.0f} MB results.json): "
                f"{wall:.2f}s wall, {cpu:.2f}s CPU, peak RSS {rss} MB"
            )
            small_wall, _, small_rss = timed([EVALCLI, "report", str(run)])
            print(
                f"evalcli report, {args.rows:,} rows: {small_wall:.2f}s wall, peak RSS "
                f"{small_rss} MB"
            )


if __name__ == "__main__":
    main()

"""Issue 3 speed targets: judge-bound runs against the loopback stub (separate process).

    python benchmarks/bench_judge.py                 # both scenarios
    python benchmarks/bench_judge.py --rows 200 --concurrency 30

Scenario A: 200 rows x relevance+coherence+fluency (600 calls), stub latency 200 ms, judge
concurrency 30: whole `evalcli run` <= 5.0 s (ideal 4.0 s; reference SDK 19-26 s).
Client CPU per judge call <= 5 ms (aim 3 ms) = (CPU of the run - CPU of `evalcli --version`)
/ calls.
Scenario B: 1,000 rows x 3 judge evaluators (3,000 calls), latency 200 ms, concurrency 100:
<= 10 s (ideal 6 s).
Scenario C (issue 5): 200 rows, an HTTP target at 200 ms (concurrency 30) + the 3 judge
evaluators at 200 ms (concurrency 30): <= 6 s (sequential phases >= 5.4 s of waiting;
pipelined ideal ~4.2 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import EVALCLI, qa_rows, timed, write_jsonl

KEY = "bench-key"


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evalcli.testing.stub_server",
            "--port",
            "0",
            "--latency",
            str(latency),
            "--api-key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def config(tmp: Path, url: str, rows: int, concurrency: int, target: bool = False) -> Path:
    data = tmp / f"judge{rows}.jsonl"
    write_jsonl(data, qa_rows(rows))
    cfg = tmp / f"judge{rows}-{concurrency}{'-target' if target else ''}.yaml"
    target_section = (
        f"""
target:
  type: http
  url: {url}/score
  headers: {{Authorization: Bearer ${{env:BENCH_KEY}}}}
  body: {{input_data: ["${{data.question}}"]}}
  outputs: {{answer: output}}
  concurrency: 30
"""
        if target
        else ""
    )
    response = "${target.answer}" if target else "${data.answer}"
    cfg.write_text(f"""
name: bench-judge
dataset: {{path: {data}}}
{target_section}
columns: {{query: ${{data.question}}, response: {response}}}
judge:
  type: azure_openai
  endpoint: {url}
  deployment: gpt-4o
  api_key: ${{env:BENCH_KEY}}
  concurrency: {concurrency}
evaluators: {{relevance: {{}}, coherence: {{}}, fluency: {{}}}}
output: {{dir: {tmp / "out"}}}
""")
    return cfg


def scenario(
    tmp: Path,
    url: str,
    rows: int,
    concurrency: int,
    repeats: int,
    baseline_cpu: float,
    target: bool = False,
) -> None:
    cfg = config(tmp, url, rows, concurrency, target)
    calls = rows * (4 if target else 3)
    results = []
    for _ in range(repeats):
        # --no-cache: every repeat makes its calls (the call cache is on by default since
        # issue 7, and would answer the repeats, and later runs of this script, from disk).
        wall, cpu, rss = timed(
            [EVALCLI, "run", str(cfg), "-q", "--no-cache"], env={"BENCH_KEY": KEY}
        )
        results.append((wall, cpu, rss))
    walls = sorted(r[0] for r in results)
    cpus = sorted(r[1] for r in results)
    med_wall, med_cpu = walls[len(walls) // 2], cpus[len(cpus) // 2]
    per_call = (med_cpu - baseline_cpu) / calls * 1000
    print(
        f"{rows} rows x {'HTTP target + ' if target else ''}3 judge evaluators ({calls} calls), "
        f"concurrency {concurrency}: "
        f"wall median {med_wall:.2f}s (min {walls[0]:.2f}, max {walls[-1]:.2f}); "
        f"CPU median {med_cpu:.2f}s -> {per_call:.2f} ms client CPU per call; "
        f"peak RSS {max(r[2] for r in results)} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--concurrency", type=int)
    ap.add_argument("--only", choices=["A", "B", "C"])
    args = ap.parse_args()
    baseline = sorted(timed([EVALCLI, "--version"])[1] for _ in range(5))[2]
    print(f"CPU of `evalcli --version`: {baseline * 1000:.0f} ms (subtracted)")
    stub, url = start_stub(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="evalcli-bench-") as d:
            tmp = Path(d)
            if args.rows:
                scenario(tmp, url, args.rows, args.concurrency or 30, args.repeats, baseline)
            else:
                if args.only in (None, "A"):
                    scenario(tmp, url, 200, 30, args.repeats, baseline)
                if args.only in (None, "B"):
                    scenario(tmp, url, 1000, 100, args.repeats, baseline)
                if args.only in (None, "C"):
                    scenario(tmp, url, 200, 30, args.repeats, baseline, target=True)
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()

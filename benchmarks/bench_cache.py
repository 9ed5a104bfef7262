"""Issue 7 speed targets for the call cache (stub judge in a separate process).

    python benchmarks/bench_cache.py

1. Re-running a completed 2,000-call judge run with a warm cache: <= 1.5 s whole process.
2. A cold 600-call run (200 rows x 3 judge evaluators, 200 ms latency, concurrency 30) with
   the cache on: same <= 5.0 s target as without the cache (lookups and writes from 30
   threads must not become the bottleneck).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import EVALCLI, qa_rows, summary, timed, write_jsonl
from bench_judge import KEY, start_stub


def write_config(tmp: Path, url: str, rows: int, name: str) -> Path:
    data = tmp / f"{name}.jsonl"
    write_jsonl(data, qa_rows(rows, seed=rows))
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(f"""
dataset: {{path: {data}}}
columns: {{query: ${{data.question}}, response: ${{data.answer}}}}
judge: {{type: azure_openai, endpoint: {url}, deployment: gpt-4o, api_key: ${{env:BENCH_KEY}},
         concurrency: 30}}
evaluators: {{relevance: {{}}, coherence: {{}}}}
output: {{dir: {tmp / ("out-" + name)}}}
cache: {{path: {tmp / (name + ".db")}}}
""")
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {"BENCH_KEY": KEY}
    stub, url = start_stub(0.2)
    try:
        with tempfile.TemporaryDirectory(prefix="evalcli-bench-") as d:
            tmp = Path(d)
            # 1. warm re-run of 2,000 calls (1,000 rows x 2 evaluators)
            cfg = write_config(tmp, url, 1000, "warm")
            wall, _, _ = timed([EVALCLI, "run", str(cfg), "-q"], env=env)
            print(f"cold 2,000-call run (fills the cache): {wall:.2f}s")
            walls = [
                timed([EVALCLI, "run", str(cfg), "-q"], env=env)[0] for _ in range(args.repeats)
            ]
            print(f"warm re-run, 2,000 calls all from the cache: {summary(walls)}")
            # 2. cold 600-call run with the cache on vs --no-cache
            cfg = tmp / "cold.yaml"
            base = write_config(tmp, url, 200, "cold")
            text = base.read_text().replace(
                "evaluators: {relevance: {}, coherence: {}}",
                "evaluators: {relevance: {}, coherence: {}, fluency: {}}",
            )
            cfg.write_text(text)
            on, off = [], []
            for _ in range(3):
                db = tmp / "cold.db"
                for p in tmp.glob("cold.db*"):
                    p.unlink()
                on.append(timed([EVALCLI, "run", str(cfg), "-q"], env=env)[0])
                assert db.exists()
                off.append(timed([EVALCLI, "run", str(cfg), "-q", "--no-cache"], env=env)[0])
            print(f"cold 600-call run, cache on (30 threads writing): {summary(on)}")
            print(f"cold 600-call run, --no-cache:                    {summary(off)}")
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()

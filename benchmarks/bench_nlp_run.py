"""Issue 2 speed and memory targets, measured on whole `evalcli` processes.

    python benchmarks/bench_nlp_run.py            # all measurements
    python benchmarks/bench_nlp_run.py --only run # just the 2,000-row run

Targets: 2,000 rows x F1+BLEU+ROUGE-L whole process <= 2.0 s (aim 1.5 s);
`evalcli --help` and `evalcli list-evaluators` <= 0.4 s; 1,000,000-row JSONL with F1 only:
peak RSS <= 300 MB and about the same as for 100,000 rows.
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

from _common import EVALCLI, qa_rows, summary, timed, write_jsonl

CONFIG = """
name: bench
dataset: {{path: {data}}}
columns:
  response: ${{data.answer}}
  ground_truth: ${{data.truth}}
evaluators:
{evaluators}
output: {{dir: {out}}}
run: {{max_error_rate: 0.0}}
"""

F1_BLEU_ROUGE = """  f1_score: {}
  bleu: {}
  rougeL: {use: rouge, params: {rouge_type: rougeL}}"""


def write_config(tmp: Path, name: str, rows: int, evaluators: str) -> Path:
    data = tmp / f"{name}.jsonl"
    if not data.exists():
        write_jsonl(data, qa_rows(rows))
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(
        textwrap.dedent(CONFIG).format(data=data, out=tmp / f"out-{name}", evaluators=evaluators)
    )
    return cfg


def bench_run(tmp: Path, repeats: int) -> None:
    cfg = write_config(tmp, "nlp2000", 2000, F1_BLEU_ROUGE)
    timed([EVALCLI, "run", str(cfg), "-q"])  # warm the page cache
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu, _ = timed([EVALCLI, "run", str(cfg), "-q"])
        walls.append(wall)
        cpus.append(cpu)
    print(
        f"2,000 rows x F1+BLEU+ROUGE-L, whole process: {summary(walls)}; "
        f"CPU (parent+workers) median {sorted(cpus)[len(cpus) // 2]:.2f}s"
    )
    walls = [timed([EVALCLI, "run", str(cfg), "-q", "--workers", "0"])[0] for _ in range(3)]
    print(f"  same, single process (--workers 0): {summary(walls)}")


def bench_startup(repeats: int) -> None:
    for args in (["--help"], ["list-evaluators"], ["--version"]):
        walls = [timed([EVALCLI, *args])[0] for _ in range(repeats)]
        print(f"evalcli {' '.join(args)}: {summary(walls)}")


def bench_memory(tmp: Path) -> None:
    for n in (100_000, 1_000_000):
        data = tmp / f"big{n}.jsonl"
        # Stream the file out in chunks so this script itself stays small.
        with data.open("w") as fh:
            for start in range(0, n, 50_000):
                for r in qa_rows(min(50_000, n - start), seed=start, words=12):
                    fh.write(f'{{"answer": "{r["answer"]}", "truth": "{r["truth"]}"}}\n')
        cfg = write_config(tmp, f"big{n}", n, "  f1_score: {}")
        wall, cpu, rss = timed([EVALCLI, "run", str(cfg), "-q"])
        size = data.stat().st_size / 1e6
        print(
            f"{n:>9,} rows F1 only ({size:.0f} MB JSONL): wall {wall:.1f}s, CPU {cpu:.1f}s, "
            f"peak RSS {rss} MB"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", choices=["run", "startup", "memory"])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalcli-bench-") as d:
        tmp = Path(d)
        if args.only in (None, "run"):
            bench_run(tmp, args.repeats)
        if args.only in (None, "startup"):
            bench_startup(args.repeats)
        if args.only in (None, "memory"):
            bench_memory(tmp)


if __name__ == "__main__":
    main()

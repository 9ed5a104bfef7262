"""The crash-tolerant worker pool against the ProcessPoolExecutor it replaced, side by side.

    python benchmarks/bench_worker_pool.py [--baseline-ref f905410] [--repeat 7] [--current DIR]

Runs the same whole `evalcli run` (2,000 rows x F1 + BLEU + ROUGE-L, default settings, so the
worker pool is used) from this checkout and from a temporary git worktree of the baseline
commit (the last one with the ProcessPoolExecutor), alternated, and prints the median wall and
CPU time of each and their ratio. Then it measures what recovering from dead workers costs: the
same run with one row that kills its worker (SIGKILL) every time it is evaluated, which costs
four worker deaths (the batch twice, then that row alone twice) and one row marked
`worker-crashed`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, qa_rows, timed, write_jsonl

CONFIG = """dataset: {{path: {data}}}
columns: {{response: ${{data.answer}}, ground_truth: ${{data.truth}}}}
evaluators:
{extra}  f1_score: {{}}
  bleu: {{}}
  rougeL: {{use: rouge, params: {{rouge_type: rougeL}}}}
output: {{dir: {out}}}
run: {{max_error_rate: 0.01}}
"""
POOL_SCRIPT = REPO / "tests" / "fixtures" / "pool" / "run_with_pool_evaluators.py"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-ref", default="f905410")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--current", type=Path, default=REPO, help="checkout to measure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalcli-bench-pool-") as tmp_s:
        tmp = Path(tmp_s)
        base = tmp / "baseline"
        subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "worktree",
                "add",
                "-q",
                "--detach",
                str(base),
                args.baseline_ref,
            ],
            check=True,
        )
        try:
            rows = qa_rows(2000)
            write_jsonl(tmp / "data.jsonl", rows)
            cfg = tmp / "run.yaml"
            cfg.write_text(CONFIG.format(data=tmp / "data.jsonl", out=tmp / "out", extra=""))
            results: dict[str, list[tuple[float, float]]] = {"current": [], "baseline": []}
            for _ in range(args.repeat):
                for name, path in (("current", args.current), ("baseline", base)):
                    cmd = [sys.executable, "-m", "evalcli", "run", str(cfg), "-q"]
                    wall, cpu, _rss = timed(cmd, {"PYTHONPATH": str(path)})
                    results[name].append((wall, cpu))
            print(f"2,000 rows x F1+BLEU+ROUGE-L, whole process, median of {args.repeat}:")
            med = {}
            for name, vals in results.items():
                w = statistics.median(v[0] for v in vals)
                c = statistics.median(v[1] for v in vals)
                med[name] = (w, c)
                print(f"  {name:9s} wall {w:.3f} s   CPU {c:.3f} s (parent + workers)")
            print(
                f"  ratio current/baseline: wall {med['current'][0] / med['baseline'][0]:.2f}, "
                f"CPU {med['current'][1] / med['baseline'][1]:.2f}"
            )

            poison = [dict(r) for r in rows]
            poison[999]["answer"] = str(poison[999]["answer"]) + " POISON"
            write_jsonl(tmp / "poison.jsonl", poison)
            for name, data in (("clean", "data.jsonl"), ("poison", "poison.jsonl")):
                (tmp / f"{name}.yaml").write_text(
                    CONFIG.format(data=tmp / data, out=tmp / name, extra="  poison: {}\n")
                )
            env = {"PYTHONPATH": str(args.current)}
            script = args.current / POOL_SCRIPT.relative_to(REPO)
            walls: dict[str, list[float]] = {"clean": [], "poison": []}
            for _ in range(args.repeat):
                for name in walls:
                    cmd = [sys.executable, str(script), "run", str(tmp / f"{name}.yaml"), "-q"]
                    walls[name].append(timed(cmd, env)[0])
            c, p = (statistics.median(walls[k]) for k in ("clean", "poison"))
            print("one row that kills its worker (4 deaths, 1 row marked), median wall:")
            print(f"  clean {c:.3f} s, with the poison row {p:.3f} s (+{p - c:.3f} s)")
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False
            )
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()

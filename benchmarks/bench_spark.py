"""Issue 14: the Spark engine on ``local[2]`` against the local engine, same machine, same rows.

    python benchmarks/bench_spark.py                  # 200,000 rows, 2 runs of each engine
    python benchmarks/bench_spark.py --rows 20000 --repeats 1

Each run is a whole ``evalcli run`` process (F1 + BLEU + ROUGE-L); runs of the two engines
alternate so that a change in the machine's load hits both. Measured per run: wall time; CPU
of the process and every descendant (the JVM, PySpark's Python workers, the local engine's
worker processes), from wait4(2) once the tree has exited; and the peak of the *summed*
resident memory of the process tree, sampled from /proc every 0.2 s (the local engine and
Spark both spread a run over several processes, so one process's peak would undercount).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from _common import EVALCLI, qa_rows, write_jsonl

CONFIG = """
name: bench-spark
dataset: {{path: {data}}}
columns:
  response: ${{data.answer}}
  ground_truth: ${{data.truth}}
evaluators:
  f1_score: {{}}
  bleu: {{}}
  rougeL: {{use: rouge, params: {{rouge_type: rougeL}}}}
engine: {{master: "local[2]"}}
cache: {{enabled: false}}
output: {{html: false}}
"""


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> dict[int, tuple[float, int]]:
    """``root`` and its descendants: pid -> (CPU seconds so far, resident bytes), from /proc."""
    parents: dict[int, int] = {}
    stats: dict[int, tuple[float, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        stats[pid] = ((int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE)
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return {p: stats[p] for p in tree if p in stats}


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s of the whole process tree, peak summed RSS MB) of one run.

    CPU: each process's own user+system time, last seen while it ran, summed over every
    process of the tree (the JVM and PySpark's workers are not all reaped by the run's
    process, so wait4 alone would miss them), or wait4's figure if that is larger.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            tree = _tree(proc.pid)
            peak = max(peak, sum(rss for _, rss in tree.values()) / 1e6)
            for pid, (seconds, _) in tree.items():
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    # wait4 counts the process and the descendants it reaped (the local engine's workers),
    # exactly; the samples also see the JVM and its Python workers, which it did not reap.
    return wall, max(usage.ru_utime + usage.ru_stime, sum(cpu.values())), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evalcli-bench-spark-") as d:
        tmp = Path(d)
        data = tmp / "rows.jsonl"
        write_jsonl(data, qa_rows(args.rows))
        cfg = tmp / "bench.yaml"
        cfg.write_text(textwrap.dedent(CONFIG).format(data=data), encoding="utf-8")
        runs = {
            "local engine (2 worker processes)": [EVALCLI, "run", str(cfg), "-q"],
            "spark engine (local[2])": [EVALCLI, "run", str(cfg), "-q", "--engine", "spark"],
        }
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in runs}
        print(f"load before: {os.getloadavg()}, nproc {os.cpu_count()}")
        for i in range(args.repeats):
            for name, cmd in runs.items():
                out = ["--output-dir", str(tmp / f"out-{i}-{len(results[name])}")]
                results[name].append(measure([*cmd, *out]))
                wall, cpu, rss = results[name][-1]
                print(f"  {name}: wall {wall:.1f}s, CPU {cpu:.1f}s, peak tree RSS {rss:.0f} MB")
        print(f"load after: {os.getloadavg()}")
        print(f"{args.rows:,} rows x F1 + BLEU + ROUGE-L (median of {args.repeats}):")
        medians = {}
        for name, rs in results.items():
            wall, cpu, rss = (statistics.median(x) for x in zip(*rs, strict=True))
            medians[name] = wall
            print(f"  {name}: wall {wall:.1f}s, CPU {cpu:.1f}s, peak RSS {rss:.0f} MB")
        local, spark = medians.values()
        print(f"  spark / local wall: {spark / local:.2f}")


if __name__ == "__main__":
    main()

"""Issue 15, part 3: the judge's hot path, as ratios against a lean client in the same run.

    python benchmarks/bench_judge_hotpath.py                  # both scenarios, 3 rounds
    python benchmarks/bench_judge_hotpath.py --only A --rounds 5
    python benchmarks/bench_judge_hotpath.py --profile out.prof --only A  # cProfile one run

Scenario A: 200 rows x relevance, coherence, fluency (600 judge calls), concurrency 30.
Scenario B: 1,000 rows x the same three (3,000 calls), concurrency 100.
The stub judge answers after 200 ms and runs in its own process (its CPU is not counted).

Per round, in alternation: the lean client, then ``evalcli run`` with the cache off
(``--no-cache``), then ``evalcli run`` with a cold cache that writes (a new file each round:
what a user's first run does). Each is a whole process, measured with wait4(2): wall time
and CPU (user + system, waited-for children included) divided by the calls made.

The lean client (``lean`` subcommand): one shared ``openai.AsyncOpenAI`` (``max_retries=0``),
the same rendered messages pre-built in a JSON file (rendered here, before any timing), one
task per call under a semaphore of the concurrency, each answer's JSON parsed, no cache.

Targets (evalcli / lean, medians): wall <= 1.10x, CPU per call <= 1.00x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import EVALCLI, qa_rows, write_jsonl

KEY = "bench-key"
MODEL = "gpt-4o"
RUBRICS = ("relevance", "coherence", "fluency")
SCENARIOS = {"A": (200, 30), "B": (1000, 100)}
WALL_TARGET, CPU_TARGET = 1.10, 1.00
STUB_ARGS = ("--port", "0", "--api-key", KEY, "--latency")


# -- the lean client (runs in its own process) ---------------------------------------------


def lean(url: str, messages_file: Path, concurrency: int) -> None:
    """Make every call of ``messages_file`` through one shared AsyncOpenAI client."""
    import asyncio

    import openai

    calls = json.loads(messages_file.read_text(encoding="utf-8"))

    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        slots = asyncio.Semaphore(concurrency)

        async def one(messages: Any, params: Any) -> None:
            async with slots:
                completion = await client.chat.completions.create(
                    model=MODEL, messages=messages, **params
                )
            json.loads(completion.choices[0].message.content or "")

        async with client:
            await asyncio.gather(*(one(c["messages"], c["params"]) for c in calls))

    asyncio.run(main())


# -- the parent: stub, inputs, alternating runs ----------------------------------------------


def start_stub(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalcli.testing.stub_server", *STUB_ARGS, str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def prepare(tmp: Path, url: str, rows: int, concurrency: int) -> tuple[Path, Path]:
    """The dataset and config for evalcli, and the same requests pre-rendered for the lean
    client (rendered with evalcli's own rubrics, so both send the same bytes)."""
    from evalcli.evaluators.judged import load_rubric
    from evalcli.prompts import builtin_prompt_path

    data_rows = qa_rows(rows)
    data = tmp / f"rows{rows}.jsonl"
    write_jsonl(data, data_rows)
    calls = []
    prompts = [load_rubric(builtin_prompt_path(name)) for name in RUBRICS]
    for r in data_rows:
        for prompt in prompts:
            params = {
                k: prompt.model_parameters[k]
                for k in ("temperature", "max_tokens", "response_format")
                if k in prompt.model_parameters
            }
            inputs = {"query": r["question"], "response": r["answer"]}
            calls.append({"messages": prompt.render(inputs), "params": params})
    messages = tmp / f"messages{rows}.json"
    messages.write_text(json.dumps(calls), encoding="utf-8")
    cfg = tmp / f"judge{rows}-{concurrency}.yaml"
    cfg.write_text(f"""
name: bench-judge-hotpath
dataset: {{path: {data}}}
columns: {{query: ${{data.question}}, response: ${{data.answer}}}}
judge:
  type: openai
  base_url: {url}/v1
  model: {MODEL}
  api_key: ${{env:BENCH_KEY}}
  concurrency: {concurrency}
evaluators: {{relevance: {{}}, coherence: {{}}, fluency: {{}}}}
output: {{dir: {tmp / "out"}}}
""")
    return cfg, messages


def run_env(tmp: Path) -> dict[str, str]:
    """The environment of the measured processes: bytecode is cached (in ``tmp``, not in the
    tree), as in a user's installation, even if this shell sets PYTHONDONTWRITEBYTECODE."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "BENCH_KEY": KEY, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}


def measure(cmd: list[str], log: Path) -> tuple[float, float]:
    """(wall s, CPU s of the process and its waited-for children) of one command."""
    with log.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=run_env(log.parent))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}\n{log.read_text()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def verdict(ratio: float, target: float) -> str:
    return f"target <= {target:.2f}x: {'met' if ratio <= target else 'MISSED'}"


def scenario(tmp: Path, url: str, name: str, rounds: int, profile: str | None) -> None:
    rows, concurrency = SCENARIOS[name]
    calls = rows * len(RUBRICS)
    cfg, messages = prepare(tmp, url, rows, concurrency)
    lean_cmd = [sys.executable, __file__, "lean", url, str(messages), str(concurrency)]
    run_cmd = [EVALCLI, "run", str(cfg)]
    if profile:
        prof = [sys.executable, "-m", "cProfile", "-o", profile, EVALCLI, "run", str(cfg)]
        measure([*prof, "--no-cache"], tmp / "profile.log")
        print(f"profile of one --no-cache run written to {profile}")
        return
    kinds: dict[str, Callable[[int], list[str]]] = {
        "lean client": lambda i: lean_cmd,
        "evalcli, cache off": lambda i: [*run_cmd, "--no-cache"],
        "evalcli, cold cache": lambda i: [*run_cmd, "--cache", str(tmp / f"cold-{name}{i}.db")],
    }
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for cmd in kinds.values():  # warm-up: bytecode caches and the page cache, not measured
        measure(cmd(-1), tmp / "run.log")
    for i in range(rounds):
        for kind, cmd in kinds.items():
            got[kind].append(measure(cmd(i), tmp / "run.log"))
    print(
        f"\nScenario {name}: {rows} rows x {len(RUBRICS)} judge evaluators = {calls} calls, "
        f"concurrency {concurrency}, {rounds} rounds (medians)"
    )
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v) / calls * 1e3)
        for k, v in got.items()
    }
    lean_wall, lean_cpu = med["lean client"]
    for kind, (wall, cpu) in med.items():
        walls = ", ".join(f"{w:.2f}" for w, _ in got[kind])
        line = f"  {kind:20} wall {wall:6.2f} s [{walls}]  CPU {cpu:5.2f} ms/call"
        if kind != "lean client":
            rw, rc = wall / lean_wall, cpu / lean_cpu
            line += f"  -> wall {rw:.2f}x ({verdict(rw, WALL_TARGET)})"
            line += f", CPU/call {rc:.2f}x ({verdict(rc, CPU_TARGET)})"
        print(line, flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "lean":
        lean(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=sorted(SCENARIOS))
    ap.add_argument("--profile", metavar="FILE", help="cProfile one evalcli run instead")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; load: {os.getloadavg()}")
    stub, url = start_stub(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="evalcli-hotpath-") as d:
            for name in [args.only] if args.only else sorted(SCENARIOS):
                scenario(Path(d), url, name, args.rounds, args.profile)
    finally:
        stub.terminate()
        stub.wait()
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()

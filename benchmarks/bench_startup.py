"""Issue 15, part 2: start-up of the quick commands against the reference SDK's bare import.

    python benchmarks/bench_startup.py [--repeat 9] [--refvenv /tmp/refvenv]

Runs, alternated and after one warm-up round, as whole processes (stdout to /dev/null, run
from the repository root, plugins looked for as by default):

* the reference: ``python -c "import azure.ai.evaluation"`` in a throwaway virtualenv with
  ``azure-ai-evaluation==1.18.10`` (created when missing, see ``_reference.py``);
* ``evalcli --help``, ``evalcli list-evaluators``, ``evalcli validate configs/quickstart.yaml``;
* ``python -c pass`` with evalcli's interpreter: the floor no command can go below.

Both sides run from compiled bytecode, as installed packages do (pip compiles them): the
reference's venv has its ``__pycache__``; evalcli's modules are compiled once, by the
warm-up round, into a throwaway ``PYTHONPYCACHEPREFIX``, even when the shell sets
``PYTHONDONTWRITEBYTECODE`` (which would otherwise make every evalcli run compile its ~60
modules from source: about 40 ms of ``validate``).

Prints, per command, the median wall time and CPU time (user + system, from wait4) and their
ratios to the reference's, next to the targets: ``--help`` <= 1/15, ``list-evaluators`` and
``validate`` <= 1/8 (of the wall time). On a loaded machine wall times stretch unevenly; the
CPU ratio is the steadier of the two, so both are shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import EVALCLI, REPO, timed
from _reference import DEFAULT_REFVENV, ensure_refvenv, load, machine

#: name -> (argv after ``evalcli``, target ratio to the reference's bare import)
COMMANDS: dict[str, tuple[list[str], float]] = {
    "evalcli --help": (["--help"], 1 / 15),
    "evalcli list-evaluators": (["list-evaluators"], 1 / 8),
    "evalcli validate configs/quickstart.yaml": (["validate", "configs/quickstart.yaml"], 1 / 8),
}
REFERENCE = "import azure.ai.evaluation"
FLOOR = "python -c pass"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each (median; >= 7)")
    parser.add_argument("--refvenv", type=Path, default=DEFAULT_REFVENV)
    args = parser.parse_args()

    ref_python = ensure_refvenv(args.refvenv)
    os.chdir(REPO)  # validate's config path is relative to the repository
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module docstring
    pycache = tempfile.TemporaryDirectory(prefix="bench-startup-pycache-")
    evalcli_env = {"PYTHONPYCACHEPREFIX": pycache.name}
    argvs = {
        REFERENCE: [str(ref_python), "-c", "import azure.ai.evaluation"],
        FLOOR: [sys.executable, "-c", "pass"],
        **{name: [EVALCLI, *argv] for name, (argv, _) in COMMANDS.items()},
    }
    envs = {name: evalcli_env if name in COMMANDS else None for name in argvs}
    for name, argv in argvs.items():  # warm-up: byte-code caches, page cache
        timed(argv, envs[name])
    print(f"machine: {machine()}")
    print(f"load before: {load()}")
    wall: dict[str, list[float]] = {name: [] for name in argvs}
    cpu: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(args.repeat):
        for name, argv in argvs.items():  # alternated: load changes hit every command alike
            w, c, _rss = timed(argv, envs[name])
            wall[name].append(w)
            cpu[name].append(c)
    print(f"load after:  {load()}")
    pycache.cleanup()
    ref_wall, ref_cpu = statistics.median(wall[REFERENCE]), statistics.median(cpu[REFERENCE])
    print(f"\nmedians of {args.repeat} alternated runs")
    print(f"{'command':42} {'wall':>8} {'cpu':>8} {'wall ratio':>11} {'cpu ratio':>10}  target")
    for name in argvs:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        row = f"{name:42} {w * 1e3:6.0f}ms {c * 1e3:6.0f}ms"
        if name == REFERENCE:
            print(row)
            continue
        row += f" {w / ref_wall:11.3f} {c / ref_cpu:10.3f}"
        if name in COMMANDS:
            target = COMMANDS[name][1]
            verdict = "met" if w / ref_wall <= target else "NOT met"
            row += f"  <= {target:.3f} (1/{round(1 / target)}): {verdict}"
        print(row)


if __name__ == "__main__":
    main()

"""The reference SDK for side-by-side benchmarks (issue 15): its venv, the machine, the load.

Ratios against the reference are only meaningful when both sides are measured in the same
script on the same machine, so every ``bench_*`` script comparing with it gets the venv here:

* :func:`ensure_refvenv`: a throwaway virtualenv with ``azure-ai-evaluation==1.18.10``
  (``python3 -m venv`` + pip, once; ``/tmp/refvenv`` unless told otherwise). A lock file next
  to it keeps two benchmarks started at once from installing into it together.
* :func:`machine` and :func:`load`: what to record with the numbers.
* :func:`check_same_means` (one untimed run of each, metrics compared) and
  :func:`alternate` / :func:`print_ratio`: the timed loop and its verdict.

CI does not run these benchmarks (they need the network once, for pip).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from _common import timed

REFERENCE_REQUIREMENT = "azure-ai-evaluation==1.18.10"
DEFAULT_REFVENV = Path("/tmp/refvenv")


_REFERENCE_SCRIPT = """
import json, sys
from azure.ai.evaluation import CLASSES, RougeType, evaluate
mapping = {"column_mapping": {"response": "${data.answer}", "ground_truth": "${data.truth}"}}
evaluators = {
EVALUATORS}
result = evaluate(
    data=sys.argv[1], evaluators=evaluators,
    evaluator_config={name: mapping for name in evaluators}, output_path=sys.argv[2],
)
print(json.dumps(result["metrics"]))
"""


def reference_script(evaluators: dict[str, str]) -> str:
    """A ``python -c`` script for the reference venv: ``evaluate()`` with ``evaluators``
    (name -> constructor call, e.g. ``"BleuScoreEvaluator(threshold=0.3)"``) on the data in
    argv[1], with the response/ground_truth mapping of evalcli's sample configs, the output
    in argv[2]; prints the metrics as JSON."""
    classes = sorted({call.partition("(")[0] for call in evaluators.values()})
    built = "".join(f"    {name!r}: {call},\n" for name, call in evaluators.items())
    return _REFERENCE_SCRIPT.replace("CLASSES", ", ".join(classes)).replace("EVALUATORS", built)


def ensure_refvenv(venv: Path = DEFAULT_REFVENV) -> Path:
    """The reference virtualenv's python, creating the venv when it is missing."""
    python = venv / "bin" / "python"
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m, sys; "
        f"sys.exit(m.version('azure-ai-evaluation') != {REFERENCE_REQUIREMENT.split('==')[1]!r})",
    ]
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another benchmark may be setting it up right now
        if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
            return python
        print(f"setting up {venv} with {REFERENCE_REQUIREMENT} (one time) ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", REFERENCE_REQUIREMENT], check=True
        )
    return python


def machine() -> str:
    """CPU count and model, Python version, OS."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


def load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def check_same_means(
    ours: list[str],
    theirs: list[str],
    ref_env: dict[str, str],
    out: Path,
    same_metrics: Mapping[str, str],
) -> float:
    """Run both once (untimed; warms the page cache); exit unless the means agree to 1e-9.

    ``theirs`` prints the reference's metrics as JSON on its last line; ``out`` is evalcli's
    output directory; ``same_metrics`` maps a reference key to evalcli's. Returns the
    reference run's wall time, to tell how long the timed loop will take.
    """
    subprocess.run(ours, check=True, capture_output=True)
    t0 = time.perf_counter()
    ref = subprocess.run(
        theirs, check=True, capture_output=True, text=True, env={**os.environ, **ref_env}
    )
    ref_wall = time.perf_counter() - t0
    ref_metrics = json.loads(ref.stdout.strip().splitlines()[-1])
    our_metrics = json.loads((out / "results.json").read_text())["metrics"]
    for ref_key, our_key in same_metrics.items():
        diff = abs(ref_metrics[ref_key] - our_metrics[our_key])
        if diff > 1e-9:
            raise SystemExit(
                f"{ref_key}: reference {ref_metrics[ref_key]} != evalcli {our_metrics[our_key]}"
            )
        print(f"same mean {ref_key}: {our_metrics[our_key]:.12f} (|diff| {diff:.1e})")
    return ref_wall


def alternate(
    ours: list[str], theirs: list[str], ref_env: dict[str, str], repeat: int
) -> dict[str, list[float]]:
    """Time both whole processes ``repeat`` times, alternated; print machine and load."""
    print(f"machine: {machine()}; load before: {load()}")
    walls: dict[str, list[float]] = {"evalcli": [], "reference": []}
    for _ in range(repeat):
        walls["evalcli"].append(timed(ours)[0])
        walls["reference"].append(timed(theirs, env=ref_env)[0])
    print(f"load after: {load()}")
    return walls


def print_ratio(walls: dict[str, list[float]], what: str, target: float) -> None:
    """Print each side's median and the reference / evalcli ratio next to its target."""
    med = {name: statistics.median(values) for name, values in walls.items()}
    for name, values in walls.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:<10} median {med[name]:.2f} s  ({shown})")
    ratio = med["reference"] / med["evalcli"]
    verdict = "met" if ratio >= target else "NOT met"
    print(f"{what}: reference / evalcli = {ratio:.1f}x (target >= {target:.0f}x: {verdict})")

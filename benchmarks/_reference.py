"""The reference SDK for side-by-side benchmarks (issue 15): its venv, the machine, the load.

Ratios against the reference are only meaningful when both sides are measured in the same
script on the same machine, so every ``bench_*`` script comparing with it gets the venv here:

* :func:`ensure_refvenv`: a throwaway virtualenv with ``azure-ai-evaluation==1.18.10``
  (``python3 -m venv`` + pip, once; ``/tmp/refvenv`` unless told otherwise). A lock file next
  to it keeps two benchmarks started at once from installing into it together.
* :func:`machine` and :func:`load`: what to record with the numbers.

CI does not run these benchmarks (they need the network once, for pip).
"""

from __future__ import annotations

import fcntl
import os
import platform
import subprocess
from pathlib import Path

REFERENCE_REQUIREMENT = "azure-ai-evaluation==1.18.10"
DEFAULT_REFVENV = Path("/tmp/refvenv")


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

"""Error annotations for CI runners: GitHub Actions workflow commands and Azure Pipelines
logging commands.

A runner reads these from the step's output, one command per line, and shows each as an
error on the run's page (GitHub: an annotation; Azure: an issue in the timeline). Each
runner decodes a few percent escapes, so the text is encoded first, or a ``%``, a line
break or a separator in a run name or a message would cut the command short or be read
as another command:

* GitHub (``actions/toolkit`` ``command.ts``): in the message, ``%`` → ``%25``, CR →
  ``%0D``, LF → ``%0A``; in a property (``title=``), also ``:`` → ``%3A`` and ``,`` →
  ``%2C``.
* Azure (``azure-pipelines-task-lib`` ``taskcommand.ts``): in the message, ``%`` →
  ``%AZP25``, CR → ``%0D``, LF → ``%0A``; in a property, also ``;`` → ``%3B`` and ``]`` →
  ``%5D``.

Which runner is present is read from the variables each sets in every step:
``GITHUB_ACTIONS=true`` and ``TF_BUILD=True``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from evalcli.textsafe import replace_unprintable

if TYPE_CHECKING:
    from evalcli.compare.model import Report

Runner = Literal["github", "azure"]


@dataclass(frozen=True)
class Annotation:
    """One error to show on the CI run's page."""

    title: str
    message: str


def github_data(text: str) -> str:
    """Escape the message part of a GitHub workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """Escape a property value (``title=…``) of a GitHub workflow command."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def azure_data(text: str) -> str:
    """Escape the message part of an Azure Pipelines logging command."""
    return text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def azure_property(text: str) -> str:
    """Escape a property value of an Azure Pipelines logging command."""
    return azure_data(text).replace(";", "%3B").replace("]", "%5D")


def detect_runners(environ: Mapping[str, str] | None = None) -> list[Runner]:
    """The CI runners whose variables are set (usually none or one)."""
    env = os.environ if environ is None else environ
    found: list[Runner] = []
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        found.append("github")
    if env.get("TF_BUILD", "").lower() == "true":
        found.append("azure")
    return found


def command_line(runner: Runner, annotation: Annotation) -> str:
    """The workflow (GitHub) or logging (Azure) command that shows ``annotation`` as an error."""
    title, message = _printable(annotation.title), _printable(annotation.message)
    if runner == "github":
        return f"::error title={github_property(title)}::{github_data(message)}"
    # Azure's logissue has no title: it leads the message.
    return f"##vso[task.logissue type=error]{azure_data(f'{title}: {message}')}"


def _printable(text: str) -> str:
    """Control characters other than CR and LF (escaped later) and lone surrogates, which
    UTF-8 cannot encode, as U+FFFD."""
    return replace_unprintable(text)


def emit(
    annotations: Iterable[Annotation],
    stream: IO[str],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Write the command lines of every annotation for every detected runner; returns the
    number of lines written (0 outside CI)."""
    runners = detect_runners(environ)
    lines = [command_line(r, a) for a in annotations for r in runners]
    for line in lines:
        stream.write(line + "\n")
    if lines:
        stream.flush()
    return len(lines)


def run_annotations(results: Mapping[str, Any]) -> list[Annotation]:
    """One annotation per failed gate of a run (``results.json`` layout), and one for a run
    that ended in a run error or was interrupted (its message says why)."""
    name = str(results.get("run", {}).get("name", "evalcli"))
    out: list[Annotation] = []
    status = results.get("status")
    message = results.get("message")
    if status in ("run_error", "interrupted") and message:
        out.append(Annotation(f"evalcli {name}: {str(status).replace('_', ' ')}", str(message)))
    for gate in results.get("gates", []):
        if gate.get("passed"):
            continue
        value = gate.get("value")
        shown = "no value (nothing was scored)" if value is None else f"{value:.6g}"
        out.append(
            Annotation(
                f"evalcli {name}: gate failed",
                f"{gate['metric']} = {shown}, needs {gate['op']} {gate['threshold']:g}",
            )
        )
    return out


def regression_annotations(report: Report) -> list[Annotation]:
    """One annotation per regression ``evalcli compare`` found."""
    out: list[Annotation] = []
    variants = report.mode == "variants"
    for comparison in report.comparisons:
        for m in comparison.metrics:
            if not m.regression:
                continue
            where = f"{comparison.candidate}: " if variants else ""
            interval = (
                ""
                if m.ci_low is None or m.ci_high is None
                else f", 95% interval [{m.ci_low:+.4g}, {m.ci_high:+.4g}]"
            )
            diff = "" if m.diff is None else f" ({m.diff:+.4g}{interval})"
            out.append(
                Annotation(
                    "evalcli compare: regression",
                    f"{where}{m.metric} got worse: {_num(m.baseline)} → "
                    f"{_num(m.candidate)}{diff} on {m.n} paired rows",
                )
            )
    return out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"

"""``evalcli run --junit PATH``: the run as a JUnit XML report for CI test views.

The shape is the common subset that Azure DevOps' PublishTestResults (format ``JUnit``),
GitLab's unit test reports and Jenkins read::

    <testsuites name="evalcli" tests= failures= errors= skipped="0" time=>
      <testsuite name=RUN tests= failures= errors= skipped="0" time= timestamp=>
        <properties><property name= value=/>…</properties>   config and dataset hashes
        <testcase classname=RUN name="run" time="0"/>          <error> on a run error
        <testcase classname="RUN.gates" name="METRIC >= BOUND"> <failure> when it failed
        <testcase classname="RUN.evaluators" name=ALIAS>      <error> above max_error_rate
      </testsuite>
    </testsuites>

GitLab shows ``classname`` as the suite and keys test history on ``classname`` + ``name``
(duplicates are dropped), so every name is unique within its class; Azure shows ``name`` as
the test title, ``failure``/``error`` ``message`` as the error message and their text as the
stack trace. Times are seconds; the timestamp is UTC without a zone, as the JUnit schema has
it.

An evaluator's test case errs when *its own* share of failed evaluations exceeds
``run.max_error_rate``; the exit code keeps the whole-run rule (all failed evaluations over
all evaluations), so one evaluator can err here while the run still exits 0 or 1.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalcli.errors import UsageError

MAX_LISTED_ERRORS = 20
MAX_MESSAGE = 500

# Characters XML 1.0 cannot carry at all (controls such as ESC from ANSI colours in an
# error message, lone surrogates): a parser would reject the whole file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """``value`` as text XML 1.0 can hold (impossible characters become U+FFFD)."""
    return _NOT_XML.sub("\ufffd", str(value))


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    child = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        child.text = xml_text(text)
    return child


def members(record: Mapping[str, Any]) -> int:
    """Evaluations per row of one evaluator (a composite counts each member, as
    ``run.max_error_rate`` does)."""
    if record.get("family") != "composite":
        return 1
    for key in ("prompt_sha256", "params"):
        value = record.get(key)
        if isinstance(value, Mapping) and value:
            return len(value)
    return 1


def rows_evaluated(results: Mapping[str, Any]) -> int:
    """Rows every evaluator saw: all of them unless the run was interrupted."""
    rows = results.get("rows")
    if isinstance(rows, list):
        return len(rows)
    total = int(results.get("run", {}).get("dataset", {}).get("rows", 0))
    if results.get("status") != "interrupted":
        return total
    records = results.get("run", {}).get("evaluators", {})
    seen = [
        int(s.get("scored", 0)) + int(s.get("errors", 0)) // members(records.get(s["alias"], {}))
        for s in results.get("summaries", [])
    ]
    return max(seen, default=0)


def junit_xml(results: Mapping[str, Any], *, max_error_rate: float | None = None) -> str:
    """The JUnit XML text of a run (``results.json`` layout; ``rows`` are not needed).

    The same results give the same file, whether written by ``run --junit`` or again from
    ``results.json`` by ``report --junit``.

    Args:
        results: The run, as ``results.json`` holds it.
        max_error_rate: The bound an evaluator's own error share is held to; default: the
            run's ``run.max_error_rate`` as results.json records it.
    """
    run = results.get("run", {})
    if max_error_rate is None:
        max_error_rate = recorded_max_error_rate(results)
    name = str(run.get("name", "evalcli"))
    duration = f"{float(run.get('duration_s', 0.0)):.3f}"
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite")
    props = _el(suite, "properties")
    dataset = run.get("dataset", {})
    for key, value in (
        ("evalcli.version", run.get("evalcli_version")),
        ("run.status", results.get("status")),
        ("run.exit_code", results.get("exit_code")),
        ("run.max_error_rate", f"{max_error_rate:g}"),
        ("config.path", run.get("config_path")),
        ("config.sha256", run.get("config_sha256")),
        ("dataset.path", dataset.get("path")),
        ("dataset.format", dataset.get("format")),
        ("dataset.rows", dataset.get("rows")),
        ("dataset.sha256", dataset.get("sha256")),
    ):
        if value is not None:
            _el(props, "property", name=key, value=value)

    failures = errors = 0
    case = _el(suite, "testcase", classname=name, name="run", time=duration)
    if results.get("status") in ("run_error", "interrupted"):
        errors += 1
        status = str(results["status"])
        _el(
            case,
            "error",
            str(results.get("message") or status),
            message=results.get("message") or status,
            type=status,
        )

    seen: Counter[str] = Counter()
    for gate in results.get("gates", []):
        title = f"{gate['metric']} {gate['op']} {gate['threshold']:g}"
        seen[title] += 1
        if seen[title] > 1:  # the same bound twice: GitLab would drop the second
            title += f" ({seen[title]})"
        case = _el(suite, "testcase", classname=f"{name}.gates", name=title, time="0")
        if not gate.get("passed"):
            failures += 1
            value = gate.get("value")
            shown = "none (nothing was scored)" if value is None else f"{value:.6g}"
            bound = f"{gate['op']} {gate['threshold']:g}"
            _el(
                case,
                "failure",
                f"metric: {gate['metric']}\nbound: {bound}\nvalue: {shown}\n",
                message=f"{gate['metric']} = {shown}, needs {bound}",
                type="gate",
            )

    n_rows = rows_evaluated(results)
    records = run.get("evaluators", {})
    by_alias: dict[str, list[Mapping[str, Any]]] = {}
    for e in results.get("errors", []):
        by_alias.setdefault(str(e.get("evaluator")), []).append(e)
    for s in results.get("summaries", []):
        alias = str(s["alias"])
        case = _el(suite, "testcase", classname=f"{name}.evaluators", name=alias, time="0")
        failed = int(s.get("errors", 0))
        pairs = n_rows * members(records.get(alias, {}))
        share = failed / pairs if pairs else 0.0
        summary = (
            f"{alias} ({s.get('use')}): {s.get('scored', 0)} rows scored, "
            f"{failed} failed evaluations"
        )
        if share > max_error_rate:
            errors += 1
            _el(
                case,
                "error",
                _error_details(by_alias.get(alias, [])),
                message=f"{failed} of {pairs} evaluations failed ({share:.1%}), above "
                f"run.max_error_rate {max_error_rate:.1%}",
                type="evaluator-errors",
            )
        _el(case, "system-out", summary + "\n")

    tests = len(suite.findall("testcase"))
    counts = {"tests": tests, "failures": failures, "errors": errors, "skipped": 0}
    root.attrib.update(
        {"name": "evalcli", **{k: str(v) for k, v in counts.items()}, "time": duration}
    )
    suite.attrib.update(
        {"name": xml_text(name), **{k: str(v) for k, v in counts.items()}, "time": duration}
    )
    stamp = _timestamp(run.get("started_at"))
    if stamp:
        suite.set("timestamp", stamp)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def recorded_max_error_rate(results: Mapping[str, Any]) -> float:
    """The ``run.max_error_rate`` a results file records (files written before evalcli
    recorded it lack it: the setting's default, 0, is assumed for them)."""
    value = results.get("run", {}).get("max_error_rate")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _error_details(errors: list[Mapping[str, Any]]) -> str:
    """Failed evaluations by kind, then the first ones with their row line."""
    kinds = Counter(str(e.get("kind")) for e in errors)
    out = [", ".join(f"{kind}: {n}" for kind, n in kinds.most_common())]
    for e in errors[:MAX_LISTED_ERRORS]:
        message = str(e.get("message", ""))
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "…"
        out.append(f"line {e.get('line')}: {e.get('kind')}: {message}")
    if len(errors) > MAX_LISTED_ERRORS:
        out.append(f"… {len(errors) - MAX_LISTED_ERRORS} more in results.json")
    return "\n".join(out) + "\n"


def _timestamp(started_at: object) -> str | None:
    try:
        when = datetime.fromisoformat(str(started_at))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def check_junit_path(path: Path) -> None:
    """Refuse, before anything runs, a ``--junit`` path that cannot be written.

    Raises:
        UsageError: ``path`` is a directory, or its directory cannot be created or written.
    """
    if path.is_dir():
        raise UsageError(
            f"{path} is a directory", where="--junit", hint=f"give a file: {path / 'junit.xml'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the directory of {path} ({exc.strerror})", where="--junit"
        ) from None
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"cannot write to {path.parent}", where="--junit")


def write_junit(
    results: Mapping[str, Any], path: Path, *, max_error_rate: float | None = None
) -> None:
    """Write the JUnit report of a run to ``path`` (atomically: a reader never sees half);
    ``max_error_rate`` as in :func:`junit_xml`."""
    text = junit_xml(results, max_error_rate=max_error_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

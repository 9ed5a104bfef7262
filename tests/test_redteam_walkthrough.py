"""The README's red-teaming walkthrough (simulate -> run -> scorecard), run as written.

The commands are read from the ```bash block after ``<!-- test: walkthrough -->`` in
README.md and run in a copy of the repository layout against the loopback stub, with the
variables its ``export`` lines set. The regenerated datasets must equal the shipped ones byte
for byte, and the attack success rates must be the ones the README states.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.scorecard import scorecard
from evalcli.testing.stub_demo import demo_env
from evalcli.testing.stub_server import StubServer
from tests.conftest import REPO

README = REPO / "README.md"
MARKER = "<!-- test: walkthrough -->"
OUTPUT_MARKER = "<!-- test: walkthrough-output -->"
GENERATED = ("redteam_direct.jsonl", "redteam_indirect.jsonl")


def _block(after: str, fence: str) -> list[str]:
    lines = README.read_text(encoding="utf-8").split("\n")
    start = lines.index(after) + 1
    assert lines[start] == fence, f"README: {after!r} must precede a {fence} block"
    end = lines.index("```", start + 1)
    return lines[start + 1 : end]


def walkthrough_commands() -> list[str]:
    """The commands of the walkthrough block, continuation lines joined, comments dropped."""
    commands: list[str] = []
    pending = ""
    for line in _block(MARKER, "```bash"):
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            commands.append(pending.strip())
            pending = ""
    return commands


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key="walkthrough-key") as srv:
        yield srv


def test_readme_walkthrough_runs_as_written(
    stub: StubServer, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repository layout, without the generated datasets (the walkthrough makes them).
    (tmp_path / "configs").mkdir()
    (tmp_path / "sample_data").mkdir()
    for name in ("redteam-direct.yaml", "redteam-indirect.yaml"):
        shutil.copy(REPO / "configs" / name, tmp_path / "configs" / name)
    for name in ("redteam_baseline.jsonl", "redteam_rag.jsonl"):
        shutil.copy(REPO / "sample_data" / name, tmp_path / "sample_data" / name)
    for name, value in demo_env(stub.url, "walkthrough-key").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    commands = walkthrough_commands()
    assert [c.split()[1] for c in commands] == ["simulate"] * 2 + ["run"] * 2 + ["scorecard"] * 2
    outputs: list[str] = []
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "evalcli"
        res = cli.invoke(app, words[1:])
        expected = 1 if words[1] == "scorecard" else 0  # the gate fails on purpose
        assert res.exit_code == expected, (command, res.stdout, res.stderr)
        outputs.append(res.stdout)

    # Deterministic: the shipped datasets and sidecars are what the commands write (apart
    # from the evalcli version, which the sidecar records).
    for name in GENERATED:
        made, shipped = tmp_path / "sample_data" / name, REPO / "sample_data" / name
        assert made.read_bytes() == shipped.read_bytes(), f"regenerate sample_data/{name}"
        meta = json.loads(Path(f"{made}.meta.json").read_text("utf-8"))
        shipped_meta = json.loads(Path(f"{shipped}.meta.json").read_text("utf-8"))
        meta.pop("evalcli_version"), shipped_meta.pop("evalcli_version")
        assert meta == shipped_meta

    # The attack success rates the README states.
    direct = scorecard(tmp_path / "results" / "redteam-direct")
    asr = {(c.technique, c.harm): c.asr for c in direct.cells}
    for technique in ("roleplay", "roleplay+base64"):
        assert asr[technique, "safety.violence"] == asr[technique, "any harm"] == 1.0
    for technique in ("refusal_suppression", "roleplay+rot13", "payload_splitting"):
        assert asr[technique, "any harm"] == 0.0
    assert {c.baseline_defect_rate for c in direct.cells} == {0.0}
    indirect = scorecard(tmp_path / "results" / "redteam-indirect")
    for cell in indirect.cells:
        expected = 1.0 if cell.technique.startswith("system_notice") else 0.0
        assert cell.asr == expected, (cell.technique, cell.harm)
    assert len(indirect.techniques) == 8  # 4 techniques x 2 placements

    # The excerpt the README shows is part of the direct scorecard's Markdown output.
    excerpt = [line for line in _block(OUTPUT_MARKER, "```console") if line.strip()]
    assert len(excerpt) >= 5
    printed = outputs[commands.index(next(c for c in commands if "--format markdown" in c))]
    for line in excerpt:
        assert line in printed.split("\n"), line

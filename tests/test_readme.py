"""The README's configuration examples validate, the way sqlite-utils and llm test their docs.

Every ```yaml block in README.md carries a marker on the line before it:

* ``<!-- test: config -->``: a complete run config, validated as if it were a file in
  ``configs/`` (its relative paths point at ``sample_data/`` and ``examples/``);
* ``<!-- test: fragment -->``: a few top-level sections, validated after merging them into a
  small base config (dataset, columns, one evaluator) whose dataset has every column the
  fragment maps;
* ``<!-- test: skip REASON -->``: shown for reading only.

An unmarked yaml block fails the test, so a new example cannot silently go untested.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
MARKER = re.compile(r"<!-- test: (config|fragment|skip)(?: [^>]*)? -->")
ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
DATA = re.compile(r"\$\{data\.([A-Za-z0-9_.]+)\}")
TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):", re.MULTILINE)

BASE = {
    "dataset": "dataset: {path: data.jsonl}",
    "columns": "columns:\n  query: ${data.question}\n  response: ${data.answer}\n"
    "  ground_truth: ${data.truth}",
    "evaluators": "evaluators:\n  f1_score: {}",
    "output": "output: {dir: ../results/readme}",
}


def _blocks() -> list[tuple[int, str, str]]:
    """(line, marker kind, block text) for every yaml block of the README."""
    lines = README.read_text(encoding="utf-8").split("\n")
    found = []
    for i, line in enumerate(lines):
        if line.strip() != "```yaml":
            continue
        marker = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        end = lines.index("```", i + 1)
        found.append((i + 1, marker.group(1) if marker else "", "\n".join(lines[i + 1 : end])))
    return found


def _set_path(row: dict[str, Any], path: list[str], value: str) -> None:
    node: Any = row
    for part, nxt in zip(path, [*path[1:], None], strict=True):
        child: Any = value if nxt is None else ([] if nxt.isdigit() else {})
        if isinstance(node, list):
            idx = int(part)
            while len(node) <= idx:
                node.append(child if len(node) == idx else {"content": "filler"})
            node = node[idx]
        else:
            node = node.setdefault(part, child)


def _workspace(tmp_path: Path) -> Path:
    """A copy of the repository's layout: configs/ beside sample_data/, examples/, prompts/."""
    for name in ("sample_data", "examples", "prompts"):
        (tmp_path / name).symlink_to(REPO / name)
    configs = tmp_path / "configs"
    configs.mkdir()
    return configs


def test_every_yaml_block_is_marked() -> None:
    blocks = _blocks()
    unmarked = [line for line, kind, _ in blocks if not kind]
    assert not unmarked, f"README.md yaml blocks without a test marker at lines {unmarked}"
    assert sum(1 for _, kind, _ in blocks if kind != "skip") >= 6


@pytest.mark.parametrize(
    ("line", "kind", "text"),
    [b for b in _blocks() if b[1] in ("config", "fragment")],
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
def test_readme_config_validates(
    line: int,
    kind: str,
    text: str,
    tmp_path: Path,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configs = _workspace(tmp_path)
    for name in set(ENV.findall(text)):
        # Validation never calls anything: any value of the right shape will do.
        value = "https://example.invalid" if "ENDPOINT" in name or "URL" in name else "x"
        monkeypatch.setenv(name, value)
    if kind == "fragment":
        given = set(TOP_KEY.findall(text))
        base = [body for key, body in BASE.items() if key not in given]
        text = "\n".join([*base, text])
        row: dict[str, Any] = {"question": "q?", "answer": "a.", "truth": "t."}
        for ref in DATA.findall(text):
            _set_path(row, ref.split("."), "some text")
        (configs / "data.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    cfg = configs / f"readme_{line}.yaml"
    cfg.write_text(text + "\n", encoding="utf-8")
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, f"README.md:{line}: {res.stderr}\n--- config ---\n{text}"

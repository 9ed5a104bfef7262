"""Shared fixtures: a clean environment, config/dataset builders, CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.textsafe import json_text

REPO = Path(__file__).resolve().parent.parent

# GITHUB_*/TF_BUILD: run inside a CI job, evalcli would append to the job's real step summary
# and print annotations (tests set them explicitly, pointing at files under tmp_path).
_CLEARED_PREFIXES = ("OPENAI_", "AZURE_", "EVALCLI_", "GITHUB_")
_CLEARED_NAMES = {
    "TF_BUILD",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real credentials or proxies leak into tests; stable terminal width for tables;
    each test runs in its own directory (so the default call cache, .evalcli/cache.db under
    the working directory, is never shared between tests); no installed plugin changes what
    evalcli offers (a test that installs one opts in with EVALCLI_PLUGINS=<its name>)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EVALCLI_PLUGINS", "none")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    from evalcli.registry import reset_default_registry

    reset_default_registry()
    yield
    reset_default_registry()


@pytest.fixture
def cli() -> CliRunner:
    """Typer's CliRunner (stderr captured separately)."""
    return CliRunner()


def json_strings(value: object) -> Iterator[str]:
    """Every string inside a parsed JSON value (dict values and list items, nested)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines."""
    path.write_text("".join(_json_line(r) for r in rows), encoding="utf-8")
    return path


def _json_line(row: dict[str, Any]) -> str:
    # json_text: readable UTF-8, with lone surrogates as the \u escapes JSON allows.
    return json_text(row) + "\n"


QA_ROWS = [
    {"id": 1, "answer": "The cat sat on the mat.", "truth": "A cat was sitting on the mat."},
    {
        "id": 2,
        "answer": "Paris is the capital of France.",
        "truth": "The capital of France is Paris.",
    },
    {
        "id": 3,
        "answer": "Water boils at 100 degrees.",
        "truth": "Water boils at 100 °C at sea level.",
    },
    {"id": 4, "answer": "I don't know.", "truth": "Jupiter is the largest planet."},
]


MakeConfig = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """Write a config (YAML text, dedented) and, optionally, its dataset into tmp_path."""

    def make(
        yaml_text: str,
        rows: Iterable[dict[str, Any]] | None = None,
        data_name: str = "data.jsonl",
        name: str = "eval.yaml",
    ) -> Path:
        if rows is not None:
            write_jsonl(tmp_path / data_name, rows)
        cfg = tmp_path / name
        cfg.write_text(textwrap.dedent(yaml_text).lstrip(), encoding="utf-8")
        return cfg

    return make


BASIC_CONFIG = """
    name: basic
    dataset:
      path: data.jsonl
    columns:
      response: ${data.answer}
      ground_truth: ${data.truth}
    evaluators:
      f1_score: {}
      bleu: {threshold: 0.3}
      rougeL:
        use: rouge
        params: {rouge_type: rougeL}
    output:
      dir: out
"""


# -- run modes: every value-level bad-input test runs in-process and through the worker pool --

POOL_ROWS = 1000


@dataclass
class Invoked:
    """What a CLI invocation left: exit code and both streams."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass
class RunMode:
    """How a test runs evalcli: ``in-process`` (CliRunner, a few rows) or ``worker-pool`` (the
    console command in a subprocess with default settings and at least 1,000 rows, so the
    forked worker pool runs, as it does for users)."""

    name: str
    cli: CliRunner

    @property
    def pool(self) -> bool:
        return self.name == "worker-pool"

    def rows(
        self, rows: list[dict[str, Any]], filler: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``rows``, then in pool mode whole copies of ``filler`` up to ``POOL_ROWS``.

        Bad rows keep their line numbers; when ``filler`` is the set of good rows, means and
        pass rates over the scored rows stay what they are for ``rows`` alone.
        """
        if not self.pool:
            return rows
        out = list(rows)
        while len(out) < POOL_ROWS:
            out.extend(filler)
        return out

    def invoke(self, *args: str) -> Invoked:
        """Run ``evalcli ARGS``."""
        if not self.pool:
            from evalcli.cli import app

            res = self.cli.invoke(app, list(args))
            return Invoked(res.exit_code, res.stdout, res.stderr)
        proc = subprocess.run(
            [sys.executable, "-m", "evalcli", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return Invoked(proc.returncode, proc.stdout, proc.stderr)

    def results(self, out_dir: Path) -> dict[str, Any]:
        """results.json of a run, checking that it ran where this mode says."""
        data: dict[str, Any] = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
        if self.pool:
            assert data["run"]["workers"] >= 1, "the run did not use the worker pool"
        else:
            assert data["run"]["workers"] == 0
        return data


@pytest.fixture(params=["in-process", "worker-pool"])
def run_mode(request: pytest.FixtureRequest, cli: CliRunner) -> RunMode:
    """Run a test once in-process and once through the worker pool (see :class:`RunMode`)."""
    return RunMode(request.param, cli)

"""Shared fixtures: a clean environment, config/dataset builders, CLI runner."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent

_CLEARED_PREFIXES = ("OPENAI_", "AZURE_", "EVALCLI_")
_CLEARED_NAMES = {
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
    the working directory, is never shared between tests)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
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


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines."""
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


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

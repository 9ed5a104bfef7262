"""A seeded dirty dataset through every NLP metric and a judge, with default settings.

What users' exports look like: CRLF line ends, a UTF-8 byte-order mark, nulls and numbers
where text should be, empty answers, a few huge or broken (lone surrogate) strings. The run
goes through the console command in a subprocess (so the forked worker pool runs, as for a
user) against the loopback judge.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalcli.testing.stub_server import StubServer

KEY = "dirty-data-key"
ROWS = 2000
METRICS = ("f1_score", "bleu", "gleu", "meteor", "rougeL")
WORDS = "the cat sat on a mat while dogs ran past quickly under grey skies of june".split()
NON_TEXT: list[Any] = [None, 7, 2.5, True, False, ["a", "b"], {"k": "v"}, [], {}]


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        yield srv


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + "."


def _dataset(seed: int = 20261202) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    huge = set(rng.sample(range(ROWS), 3))
    for i in range(ROWS):
        answer: Any = _sentence(rng)
        truth: Any = _sentence(rng)
        roll = rng.random()
        if roll < 0.03:
            answer = rng.choice(NON_TEXT)
        elif roll < 0.05:
            truth = rng.choice(NON_TEXT)
        elif roll < 0.07:
            answer = rng.choice(["", " ", "\t\n", "   "])
        elif roll < 0.075:
            answer = answer + " \ud800 broken"
        elif roll < 0.08:
            truth = "\udc00" + truth
        if i in huge:
            answer = (_sentence(rng) + " ") * (1_000_000 // 60)  # about 1 MB
        rows.append(
            {"id": i, "question": f"What happened in scene {i}?", "answer": answer, "truth": truth}
        )
    return rows


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    # json.dumps escapes lone surrogates (\udXXX), the only way UTF-8 JSON can carry them.
    text = "\r\n".join(json.dumps(r) for r in rows) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


def _config(path: Path, url: str, data: str, out: str) -> None:
    path.write_text(
        f"""
dataset: {{path: {data}}}
columns:
  query: ${{data.question}}
  response: ${{data.answer}}
  ground_truth: ${{data.truth}}
judge:
  type: azure_openai
  endpoint: {url}
  deployment: gpt-4o
  api_key: ${{env:AZURE_OPENAI_API_KEY}}
evaluators:
  f1_score: {{}}
  bleu: {{}}
  gleu: {{}}
  meteor: {{}}
  rougeL: {{use: rouge, params: {{rouge_type: rougeL}}}}
  relevance: {{}}
output: {{dir: {out}}}
""",
        encoding="utf-8",
    )


def _run(tmp_path: Path, cfg: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "evalcli", "run", cfg, "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "AZURE_OPENAI_API_KEY": KEY},
        check=False,
    )
    return proc.returncode, proc.stderr


def _score_keys(row: dict[str, Any], alias: str) -> dict[str, Any]:
    prefix = f"outputs.{alias}."
    return {k: v for k, v in row.items() if k.startswith(prefix) and not k.endswith("_tokens")}


@pytest.mark.slow
def test_dirty_dataset_completes_with_explicit_errors(tmp_path: Path, stub: StubServer) -> None:
    rows = _dataset()
    _write(tmp_path / "dirty.jsonl", rows)
    _config(tmp_path / "dirty.yaml", stub.url, "dirty.jsonl", "out_dirty")
    code, err = _run(tmp_path, "dirty.yaml")
    assert code == 3, err  # row errors exist and max_error_rate is 0 by default: never exit 4
    assert "internal error" not in err and "Traceback" not in err
    raw = (tmp_path / "out_dirty" / "results.json").read_bytes().decode("utf-8")
    (tmp_path / "out_dirty" / "results.csv").read_bytes().decode("utf-8")
    res = json.loads(raw)
    assert res["run"]["workers"] >= 1
    out = {r["inputs.id"]: r for r in res["rows"]}
    assert len(out) == ROWS

    errors = {(e["line"], e["evaluator"]): e for e in res["errors"]}
    clean = []
    for i, row in enumerate(rows):
        line = i + 1
        bad_inputs = [
            name
            for name, col in (("response", "answer"), ("ground_truth", "truth"))
            if not isinstance(row[col], str)
        ]
        if not bad_inputs:
            clean.append(row)
        for alias in (*METRICS, "relevance"):
            uses = ("response",) if alias == "relevance" else ("response", "ground_truth")
            bad = [n for n in bad_inputs if n in uses]
            got = out[i]
            if bad:
                err_rec = errors[(line, alias)]
                assert err_rec["kind"] == "bad-input"
                assert f"'{bad[0]}'" in err_rec["message"]
                assert got[f"outputs.{alias}.error_kind"] == "bad-input"
            else:
                assert (line, alias) not in errors, (line, alias, errors.get((line, alias)))
                assert f"outputs.{alias}.error" not in got
    assert len(clean) < ROWS - 40  # the seed really made dirty rows
    assert res["metrics"]["f1_score.error_count"] > 40

    # Every clean row scores exactly as in a run over the clean rows alone.
    _write(tmp_path / "clean.jsonl", clean)
    _config(tmp_path / "clean.yaml", stub.url, "clean.jsonl", "out_clean")
    code, err = _run(tmp_path, "clean.yaml")
    assert code == 0, err
    alone = json.loads((tmp_path / "out_clean" / "results.json").read_text(encoding="utf-8"))
    assert alone["errors"] == []
    for row in alone["rows"]:
        mixed = out[row["inputs.id"]]
        for alias in (*METRICS, "relevance"):
            assert _score_keys(mixed, alias) == _score_keys(row, alias), (row["inputs.id"], alias)

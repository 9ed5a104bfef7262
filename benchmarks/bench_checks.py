"""Per-row cost of the deterministic checks and the sacrebleu metrics (one process, one thread).

    python benchmarks/bench_checks.py [--rows 10000] [--repeat 3]

Rows are generated question/answer pairs of about 20 words (``_common.qa_rows``: the answer is
a perturbed copy of the ground truth); JSON checks get a small JSON object per row (one in ten
malformed). Each line is the best of ``--repeat`` passes over all rows, in microseconds per
row, for the call a worker makes per row (the check built once, as at validate time). The
sacrebleu lines time ``score_row`` (sentence score plus the statistics stored with the row);
the corpus lines time one ``corpus_score`` over every row's stored statistics (checking them
included), and one bootstrap resample of a table built once by ``prepare``, reported per row too.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from _common import qa_rows

from evalcli.metrics.checks import (
    Contains,
    ExactMatch,
    JsonSchema,
    JsonValid,
    Length,
    NotContains,
    Regex,
    SimilarityRatio,
)
from evalcli.metrics.sacrebleu_metrics import SacreBleuMetric

WORDS = ["river", "city", "data"]
PATTERN = r"\b(capital|river)\w*\b"
SCHEMA = {
    "type": "object",
    "required": ["id", "answer", "tags"],
    "properties": {
        "id": {"type": "integer", "minimum": 0},
        "answer": {"type": "string", "maxLength": 400},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
}


def _json_rows(answers: list[str], seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i, answer in enumerate(answers):
        doc = json.dumps({"id": i, "answer": answer, "tags": answer.split()[:3]})
        out.append(doc[:-1] if rng.random() < 0.1 else doc)
    return out


def _best_us(fn: Callable[[], Any], rows: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best / rows * 1e6


def main() -> None:
    """Time every check and metric; print a table of µs per row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = qa_rows(args.rows)
    answers = [str(r["answer"]) for r in data]
    truths = [str(r["truth"]) for r in data]
    docs = _json_rows(answers)
    n = len(data)

    def pair(check: Callable[[str, str], Any]) -> Callable[[], Any]:
        return lambda: [check(a, t) for a, t in zip(answers, truths, strict=True)]

    def one(check: Callable[[str], Any], texts: list[str] = answers) -> Callable[[], Any]:
        return lambda: [check(a) for a in texts]

    timings: list[tuple[str, Callable[[], Any]]] = [
        ("exact_match (no normalization)", pair(ExactMatch())),
        (
            "exact_match (SQuAD: case, punct, articles, ws)",
            pair(
                ExactMatch(
                    ignore_case=True,
                    ignore_whitespace=True,
                    ignore_punctuation=True,
                    ignore_articles=True,
                )
            ),
        ),
        ("contains (3 values, any, ignore_case)", one(Contains(WORDS, ignore_case=True))),
        ("not_contains (3 values)", one(NotContains(["password", "ssn", "secret"]))),
        ("regex search /\\b(capital|river)\\w*\\b/i", one(Regex(PATTERN, flags=("i",)))),
        ("regex full_match /[A-Z][^\\n]*[.?!]/", one(Regex(r"[A-Z][^\n]*[.?!]", full_match=True))),
        ("length (words, 5-40)", one(Length(unit="words", min=5, max=40))),
        ("similarity_ratio (Levenshtein)", pair(SimilarityRatio())),
        ("json_valid (10 % malformed)", one(JsonValid(), docs)),
        ("json_schema (3 properties, 10 % malformed)", one(JsonSchema(SCHEMA), docs)),
    ]  # fmt: skip
    metrics = [
        ("chrF", "chrf", {}),
        ("chrF++", "chrf", {"word_order": 2}),
        ("TER", "ter", {}),
        ("BLEU (13a)", "bleu", {}),
        ("BLEU (intl)", "bleu", {"tokenize": "intl"}),
    ]
    for label, name, params in metrics:
        # A new metric object per pass: sacrebleu's tokenizers memoize per object, and a
        # second pass over the same texts would only measure the memo.
        def rows(name: str = name, params: dict[str, Any] = params) -> Any:
            return pair(SacreBleuMetric(name, params).score_row)()

        timings.append((f"{label}: score_row", rows))

    print(f"{n} rows, answers {sum(len(a.split()) for a in answers) / n:.1f} words on average, "
          f"best of {args.repeat}")  # fmt: skip
    width = 50
    print(f"| {'what':<{width}} | µs/row |")
    print(f"|{'-' * (width + 2)}|-------:|")
    for label, fn in timings:
        print(f"| {label:<{width}} | {_best_us(fn, n, args.repeat):6.1f} |")
    for label, name, params in metrics:
        metric = SacreBleuMetric(name, params)
        stats = [metric.score_row(a, t).stats for a, t in zip(answers, truths, strict=True)]
        rng = random.Random(1)
        picks = [rng.randrange(n) for _ in range(n)]
        table = metric.prepare(stats)
        corpus = _best_us(lambda m=metric, s=stats: m.corpus_score(s), n, args.repeat)
        resample = _best_us(
            lambda m=metric, t=table, p=picks: m.resample_score(t, p), n, args.repeat
        )
        print(f"| {label + f': corpus_score of all {n} rows':<{width}} | {corpus:6.2f} |")
        print(f"| {label + f': one resample of {n} prepared rows':<{width}} | {resample:6.2f} |")


if __name__ == "__main__":
    main()

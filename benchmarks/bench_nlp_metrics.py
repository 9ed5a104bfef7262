"""Per-row cost of the NLP metrics, evalcli.nlp against calling the libraries directly.

Times, on generated rows of about 20 words (1-2 sentences with some
punctuation, numbers, names and contractions; the response is a perturbed
copy of the ground truth), one process, one thread:

* tokenize x2, F1, BLEU, ROUGE-L, GLEU and METEOR, each on its own;
* the headline row cost "tokenize x2 + F1 + BLEU + ROUGE-L";
* tokenize x2 on the same rows with one accent per text (the NIST path);
* the same row computed the way the reference does it, by calling
  ``nltk.word_tokenize``, nltk's ``sentence_bleu`` and ``rouge-score``
  directly (without the reference SDK's own per-call overhead on top).

Every timing is the best of ``--repeat`` runs, with evalcli's memo caches
cleared before each run, so repeated texts do not flatter the numbers; one
line shows what tokenizing the same row for three metrics costs (memoized).

Usage:
    NLTK_DATA=/path/to/nltk_data python benchmarks/bench_nlp_metrics.py [--rows 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

_VOCAB = (
    "the of and to in is was for on that with as by at from it this be are which or have an "
    "has had not but his they their were one all would there been more when who will no if out "
    "so said what up its about than into them can only other new some could time these two may "
    "then do first any my now such like our over man me even most made after also did many "
    "before must through back years where much your way well down should because each just "
    "those people how too little state good very make world still own see men work long get "
    "here between both life being under never day same another know while last might us great"
).split()
_NAMES = ["Paris", "France", "Seattle", "Azure", "Python", "Monday", "Tokyo", "Mr. Smith", "U.S."]
_EXTRAS = ["don't", "it's", "can't", "we're", "3.5", "1,200", "42", "(approximately)", '"quoted"']


def _sentence(rng: random.Random, words: int) -> str:
    parts = []
    for index in range(words):
        draw = rng.random()
        if draw < 0.08:
            parts.append(rng.choice(_NAMES))
        elif draw < 0.13:
            parts.append(rng.choice(_EXTRAS))
        else:
            parts.append(rng.choice(_VOCAB))
        if index < words - 1 and rng.random() < 0.07:
            parts[-1] += ","
    text = " ".join(parts)
    return text[0].upper() + text[1:] + ("?" if rng.random() < 0.1 else ".")


def _text(rng: random.Random, words: int) -> str:
    if rng.random() < 0.35:
        first = rng.randint(6, words - 6)
        return _sentence(rng, first) + " " + _sentence(rng, words - first)
    return _sentence(rng, words)


def _perturb(rng: random.Random, text: str) -> str:
    kept = []
    for word in text.split():
        draw = rng.random()
        if draw < 0.15:
            continue
        kept.append(rng.choice(_VOCAB) if draw < 0.3 else word)
    return " ".join(kept) or "nothing"


def make_rows(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Generate ``count`` (response, ground truth) pairs, deterministically."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        truth = _text(rng, rng.randint(15, 25))
        rows.append((_perturb(rng, truth), truth))
    return rows


# The reference's F1, for the "direct" row (it uses no library).
_PUNCT = set(string.punctuation)


def _reference_f1(response: str, truth: str) -> float:
    def norm(text: str) -> list[str]:
        text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
        return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split()).split()

    pred, ref = norm(response), norm(truth)
    shared = sum((Counter(pred) & Counter(ref)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(pred), shared / len(ref)
    return 2 * precision * recall / (precision + recall)


def _best_ms_per_row(
    label: str, run: Callable[[], object], rows: int, repeat: int, before: Callable[[], None]
) -> float:
    best = float("inf")
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    ms = best * 1000 / rows
    print(f"  {label:<44} {ms:8.4f} ms/row   ({best:6.3f} s for {rows} rows)")
    return ms


def main() -> None:
    """Run the benchmark and print ms/row for each measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    from evalcli import nlp

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    nlp.preload(["bleu", "rouge", "f1_score"])
    tokenizer_load_s = time.perf_counter() - start
    start = time.perf_counter()
    nlp.preload(["meteor"])
    wordnet_load_s = time.perf_counter() - start

    import nltk
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.gleu_score import sentence_gleu
    from nltk.translate.meteor_score import meteor_score
    from rouge_score.rouge_scorer import RougeScorer

    rows = make_rows(args.rows)
    n = len(rows)
    tokens = [(nlp.tokenize(r), nlp.tokenize(t)) for r, t in rows]
    method4 = SmoothingFunction().method4
    rouge_l = RougeScorer(["rougeL"])
    nltk.word_tokenize("Warm up. Twice.")

    def nothing() -> None:
        pass

    cold = nlp.clear_caches
    words = sum(len(t.split()) for _, t in rows) / n
    print(f"{n} rows, ground truths {words:.1f} words on average, best of {args.repeat}")
    print(
        f"  import evalcli.nlp {import_s * 1000:.1f} ms; load tokenizers {tokenizer_load_s:.2f} s;"
    )
    print(f"  load WordNet (METEOR only) {wordnet_load_s:.2f} s")

    print("evalcli.nlp, per metric:")
    tok = _best_ms_per_row(
        "tokenize x2",
        lambda: [(nlp.tokenize(r), nlp.tokenize(t)) for r, t in rows],
        n,
        args.repeat,
        cold,
    )

    def tokenize_per_task() -> None:
        # The runner scores BLEU, GLEU and METEOR of a row as separate tasks,
        # each asking for the same two token lists.
        for response, truth in rows:
            for _ in range(3):
                nlp.tokenize(response)
                nlp.tokenize(truth)

    _best_ms_per_row(
        "3 metrics x tokenize x2 (repeats memoized)", tokenize_per_task, n, args.repeat, cold
    )
    f1 = _best_ms_per_row(
        "f1_score", lambda: [nlp.f1_score(r, t) for r, t in rows], n, args.repeat, nothing
    )
    bleu = _best_ms_per_row(
        "bleu", lambda: [nlp.bleu(h, g) for h, g in tokens], n, args.repeat, nothing
    )
    rouge = _best_ms_per_row(
        "rouge (rougeL)",
        lambda: [nlp.rouge(r, t, "rougeL") for r, t in rows],
        n,
        args.repeat,
        nothing,
    )
    gleu = _best_ms_per_row(
        "gleu", lambda: [nlp.gleu(h, g) for h, g in tokens], n, args.repeat, nothing
    )
    meteor = _best_ms_per_row(
        "meteor (memo caches cleared each run)",
        lambda: [nlp.meteor(h, g) for h, g in tokens],
        n,
        args.repeat,
        cold,
    )

    def ours_row() -> list[Any]:
        out = []
        for response, truth in rows:
            hyp, ref = nlp.tokenize(response), nlp.tokenize(truth)
            out.append(
                (
                    nlp.f1_score(response, truth),
                    nlp.bleu(hyp, ref),
                    nlp.rouge(response, truth, "rougeL"),
                )
            )
        return out

    def direct_row() -> list[Any]:
        out = []
        for response, truth in rows:
            hyp, ref = nltk.word_tokenize(response), nltk.word_tokenize(truth)
            out.append(
                (
                    _reference_f1(response, truth),
                    sentence_bleu([ref], hyp, smoothing_function=method4),
                    rouge_l.score(truth, response)["rougeL"],
                )
            )
        return out

    print("row = tokenize x2 + f1 + bleu + rougeL:")
    ours = _best_ms_per_row("evalcli.nlp", ours_row, n, args.repeat, cold)
    direct = _best_ms_per_row(
        "nltk.word_tokenize + nltk + rouge-score", direct_row, n, args.repeat, nothing
    )
    print(
        f"  speed-up {direct / ours:.1f}x"
        f" (sum of the parts above: {tok + f1 + bleu + rouge:.4f} ms/row)"
    )

    print("nltk / rouge-score called directly, per metric:")
    _best_ms_per_row(
        "nltk.word_tokenize x2",
        lambda: [(nltk.word_tokenize(r), nltk.word_tokenize(t)) for r, t in rows],
        n,
        args.repeat,
        nothing,
    )
    _best_ms_per_row(
        "nltk sentence_bleu",
        lambda: [sentence_bleu([g], h, smoothing_function=method4) for h, g in tokens],
        n,
        args.repeat,
        nothing,
    )
    _best_ms_per_row(
        "rouge-score rougeL",
        lambda: [rouge_l.score(t, r) for r, t in rows],
        n,
        args.repeat,
        nothing,
    )
    _best_ms_per_row(
        "nltk sentence_gleu",
        lambda: [sentence_gleu([g], h) for h, g in tokens],
        n,
        args.repeat,
        nothing,
    )
    _best_ms_per_row(
        "nltk meteor_score",
        lambda: [meteor_score([g], h) for h, g in tokens],
        n,
        args.repeat,
        nothing,
    )
    # Non-ASCII text takes the NIST path; one accent per text is enough.
    from nltk.tokenize.nist import NISTTokenizer

    nist = NISTTokenizer()
    accented = [(r.replace("e", "\u00e9", 1), t.replace("e", "\u00e9", 1)) for r, t in rows]
    print("non-ASCII texts (NIST tokenizer path):")
    _best_ms_per_row(
        "evalcli.nlp tokenize x2",
        lambda: [(nlp.tokenize(r), nlp.tokenize(t)) for r, t in accented],
        n,
        args.repeat,
        cold,
    )
    _best_ms_per_row(
        "NISTTokenizer().international_tokenize x2",
        lambda: [
            (nist.international_tokenize(r), nist.international_tokenize(t)) for r, t in accented
        ],
        n,
        args.repeat,
        nothing,
    )
    print(f"all six evalcli metrics per row: {tok + f1 + bleu + rouge + gleu + meteor:.4f} ms")


if __name__ == "__main__":
    main()

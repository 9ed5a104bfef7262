"""Generate tests/nlp/reference_values.json from the reference SDK.

Not run by CI. It needs a throwaway virtualenv with the reference SDK, which
must never become a dependency of evalcli, plus the NLTK data (punkt_tab,
perluniprops, wordnet) that the reference expects:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install azure-ai-evaluation==1.18.10 nltk==3.10.4
    NLTK_DATA=/path/to/nltk_data /tmp/refvenv/bin/python tests/nlp/gen_reference_values.py

The script scores every case with the SDK's public evaluators
(F1ScoreEvaluator, BleuScoreEvaluator, GleuScoreEvaluator,
MeteorScoreEvaluator with default and custom parameters, RougeScoreEvaluator
for each ROUGE type) and records the SDK tokenizer's output next to it.

The case list is deterministic. Very long texts are not stored: a case may
carry a ``generate`` spec instead of texts, and :func:`generated_pair` turns
the spec back into the same texts here and in ``test_nlp_exact.py`` (which
imports this file for that function only; nothing below imports the SDK at
module level).
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("reference_values.json")

#: The non-default METEOR parameters recorded as "meteor_custom".
METEOR_CUSTOM = {"alpha": 0.75, "beta": 2.0, "gamma": 0.3}
ROUGE_TYPES = ("rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL")

# Hand-picked pairs (response, ground truth), one edge case per line.
_FIXED: list[tuple[str, str, str]] = [
    ("empty_both", "", ""),
    ("empty_response", "", "The cat sat on the mat."),
    ("empty_ground_truth", "The cat sat on the mat.", ""),
    ("whitespace_only", "   ", "  \t "),
    ("newlines_only", "\n\n", "\n"),
    ("whitespace_vs_text", " \t\n", "Some text here."),
    ("punctuation_only", "...", "!!!"),
    ("punctuation_same", "?!", "?!"),
    ("punctuation_mix", ",.;:!?-()[]{}'\"", ".,"),
    ("article_a", "a", "a"),
    ("article_the", "the", "the"),
    ("articles_only", "a an the", "the an a"),
    ("article_swap", "an apple", "the apple"),
    ("case_single", "A", "a"),
    ("case_words", "Hello World", "hello world"),
    ("case_upper", "HELLO THERE", "hello there"),
    ("single_match", "cat", "cat"),
    ("single_mismatch", "cat", "dog"),
    ("two_words_swapped", "big cat", "cat big"),
    ("repeated_response", "the the the the", "the"),
    ("repeated_words", "cat cat cat dog", "cat dog dog"),
    (
        "identical_sentence",
        "The quick brown fox jumps over the lazy dog.",
        "The quick brown fox jumps over the lazy dog.",
    ),
    (
        "word_swap",
        "The quick brown fox jumps over the lazy dog.",
        "A quick brown dog jumps over the lazy fox.",
    ),
    ("synonyms", "The automobile is fast.", "The car is quick."),
    ("stems", "running runners ran quickly", "run runner runs quick"),
    ("accents", "café au lait", "café"),
    ("accents_sentence", "Crème brûlée is délicieux.", "Crème brûlée is delicious."),
    ("cjk", "東京は日本の首都です。", "日本の首都は東京です。"),
    ("cjk_mixed", "Tokyo 東京 is the capital.", "The capital is Tokyo (東京)."),
    ("emoji_sentence", "I love pizza 🍕!", "I love pizza!"),
    ("emoji_only", "😀😀", "😀"),
    ("emoji_ascii_words", "Great job 👍👍", "great job"),
    ("cyrillic_mixed", "Привет мир hello", "hello мир"),
    ("arabic", "مرحبا بالعالم", "مرحبا"),
    ("greek", "Καλημέρα κόσμε", "καλημέρα"),
    ("xml_entities_ascii", "Tom &amp; Jerry", "Tom & Jerry"),
    ("xml_entities_nist", "Tom &amp; Jerry é", "Tom & Jerry é"),
    ("xml_tags_nist", "&lt;b&gt;bold&lt;/b&gt; ü", "<b>bold</b> ü"),
    (
        "xml_quotes_nist",
        "&quot;quoted&quot; &apos;x&apos; ñ &#124; &#91;y&#93;",
        "\"quoted\" 'x' ñ | [y]",
    ),
    (
        "multi_sentence",
        "Paris is the capital of France. It is big. Mr. Smith lives there.",
        "The capital of France is Paris. Mr. Smith agrees.",
    ),
    ("newlines_tabs", "Line one.\nLine two.\tTabbed.", "Line one.\n\nLine two."),
    ("paragraphs", "Para one.\n\nPara two has more words.", "Para one. Para two."),
    ("crlf", "line1\r\nline2", "line1\nline2"),
    ("vt_ff", "a\x0bb\x0cc", "a b c"),
    ("info_separators", "a\x1cb\x1dc d\x1e\x1fe", "a b c d e"),
    ("numbers", "The answer is 42.", "The answer is 42.0"),
    ("decimals", "3.14159 and 1,000,000", "3.14 and 1000000"),
    ("digits_only", "123 456", "123 456"),
    ("contractions", "I can't do it, won't you?", "I cannot do it, will you not?"),
    (
        "contractions_macintyre",
        "They're gonna wanna go, gimme lemme gotta.",
        "They are going to want to go.",
    ),
    ("tis_twas", "'Tis the season, 'twas the night", "It is the season"),
    ("shouted_negation", "DON'T STOP, I'M HERE", "do not stop"),
    ("possessives", "John's dog's bone", "Johns dogs bone"),
    ("apostrophes", "rock'n'roll o'clock 'hello' 'world'", "rock and roll hello world"),
    ("double_quotes", 'He said "hello" to me.', "He said 'hello' to me."),
    ("latex_quotes", "``Quoted'' text and `tick`", '"Quoted" text'),
    ("leading_quote", '"Start" of text', "Start of text"),
    ("hyphens", "state-of-the-art e-mail", "state of the art email"),
    ("double_dash", "Wait -- what? Really--yes.", "Wait, what?"),
    ("em_dash_nist", "Wait—what?", "Wait -- what?"),
    ("ellipsis", "Well... I guess.", "Well, I guess..."),
    ("currency", "It costs $3.88 (roughly 3 euros).", "It costs $3.88."),
    ("euro_nist", "It costs €3.", "It costs 3 euros."),
    ("symbols", "50% of #1 @home & more; ok", "50 percent"),
    ("abbreviations", "Dr. Who met Mrs. Jones at 5 p.m. on Jan. 3.", "Dr. Who met Mrs. Jones."),
    ("initialism", "The U.S. economy grew.", "The US economy grew."),
    ("questions", "Is it? Yes! No.", "Is it? Yes."),
    ("trailing_spaces", "Hello world.   ", "Hello world."),
    ("leading_spaces", "   Hello", "Hello"),
    ("brackets", "(a) [b] {c} <d>", "a b c d"),
    ("no_spaces", "Hello,world!How are you?", "Hello, world! How are you?"),
    ("colons_semicolons", "Note: this; that. At 10:30, 1,5", "Note this that"),
    ("asterisks", "*bold* text **x**", "bold text"),
    ("url_email", "Visit https://example.com/path?q=1 or mail me@example.org", "Go to example.com"),
    ("nbsp_nist", "hello\u00a0world", "hello world"),
    ("combining_accent", "e\u0301cole", "école"),
    ("dotted_i", "İstanbul", "istanbul"),
    ("sharp_s", "Straße", "STRASSE"),
    ("fullwidth", "\uff21\uff22\uff23\uff11\uff12\uff13", "ABC123"),
    (
        "smart_quotes_nist",
        "\u201cSmart quotes\u201d and \u2018single\u2019",
        "\"Smart quotes\" and 'single'",
    ),
    ("short_vs_long", "yes", "yes it is absolutely the case that the answer is yes"),
    (
        "qa_answer",
        "The Eiffel Tower, completed in 1889, is 330 metres tall.",
        "The Eiffel Tower is 330 m (1,083 ft) tall and was completed in 1889.",
    ),
]

_VOCAB_TEXT = (
    "the of and to in is was for on that with as by at from it this be are which or have "
    "an has had not but his they their were one all would there been more when who will "
    "cat dog car automobile run running ran quick fast big large small city capital country"
)
_VOCAB = _VOCAB_TEXT.split()
_EXTRAS = [
    "Paris", "France", "Mr.", "U.S.", "don't", "it's", "can't", "3.5", "1,200", "42", "(maybe)",
    '"quoted"', "e.g.", "--", "...", "?", "!", ";", "&amp;", "#1", "50%", "`x`", "''",
    "café", "naïve", "東京", "😀", "Ωmega", "\t", "\n",
]  # fmt: skip


def _random_text(rng: random.Random, words: int) -> str:
    parts = []
    for _ in range(words):
        draw = rng.random()
        parts.append(rng.choice(_EXTRAS) if draw < 0.2 else rng.choice(_VOCAB))
        if rng.random() < 0.08:
            parts[-1] += rng.choice([",", ".", "?", "!"])
    text = " ".join(parts)
    if rng.random() < 0.5:
        text = text[:1].upper() + text[1:] + "."
    return text


def _perturb(rng: random.Random, text: str) -> str:
    out = []
    for word in text.split(" "):
        draw = rng.random()
        if draw < 0.15:
            continue
        out.append(rng.choice(_VOCAB) if draw < 0.3 else word)
    return " ".join(out)


def _random_cases(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        truth = _random_text(rng, rng.randint(1, 30))
        if rng.random() < 0.7:
            response = _perturb(rng, truth)
        else:
            response = _random_text(rng, rng.randint(0, 30))
        cases.append({"id": f"random_{seed}_{index}", "response": response, "ground_truth": truth})
    return cases


#: Long cases, regenerated from these specs instead of being stored.
GENERATED_SPECS: list[dict[str, Any]] = [
    {"seed": 1001, "words": 3000, "mode": "perturbed"},
    {"seed": 1002, "words": 2500, "mode": "identical"},
    {"seed": 1003, "words": 4000, "mode": "short_response"},
]


def generated_pair(spec: dict[str, Any]) -> tuple[str, str]:
    """Rebuild the (response, ground truth) texts of a generated case.

    Args:
        spec: One of :data:`GENERATED_SPECS`.

    Returns:
        The response and ground truth, identical on every run and platform.
    """
    rng = random.Random(spec["seed"])
    sentences = []
    total = 0
    while total < spec["words"]:
        count = rng.randint(5, 25)
        sentences.append(_random_text(rng, count))
        total += count
    truth = " ".join(sentences)
    if spec["mode"] == "identical":
        return truth, truth
    if spec["mode"] == "short_response":
        return " ".join(truth.split(" ")[:40]), truth
    return _perturb(rng, truth), truth


def build_cases() -> list[dict[str, Any]]:
    """The full, deterministic case list: fixed, random and generated cases."""
    cases: list[dict[str, Any]] = [
        {"id": name, "response": response, "ground_truth": truth}
        for name, response, truth in _FIXED
    ]
    cases += _random_cases(seed=20240601, count=60)
    cases += [{"id": f"generated_{spec['seed']}", "generate": spec} for spec in GENERATED_SPECS]
    return cases


def case_texts(case: dict[str, Any]) -> tuple[str, str]:
    """Return a case's (response, ground truth), regenerating long ones."""
    if "generate" in case:
        return generated_pair(case["generate"])
    return case["response"], case["ground_truth"]


def main() -> None:
    """Score every case with the reference SDK and write the JSON file."""
    from importlib.metadata import version

    from azure.ai.evaluation import (
        BleuScoreEvaluator,
        F1ScoreEvaluator,
        GleuScoreEvaluator,
        MeteorScoreEvaluator,
        RougeScoreEvaluator,
        RougeType,
    )
    from azure.ai.evaluation._common.utils import nltk_tokenize

    f1 = F1ScoreEvaluator()
    bleu = BleuScoreEvaluator()
    gleu = GleuScoreEvaluator()
    meteor = MeteorScoreEvaluator()
    meteor_custom = MeteorScoreEvaluator(**METEOR_CUSTOM)
    rouges = {name: RougeScoreEvaluator(RougeType(name)) for name in ROUGE_TYPES}

    records = []
    started = time.monotonic()
    for case in build_cases():
        response, truth = case_texts(case)
        kwargs = {"response": response, "ground_truth": truth}
        expected: dict[str, Any] = {
            "f1_score": float(f1(**kwargs)["f1_score"]),
            # The SDK reports the integer 0 when no unigram matches.
            "bleu": float(bleu(**kwargs)["bleu_score"]),
            "gleu": float(gleu(**kwargs)["gleu_score"]),
            "meteor": float(meteor(**kwargs)["meteor_score"]),
            "meteor_custom": float(meteor_custom(**kwargs)["meteor_score"]),
        }
        for name, evaluator in rouges.items():
            props = evaluator(**kwargs)["rouge_properties"]
            expected[name] = [
                props["rouge_precision"],
                props["rouge_recall"],
                props["rouge_f1_score"],
            ]
        record = dict(case)
        if "generate" not in case:
            record["tokens"] = {
                "response": nltk_tokenize(response),
                "ground_truth": nltk_tokenize(truth),
            }
        record["expected"] = expected
        records.append(record)

    payload = {
        "about": "Expected scores from the reference SDK; regenerate with gen_reference_values.py.",
        "reference": {
            "azure-ai-evaluation": version("azure-ai-evaluation"),
            "nltk": version("nltk"),
            # The SDK scores ROUGE with its own vendored copy of rouge-score 0.1.2.
            "rouge-score": "vendored in azure-ai-evaluation",
            "python": sys.version.split()[0],
        },
        "meteor_custom_params": METEOR_CUSTOM,
        "cases": records,
    }
    text = json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
    OUTPUT.write_text(text, encoding="utf-8")
    print(
        f"wrote {len(records)} cases to {OUTPUT} ({len(text.encode()) / 1024:.0f} KiB) "
        f"in {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

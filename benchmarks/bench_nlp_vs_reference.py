"""Issue 15, keep: the 2,000-row NLP run against the reference SDK's same run, side by side.

    python benchmarks/bench_nlp_vs_reference.py [--repeat 5] [--refvenv /tmp/refvenv]

Times two whole processes on the same 2,000 rows (``_common.qa_rows``) and the same metrics
(F1, BLEU, ROUGE-L), alternated, and prints the median of each and their ratio next to the
target (evalcli >= 10x faster):

* evalcli: ``evalcli run <config>`` with default flags, so the worker pool runs as users get
  it (the table goes to /dev/null);
* the reference: ``python -c <script>`` in the ``azure-ai-evaluation==1.18.10`` virtualenv
  (``_reference.ensure_refvenv``), calling ``evaluate()`` with the three evaluators and the
  same column mapping, with the NLTK data and archives ``bench_quickstart`` prepares so that
  it never tries the network.

Both runs' metric means are compared (to 1e-9) once, untimed, before timing; that run also
prints how long one reference run takes (about 8 s on 2 cores here, so 5 repeats take about
a minute and a half; lower --repeat on slower machines).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
from pathlib import Path

from _common import EVALCLI, qa_rows, write_jsonl
from _reference import (
    DEFAULT_REFVENV,
    alternate,
    check_same_means,
    ensure_refvenv,
    print_ratio,
    reference_script,
)
from bench_quickstart import optional_heavy_packages, reference_data

TARGET = 10.0
ROWS = 2000

CONFIG = """
name: bench-nlp-vs-reference
dataset: {{path: {data}}}
columns:
  response: ${{data.answer}}
  ground_truth: ${{data.truth}}
evaluators:
  f1_score: {{}}
  bleu: {{}}
  rougeL: {{use: rouge, params: {{rouge_type: rougeL}}}}
output: {{dir: {out}}}
run: {{max_error_rate: 0.0}}
"""

# The reference's same run: the same evaluators (default parameters) and column mapping.
REFERENCE_SCRIPT = reference_script(
    {
        "f1_score": "F1ScoreEvaluator()",
        "bleu": "BleuScoreEvaluator()",
        "rougeL": "RougeScoreEvaluator(RougeType.ROUGE_L)",
    }
)

# metric in the reference's result -> evalcli's results.json key (as in bench_quickstart)
SAME_METRICS = {
    "f1_score.f1_score": "f1_score.f1_score",
    "bleu.bleu": "bleu.bleu",
    "rougeL.rouge": "rougeL.rouge",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--refvenv", type=Path, default=DEFAULT_REFVENV)
    parser.add_argument(
        "--evalcli", default=EVALCLI, help="the evalcli executable (default: this venv's)"
    )
    args = parser.parse_args()
    heavy = optional_heavy_packages(Path(args.evalcli).parent / "python")
    if heavy:
        print(f"note: environments may hold {', '.join(heavy)} (see bench_quickstart)")

    ref_python = ensure_refvenv(args.refvenv)
    with tempfile.TemporaryDirectory(prefix="bench-nlp-vs-ref-") as tmp:
        scratch = Path(tmp)
        # Run from the scratch directory so nothing (e.g. a .evalcli/ cache) lands in the repo.
        os.chdir(scratch)
        data = scratch / "nlp2000.jsonl"
        write_jsonl(data, qa_rows(ROWS))
        out = scratch / "evalcli-out"
        cfg = scratch / "nlp2000.yaml"
        cfg.write_text(textwrap.dedent(CONFIG).format(data=data, out=out))
        ref_env = {"NLTK_DATA": str(reference_data(scratch))}
        ours = [args.evalcli, "run", str(cfg)]
        theirs = [str(ref_python), "-c", REFERENCE_SCRIPT, str(data), str(scratch / "ref.json")]

        ref_wall = check_same_means(ours, theirs, ref_env, out, SAME_METRICS)
        print(f"one untimed reference run: {ref_wall:.1f} s")
        walls = alternate(ours, theirs, ref_env, args.repeat)
    print_ratio(walls, f"{ROWS:,} rows x F1+BLEU+ROUGE-L, whole process", TARGET)


if __name__ == "__main__":
    main()

"""Issue 15, part 1: the quickstart run against the reference SDK's same run, side by side.

    python benchmarks/bench_quickstart.py [--repeat 5] [--refvenv /tmp/refvenv]

Times two whole processes on the same 20 rows (``sample_data/qa.jsonl``) and the same
metrics (F1, BLEU with threshold 0.3, GLEU, ROUGE-L, METEOR 0.9/3.0/0.5), alternated, and
prints the median of each and their ratio next to the target (evalcli >= 5x faster):

* evalcli: ``evalcli run configs/quickstart.yaml -o <tmp>`` (the table goes to /dev/null);
* the reference: ``python -c <script>`` in a throwaway virtualenv with
  ``azure-ai-evaluation==1.18.10``, calling ``evaluate()`` with the five evaluators and the
  same column mapping. The virtualenv is created (``python3 -m venv`` + pip) when missing.

Both read the NLTK data evalcli built into its venv (``.venv/share/nltk_data``). The reference
checks, before every tokenization, that ``corpora/wordnet.zip``, ``misc/perluniprops.zip``,
``tokenizers/punkt.zip`` and ``tokenizers/punkt_tab.zip`` exist and calls ``nltk.download``
for each that does not: three failed downloads per call (about 20 s per run here) with the
unpacked data alone. So the reference gets a copy of that data plus those archives, made the
way nltk's downloader makes them; ``punkt`` (the pickled model nltk 3.10 no longer reads) is an
archive holding an empty ``punkt/``. The reference then never touches the network, and its
time is its own work. Both runs' metrics are compared once before timing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from _common import EVALCLI, REPO
from _reference import (
    DEFAULT_REFVENV,
    alternate,
    check_same_means,
    ensure_refvenv,
    print_ratio,
    reference_script,
)

TARGET = 5.0
EVALCLI_DATA = REPO / ".venv" / "share" / "nltk_data"
DATA = REPO / "sample_data" / "qa.jsonl"
CONFIG = REPO / "configs" / "quickstart.yaml"

# The reference's same run: the quickstart's evaluators, parameters and column mapping.
REFERENCE_SCRIPT = reference_script(
    {
        "f1_score": "F1ScoreEvaluator()",
        "bleu": "BleuScoreEvaluator(threshold=0.3)",
        "gleu": "GleuScoreEvaluator()",
        "rougeL": "RougeScoreEvaluator(RougeType.ROUGE_L)",
        "meteor": "MeteorScoreEvaluator(alpha=0.9, beta=3.0, gamma=0.5)",
    }
)

# metric in the reference's result -> evalcli's results.json key
SAME_METRICS = {
    "f1_score.f1_score": "f1_score.f1_score",
    "bleu.bleu": "bleu.bleu",
    "gleu.gleu": "gleu.gleu",
    "rougeL.rouge": "rougeL.rouge",
    "meteor.meteor": "meteor.meteor",
}


def zip_dir(source: Path, archive: Path) -> None:
    """``<name>.zip`` holding ``<name>/`` with its files, as nltk's downloader leaves it."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{source.name}/", b"")
        for path in sorted(source.rglob("*")):
            arcname = path.relative_to(source.parent).as_posix()
            if path.is_dir():
                zf.writestr(f"{arcname}/", b"")
            else:
                zf.write(path, arcname)


def reference_data(scratch: Path) -> Path:
    """evalcli's NLTK data plus the archives the reference looks for before each call."""
    root = scratch / "nltk_data"
    shutil.copytree(EVALCLI_DATA, root)  # a copy, not links: nltk refuses links leaving a root
    zip_dir(root / "corpora" / "wordnet", root / "corpora" / "wordnet.zip")
    zip_dir(root / "misc" / "perluniprops", root / "misc" / "perluniprops.zip")
    if not (root / "tokenizers" / "punkt_tab.zip").exists():
        zip_dir(root / "tokenizers" / "punkt_tab", root / "tokenizers" / "punkt_tab.zip")
    with zipfile.ZipFile(root / "tokenizers" / "punkt.zip", "w") as zf:
        zf.writestr("punkt/", b"")
    for path in [root, *root.rglob("*")]:  # nltk refuses group/world-writable data
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def optional_heavy_packages(python: Path) -> list[str]:
    """Packages nltk imports at start-up when present, found in the evalcli environment."""
    probe = (
        "import importlib.util as u; "
        "print(' '.join(m for m in ('scipy', 'sklearn', 'pandas') if u.find_spec(m)))"
    )
    proc = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return proc.stdout.split()


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
        # A plain `import nltk` takes these when installed (nltk.metrics -> scipy.stats,
        # nltk.classify -> sklearn): a second or more. The evalcli command hides scipy and
        # sklearn while it imports nltk (evalcli/nltk_import.py); the reference pays for them.
        print(
            f"note: both environments may hold {', '.join(heavy)}; "
            "the evalcli command imports nltk without scipy/sklearn"
        )

    ref_python = ensure_refvenv(args.refvenv)
    with tempfile.TemporaryDirectory(prefix="bench-quickstart-") as tmp:
        scratch = Path(tmp)
        ref_env = {"NLTK_DATA": str(reference_data(scratch))}
        out = scratch / "evalcli-out"
        ours = [args.evalcli, "run", str(CONFIG), "-o", str(out), "--no-cache"]
        theirs = [str(ref_python), "-c", REFERENCE_SCRIPT, str(DATA), str(scratch / "ref.json")]

        # Once, untimed: warms the page cache and checks that both compute the same scores.
        check_same_means(ours, theirs, ref_env, out, SAME_METRICS)
        walls = alternate(ours, theirs, ref_env, args.repeat)
    print_ratio(walls, "quickstart, whole process", TARGET)


if __name__ == "__main__":
    main()

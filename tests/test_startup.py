"""Start-up: the quick commands import only what they use (issue 15, part 2).

``evalcli --help``, ``list-evaluators`` and ``validate`` are run in a fresh interpreter and
the modules they leave in ``sys.modules`` are checked: the judge client, prompt templates,
NLTK and the settings models of unused evaluator families cost more than the commands
themselves (benchmarks/bench_startup.py measures it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.evaluators import catalog
from evalcli.evaluators.builtins import register as register_builtins
from evalcli.evaluators.declaration import EvaluatorInfo
from evalcli.registry import Registry
from tests.conftest import REPO, MakeConfig

_PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = ['evalcli', *json.loads(sys.argv[1])]\n"
    "try:\n"
    "    runpy.run_module('evalcli', run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "else:\n"
    "    code = 0\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
)


def imported_by(*argv: str) -> set[str]:
    """Top-level packages and evalcli modules imported by ``evalcli *argv`` (exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), proc.stderr
    modules: list[str] = report["modules"]
    # Importing a module imports its top-level package first, so top-level names say what
    # was imported. (Submodule names alone could mislead: the command's stand-in for
    # pydantic's plugin loader sits in sys.modules without pydantic being imported.)
    return {m for m in modules if "." not in m} | {m for m in modules if m.startswith("evalcli.")}


HEAVY = {"openai", "nltk", "jinja2", "httpx", "httpx2", "sqlite3"}


@pytest.mark.parametrize(
    "argv", [("--help",), ("list-evaluators",), ("list-evaluators", "--json")], ids=" ".join
)
def test_help_and_listing_import_neither_libraries_nor_evaluators(argv: tuple[str, ...]) -> None:
    imported = imported_by(*argv)
    assert not imported & HEAVY
    # Typer converts option values with pydantic only when one is given (cli/lazy_params).
    assert "pydantic" not in imported
    # Built-ins are listed from their catalog, not by importing their modules.
    implementations = {m for m in imported if m.startswith("evalcli.evaluators.")}
    assert implementations <= {
        f"evalcli.evaluators.{m}" for m in ("builtins", "catalog", "_catalog")
    }


def test_validate_imports_only_the_families_a_config_uses() -> None:
    imported = imported_by("validate", "configs/quickstart.yaml")
    # The NLTK data check repeats nltk's search instead of importing it (nltk_data/_search).
    assert not imported & {"openai", "jinja2", "httpx", "httpx2", "nltk"}
    assert "evalcli.evaluators.nlp" in imported
    for unused in ("quality", "safety", "agents", "guidelines", "checks", "custom_prompt"):
        assert f"evalcli.evaluators.{unused}" not in imported, unused
    # Nothing here calls out or aggregates: no client stack (made only for a judge, a target
    # or Content Safety), no results models, no run machinery, and no urllib.request
    # (http.client, ssl) for the NLTK data search's path conversion.
    assert not imported & {"http", "ssl"}
    for module in ("judge.client", "remote", "aggregate", "results", "api", "runner"):
        assert f"evalcli.{module}" not in imported, module


def test_the_client_pool_is_made_only_for_a_config_that_calls_out(
    make_config: MakeConfig,
) -> None:
    from evalcli.api import validate

    local = validate(REPO / "configs" / "quickstart.yaml")
    assert "clients" not in local.services
    judged = validate(
        make_config(
            """
            dataset: {path: data.jsonl}
            columns: {query: "${data.q}", response: "${data.a}"}
            judge: {type: openai, base_url: "http://127.0.0.1:9/v1", model: m, api_key: k-123456}
            evaluators: {relevance: {}, fluency: {}}
            run: {concurrency: 3}
            output: {dir: out}
            """,
            [{"q": "q?", "a": "a."}],
        )
    )
    try:
        pool = judged.services["clients"]
        # One shared judge client, limited by the run's concurrency as before.
        assert pool.concurrency == 3
        assert [c.role for c in pool.clients.values()] == ["judge"]
    finally:
        judged.close()


def test_catalog_matches_the_declarations() -> None:
    # _catalog.py is generated; a built-in added or changed without regenerating it would
    # be missing from (or wrong in) list-evaluators.
    assert catalog.builtin_summaries() == tuple(catalog.current_summaries()), (
        "stale evalcli/evaluators/_catalog.py: run python -m evalcli.evaluators.catalog"
    )


def test_a_lazily_registered_builtin_loads_once_with_its_source_and_version() -> None:
    reg = Registry()
    reg.run_hook(register_builtins, source="builtin", version="9.9")
    listed = {s.name: s for s in reg.summaries()}
    assert listed["bleu"].source == "builtin" and listed["bleu"].version == "9.9"
    info = reg.require("bleu")
    assert (info.name, info.source, info.version) == ("bleu", "builtin", "9.9")
    assert reg.get("bleu") is info  # loaded once, then kept
    assert catalog.summarize(info, listed["bleu"].declared_in) == listed["bleu"]
    # Iterating loads (and checks, as Registry.add does) every declaration.
    assert [i.name for i in reg] == [s.name for s in reg.summaries()]


def test_a_plugin_cannot_replace_a_builtin_not_yet_loaded() -> None:
    reg = Registry()
    reg.run_hook(register_builtins, source="builtin")
    builtin = catalog.declarations("evalcli.evaluators.nlp:NLP_EVALUATORS")[1]
    assert builtin.name == "bleu"

    def hook(r: Registry) -> None:
        r.add(replace(builtin, description="impostor"))

    reg.run_hook(hook, source="plugin:evil", version="1.0")
    assert reg.warnings == [
        "evaluator 'bleu' from plugin:evil ignored: the name is already registered by builtin"
    ]
    info = reg.require("bleu")
    assert isinstance(info, EvaluatorInfo) and info.description != "impostor"
    assert info.source == "builtin"


def test_option_values_are_still_converted_and_checked_by_typer(cli: CliRunner) -> None:
    # An absent option skips Typer's pydantic adapter; a given one goes through it as before.
    res = cli.invoke(app, ["run", "configs/quickstart.yaml", "--limit", "0"])
    assert res.exit_code == 2
    assert "Invalid value for '--limit': Input should be greater than or equal to 1" in res.stderr
    res = cli.invoke(app, ["run", "configs/quickstart.yaml", "--concurrency", "many"])
    assert res.exit_code == 2
    assert "Invalid value for '--concurrency' / '-c': Input should be a valid integer" in res.stderr


def test_a_given_path_option_is_a_path(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        "dataset: {path: data.jsonl}\n"
        "columns: {response: '${data.answer}'}\n"
        "evaluators:\n  shout: {use: code, function: checks.py:shout}\n"
        "output: {dir: out}\n",
        [{"answer": "HI"}],
    )
    (cfg.parent / "checks.py").write_text(
        "def shout(response: str) -> float:\n    return float(response.isupper())\n",
        encoding="utf-8",
    )
    res = cli.invoke(app, ["list-evaluators", "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.stderr
    row = next(r for r in json.loads(res.stdout) if r["name"] == "shout")
    assert row["source"] == f"config:{cfg}" and row["use"] == "code"


def test_the_command_imports_nltk_without_scipy_sklearn_or_numpy(tmp_path: Path) -> None:
    """`evalcli run` of the quickstart: nltk without its SciPy/scikit-learn integrations.

    They cost 1.3-1.7 s of a 20-row run on a machine with the ML stack installed (the dev
    venv has both through mlflow) and evalcli calls none of it (evalcli/nltk_import.py);
    NumPy, which nltk imports for code evalcli never calls either, ~40 ms.
    """
    pytest.importorskip("scipy")
    pytest.importorskip("sklearn")
    imported = imported_by("run", "configs/quickstart.yaml", "-o", str(tmp_path / "lean"))
    assert "nltk" in imported
    assert not imported & {"scipy", "sklearn", "numpy"}


def test_lean_nltk_gives_the_same_scores_and_leaves_scipy_importable() -> None:
    """The hidden packages only change what nltk's unused parts can do, not METEOR/BLEU."""
    pytest.importorskip("scipy")
    probe = (
        "import json, sys\n"
        "from evalcli import nltk_import\n"
        "if sys.argv[1] == 'lean':\n"
        "    nltk_import.use_lean_import()\n"
        "from evalcli.nlp import bleu, meteor\n"
        "pairs = [('The cats were running home', 'A cat runs to its house'),\n"
        "         ('He is the best player', 'He was a better player than them')]\n"
        "scores = [(meteor(r, g), bleu(r, g)) for r, g in pairs]\n"
        "hidden = 'scipy' in sys.modules or 'numpy' in sys.modules\n"
        "import scipy.stats, numpy\n"
        "print(json.dumps({'scores': scores, 'scipy_during_run': hidden}))\n"
    )
    out = {}
    for mode in ("lean", "full"):
        proc = subprocess.run(
            [sys.executable, "-c", probe, mode],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            check=True,
        )
        out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["lean"]["scores"] == out["full"]["scores"]
    assert out["lean"]["scipy_during_run"] is False
    assert out["full"]["scipy_during_run"] is True

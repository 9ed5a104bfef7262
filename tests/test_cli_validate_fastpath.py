"""The plain ``evalcli validate CONFIG`` skips Typer; it must say and exit exactly as Typer does.

Each command line runs twice in a fresh interpreter: through the console script's entry
point (:func:`evalcli.cli.main`, which takes the fast path when it can) and through the
Typer application itself (``evalcli.cli.app``, the only path before). Output and exit code
must be the same, character for character, for good and bad configs and for the command
lines the fast path must leave to Typer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalcli.cli import _plain_validate
from tests.conftest import REPO, MakeConfig

_VIA_MAIN = (
    "import json, sys\n"
    "sys.argv = ['evalcli', *json.loads(sys.argv[1])]\n"
    "from evalcli.cli import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    sys.stdout.flush()\n"
    "    print('\\nMODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)
_VIA_TYPER = (
    "import json, sys\n"
    "sys.argv = ['evalcli', *json.loads(sys.argv[1])]\n"
    "from evalcli.cli import app\n"
    "from evalcli.nltk_import import use_lean_import\n"
    "use_lean_import()\n"
    "app(prog_name='evalcli')\n"
)


def _run(code: str, argv: list[str], cwd: Path) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _via_main(argv: list[str], cwd: Path) -> tuple[int, str, str, list[str]]:
    code, out, err = _run(_VIA_MAIN, argv, cwd)
    err, _, modules = err.rpartition("\nMODULES ")
    return code, out, err, json.loads(modules)


@pytest.fixture
def configs(make_config: MakeConfig, tmp_path: Path) -> Path:
    rows = [{"answer": "Paris is the capital.", "truth": "Paris"}] * 3
    make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}, ground_truth: ${data.truth}}
        evaluators: {f1_score: {}}
        output: {dir: out}
        """,
        rows=rows,
        name="good.yaml",
    )
    make_config(
        """
        dataset: {path: data.jsonl}
        evaluators: {f1_scor: {}}
        """,
        name="unknown.yaml",
    )
    (tmp_path / "broken.yaml").write_text("dataset: {path: data.jsonl\nevaluators: [\n")
    (tmp_path / "dir.yaml").mkdir()
    return tmp_path


CASES = [
    ["validate", "good.yaml"],
    ["validate", "good.yaml", "--debug"],
    ["validate", "--debug", "good.yaml"],
    ["validate", "unknown.yaml"],
    ["validate", "broken.yaml"],
    ["validate", "missing.yaml"],
    ["validate", "dir.yaml"],
    # Left to Typer: these must still parse (or fail) as Typer decides.
    ["validate"],
    ["validate", "good.yaml", "unknown.yaml"],
    ["validate", "--debug", "--debug", "good.yaml"],
    ["validate", "--", "good.yaml"],
    ["validate", "--deb", "good.yaml"],
    ["validate", "good.yaml", "--help"],
]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_same_output_and_exit_code_as_typer(configs: Path, argv: list[str]) -> None:
    fast = _via_main(argv, configs)
    typer_code, typer_out, typer_err = _run(_VIA_TYPER, argv, configs)
    assert fast[:3] == (typer_code, typer_out, typer_err)
    took_fast_path = "typer" not in {m.split(".")[0] for m in fast[3]}
    assert took_fast_path == (_plain_validate(argv) is not None)


def test_the_plain_forms_take_the_fast_path() -> None:
    assert _plain_validate(["validate", "a.yaml"]) == (Path("a.yaml"), False)
    assert _plain_validate(["validate", "a.yaml", "--debug"]) == (Path("a.yaml"), True)
    assert _plain_validate(["validate", "--debug", "a.yaml"]) == (Path("a.yaml"), True)
    for argv in (
        ["validate"],
        ["validate", ""],
        ["validate", "-"],
        ["validate", "--help"],
        ["validate", "--", "a.yaml"],
        ["validate", "a.yaml", "b.yaml"],
        ["validate", "--debug", "--debug", "a.yaml"],
        ["validate", "--version"],
        ["run", "a.yaml"],
        ["--version", "validate", "a.yaml"],
        [],
    ):
        assert _plain_validate(argv) is None, argv


def test_plain_validate_imports_neither_typer_nor_importlib_metadata() -> None:
    """What the fast path saves (issue 15, part 2): Typer, and, with no plugin of evalcli
    or pydantic installed, importlib.metadata's scan of every distribution."""
    code, out, err, modules = _via_main(["validate", "configs/quickstart.yaml"], REPO)
    assert code == 0, err
    assert out.startswith("ok: configs/quickstart.yaml: 20 rows")
    assert "typer" not in modules and "click" not in modules
    assert "importlib.metadata" not in modules

"""Plugins: a real distribution (tests/plugin_dist) installed with pip into a temporary
directory, discovered through its entry point by a separate ``evalcli`` process.

The demo plugin imports nothing from evalcli but :mod:`evalcli.plugin`; its code evaluator runs
in the process pool and its judged evaluator asks the loopback stub judge. The suite switches
plugins off (tests/conftest.py sets ``EVALCLI_PLUGINS=none``); these tests opt in.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_server import StubServer
from tests.conftest import REPO, MakeConfig, write_jsonl

DEMO = "evalcli-plugin-demo"
DEMO_DIR = REPO / "tests" / "plugin_dist" / "evalcli_plugin_demo"
KEY = "sk-test-plugins-0123456789"
EVALCLI = shutil.which("evalcli") or str(Path(sys.executable).parent / "evalcli")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def results(cfg: Path) -> dict[str, Any]:
    return json.loads((cfg.parent / "out" / "results.json").read_text())


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_dist installed by pip into a private directory (no network, no venv change)."""
    target = tmp_path_factory.mktemp("plugin_site")
    build = tmp_path_factory.mktemp("plugin_src") / "plugin_dist"
    shutil.copytree(REPO / "tests" / "plugin_dist", build)  # pip may write build files
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",  # hatchling comes from the dev venv: nothing downloaded
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(build),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "evalcli_plugin_demo-0.3.1.dist-info" / "entry_points.txt").is_file()
    return target


def evalcli(
    *args: str, site: Path, cwd: Path, plugins: str = DEMO
) -> subprocess.CompletedProcess[str]:
    """``evalcli ARGS`` in a new process that sees the plugins installed in ``site`` (the
    suite switches plugins off: this opts in to ``plugins``, an EVALCLI_PLUGINS value)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), NO_COLOR="1", COLUMNS="200", EVALCLI_PLUGINS=plugins)
    return subprocess.run(
        [EVALCLI, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )


def test_installed_plugin_is_discovered_and_runs(plugin_site: Path, tmp_path: Path) -> None:
    proc = evalcli("list-evaluators", "--json", site=plugin_site, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    plugin = rows["exclamation_count"]
    assert plugin["source"] == "plugin:evalcli-plugin-demo" and plugin["version"] == "0.3.1"
    assert plugin["inputs"] == ["response"] and plugin["default_threshold"] == 1.0
    assert rows["bleu"]["source"] == "builtin"

    write_jsonl(
        tmp_path / "data.jsonl",
        [{"response": "Hi!"}, {"response": "Wow!!! Great!!"}, {"response": "Fine."}],
    )
    write(
        tmp_path / "eval.yaml",
        """
        dataset: {path: data.jsonl}
        evaluators:
          shouting: {use: exclamation_count, threshold: 2}
        output: {dir: out}
        gates:
          - {metric: shouting.pass_rate, min: 0.5}
        """,
    )
    proc = evalcli("run", "eval.yaml", "-q", site=plugin_site, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["outputs.shouting.exclamation_count"] for r in data["rows"]] == [1, 5, 0]
    assert data["metrics"]["shouting.pass_rate"] == pytest.approx(2 / 3)
    assert data["run"]["evaluators"]["shouting"]["family"] == "custom"


def test_broken_plugin_is_a_warning_naming_the_distribution(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write(site / "evalcli_broken_demo.py", 'raise RuntimeError("plugin exploded on import")\n')
    dist = site / "evalcli_broken_demo-9.9.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: evalcli-broken-demo\nVersion: 9.9\n")
    write(
        dist / "entry_points.txt", "[evalcli.evaluators]\nbroken = evalcli_broken_demo:register\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("EVALCLI_PLUGINS", "evalcli-broken-demo")

    res = cli.invoke(app, ["list-evaluators", "--json"])
    assert res.exit_code == 0, res.stderr
    assert "warning: plugin evalcli-broken-demo 9.9 failed to load" in res.stderr
    assert "RuntimeError: plugin exploded on import" in res.stderr
    assert "bleu" in {r["name"] for r in json.loads(res.stdout)}

    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        evaluators:
          f1_score: {}
        output: {dir: out}
        """,
        [{"response": "a b", "ground_truth": "a b"}],
    )
    for cmd in (["validate", str(cfg)], ["run", str(cfg), "-q"]):
        res = cli.invoke(app, cmd)
        assert res.exit_code == 0, res.stderr
        assert "warning: plugin evalcli-broken-demo 9.9 failed to load" in res.stderr, cmd
    assert results(cfg)["metrics"]["f1_score.f1_score"] == 1.0


# -- the public API is all a plugin needs ----------------------------------------------------


def test_demo_plugin_imports_only_the_public_api() -> None:
    tree = ast.parse((DEMO_DIR / "__init__.py").read_text(encoding="utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    outside_stdlib = {m for m in imported if m and m.split(".")[0] not in sys.stdlib_module_names}
    assert outside_stdlib == {"evalcli.plugin"}


def test_plugin_api_exports_what_it_declares() -> None:
    import evalcli.plugin as api

    assert re.fullmatch(r"\d+\.\d+", api.API_VERSION)
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []
    assert {"missing-input", "bad-input", "evaluator-exception"} <= set(api.ROW_ERROR_KINDS)


def test_readme_shows_the_demo_plugin_as_installed() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Plugins", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)
    python = [text for lang, text in blocks if lang == "python"]
    toml = [text for lang, text in blocks if lang == "toml"]
    assert python == [(DEMO_DIR / "__init__.py").read_text(encoding="utf-8")]
    assert 'demo = "evalcli_plugin_demo:register"' in toml[0]


# -- both demo evaluators, run -----------------------------------------------------------------


def test_plugin_code_and_judged_evaluators_run_against_the_stub(
    plugin_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    write_jsonl(
        tmp_path / "data.jsonl",
        [
            {"response": "Thank you, happy to help! STUB_SCORE=5"},
            {"response": "What?! Go away!! STUB_SCORE=1"},
        ],
    )
    with StubServer(api_key=KEY, models={"gpt-4o"}) as stub:
        write(
            tmp_path / "eval.yaml",
            f"""
            judge:
              type: azure_openai
              endpoint: {stub.url}
              deployment: gpt-4o
              api_key: ${{env:AZURE_OPENAI_API_KEY}}
              max_retries: 1
            dataset: {{path: data.jsonl}}
            evaluators:
              shouting: {{use: exclamation_count, threshold: 2, params: {{marks: "!?"}}}}
              polite: {{use: politeness, threshold: 4}}
            output: {{dir: out}}
            gates:
              - {{metric: polite.pass_rate, min: 0.5}}
            """,
        )
        proc = evalcli("run", "eval.yaml", "-q", "--no-cache", site=plugin_site, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        sent = [r.body["messages"][0]["content"] for r in stub.requests]
    data = results(tmp_path / "eval.yaml")
    rows = data["rows"]
    assert [r["outputs.shouting.exclamation_count"] for r in rows] == [1, 4]
    assert [r["outputs.shouting.exclamation_count_result"] for r in rows] == ["pass", "fail"]
    assert [r["outputs.polite.politeness"] for r in rows] == [5, 1]
    assert [r["outputs.polite.politeness_result"] for r in rows] == ["pass", "fail"]
    assert all(r["outputs.polite.politeness_prompt_tokens"] > 0 for r in rows)
    assert data["metrics"]["polite.pass_rate"] == 0.5
    assert data["metrics"]["shouting.exclamation_count"] == 2.5
    # The judge got the plugin's own rubric, and the run records which one.
    assert len(sent) == 2 and all("POLITENESS" in text for text in sent)
    record = data["run"]["evaluators"]["polite"]
    rubric = (DEMO_DIR / "politeness.prompty").read_bytes()
    assert record["prompt_sha256"] == hashlib.sha256(rubric).hexdigest()
    assert record["family"] == "quality" and "gpt-4o" in record["judge"]
    assert record["params"]["threshold"] == 4.0
    assert data["run"]["evaluators"]["shouting"]["params"] == {"threshold": 2.0, "marks": "!?"}
    assert set(data["usage"]["evaluators"]) == {"polite"}


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        # typed params of a plugin, checked like a built-in's: unknown key and did-you-mean
        (
            "{use: exclamation_count, params: {mark: '!'}}",
            ["eval.yaml:3:", "unknown key 'evaluators.s.params.mark'", "did you mean 'marks'"],
        ),
        ("{use: exclamation_count, params: {marks: ''}}", ["evaluators.s.params.marks"]),
        ("{use: exclamation_count, threshold: lots}", ["evaluators.s.threshold must be a number"]),
        ("{use: politeness, threshold: 9}", ["evaluators.s.threshold must be between 1 and 5"]),
        ("{use: politeness, thresold: 4}", ["did you mean 'threshold'"]),
        # a key only built-ins take: named as theirs, as for any evaluator
        ("{use: exclamation_count, defect_threshold: 4}", ["defect_threshold applies only to"]),
        ("{use: politeness}", ["evaluator 's' needs a judge model"]),
    ],
)
def test_plugin_settings_are_validated_like_builtins(
    plugin_site: Path, tmp_path: Path, spec: str, needles: list[str]
) -> None:
    write_jsonl(tmp_path / "data.jsonl", [{"response": "Hi!"}])
    write(tmp_path / "eval.yaml", f"dataset: {{path: data.jsonl}}\nevaluators:\n  s: {spec}\n")
    proc = evalcli("validate", "eval.yaml", site=plugin_site, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


# -- switching plugins off -------------------------------------------------------------------


def _names(proc: subprocess.CompletedProcess[str]) -> set[str]:
    assert proc.returncode == 0, proc.stderr
    return {r["name"] for r in json.loads(proc.stdout)}


@pytest.mark.parametrize(
    ("setting", "loaded", "warning"),
    [
        (DEMO, True, None),
        ("Evalcli_Plugin.Demo, other", True, "EVALCLI_PLUGINS names 'other'"),
        ("none", False, None),
        ("", False, None),
        ("some-other-plugin", False, "EVALCLI_PLUGINS names 'some-other-plugin'"),
    ],
)
def test_evalcli_plugins_chooses_which_plugins_load(
    plugin_site: Path, tmp_path: Path, setting: str, loaded: bool, warning: str | None
) -> None:
    proc = evalcli("list-evaluators", "--json", site=plugin_site, cwd=tmp_path, plugins=setting)
    names = _names(proc)
    assert ("exclamation_count" in names) is loaded and ("politeness" in names) is loaded
    assert {"bleu", "relevance", "code", "prompt"} <= names  # built-ins always load
    if warning is None:
        assert proc.stderr == ""
    else:
        assert warning in proc.stderr


def test_every_installed_plugin_loads_without_evalcli_plugins(
    plugin_site: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EVALCLI_PLUGINS")}
    env.update(PYTHONPATH=str(plugin_site), NO_COLOR="1")
    proc = subprocess.run(
        [EVALCLI, "list-evaluators", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert {"exclamation_count", "politeness"} <= _names(proc)


def test_suite_runs_without_plugins(cli: CliRunner, make_config: MakeConfig) -> None:
    assert os.environ["EVALCLI_PLUGINS"] == "none"
    res = cli.invoke(app, ["list-evaluators", "--json"])
    assert res.exit_code == 0 and res.stderr == ""
    assert all(r["source"] == "builtin" for r in json.loads(res.stdout))

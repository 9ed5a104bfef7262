"""The CI examples under examples/ci parse, and every evalcli command line in them parses
with evalcli's own argument parser: a renamed or removed flag breaks this test, not a user's
pipeline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from evalcli.cli import app
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "ci"
GITHUB = EXAMPLES / "github-actions.yml"
AZURE = EXAMPLES / "azure-pipelines.yml"
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>&1"}


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _steps(path: Path) -> list[dict[str, Any]]:
    data = _load(path)
    if "jobs" in data:  # GitHub
        return [s for job in data["jobs"].values() for s in job["steps"]]
    return list(data["steps"])  # Azure (a single-job pipeline)


def _scripts(path: Path) -> list[str]:
    return [
        s[key]
        for s in _steps(path)
        for key in ("run", "script", "bash")
        if isinstance(s.get(key), str)
    ]


def evalcli_commands(script: str) -> list[list[str]]:
    """The arguments of every ``evalcli`` invocation in a shell script (continuation lines
    joined; redirections, pipes and ``&&`` end a command)."""
    text = re.sub(r"\\\n", " ", script)
    found = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "evalcli" and (i == 0 or tokens[i - 1] in SHELL_OPERATORS):
                args = []
                for t in tokens[i + 1 :]:
                    if t in SHELL_OPERATORS:
                        break
                    args.append(t)
                found.append(args)
    return found


def parse(args: list[str]) -> Any:
    """Parse ``evalcli ARGS`` as the CLI would, down to the subcommand, without running it;
    returns the subcommand's (click) context, whose ``params`` hold the parsed options.

    Typer may bring its own copy of click, so groups are recognised by what they do
    (``get_command``) rather than by class.
    """
    command: Any = get_command(app)
    ctx = command.context_class(command, info_name="evalcli")
    rest = list(args)
    while hasattr(command, "get_command"):
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"evalcli has no command {name!r}"
        command = sub
        if hasattr(command, "get_command"):
            ctx = command.context_class(command, info_name=name, parent=ctx)
        else:
            ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def _expand(arg: str, variables: dict[str, str]) -> str:
    """``$NAME``/``${NAME}`` (GitHub's env) and ``$(NAME)`` (Azure's variables) replaced."""
    for name, value in variables.items():
        for ref in (f"${name}", f"${{{name}}}", f"$({name})"):
            arg = arg.replace(ref, value)
    return arg


@pytest.mark.parametrize("path", [GITHUB, AZURE], ids=["github", "azure"])
def test_every_evalcli_command_line_parses(path: Path) -> None:
    commands = [c for script in _scripts(path) for c in evalcli_commands(script)]
    names = [c[0] for c in commands]
    assert "run" in names and "compare" in names, commands
    for args in commands:
        ctx = parse(args)  # raises click's NoSuchOption on a renamed flag
        if args[0] == "run":
            assert ctx.params["junit"] is not None and ctx.params["output_dir"] is not None
        if args[0] == "compare":
            assert ctx.params["fail_on_regression"] is True


def test_a_renamed_flag_would_be_caught() -> None:
    with pytest.raises(Exception, match="No such option: --junit-xml") as caught:
        parse(["run", "c.yaml", "--junit-xml", "j.xml"])
    assert caught.typename == "NoSuchOption"
    assert parse(["run", "c.yaml", "--junit", "j.xml"]).params["junit"] == Path("j.xml")
    assert evalcli_commands('a && evalcli compare b "c d" --fail-on-regression >> "$S"') == [
        ["compare", "b", "c d", "--fail-on-regression"]
    ]


def test_github_example_publishes_what_the_run_writes() -> None:
    data = _load(GITHUB)
    env = {k: str(v) for k, v in data["env"].items()}
    steps = _steps(GITHUB)
    uses = {s.get("uses", "").split("@")[0]: s for s in steps if "uses" in s}
    assert {"actions/cache/restore", "actions/cache/save", "actions/upload-artifact"} <= set(uses)
    assert uses["actions/cache/restore"]["with"]["path"] == ".evalcli/cache.db"  # the default
    (run,) = [c for s in _scripts(GITHUB) for c in evalcli_commands(s) if c[0] == "run"]
    params = parse([_expand(a, env) for a in run]).params
    upload = uses["actions/upload-artifact"]["with"]
    out_dir = str(params["output_dir"])
    assert upload["path"].rstrip("/") == out_dir  # report.html, results and JUnit file
    assert str(params["junit"]).startswith(out_dir + "/")
    assert params["artifact_name"] == upload["name"]  # the step summary names the artifact
    download = "\n".join(_scripts(GITHUB))
    assert f"--name {upload['name']}" in download and "--branch main" in download


def test_azure_example_publishes_what_the_run_writes() -> None:
    data = _load(AZURE)
    variables = {k: str(v) for k, v in data["variables"].items()}
    tasks = {s["task"]: s for s in _steps(AZURE) if "task" in s}
    assert {"Cache@2", "PublishTestResults@2", "PublishPipelineArtifact@1"} <= set(tasks)
    assert tasks["Cache@2"]["inputs"]["path"] == ".evalcli"  # holds the default cache.db
    (run,) = [c for s in _scripts(AZURE) for c in evalcli_commands(s) if c[0] == "run"]
    params = parse([_expand(a, variables) for a in run]).params
    published = tasks["PublishTestResults@2"]["inputs"]
    assert published["testResultsFormat"] == "JUnit"
    assert _expand(published["testResultsFiles"], variables) == str(params["junit"])
    artifact = tasks["PublishPipelineArtifact@1"]["inputs"]
    assert _expand(artifact["targetPath"], variables) == str(params["output_dir"])
    baseline = tasks["DownloadPipelineArtifact@2"]["inputs"]
    assert baseline["artifactName"] == artifact["artifact"]
    assert baseline["branchName"] == "refs/heads/main"

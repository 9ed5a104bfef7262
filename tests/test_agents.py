"""Agent evaluators (intent_resolution, task_adherence, tool_call_accuracy) against the stub judge.

The real openai client talks to the loopback stub server; the stub judge answers the last
``STUB_SCORE=<n>`` directive of the rubric's user message, so a row picks its own score by
where it puts the directive (the agent's final text, or a tool result).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.agents import (
    ShapeError,
    check_calls,
    link_results,
    parse_run,
    parse_tool_calls,
    parse_tool_definitions,
)
from evalcli.cli import app
from evalcli.prompts import OutputSpec, builtin_prompt_path, lint, load_prompt
from evalcli.testing.stub_server import AZURE_CHAT, Reply, StubRequest, StubServer, malformed
from tests.conftest import MakeConfig

KEY = "sk-test-agents-0123456789"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [WEATHER]


def call(ident: str, name: str, args: Any) -> dict[str, Any]:
    """An OpenAI-format tool call (arguments as the JSON text the API sends)."""
    text = args if isinstance(args, str) else json.dumps(args)
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": text}}


def weather_run(final: str, result: str = '{"temp_c": 21}', args: Any = None) -> list[Any]:
    """An agent turn: one get_weather call, its result, a final answer."""
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("c1", "get_weather", args or {"city": "Lyon"})],
        },
        {"role": "tool", "tool_call_id": "c1", "content": result},
        {"role": "assistant", "content": final},
    ]


def row(response: Any, **extra: Any) -> dict[str, Any]:
    query = [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "Weather in Lyon?"},
    ]
    return {"query": query, "response": response, "tools": TOOLS, **extra}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)


def config(url: str, evaluators: str, extra: str = "") -> str:
    """A config judged by the stub; ``evaluators`` are indented by two."""
    return "\n".join(
        [
            "name: agents",
            "dataset: {path: data.jsonl}",
            "columns:",
            "  query: ${data.query}",
            "  response: ${data.response}",
            "  tool_definitions: ${data.tools}",
            "judge:",
            "  type: azure_openai",
            f"  endpoint: {url}",
            "  deployment: gpt-4o",
            "  api_key: ${env:AZURE_OPENAI_API_KEY}",
            "  max_retries: 0",
            "evaluators:",
            evaluators.rstrip("\n"),
            "output: {dir: out}",
            extra,
            "",
        ]
    )


def run(cli: CliRunner, cfg: Path, *args: str) -> Any:
    return cli.invoke(app, ["run", str(cfg), "-q", "--no-cache", *args])


def rows_of(tmp_path: Path) -> list[dict[str, Any]]:
    data = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    rows: list[dict[str, Any]] = data["rows"]
    return rows


def user_text(req: StubRequest) -> str:
    messages = req.body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    text: str = messages[1]["content"]
    return text


# -- scoring ---------------------------------------------------------------------------------


def test_scores_thresholds_and_what_the_judge_reads(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        # intent and adherence see the final text last; tool_call_accuracy sees only the call
        row(weather_run("It is 21 °C in Lyon. STUB_SCORE=5", result='{"temp_c": 21} STUB_SCORE=2')),
        row(weather_run("Sunny. STUB_SCORE=3", result='{"temp_c": 30} STUB_SCORE=4')),
    ]
    evaluators = (
        "  intent_resolution: {}\n  task_adherence: {threshold: 4}\n  tool_call_accuracy: {}"
    )
    res = run(cli, make_config(config(stub.url, evaluators), rows))
    assert res.exit_code == 0, res.stderr
    out = rows_of(tmp_path)
    assert [r["outputs.intent_resolution.intent_resolution"] for r in out] == [5, 3]
    assert [r["outputs.intent_resolution.intent_resolution_result"] for r in out] == [
        "pass",
        "pass",
    ]
    assert [r["outputs.intent_resolution.intent_resolution_threshold"] for r in out] == [3.0, 3.0]
    assert [r["outputs.task_adherence.task_adherence_result"] for r in out] == ["pass", "fail"]
    assert [r["outputs.tool_call_accuracy.tool_call_accuracy"] for r in out] == [2, 4]
    assert [r["outputs.tool_call_accuracy.tool_call_accuracy_result"] for r in out] == [
        "fail",
        "pass",
    ]
    assert out[0]["outputs.intent_resolution.intent_resolution_reason"].startswith("stub judge")
    assert stub.count() == 6  # one call per (row, evaluator)

    texts = [user_text(r) for r in stub.requests]
    intent = next(t for t in texts if "resolved the user's intent" in t)
    assert "[system]\n  You answer weather questions." in intent
    assert '[tool call c1] get_weather {"city": "Lyon"}' in intent
    assert "[tool result c1 from get_weather]\n  {" in intent
    assert "<tools>\n- get_weather: Weather for a city.\n  parameters: {" in intent
    accuracy = next(t for t in texts if "accuracy of the agent's tool calls" in t)
    assert '1. get_weather (id c1)\n  arguments: {"city": "Lyon"}\n  result:\n' in accuracy
    assert "It is 21 °C" not in accuracy  # the final text is not what this metric grades


def test_reference_format_reads_like_the_openai_format(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    """The reference SDK's content parts and OpenAI's tool_calls give the judge the same text."""
    reference = [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_call",
                    "tool_call_id": "c1",
                    "name": "get_weather",
                    "arguments": {"city": "Lyon"},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [{"type": "tool_result", "tool_result": {"temp_c": 21}}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is 21 °C."}]},
    ]
    openai = weather_run("It is 21 °C.")
    tools = [WEATHER["function"]]  # the reference's definition form
    rows = [row(openai), {**row(reference), "tools": tools}]
    cfg = make_config(config(stub.url, "  intent_resolution: {}\n  tool_call_accuracy: {}"), rows)
    assert run(cli, cfg).exit_code == 0
    by_kind: dict[str, list[str]] = {}
    for req in stub.requests:
        text = user_text(req)
        by_kind.setdefault(text.split("\n")[0], []).append(text)
    assert len(by_kind) == 2
    for texts in by_kind.values():
        assert texts[0] == texts[1]


def test_conversation_is_not_an_input_of_agent_evaluators(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    text = config(stub.url, "  intent_resolution:\n    columns: {conversation: ${data.chat}}")
    cfg = make_config(text, [row("hi")])
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "has no input 'conversation'" in res.stderr and f"{cfg}:" in res.stderr


# -- malformed shapes ------------------------------------------------------------------------

MALFORMED = [
    (
        [{"role": "tool", "tool_call_id": "c9", "content": "42"}],
        "response[0]: a tool result for 'c9', which no earlier assistant message called",
    ),
    (
        [{"role": "assistant", "tool_calls": [call("c1", "get_wether", {"city": "Lyon"})]}],
        "response[0].tool_calls[0]: calls the tool 'get_wether', which tool_definitions does "
        "not define",
    ),
    (
        [{"role": "assistant", "tool_calls": [call("c1", "get_weather", '{"city": "Lyon",}')]}],
        "response[0].tool_calls[0].function.arguments: not valid JSON",
    ),
    (
        [{"role": "assistant", "tool_calls": [call("c1", "get_weather", "[1, 2]")]}],
        "response[0].tool_calls[0].function.arguments: the arguments must be a JSON object, "
        "got list",
    ),
    (
        [{"role": "assistant", "tool_calls": [call("c1", "get_weather", '{"days": NaN}')]}],
        "function.arguments: not valid JSON (NaN is not valid JSON)",
    ),
    (
        [
            *weather_run("ok")[:2],
            {"role": "assistant", "tool_calls": [call("c1", "get_weather", {})]},
        ],
        "response[2].tool_calls[0]: the tool call id 'c1' is also used at "
        "response[0].tool_calls[0]",
    ),
    ([{"role": "robot", "content": "beep"}], "response[0].role: 'robot' is not a message role"),
    ([{"role": "tool", "content": "42"}], "response[0]: a tool message needs the 'tool_call_id'"),
    (
        [{"role": "assistant", "content": [{"type": "audio", "data": "..."}]}],
        "response[0].content[0].type: unsupported content part 'audio'",
    ),
    (42, "response: must be a text or a list of messages, got int"),
]


def test_malformed_runs_are_row_errors_naming_the_problem(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [row(weather_run("fine")), *(row(bad) for bad, _ in MALFORMED)]
    rows.append({**row("fine"), "tools": 42})
    rows.append({**row("fine"), "tools": [{"description": "no name"}]})
    text = config(stub.url, "  intent_resolution: {}", "run: {max_error_rate: 1.0}")
    res = run(cli, make_config(text, rows))
    assert res.exit_code == 0, res.stderr
    out = rows_of(tmp_path)
    assert out[0]["outputs.intent_resolution.intent_resolution_result"] in ("pass", "fail")
    expected = [m for _, m in MALFORMED] + [
        "tool_definitions: must be a list of function definitions, got int",
        "tool_definitions[0].name: a tool name must be a non-empty text, got null",
    ]
    for r, message in zip(out[1:], expected, strict=True):
        assert r["outputs.intent_resolution.error_kind"] == "bad-input"
        assert message in r["outputs.intent_resolution.error"], r["outputs.intent_resolution.error"]
    assert stub.count() == 1  # no judge call for a malformed row


# -- tool_call_accuracy: deterministic checks -----------------------------------------------


def test_tool_call_accuracy_reports_undefined_tools_and_schema_violations(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def judge(req: StubRequest) -> Reply | None:
        return malformed("cannot say") if "Nantes" in json.dumps(req.body) else None

    stub.add_responder(judge, route=AZURE_CHAT)
    bad_calls = [
        {
            "role": "assistant",
            "tool_calls": [
                call("c1", "get_weather", {"city": "Lyon", "days": "2"}),
                call("c2", "get_wether", {"city": "Lyon"}),
                call("c3", "get_weather", {"days": 9, "unit": "K"}),
            ],
        }
    ]
    rows = [
        row(weather_run("fine STUB_SCORE=5", result="STUB_SCORE=5")),
        row(bad_calls),
        row(weather_run("x", args={"city": "Nantes", "days": 0})),  # the judge fails here
        row([{"role": "assistant", "content": "No tool needed."}]),  # not applicable
        row("a plain text answer"),  # not applicable either
    ]
    text = config(stub.url, "  tool_call_accuracy: {}", "run: {max_error_rate: 1.0}")
    assert run(cli, make_config(text, rows)).exit_code == 0
    out = [
        {k.split(".")[-1]: v for k, v in r.items() if k.startswith("outputs.")}
        for r in rows_of(tmp_path)
    ]

    assert out[0]["tool_call_accuracy"] == 5
    assert out[0]["tool_call_accuracy_schema_result"] == "pass"
    assert out[0]["tool_call_accuracy_undefined_tools"] == []
    assert out[0]["tool_call_accuracy_schema_violations"] == []

    assert out[1]["tool_call_accuracy_undefined_tools"] == ["get_wether"]
    assert out[1]["tool_call_accuracy_schema_violations"] == [
        "get_weather c1: $.days: '2' is not of type 'integer'",
        "get_weather c3: $: Additional properties are not allowed ('unit' was unexpected)",
        "get_weather c3: $: 'city' is a required property",
        "get_weather c3: $.days: 9 is greater than the maximum of 7",
    ]
    assert out[1]["tool_call_accuracy_schema_result"] == "fail"
    assert out[1]["tool_call_accuracy_schema_reason"].startswith("undefined tools: 'get_wether'; ")
    assert isinstance(out[1]["tool_call_accuracy"], int)  # the judge still grades

    # An unusable judge answer leaves the row unscored; the checks, made without it, stay.
    assert out[2]["error_kind"] == "judge-output-unparseable"
    assert out[2]["tool_call_accuracy_raw_output"] == "cannot say"
    assert out[2]["tool_call_accuracy_schema_violations"] == [
        "get_weather c1: $.days: 0 is less than the minimum of 1"
    ]

    for r, why in ((out[3], "the response makes no tool call"), (out[4], "the response is a text")):
        assert r == {"tool_call_accuracy_reason": f"not applicable: {why}, so nothing to grade"}
    assert stub.count() == 3  # not-applicable rows ask no judge

    data = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    m = data["metrics"]
    assert m["tool_call_accuracy.tool_call_accuracy_schema_pass_rate"] == 0.5  # of 2 graded
    assert m["tool_call_accuracy.error_count"] == 1


def test_tool_calls_input_and_unfetchable_schemas(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    remote = {"name": "lookup", "parameters": {"$ref": "https://schemas.example.com/lookup.json"}}
    rows = [
        # only the given calls are graded; the response supplies their results
        {**row(weather_run("x")), "calls": [call("c1", "get_weather", {"city": "Lyon"})]},
        {**row("x"), "calls": [call("c1", "lookup", {"q": 1})], "tools": [remote]},
        {**row("x"), "calls": [call("c1", "get_weather", {}), call("c1", "get_weather", {})]},
        # a result in the response may answer a given call its messages do not show
        {
            **row([{"role": "tool", "tool_call_id": "c7", "content": "drizzle"}]),
            "calls": [call("c7", "get_weather", {"city": "Lyon"})],
        },
    ]
    text = config(
        stub.url,
        "  tool_call_accuracy:\n    columns: {tool_calls: ${data.calls}}",
        "run: {max_error_rate: 1.0}",
    )
    assert run(cli, make_config(text, rows)).exit_code == 0
    out = rows_of(tmp_path)
    assert out[0]["outputs.tool_call_accuracy.tool_call_accuracy_schema_result"] == "pass"
    texts = sorted((user_text(r) for r in stub.requests), key=lambda t: "drizzle" in t)
    assert '{"temp_c": 21}' in texts[0] and "[tool call" not in texts[0]
    assert "1. get_weather (id c7)" in texts[1] and "  result:\n    drizzle" in texts[1]
    assert out[3]["outputs.tool_call_accuracy.tool_call_accuracy_schema_result"] == "pass"
    assert (
        "tool_definitions[0].parameters: $ref 'https://schemas.example.com/lookup.json' points "
        "outside the schema and is never fetched" in out[1]["outputs.tool_call_accuracy.error"]
    )
    assert "the tool call id 'c1' is used twice" in out[2]["outputs.tool_call_accuracy.error"]
    assert stub.count() == 2


# -- estimate and settings -------------------------------------------------------------------


def test_estimate_counts_one_call_per_scorable_row(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer
) -> None:
    rows = [
        row(weather_run("a")),
        row(weather_run("b")),
        row([{"role": "tool", "tool_call_id": "nope", "content": "x"}]),  # malformed: no call
        row([{"role": "assistant", "content": "no tools"}]),  # tool_call_accuracy: n/a
    ]
    evaluators = "  intent_resolution: {}\n  task_adherence: {}\n  tool_call_accuracy: {}"
    cfg = make_config(config(stub.url, evaluators), rows)
    res = cli.invoke(app, ["run", str(cfg), "--estimate", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["total"]["calls"] == 3 + 3 + 2
    assert stub.count() == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("intent_resolution: {threshold: 7}", "threshold must be between 1 and 5"),
        ("task_adherence: {threshold: yes}", "must be a number, not a boolean"),
        ("tool_call_accuracy: {params: {strict: true}}", "tool_call_accuracy takes no params"),
        ("intent_resolution: {treshold: 4}", "did you mean 'threshold'"),
    ],
)
def test_bad_settings_are_refused_by_validate(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, spec: str, message: str
) -> None:
    cfg = make_config(config(stub.url, "  " + spec), [row("x")])
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert message in res.stderr and f"{cfg}:" in res.stderr
    assert "Traceback" not in res.stderr


# -- rubrics and shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["intent_resolution", "task_adherence", "tool_call_accuracy"])
def test_agent_rubrics(name: str) -> None:
    prompt = load_prompt(builtin_prompt_path(name))
    assert lint(prompt) == []
    assert prompt.output == OutputSpec(kind="score", min=1, max=5, threshold=3, direction="higher")
    system = prompt.render(dict.fromkeys(prompt.inputs, "x"))[0]["content"]
    for level in range(1, 6):
        assert f"\n{level} = " in system
    assert '{"score": <integer from 1 to 5>' in system


def test_shapes_accept_both_argument_forms_and_openapi_tools() -> None:
    run_ = parse_run(
        [
            {"role": "assistant", "tool_calls": [call("a", "f", '{"x": 1}')]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_call",
                        "tool_call": {"id": "b", "function": {"name": "f", "arguments": {"x": 2}}},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "b",
                "content": [{"type": "tool_result", "tool_result": [1]}],
            },
        ],
        "response",
    )
    assert [(c.id, c.arguments) for c in run_.tool_calls] == [("a", {"x": 1}), ("b", {"x": 2})]
    assert link_results(run_)["b"].text == "[1]"
    tools = parse_tool_definitions({"type": "openapi", "functions": [{"name": "f"}, {"name": "g"}]})
    assert [t.name for t in tools] == ["f", "g"]
    with pytest.raises(ShapeError, match=r"tool_definitions\[1\]: the tool 'f' is also defined"):
        parse_tool_definitions([{"name": "f"}, {"name": "f"}])
    calls = parse_tool_calls(
        {"type": "tool_call", "tool_call_id": "z", "name": "g", "arguments": {}}
    )
    assert check_calls(calls, tools).passed

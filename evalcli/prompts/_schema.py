"""Front matter validation for both prompt file formats.

The format is decided by one key: a file whose front matter has ``output`` is an evalcli
prompt file (strict: unknown keys are errors); any other file is read as Prompty (lenient:
Prompty's own keys are accepted and kept or ignored, likely typos become lint problems).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._errors import OutputSpecError, PromptFileError
from ._model import DeclaredScore, InputDecl, LintProblem, OutputSpec, PromptFormat, ScoreType

_EVALCLI_KEYS = (
    "name",
    "version",
    "description",
    "inputs",
    "model",
    "output",
    "sample",
    "authors",
    "tags",
    "metadata",
)
# Keys of the Prompty specification (v1 and the newer agent schema) that we accept.
_PROMPTY_KEYS = (
    *_EVALCLI_KEYS,
    "$schema",
    "id",
    "kind",
    "outputs",
    "template",
    "base",
    "displayName",
    "display_name",
    "tools",
    "instructions",
)
_MODEL_KEYS = ("api", "configuration", "parameters", "response", "connection", "id", "options")
# What the chat completions API accepts as response_format.type; anything else is a 400.
_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
# Output types of a Prompty "outputs.score" that make it a numeric score (promptflow writes
# int/double, the Prompty specification integer/number).
_SCORE_TYPES: dict[str, ScoreType] = {
    "int": "integer",
    "integer": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
}
_EVALCLI_INPUT_KEYS = ("type", "description", "optional", "default", "sample")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


@dataclass
class FrontMatter:
    """Parsed front matter plus the YAML node tree used to find line numbers."""

    path: Path
    data: dict[str, Any]
    node: Any  # yaml.Node; PyYAML may be untyped here
    first_line: int

    def line_of(self, *keys: str | int) -> int:
        """File line of the deepest of ``keys`` that exists (top of the block if none)."""
        node = self.node
        line = self.first_line
        for key in keys:
            child = None
            if isinstance(key, str) and node is not None and node.id == "mapping":
                for key_node, value_node in node.value:
                    if key_node.value == key:
                        line = self.first_line + key_node.start_mark.line
                        child = value_node
                        break
            elif (
                isinstance(key, int)
                and node is not None
                and node.id == "sequence"
                and 0 <= key < len(node.value)
            ):
                child = node.value[key]
                line = self.first_line + child.start_mark.line
            if child is None:
                break
            node = child
        return line

    def error(self, message: str, *keys: str | int) -> PromptFileError:
        return PromptFileError(self.path, self.line_of(*keys), message)


def read_front_matter(front: FrontMatter) -> dict[str, Any]:
    """Validate the front matter; return the :class:`PromptFile` fields it defines."""
    path = front.path
    data = front.data
    fmt: PromptFormat = "evalcli" if "output" in data else "prompty"
    warnings: list[LintProblem] = []
    allowed = _EVALCLI_KEYS if fmt == "evalcli" else _PROMPTY_KEYS
    for key in data:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), _PROMPTY_KEYS, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if fmt == "evalcli":
            raise front.error(f"unknown front matter key {key!r}{hint}", str(key))
        if close:  # other unknown Prompty keys are tolerated: tools add their own
            warnings.append(
                LintProblem(f"unknown front matter key {key!r}{hint}", front.line_of(str(key)))
            )

    name = data.get("name", path.stem if fmt == "prompty" else None)
    if not isinstance(name, str) or not name.strip():
        raise front.error("'name' must be a non-empty string", "name")
    version = data.get("version")
    if version is not None and not isinstance(version, str | int | float):
        raise front.error("'version' must be a number or a string", "version")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise front.error("'description' must be a string", "description")

    template = data.get("template")
    engine = template.get("format") if isinstance(template, dict) else template
    if engine not in (None, "jinja2"):
        raise front.error(f"only Jinja2 templates are supported, not {engine!r}", "template")

    parameters, configuration = _model(front, fmt)
    sample = data.get("sample")
    sample_map: Mapping[str, Any] = sample if isinstance(sample, dict) else {}
    if fmt == "evalcli" and sample is not None and not isinstance(sample, dict):
        raise front.error("'sample' must be a mapping of input names to values", "sample")

    if fmt == "evalcli":
        inputs = _evalcli_inputs(front)
    else:
        inputs = _prompty_inputs(front, sample_map)

    output = None
    if "output" in data:
        raw_output = data["output"]
        if not isinstance(raw_output, dict):
            raise front.error("'output' must be a mapping (kind, min, max...)", "output")
        try:
            output = OutputSpec.from_mapping(raw_output)
        except OutputSpecError as exc:
            keys = ("output", exc.key) if exc.key else ("output",)
            raise front.error(f"bad output spec: {exc.message}", *keys) from None

    outputs = data.get("outputs")
    return {
        "path": path,
        "name": name.strip(),
        "version": None if version is None else str(version),
        "description": description.strip(),
        "inputs": MappingProxyType(inputs),
        "model_parameters": MappingProxyType(parameters),
        "output": output,
        "format": fmt,
        "model_configuration": MappingProxyType(configuration),
        "sample": MappingProxyType(dict(sample_map)),
        "declared_outputs": MappingProxyType(outputs if isinstance(outputs, dict) else {}),
        "declared_score": _declared_score(front, outputs),
        "load_warnings": tuple(warnings),
    }


def _model(front: FrontMatter, fmt: PromptFormat) -> tuple[dict[str, Any], dict[str, Any]]:
    model = front.data.get("model")
    if model is None:
        return {}, {}
    if isinstance(model, str) and fmt == "prompty":  # newer Prompty allows "model: <id>"
        return {}, {"id": model}
    if not isinstance(model, dict):
        raise front.error("'model' must be a mapping (parameters, ...)", "model")
    if fmt == "evalcli":
        for key in model:
            if key not in _MODEL_KEYS:
                raise front.error(f"unknown key {key!r} under 'model'", "model", str(key))
    parameters = model.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise front.error("'model.parameters' must be a mapping", "model", "parameters")
    configuration = model.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise front.error("'model.configuration' must be a mapping", "model", "configuration")
    parameters = dict(parameters)
    _check_response_format(front, parameters)
    return parameters, dict(configuration)


def _check_response_format(front: FrontMatter, parameters: dict[str, Any]) -> None:
    """Normalise ``response_format`` in place, or refuse one the chat API would refuse.

    The judge sends it unchanged, so a bad value would fail every call of the run with a 400;
    catching it here makes it one exit-2 message with the file line instead.
    """
    if "response_format" not in parameters:
        return
    value = parameters["response_format"]
    keys = ("model", "parameters", "response_format")
    if value is None:  # "response_format:" left empty means no format, as if absent
        del parameters["response_format"]
        return
    allowed = ", ".join(_RESPONSE_FORMAT_TYPES)
    if not isinstance(value, dict):
        raise front.error(
            f"'model.parameters.response_format' must be a mapping like {{type: json_object}}, "
            f"not {value!r}",
            *keys,
        )
    kind = value.get("type")
    if kind == "json":
        # Prompty files written for promptflow (the Azure AI Evaluation docs among them) say
        # "json"; promptflow sends json_object, and the API itself refuses "json".
        parameters["response_format"] = {**value, "type": "json_object"}
    elif "type" not in value:
        raise front.error(f"'response_format' needs a type: {allowed}", *keys)
    elif kind not in _RESPONSE_FORMAT_TYPES:
        raise front.error(
            f"unknown response_format type {kind!r}: the chat API takes {allowed} "
            "('json' is read as json_object)",
            *keys,
            "type",
        )


def _declared_score(front: FrontMatter, outputs: object) -> DeclaredScore | None:
    """``outputs.score`` when it is declared with a numeric type, else ``None``."""
    spec = outputs.get("score") if isinstance(outputs, dict) else None
    raw = spec.get("type") if isinstance(spec, dict) else None
    kind = _SCORE_TYPES.get(raw.strip().lower()) if isinstance(raw, str) else None
    if kind is None or not isinstance(raw, str):
        return None
    return DeclaredScore(kind, raw, front.line_of("outputs", "score", "type"))


def _check_name(front: FrontMatter, name: object, *keys: str | int) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise front.error(
            f"input name {name!r} is not a valid variable name (letters, digits, _)", *keys
        )
    return name


def _evalcli_inputs(front: FrontMatter) -> dict[str, InputDecl]:
    raw = front.data.get("inputs") or {}
    if not isinstance(raw, dict):
        raise front.error("'inputs' must be a mapping of input names to declarations", "inputs")
    inputs: dict[str, InputDecl] = {}
    for key, spec in raw.items():
        name = _check_name(front, key, "inputs", str(key))
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise front.error(
                f"input {name!r} must be a mapping like {{type: string}}", "inputs", name
            )
        for sub in spec:
            if sub not in _EVALCLI_INPUT_KEYS:
                raise front.error(
                    f"unknown key {sub!r} in input {name!r} "
                    f"(allowed: {', '.join(_EVALCLI_INPUT_KEYS)})",
                    "inputs",
                    name,
                    str(sub),
                )
        optional = spec.get("optional", False)
        if not isinstance(optional, bool):
            raise front.error("'optional' must be true or false", "inputs", name, "optional")
        inputs[name] = _decl(
            front,
            name,
            spec,
            required=not optional and "default" not in spec,
            keys=("inputs", name),
        )
    return inputs


def _prompty_inputs(front: FrontMatter, sample: Mapping[str, Any]) -> dict[str, InputDecl]:
    raw = front.data.get("inputs")
    if raw is None:
        # No declarations: a sample mapping is the best statement of what the prompt needs.
        return {
            str(k): InputDecl(
                name=str(k), type=_json_type(v), sample=v, line=front.line_of("sample", str(k))
            )
            for k, v in sample.items()
            if isinstance(k, str) and _IDENTIFIER.match(k)
        }
    inputs: dict[str, InputDecl] = {}
    if isinstance(raw, list):  # newer Prompty: a list of {name, kind, ...} properties
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or "name" not in item:
                raise front.error("each entry of 'inputs' needs a 'name'", "inputs", index)
            name = _check_name(front, item["name"], "inputs", index)
            spec = dict(item)
            spec.setdefault("type", spec.get("kind", "string"))
            inputs[name] = _prompty_decl(front, name, spec, ("inputs", index))
        return inputs
    if not isinstance(raw, dict):
        raise front.error("'inputs' must be a mapping of input names", "inputs")
    for key, value in raw.items():
        name = _check_name(front, key, "inputs", str(key))
        if isinstance(value, dict) and "type" in value:
            inputs[name] = _prompty_decl(front, name, value, ("inputs", name))
        else:
            # "inputs as sample values": the value shows what the input looks like. It is not
            # a default, so a row that lacks the input fails instead of grading the sample.
            sample_value = sample.get(name, value)
            inputs[name] = InputDecl(
                name=name,
                type=_json_type(value),
                sample=sample_value,
                line=front.line_of("inputs", name),
            )
    return inputs


def _prompty_decl(
    front: FrontMatter, name: str, spec: Mapping[str, Any], keys: tuple[str | int, ...]
) -> InputDecl:
    optional = spec.get("optional") is True or spec.get("required") is False
    top_sample = front.data.get("sample")
    fallback = top_sample.get(name) if isinstance(top_sample, dict) else None
    return _decl(
        front,
        name,
        spec,
        required=not optional and "default" not in spec,
        keys=keys,
        fallback_sample=fallback,
    )


def _decl(
    front: FrontMatter,
    name: str,
    spec: Mapping[str, Any],
    *,
    required: bool,
    keys: tuple[str | int, ...],
    fallback_sample: Any = None,
) -> InputDecl:
    type_ = spec.get("type", "string")
    if not isinstance(type_, str):
        raise front.error(f"'type' of input {name!r} must be a string", *keys, "type")
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise front.error(f"'description' of input {name!r} must be a string", *keys, "description")
    return InputDecl(
        name=name,
        type=type_,
        required=required,
        description=description.strip(),
        default=spec.get("default"),
        sample=spec.get("sample", spec.get("example", fallback_sample)),
        line=front.line_of(*keys),
    )


def _json_type(value: object) -> str:
    for python_type, json_type in _JSON_TYPES:
        if isinstance(value, python_type):
            return json_type
    return "string"

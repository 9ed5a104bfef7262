"""JSON checks: the response parses as JSON; it validates against a JSON Schema.

Part of :mod:`evalcli.metrics.checks` (which re-exports everything here). A response that is
already a JSON object or array (a target returning structured output) is checked as it is; a
string is parsed first, strictly (``NaN`` and ``Infinity`` are not JSON).

Schemas use JSON Schema Draft 2020-12 (the ``jsonschema`` library), given inline. ``$ref``
resolves inside the schema (``#/$defs/...`` and embedded ``$id`` resources) but is never
fetched from the network or the disk: the ``referencing`` registry given to the validator
refuses every retrieval, and :func:`compile_schema` reports a ``$ref`` to a document outside
the schema before any row runs. ``format`` is an annotation unless ``check_formats`` is set.

``jsonschema`` is imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urldefrag, urljoin

from evalcli.metrics._common import CheckResult
from evalcli.metrics._common import verdict as _result

#: Most schema violations listed in one reason.
MAX_ERRORS = 5
#: Longest violation message quoted (messages repeat the offending value, which can be huge).
MESSAGE_LIMIT = 160
# The JSON Schema meta-schemas ship with jsonschema: refs to them resolve without a fetch.
_BUNDLED_PREFIXES = ("https://json-schema.org/", "http://json-schema.org/")
# Keywords whose values are data, not subschemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = frozenset({"enum", "const", "examples", "default"})


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(response: object) -> tuple[Any, str | None]:
    """(value, None) for valid JSON, (None, what is wrong) otherwise.

    Raises:
        ValueError: the response is neither a string nor an already parsed object or array.
    """
    if isinstance(response, dict | list):
        return response, None
    if not isinstance(response, str):
        raise ValueError(
            f"the response must be a JSON string, object or array, got {type(response).__name__}"
        )
    try:
        return json.loads(response, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:  # NaN / Infinity, from _reject_constant
        return None, f"not valid JSON: {exc}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"


@dataclass(frozen=True)
class JsonValid:
    """The response is valid JSON."""

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        value, error = parse_json(response)
        if error is not None:
            return _result(False, error)
        return _result(True, f"valid JSON ({type(value).__name__})")


def _refuse(uri: str) -> NoReturn:
    raise LookupError(f"$ref {uri!r} is outside the schema; remote schemas are never fetched")


def _walk(node: object, base: str, out: list[tuple[str, str]], ids: set[str]) -> None:
    """Collect (absolute $ref, as written) and embedded $id URIs, tracking the base URI."""
    if isinstance(node, list):
        for item in node:
            _walk(item, base, out, ids)
        return
    if not isinstance(node, Mapping):
        return
    if isinstance(node.get("$id"), str):
        base = urldefrag(urljoin(base, node["$id"])).url
        ids.add(base)
    for key in ("$ref", "$dynamicRef"):
        if isinstance(node.get(key), str):
            out.append((urldefrag(urljoin(base, node[key])).url, node[key]))
    for key, value in node.items():
        if key not in _DATA_KEYWORDS:
            _walk(value, base, out, ids)


def compile_schema(schema: object, check_formats: bool = False) -> Any:
    """A Draft 2020-12 validator for ``schema`` that never fetches a ``$ref``.

    Raises:
        ValueError: the schema is not an object or boolean, is not a valid Draft 2020-12
            schema (the message says where), or refers to a document outside itself.
    """
    import jsonschema  # type: ignore[import-untyped]  # ships no type information
    from referencing import Registry

    if not isinstance(schema, Mapping | bool):
        raise ValueError(
            f"the schema must be a JSON object or boolean, got {type(schema).__name__}"
        )
    validator_cls = jsonschema.Draft202012Validator
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = exc.json_path if hasattr(exc, "json_path") else "$"
        raise ValueError(f"invalid JSON Schema at {where}: {_short(exc.message)}") from exc
    refs: list[tuple[str, str]] = []
    ids: set[str] = {""}
    _walk(schema, "", refs, ids)
    for target, written in refs:
        if target not in ids and not target.startswith(_BUNDLED_PREFIXES):
            raise ValueError(
                f"$ref {written!r} points outside the schema and is never fetched; "
                "copy the referenced schema under $defs and refer to it as '#/$defs/...'"
            )
    # The validator adds the schema itself (and the bundled meta-schemas) to this registry.
    registry: Any = Registry(retrieve=_refuse)  # type: ignore[call-arg]  # attrs alias
    checker = validator_cls.FORMAT_CHECKER if check_formats else None
    return validator_cls(schema, registry=registry, format_checker=checker)


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


@dataclass(frozen=True)
class JsonSchema:
    """The response is JSON that validates against ``schema`` (Draft 2020-12, inline).

    The reason lists up to :data:`MAX_ERRORS` violations, each with its JSON path
    (``$.items[2].price``), in document order.
    """

    schema: Any
    check_formats: bool = False
    _validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.check_formats, bool):
            raise ValueError(f"check_formats must be true or false, got {self.check_formats!r}")
        object.__setattr__(self, "_validator", compile_schema(self.schema, self.check_formats))

    def __getstate__(self) -> dict[str, Any]:
        return {"schema": self.schema, "check_formats": self.check_formats}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "schema", state["schema"])
        object.__setattr__(self, "check_formats", state["check_formats"])
        self.__post_init__()

    def _errors(self, value: Any) -> Iterator[Any]:
        from referencing.exceptions import Unresolvable

        try:
            errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.path))
        except Unresolvable as exc:  # a $ref to a part of the schema that does not exist
            raise ValueError(f"the schema has a $ref that cannot be resolved ({exc})") from exc
        except TypeError:  # paths mixing keys and indexes at one level: keep schema order
            errors = list(self._validator.iter_errors(value))
        return iter(errors)

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        value, error = parse_json(response)
        if error is not None:
            return _result(False, error)
        errors = list(self._errors(value))
        if not errors:
            return _result(True, "valid against the schema")
        shown = "; ".join(f"{e.json_path}: {_short(e.message)}" for e in errors[:MAX_ERRORS])
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        count = "1 schema violation" if len(errors) == 1 else f"{len(errors)} schema violations"
        return _result(False, f"{count}: {shown}{more}")

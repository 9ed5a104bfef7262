"""Validation errors of config models as one readable :class:`ConfigError`.

pydantic reports errors by location tuples such as ``("evaluators", "bleu", "threshold")``
and internal type names; :func:`pydantic_to_config_error` turns the first one into a message
that names the key as users write it, the ``file:line:col`` it came from (through the
:class:`~evalcli.yamlsrc.SourceMap`), and a "did you mean" hint for unknown keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from evalcli.errors import ConfigError
from evalcli.suggest import did_you_mean
from evalcli.yamlsrc import Loc, SourceMap
from evalcli.yamlsrc import dotted as _dotted

_TARGET_TAGS = {"http", "chat", "python"}

_TYPE_WORDS = {
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def pydantic_to_config_error(
    exc: ValidationError, smap: SourceMap, model: type[BaseModel], prefix: Loc = ()
) -> ConfigError:
    """Turn the first pydantic error into one readable :class:`ConfigError`."""
    errors = exc.errors(include_input=False, include_url=False)
    err = errors[0]
    raw_loc = [p for p in err["loc"] if not _is_union_tag(p)]
    # Discriminated unions (target: http | chat | python) add the tag to the location.
    raw_loc = [
        p
        for i, p in enumerate(raw_loc)
        if not (i > 0 and raw_loc[i - 1] == "target" and p in _TARGET_TAGS)
    ]
    loc: Loc = (*prefix, *raw_loc)
    etype = err["type"]
    key = _dotted(loc)
    more = (
        f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)"
        if len(errors) > 1
        else ""
    )
    if etype == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(err["loc"][:-1]))
        hint = did_you_mean(str(loc[-1]), allowed) if allowed else None
        if allowed and not hint:
            hint = "allowed keys: " + ", ".join(sorted(allowed))
        return ConfigError(f"unknown key {key!r}{more}", where=smap.where(loc, key=True), hint=hint)
    if etype == "missing":
        return ConfigError(f"missing required key {key!r}{more}", where=smap.where(loc[:-1]))
    if etype == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return ConfigError(
            f"{_dotted(loc)}.{ctx.get('discriminator', 'type').strip(chr(39))} must be one of "
            f"{ctx.get('expected_tags', '')}, got {ctx.get('tag')!r}{more}",
            where=smap.where((*loc, "type")),
        )
    if etype == "union_tag_not_found":
        return ConfigError(f"{key} needs 'type'{more}", where=smap.where(loc))
    if etype in _TYPE_WORDS:
        msg = f"{key} must be {_TYPE_WORDS[etype]}"
    elif etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"{key} must be one of {expected}"
    elif etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        msg = f"{key}: {err['msg'].lower()}"
    else:
        text = err["msg"]
        text = text.removeprefix("Value error, ")
        if not loc:
            msg = text
        elif text.startswith("must "):
            msg = f"{key} {text}"
        else:
            msg = f"{key}: {text}"
    return ConfigError(msg + more, where=smap.where(loc))


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the union member's type name into loc ("float", "dict[str,float]").
    return isinstance(part, str) and (
        part in {"float", "int", "str", "bool", "function-after"}
        or "[" in part
        or part.startswith("function-")
    )


def _allowed_keys(model: type[BaseModel], loc: Loc) -> set[str]:
    """Field names of the (nested) model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        members = _union_models(current)
        if len(members) > 1:
            # A discriminated union: pydantic put the member's tag into the location.
            chosen = [m for m in members if part in _literal_tags(m)]
            if chosen:
                current = chosen[0]
                continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                # A dict field: the key is an arbitrary name (an evaluator alias, say).
                continue
            current = field.annotation
        else:
            current = _unwrap(current)
    members = _union_models(current)
    if len(members) == 1:
        # Keys as users write them: a field's alias where it has one (``schema`` for a field
        # named ``schema_`` so as not to shadow a BaseModel attribute).
        return {f.alias or name for name, f in members[0].model_fields.items()}
    return set()


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation may hold (through Optional/Annotated/unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _union_models(arg)
    origin_meta = getattr(annotation, "__origin__", None)
    if origin_meta is not None and not out:
        out += _union_models(origin_meta)
    return out


def _literal_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("type")
    return tuple(getattr(field.annotation, "__args__", ())) if field is not None else ()


def _unwrap(annotation: Any) -> Any:
    """Find the BaseModel inside Optional[...], list[...], dict[str, ...] annotations."""
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if args:
        for arg in reversed(args):
            found = _unwrap(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
    return annotation

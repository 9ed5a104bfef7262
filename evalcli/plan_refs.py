"""The column references of a plan: parsed from the config, then checked against the scan of
the whole dataset and the target's declared outputs (``build_plan`` calls these in turn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalcli.config import LoadedConfig
from evalcli.conversation import TURN_INPUTS
from evalcli.dataset import DatasetScan
from evalcli.errors import MappingError
from evalcli.mapping import Ref, parse_ref
from evalcli.targets.base import Target

if TYPE_CHECKING:
    from evalcli.plan import BoundEvaluator

__all__ = ["check_refs", "check_target_fields", "parse_mapping"]


def parse_mapping(
    columns: dict[str, str], loaded: LoadedConfig, loc: tuple[str, ...]
) -> dict[str, Ref]:
    """Parse a ``columns:`` mapping (at config path ``loc``) into references.

    Raises:
        MappingError: a value is not a ``${data.…}``/``${target.…}`` reference, or names the
            target when the config has none.
    """
    out = {}
    for name, expr in columns.items():
        ref = parse_ref(expr) if isinstance(expr, str) else None
        if ref is None:
            raise MappingError(
                f"{'.'.join(loc)}.{name}: {expr!r} is not a column reference",
                where=loaded.where(*loc, name),
                hint="write ${data.<column>} (dotted paths reach into objects and lists, e.g. "
                "${data.messages.1.content}) or ${target.<field>}",
            )
        if ref.source == "target" and loaded.config.target is None:
            raise MappingError(
                f"{'.'.join(loc)}.{name}: {ref.text} needs a target: section",
                where=loaded.where(*loc, name),
                hint="add target: (type http, chat or python) to call the app under test",
            )
        out[name] = ref
    return out


def check_refs(
    loaded: LoadedConfig,
    scan: DatasetScan,
    column_refs: dict[str, Ref],
    bound: list[BoundEvaluator],
) -> None:
    """Every explicit reference must reach some row; an implicit one no row has is dropped,
    unless the evaluator requires that input (then it is an error, or comes from the turns
    of a conversation).

    Raises:
        MappingError: naming the config key, the dataset and the columns it does have.
    """
    available = ", ".join(scan.columns[:30]) + (" ..." if len(scan.columns) > 30 else "")

    def missing_everywhere(ref: Ref) -> bool:
        return ref.source == "data" and scan.path_hits.get(ref.path, 0) == 0

    for name, ref in column_refs.items():
        if missing_everywhere(ref):
            raise MappingError(
                f"columns.{name} maps to {ref.text}, which no row of {scan.path} has",
                where=loaded.where("columns", name),
                hint=f"available columns: {available}",
            )
    for b in bound:
        conv = b.conversation
        if conv is not None and missing_everywhere(conv):
            if not conv.implicit and "conversation" in b.spec.columns:
                raise MappingError(
                    f"evaluators.{b.alias}.columns.conversation maps to {conv.text}, which no row "
                    f"of {scan.path} has",
                    where=loaded.where("evaluators", b.alias, "columns", "conversation"),
                    hint=f"available columns: {available}",
                )
            b.conversation = None
        for name, ref in list(b.refs.items()):
            if not missing_everywhere(ref):
                continue
            if not ref.implicit:
                raise MappingError(
                    f"evaluators.{b.alias}.columns.{name} maps to {ref.text}, which no row of "
                    f"{scan.path} has",
                    where=loaded.where("evaluators", b.alias, "columns", name),
                    hint=f"available columns: {available}",
                )
            if name in b.required and b.conversation is not None and name in TURN_INPUTS:
                continue  # filled from each row's conversation (a single-turn row lacking it
                # becomes a row error)
            if name in b.required:
                raise MappingError(
                    f"evaluator {b.alias!r} needs input {name!r}, but it is not mapped and the "
                    f"dataset has no {name!r} column",
                    where=loaded.where("evaluators", b.alias, key=True),
                    hint=f"map it under columns (e.g. {name}: ${{data.<column>}}); "
                    f"available columns: {available}",
                )
            del b.refs[name]  # optional input that no row has: simply absent


def check_target_fields(
    loaded: LoadedConfig, target: Target, column_refs: dict[str, Ref], bound: list[BoundEvaluator]
) -> None:
    """``${target.x}`` must name a field the target produces (when that is known up front)."""
    if not target.fields:
        return  # python targets: fields are whatever the function returns
    places: list[tuple[tuple[str, ...], Ref]] = [
        (("columns", n), r) for n, r in column_refs.items()
    ]
    places += [
        (("evaluators", b.alias, "columns", n), r)
        for b in bound
        for n, r in b.refs.items()
        if not r.implicit and n in b.spec.columns
    ]
    for loc, ref in places:
        if ref.source == "target" and ref.path[0] not in target.fields:
            raise MappingError(
                f"{'.'.join(loc)}: {ref.text} is not an output of the {target.kind} target",
                where=loaded.where(*loc),
                hint="target outputs: " + ", ".join(target.fields),
            )

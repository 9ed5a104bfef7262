"""Task-level helpers of the runner: input resolution, safe evaluation, CPU batches, merging.

Kept apart from :mod:`evalcli.runner` because these also run inside forked worker processes.
"""

from __future__ import annotations

from typing import Any

from evalcli.dataset import MISSING
from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import EvalContext
from evalcli.plan import BoundEvaluator
from evalcli.results import Outcome, PartialOutcome

#: Evaluators of the CPU pool; set in the parent just before forking, inherited by workers.
WORKER_EVALUATORS: list[Evaluator] = []

CpuWork = list[tuple[int, dict[str, Any]]]  # (index into WORKER_EVALUATORS, inputs)
CpuBatch = list[tuple[int, CpuWork]]  # (row line, work)
CpuResult = list[tuple[int, list[tuple[int, Outcome]]]]


def run_cpu_batch(batch: CpuBatch, evaluators: list[Evaluator] | None = None) -> CpuResult:
    """Evaluate a batch of rows with the CPU-bound evaluators (in a worker or inline)."""
    evs = WORKER_EVALUATORS if evaluators is None else evaluators
    out: CpuResult = []
    for line, work in batch:
        ctx = EvalContext(line)  # shared by this row's evaluators: tokenize each text once
        out.append((line, [(idx, evaluate_safely(evs[idx], inputs, ctx)) for idx, inputs in work]))
    return out


def evaluate_safely(ev: Evaluator, inputs: dict[str, Any], ctx: EvalContext) -> Outcome:
    """Run one evaluation; any exception becomes a row error (fatal remote errors excepted)."""
    try:
        return ev.evaluate(inputs, ctx)
    except RowError as exc:
        return exc
    except RemoteError:
        raise
    except Exception as exc:  # isolate the failure to this (row, evaluator) pair
        return RowError("evaluator-exception", f"{type(exc).__name__}: {exc}")


def merge_members(ev: Evaluator, parts: list[Outcome | None]) -> Outcome:
    """Combine a composite's member outcomes under its alias.

    Successful members contribute their keys; a failed member contributes
    ``<member>_error``/``<member>_error_kind`` (and no score). If every member failed, the
    composite as a whole is a row error.
    """
    errors = [(m, p) for m, p in zip(ev.members, parts, strict=True) if isinstance(p, RowError)]
    if len(errors) == len(parts):
        first = errors[0][1]
        message = "; ".join(f"{m.name}: {e.message}" for m, e in errors)
        return RowError(first.kind, message)
    merged = PartialOutcome()
    for m, p in zip(ev.members, parts, strict=True):
        if isinstance(p, RowError):
            merged[f"{m.name}_error"] = p.message
            merged[f"{m.name}_error_kind"] = p.kind
            merged.update(p.extra)
            merged.member_errors.append((m.name, p))
        elif p is not None:
            merged.update(p)
    return merged


def resolve_inputs(
    b: BoundEvaluator,
    data: dict[str, Any],
    target: dict[str, Any] | None,
    member: Evaluator | None = None,
) -> dict[str, Any] | RowError:
    """The evaluator's (or a composite member's) inputs for one row, or a row error."""
    inputs: dict[str, Any] = {}
    if member is not None:
        wanted = {i.name: i.required for i in member.inputs}
        refs = {n: r for n, r in b.refs.items() if n in wanted}
        required = {n for n, req in wanted.items() if req}
    else:
        refs, required = b.refs, set(b.required)
    for name, ref in refs.items():
        value = ref.resolve(data, target)
        if value is MISSING:
            if name in required:
                where = f"column {'.'.join(ref.path)!r}" if ref.source == "data" else ref.text
                return RowError("missing-input", f"input {name!r}: {where} is missing in this row")
            continue
        inputs[name] = value
    return inputs


def conversation_of(
    b: BoundEvaluator, data: dict[str, Any], target: dict[str, Any] | None
) -> Any | RowError | None:
    """The row's conversation for ``b``, None for a single-turn row, or a row error.

    A row may give a conversation or single inputs, not both: which one was meant would be a
    guess.
    """
    if b.conversation is None:
        return None
    value = b.conversation.resolve(data, target)
    if value is MISSING or value is None:
        return None
    given = [n for n, r in b.refs.items() if r.resolve(data, target) is not MISSING]
    if given:
        return RowError(
            "conversation-and-inputs",
            f"the row gives both a conversation and the input {given[0]!r}; give one or the other",
        )
    return value

"""``evalcli run --estimate``: how many calls a run would make, with upper bounds of tokens
and cost — without calling anything and without a tokenizer.

Token bound: byte-level BPE tokenizers (the GPT family, Llama's byte fallback) never produce
more tokens than the UTF-8 bytes they encode, so a message costs at most its byte count plus
the chat format's per-message overhead. Completions are bounded by ``max_tokens``. Answers
already in the call cache cost nothing. Outputs of the target are not known before it is
called: for chat targets they are bounded by the target's ``max_tokens``; for HTTP and Python
targets each output field is assumed to be at most ``target_tokens`` tokens (stated in the
report). Azure AI Content Safety calls are built exactly as the run builds them, so those already
in the cache are not counted either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalcli.cache import CallCache
from evalcli.conversation import split_turns
from evalcli.errors import RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.judged import JudgedEvaluator
from evalcli.evaluators.safety import ContentSafetyHarmEvaluator
from evalcli.evaluators.safety_common import context_sources, text_input
from evalcli.evaluators.safety_labels import GROUNDEDNESS_PRO, ContentSafetyLabelEvaluator
from evalcli.evaluators.shields import ShieldLabelEvaluator
from evalcli.plan import BoundEvaluator, RunPlan
from evalcli.reporters.terminal import plural
from evalcli.safety.images import image_parts
from evalcli.safety.operations import IMAGE_ANALYZE, TEXT_ANALYZE, Request
from evalcli.tasks import conversation_of, resolve_inputs

ContentSafetyEvaluator = (
    ContentSafetyHarmEvaluator | ContentSafetyLabelEvaluator | ShieldLabelEvaluator
)

PER_MESSAGE_TOKENS = 4  # role and separators, as OpenAI's chat format counts them
PER_REQUEST_TOKENS = 3  # the reply primer
UNKNOWN_RESPONSE_NOTE = (
    "Azure AI Content Safety calls on target outputs are counted as one per response and "
    "evaluator, never as cached (a long response is checked in several parts)"
)


@dataclass
class Bound:
    """Calls and token/cost upper bounds for one client."""

    label: str
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    pricing: Any = None

    @property
    def cost(self) -> float | None:
        """Cost bound, if the client has pricing."""
        if self.pricing is None:
            return None
        cost: float = self.pricing.cost(self.prompt_tokens, self.completion_tokens)
        return cost


@dataclass
class Estimate:
    """The whole estimate."""

    rows: int
    clients: dict[str, Bound] = field(default_factory=dict)
    other_calls: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Content Safety requests already counted (the run shares or caches repeats).
    seen: set[str] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        clients = {
            b.label: {
                "calls": b.calls,
                "already_cached": b.cached,
                "prompt_tokens_max": b.prompt_tokens,
                "completion_tokens_max": b.completion_tokens,
                "cost_max": b.cost,
            }
            for b in self.clients.values()
        }
        costs = [b.cost for b in self.clients.values() if b.cost is not None]
        return {
            "rows": self.rows,
            "clients": clients,
            "other_calls": self.other_calls,
            "total": {
                "calls": sum(b.calls for b in self.clients.values())
                + sum(self.other_calls.values()),
                "already_cached": sum(b.cached for b in self.clients.values()),
                "prompt_tokens_max": sum(b.prompt_tokens for b in self.clients.values()),
                "completion_tokens_max": sum(b.completion_tokens for b in self.clients.values()),
                "cost_max": sum(costs) if costs else None,
            },
            "notes": self.notes,
        }


def message_tokens_bound(messages: list[dict[str, Any]]) -> int:
    """Upper bound of the prompt tokens of a chat request."""
    total = PER_REQUEST_TOKENS
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            total += len(content.encode("utf-8"))
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"].encode("utf-8"))
        total += PER_MESSAGE_TOKENS
    return total


def estimate(plan: RunPlan, cache: CallCache | None, target_tokens: int = 1024) -> Estimate:
    """Walk the dataset and count what a run would send (nothing is sent)."""
    est = Estimate(rows=plan.scan.rows)
    images_seen = False
    target = plan.target
    placeholder: dict[str, Any] | None = None
    extra_per_field = 0
    if target is not None:
        if target.kind == "chat":
            extra_per_field = int(getattr(getattr(target, "cfg", None), "max_tokens", 0))
        else:
            extra_per_field = target_tokens
            est.notes.append(
                f"each {target.kind} target output is assumed to be at most "
                f"{plural(target_tokens, 'token')} (--target-tokens)"
            )
        placeholder = _Placeholder()
    for row in plan.dataset.rows():
        if target is not None:
            _count_target(est, target, row.data, cache)
        for b in plan.evaluators:
            for ev in b.evaluator.members or (b.evaluator,):
                images_seen |= _count_evaluation(
                    est, b, ev, row.data, placeholder, extra_per_field, cache, row.line
                )
    if images_seen:
        est.notes.append("image parts are not included in the token bounds")
    if cache is not None:
        est.notes.append(
            f"answers found in the cache ({cache.path}) are not counted in tokens or cost"
        )
    return est


class _Placeholder(dict[str, Any]):
    """Target outputs before the target was called: every field is an empty text."""

    def __missing__(self, key: str) -> str:
        return ""

    def __contains__(self, key: object) -> bool:
        return True


def _bound(est: Estimate, client: Any) -> Bound:
    label = client.label
    b = est.clients.get(label)
    if b is None:
        b = est.clients[label] = Bound(label, pricing=getattr(client.cfg, "pricing", None))
    return b


def _count_target(
    est: Estimate, target: Any, data: dict[str, Any], cache: CallCache | None
) -> None:
    if target.kind != "chat":
        key = f"target {target.kind}"
        est.other_calls[key] = est.other_calls.get(key, 0) + 1
        return
    try:
        user = target.template.render(data)
    except Exception:
        return  # this row will be a target error: no call
    messages = [{"role": "system", "content": target.cfg.system}] if target.cfg.system else []
    messages.append({"role": "user", "content": user})
    b = _bound(est, target.client)
    if cache is not None and cache.get(target.client.cache_key(messages, target.params, None)):
        b.cached += 1
        return
    b.calls += 1
    b.prompt_tokens += message_tokens_bound(messages)
    b.completion_tokens += int(target.params.get("max_tokens", 0))


def _count_evaluation(
    est: Estimate,
    b: BoundEvaluator,
    ev: Evaluator,
    data: dict[str, Any],
    placeholder: dict[str, Any] | None,
    extra_per_field: int,
    cache: CallCache | None,
    line: int,
) -> bool:
    """Count one (row, evaluator) evaluation; returns True if it saw image parts."""
    conv = conversation_of(b, data, placeholder)
    if isinstance(conv, RowError):
        return False
    if conv is not None:
        try:
            turns = [t.inputs() for t in split_turns(conv)]
        except RowError:
            return False
        if b.spec.eval_last_turn:
            turns = turns[-1:]
        wanted = {i.name for i in ev.inputs}
        inputs_list = [{k: v for k, v in t.items() if k in wanted} for t in turns]
        uses_target = 0
        response_known = True
    else:
        inputs = resolve_inputs(b, data, placeholder, ev if b.evaluator.members else None)
        if isinstance(inputs, RowError):
            return False
        inputs_list = [inputs]
        uses_target = sum(
            1
            for name, r in b.refs.items()
            if r.source == "target" and name in {i.name for i in ev.inputs}
        )
        ref = b.refs.get("response")
        response_known = ref is None or ref.source != "target"
    images = any("images" in i for i in inputs_list)
    if isinstance(ev, ContentSafetyEvaluator):
        # Prompt Shields read the query or context, never the response.
        known = response_known or isinstance(ev, ShieldLabelEvaluator)
        for turn, inputs in enumerate(inputs_list):
            _count_content_safety(est, ev, inputs, known, f"{line}:{turn}", cache)
        return images
    if not isinstance(ev, JudgedEvaluator):
        # Calls evalcli cannot see into: what the evaluator declares (none for code ones).
        calls = ev.remote_calls_per_row * len(inputs_list)
        if calls:
            label = f"{ev.name} (non-judge remote calls)"
            est.other_calls[label] = est.other_calls.get(label, 0) + calls
        return images
    bound = _bound(est, ev.client)
    for inputs in inputs_list:
        try:
            messages = ev.messages_for({k: v for k, v in inputs.items() if k != "images"})
        except RowError:
            continue  # a row error at run time: no call
        if (
            not uses_target
            and cache is not None
            and cache.get(ev.client.cache_key(messages, ev.params, ev.prompt_sha256))
        ):
            bound.cached += 1
            continue
        bound.calls += 1
        bound.prompt_tokens += message_tokens_bound(messages) + uses_target * extra_per_field
        bound.completion_tokens += int(ev.params.get("max_tokens", 0))
    return images


def _count_content_safety(
    est: Estimate,
    ev: ContentSafetyEvaluator,
    inputs: dict[str, Any],
    response_known: bool,
    where: str,
    cache: CallCache | None,
) -> None:
    """Count the Content Safety calls of one evaluation, each distinct request once.

    Harm evaluators share one text:analyze (and image:analyze) answer per text, so the
    members of ``content_safety`` count it once; with a cache, any repeat is a cache hit.
    A response the target has not given yet is counted as one call that is not cached.
    """
    client = ev.service.client
    bound = _bound(est, client)
    if not response_known:
        what = "harms" if isinstance(ev, ContentSafetyHarmEvaluator) else ev.kind.name
        if f"{where}:{what}" not in est.seen:
            est.seen.add(f"{where}:{what}")
            bound.calls += 1
        if UNKNOWN_RESPONSE_NOTE not in est.notes:
            est.notes.append(UNKNOWN_RESPONSE_NOTE)
    for request in _content_safety_requests(ev, inputs, response_known):
        key = client.cache_key(request.operation, request.body, request.api_version)
        shared = cache is not None or request.operation in (TEXT_ANALYZE, IMAGE_ANALYZE)
        if key in est.seen and shared:
            continue
        est.seen.add(key)
        if cache is not None and cache.get(key) is not None:
            bound.cached += 1
        else:
            bound.calls += 1


def _content_safety_requests(
    ev: ContentSafetyEvaluator,
    inputs: dict[str, Any],
    response_known: bool,
) -> list[Request]:
    """The requests the evaluator would send; none when its input checks fail the row."""
    service = ev.service
    try:
        if isinstance(ev, ContentSafetyHarmEvaluator):
            response = text_input(inputs, "response") if response_known else ""
            parts = image_parts(inputs.get("images"), 0)
            for part in parts:
                service.check_image(part, 0)
            images = [service.image_request(p.base64) for p in parts if p.base64 is not None]
            return [*service.text_requests(response), *images]
        if isinstance(ev, ShieldLabelEvaluator):
            return ev.requests(inputs)
        if not response_known:
            return []
        response = text_input(inputs, "response")
        if ev.kind is GROUNDEDNESS_PRO:
            query = inputs.get("query")
            sources = context_sources(inputs.get("context"))
            query_text = query if isinstance(query, str) else None
            return service.groundedness_plan(query_text, response, sources)[0]
        return service.protected_material_requests(response)
    except RowError:
        return []

"""Chat completions and Azure ML ``/score`` behaviour of the loopback stub server.

Default chat behaviour is a deterministic *judge*: directives in the last user message choose
the answer (``STUB_SCORE=<int>`` → ``{"score": n, "reason": ...}``, ``STUB_LABEL=true|false``
→ ``{"label": b, "reason": ..., "details": {...}}``); without a directive the score is
``1 + crc32(last user message) % 5``, so a run with injected faults and a fault-free run see
the same scores. A rewrite request (``<request>`` and ``<count>`` tags, as evalcli's
attacker prompt sends) gets deterministic adversarial rewrites instead. A message listing
``<guideline id="N">`` rules (the ``guidelines`` rubric)
gets one verdict per rule: ``fail`` for the ids of a ``STUB_GUIDELINE_FAIL=1,3`` directive,
else ``fail`` when ``crc32(id:message) % 4 == 0``. :func:`echo` is a ready responder for
*target*-style chat deployments.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Mapping
from typing import Any

from evalcli.testing.stub_attacker import rewrite_answer
from evalcli.testing.stub_types import Reply, StubRequest, error_reply

__all__ = [
    "chat_completion",
    "default_judge",
    "echo",
    "estimate_tokens",
    "judge_answer",
    "last_user_text",
    "score_output",
    "validate_chat",
    "validate_score",
]

_SCORE_RE = re.compile(r"STUB_SCORE=(-?\d+)")
_LABEL_RE = re.compile(r"STUB_LABEL=(true|false)", re.IGNORECASE)
_GUIDELINE_RE = re.compile(r'<guideline id="(\d+)">')
_GUIDELINE_FAIL_RE = re.compile(r"STUB_GUIDELINE_FAIL=(\d+(?:,\d+)*)")

# Fixed token cost of an image part, in the spirit of the real "low detail" price.
_IMAGE_TOKENS = 85
# Per-message overhead of the chat format (role markers); the exact number doesn't matter,
# only that usage is deterministic and grows with the prompt.
_MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: one token per 4 characters, at least 1 for non-empty."""
    return (len(text) + 3) // 4


# The response_format types the chat completions API accepts.
_RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")


def _openai_error(
    status_code: int, message: str, *, param: str | None = None, code: str | None = None
) -> Reply:
    return error_reply(status_code, code, message, error_type="invalid_request_error", param=param)


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def validate_chat(req: StubRequest) -> Reply | None:
    """400 (OpenAI error shape) for a body the real services would reject, else ``None``.

    Checks what a client bug would plausibly get wrong: JSON object body, ``model`` on the
    OpenAI-style routes, a non-empty ``messages`` list of ``{role, content}`` objects,
    multimodal parts of type ``text`` (with ``text``) or ``image_url`` (with ``url``), and a
    ``response_format`` of type ``text``, ``json_object`` or ``json_schema`` (``json``, which
    some prompt files say, is refused with the API's own 400). Streaming is refused because
    the stub only speaks non-streamed JSON.
    """
    body = req.body
    if not isinstance(body, Mapping):
        return _openai_error(
            400, "We could not parse the JSON body of your request (the stub expects JSON)."
        )
    if req.model is None:
        return _openai_error(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _openai_error(
            400, "'messages' must be a non-empty array of message objects.", param="messages"
        )
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
            return _openai_error(
                400, f"Missing required parameter: 'messages[{i}].role'.", param="messages"
            )
        content = msg.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                problem = _part_problem(part)
                if problem:
                    return _openai_error(
                        400,
                        f"Invalid 'messages[{i}].content[{j}]': {problem}",
                        param=f"messages[{i}].content[{j}]",
                    )
        elif not isinstance(content, str) and not (
            content is None and msg.get("role") == "assistant"
        ):
            return _openai_error(
                400,
                f"Invalid type for 'messages[{i}].content': expected a string or an array.",
                param=f"messages[{i}].content",
            )
    if body.get("response_format") is not None:  # null means "not given" to the API
        refusal = _response_format_problem(body["response_format"])
        if refusal is not None:
            return refusal
    if body.get("stream"):
        return _openai_error(400, "The stub server does not implement streaming.", param="stream")
    return None


def _response_format_problem(value: Any) -> Reply | None:
    """The API's 400 for a ``response_format`` it does not accept, else ``None``."""
    if not isinstance(value, Mapping):
        return _openai_error(
            400,
            f"Invalid type for 'response_format': expected an object, but got "
            f"{type(value).__name__} instead.",
            param="response_format",
            code="invalid_type",
        )
    if "type" not in value:
        return _openai_error(
            400,
            "Missing required parameter: 'response_format.type'.",
            param="response_format.type",
            code="missing_required_parameter",
        )
    kind = value["type"]
    if kind not in _RESPONSE_FORMAT_TYPES:
        # Word for word what the OpenAI API answers, e.g. for {"type": "json"}.
        return _openai_error(
            400,
            f"Invalid value: {kind!r}. Supported values are: 'json_object', 'json_schema', "
            "and 'text'.",
            param="response_format.type",
            code="invalid_value",
        )
    return None


def _part_problem(part: Any) -> str:
    if not isinstance(part, Mapping):
        return "expected an object."
    kind = part.get("type")
    if kind == "text":
        return "" if isinstance(part.get("text"), str) else "a text part needs a string 'text'."
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:image/")):
            return "an image_url part needs 'image_url.url' (an http(s) URL or a data URL)."
        return ""
    return f"unsupported content part type {kind!r}."


def last_user_text(body: Any) -> str:
    """Text of the last ``user`` message of a chat body (text parts joined), or ``""``."""
    if not isinstance(body, Mapping):
        return ""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for msg in reversed(messages):
        if isinstance(msg, Mapping) and msg.get("role") == "user":
            return _content_text(msg.get("content"))
    return ""


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    total = 0
    for msg in body.get("messages") or []:
        if not isinstance(msg, Mapping):
            continue
        total += _MESSAGE_OVERHEAD_TOKENS + estimate_tokens(_content_text(msg.get("content")))
        content = msg.get("content")
        if isinstance(content, list):
            total += _IMAGE_TOKENS * sum(
                1 for p in content if isinstance(p, Mapping) and p.get("type") == "image_url"
            )
    return total


def chat_completion(req: StubRequest, content: str, *, finish_reason: str = "stop") -> Any:
    """A complete ChatCompletion object answering ``req`` with ``content``.

    ``usage`` is derived from character counts (see :func:`estimate_tokens`), so it is the same
    on every run for the same request and answer.
    """
    body = req.body if isinstance(req.body, Mapping) else {}
    prompt_tokens = _prompt_tokens(body)
    completion_tokens = estimate_tokens(content)
    return {
        "id": f"chatcmpl-stub-{req.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model or "stub-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def judge_answer(text: str) -> dict[str, Any]:
    """The default judge's JSON answer for a last user message ``text``.

    The *last* directive in the text wins, because rubrics put the data to judge after their
    instructions. A rewrite request of ``simulate --attacker-config`` gets the stub
    attacker's answer (:mod:`evalcli.testing.stub_attacker`).
    """
    rewrites = rewrite_answer(text)
    if rewrites is not None:
        return rewrites
    guidelines = list(dict.fromkeys(int(i) for i in _GUIDELINE_RE.findall(text)))
    if guidelines:
        return {"guidelines": [_guideline_verdict(i, text) for i in guidelines]}
    labels = _LABEL_RE.findall(text)
    if labels:
        label = labels[-1].lower() == "true"
        return {
            "label": label,
            "reason": f"stub judge: label {str(label).lower()} from the STUB_LABEL directive",
            "details": {
                "manipulated_content": label,
                "intrusion": False,
                "information_gathering": False,
            },
        }
    scores = _SCORE_RE.findall(text)
    if scores:
        return {
            "score": int(scores[-1]),
            "reason": "stub judge: score from the STUB_SCORE directive",
        }
    score = 1 + zlib.crc32(text.encode("utf-8")) % 5
    return {"score": score, "reason": "stub judge: score derived from a hash of the input"}


def _guideline_verdict(ident: int, text: str) -> dict[str, Any]:
    directives = _GUIDELINE_FAIL_RE.findall(text)
    if directives:
        failed = ident in {int(i) for i in directives[-1].split(",")}
        why = "the STUB_GUIDELINE_FAIL directive"
    else:
        failed = zlib.crc32(f"{ident}:{text}".encode()) % 4 == 0
        why = "a hash of the input"
    verdict = "fail" if failed else "pass"
    return {"id": ident, "verdict": verdict, "reason": f"stub judge: {verdict} from {why}"}


def default_judge(req: StubRequest) -> Reply:
    """Responder: answer as the deterministic judge (see the module docstring)."""
    return Reply(content=json.dumps(judge_answer(last_user_text(req.body))))


def echo(req: StubRequest) -> Reply:
    """Responder for target-style chat deployments: plain text ``"Answer: <last user text>"``."""
    return Reply(content=f"Answer: {last_user_text(req.body)}")


# -- Azure ML online endpoint (/score) ----------------------------------------------------


def _score_inputs(body: Mapping[str, Any]) -> list[Any] | None:
    """The list of inputs of an AML scoring body, in either common layout.

    ``{"input_data": [...], "params": {...}}`` (custom scoring scripts) or
    ``{"input_data": {"input_string": [...], "parameters": {...}}}`` (Foundry / model
    catalog chat models such as Phi-3).
    """
    data = body.get("input_data")
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping) and isinstance(data.get("input_string"), list):
        return list(data["input_string"])
    return None


def validate_score(req: StubRequest) -> Reply | None:
    """400 unless the body carries ``input_data`` in one of the layouts AML endpoints accept."""
    body = req.body
    if not isinstance(body, Mapping) or _score_inputs(body) is None:
        return Reply(
            status=400,
            json={
                "message": "The request body must be a JSON object with 'input_data' as a list "
                "or as an object with an 'input_string' list."
            },
        )
    return None


def score_output(req: StubRequest) -> str:
    """Default ``output`` text: ``"Answer: "`` + the last input (a string, or a chat message)."""
    inputs = _score_inputs(req.body) or []
    text = ""
    for item in reversed(inputs):
        if isinstance(item, str):
            text = item
            break
        if isinstance(item, Mapping) and item.get("role", "user") == "user":
            text = _content_text(item.get("content"))
            break
    return f"Answer: {text}"

"""Azure AI Content Safety REST API behaviour of the loopback stub server.

Request/response shapes, ``api-version`` values and input limits follow Microsoft's
documentation as read for this module:

* REST reference, Text Operations - Analyze Text (api-version 2024-09-01):
  https://learn.microsoft.com/rest/api/contentsafety/text-operations/analyze-text —
  ``text`` (max 10k Unicode code points), ``categories``, ``blocklistNames``,
  ``haltOnBlocklistHit``, ``outputType`` (``FourSeverityLevels`` default → 0/2/4/6,
  ``EightSeverityLevels`` → 0-7); answer ``{"blocklistsMatch": [], "categoriesAnalysis":
  [{"category", "severity"}]}``. Also served for 2023-10-01 (same shapes).
* Image Operations - Analyze Image (2023-10-01, 2024-09-01):
  https://learn.microsoft.com/rest/api/contentsafety/image-operations/analyze-image —
  ``image.content`` (base64) or ``image.blobUrl``, ``outputType`` ``FourSeverityLevels`` only.
* Text Operations - Detect Text Protected Material (2024-09-01; 2024-02-15-preview):
  https://learn.microsoft.com/rest/api/contentsafety/text-operations/detect-text-protected-material
  — ``text`` → ``{"protectedMaterialAnalysis": {"detected": bool}}``.
* Text Operations - Shield Prompt (2024-09-01; 2024-02-15-preview) and the Prompt Shields
  REST quickstart — ``userPrompt``, ``documents`` → ``userPromptAnalysis.attackDetected``,
  ``documentsAnalysis[].attackDetected``.
* Groundedness detection quickstart, REST (api-version 2024-09-15-preview; 2024-02-15-preview
  also accepted): https://learn.microsoft.com/azure/ai-services/content-safety/quickstart-groundedness
  — ``domain`` (Generic|Medical), ``task`` (QnA|Summarization), ``qna.query``, ``text``,
  ``groundingSources``, ``reasoning`` (+ ``llmResource``, required with reasoning) →
  ``ungroundedDetected``, ``ungroundedPercentage``, ``ungroundedDetails`` (``text``; with
  reasoning also ``offset``/``length`` in utf8/utf16/codePoint and ``reason``).
* Input limits: "What is Azure AI Content Safety?" → *Input requirements*
  (https://learn.microsoft.com/azure/ai-services/content-safety/overview#input-requirements):
  text:analyze 10K characters; images ≤ 4 MB, 50x50 to 7,200x7,200 px, JPEG/PNG/GIF/BMP/TIFF/
  WEBP; Prompt Shields prompt ≤ 10K characters and ≤ 5 documents totalling ≤ 10K characters;
  groundedness sources ≤ 55,000 characters per call, text and query ≤ 7,500 characters,
  query ≥ 3 words; protected material ≥ 110 and ≤ 10K characters. Earlier revisions of that
  page (and the 2024-02-15-preview reference) gave 1K as the protected-material maximum and
  2,048x2,048 px as the image maximum; :class:`ContentSafetyLimits` makes every limit
  adjustable.
* Errors: the ``Azure.Core.Foundations.ErrorResponse`` envelope ``{"error": {"code",
  "message", ...}}`` plus the ``x-ms-error-code`` header, with ``InvalidRequestBody`` for bodies
  that break the definition (Content Safety error codes page). Missing/unknown ``api-version``
  answer 400 ``MissingApiVersionParameter`` / ``UnsupportedApiVersionValue`` as the Azure REST
  API guidelines prescribe.

Deterministic default answers: ``STUB_SEVERITY=Violence:5,Hate:2`` anywhere in the text (or in
the decoded image bytes) sets severities (others are 0); protected material is detected iff the
text contains ``STUB_PROTECTED``; groundedness is ungrounded iff the text contains
``STUB_UNGROUNDED``; Prompt Shields detect an attack in each input (the user prompt, each
document) containing ``STUB_ATTACK`` or one of the plain-text attack cues of
:data:`evalcli.testing.stub_vulnerable.SHIELD_CUES` (nothing is decoded, so an encoded attack
goes through, as it may with the real service).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalcli.testing.stub_images import image_size
from evalcli.testing.stub_types import (
    CS_GROUNDEDNESS,
    CS_IMAGE_ANALYZE,
    CS_PROTECTED_MATERIAL,
    CS_SHIELD_PROMPT,
    CS_TEXT_ANALYZE,
    Reply,
    StubRequest,
    error_reply,
)
from evalcli.testing.stub_vulnerable import shield_flags

__all__ = [
    "CATEGORIES",
    "CONTENT_SAFETY_API_VERSIONS",
    "ContentSafetyLimits",
    "answer",
    "check_api_version",
    "cs_error",
    "parse_severities",
    "validate",
]

CATEGORIES: tuple[str, ...] = ("Hate", "SelfHarm", "Sexual", "Violence")

CONTENT_SAFETY_API_VERSIONS: Mapping[str, frozenset[str]] = {
    CS_TEXT_ANALYZE: frozenset({"2023-10-01", "2024-09-01"}),
    CS_IMAGE_ANALYZE: frozenset({"2023-10-01", "2024-09-01"}),
    CS_PROTECTED_MATERIAL: frozenset({"2024-09-01", "2024-02-15-preview"}),
    CS_SHIELD_PROMPT: frozenset({"2024-09-01", "2024-02-15-preview"}),
    CS_GROUNDEDNESS: frozenset({"2024-09-15-preview", "2024-02-15-preview"}),
}
"""api-version values each Content Safety route accepts."""


@dataclass(frozen=True)
class ContentSafetyLimits:
    """Documented input limits, enforced with a 400 ``InvalidRequestBody``.

    Lengths count Unicode code points (Python ``len``), as the documentation specifies.
    """

    analyze_text_max_chars: int = 10_000
    image_max_bytes: int = 4 * 1024 * 1024
    image_min_px: int = 50
    image_max_px: int = 7_200
    protected_material_min_chars: int = 110
    protected_material_max_chars: int = 10_000
    shield_prompt_max_chars: int = 10_000
    shield_documents_max_count: int = 5
    shield_documents_max_total_chars: int = 10_000
    groundedness_text_max_chars: int = 7_500
    groundedness_query_max_chars: int = 7_500
    groundedness_query_min_words: int = 3
    groundedness_sources_max_total_chars: int = 55_000


def cs_error(status_code: int, code: str, message: str, *, target: str | None = None) -> Reply:
    """A Content Safety error (``ErrorResponse`` body + ``x-ms-error-code`` header)."""
    extra: dict[str, Any] = {"details": []}
    if target is not None:
        extra["target"] = target
    return error_reply(status_code, code, message, headers={"x-ms-error-code": code}, **extra)


def _invalid(message: str, target: str | None = None) -> Reply:
    return cs_error(400, "InvalidRequestBody", message, target=target)


def check_api_version(route: str, req: StubRequest) -> Reply | None:
    """400 when ``api-version`` is missing or not one the route supports, else ``None``."""
    version = req.query.get("api-version")
    if not version:
        return cs_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    supported = CONTENT_SAFETY_API_VERSIONS[route]
    if version not in supported:
        return cs_error(
            400,
            "UnsupportedApiVersionValue",
            f"Unsupported api-version '{version}'. The supported api-versions are "
            f"'{', '.join(sorted(supported))}'.",
        )
    return None


# -- severities -----------------------------------------------------------------------------

_SEVERITY_RE = re.compile(r"STUB_SEVERITY=([A-Za-z_\-]+:-?\d+(?:,[A-Za-z_\-]+:-?\d+)*)")
_CATEGORY_ALIASES = {
    "hate": "Hate",
    "hateunfairness": "Hate",
    "selfharm": "SelfHarm",
    "sexual": "Sexual",
    "violence": "Violence",
}


def parse_severities(text: str) -> dict[str, int]:
    """Severities (0-7) set by ``STUB_SEVERITY=`` directives in ``text``; later ones win."""
    found: dict[str, int] = {}
    for match in _SEVERITY_RE.finditer(text):
        for item in match.group(1).split(","):
            name, _, value = item.partition(":")
            category = _CATEGORY_ALIASES.get(name.lower().replace("_", "").replace("-", ""))
            if category is not None:
                found[category] = max(0, min(7, int(value)))
    return found


def _trim_to_four_levels(severity: int) -> int:
    # FourSeverityLevels reports the eight-level value rounded down to 0, 2, 4 or 6.
    return severity - severity % 2


def _categories_analysis(
    severities: Mapping[str, int], requested: list[str] | None, *, eight_levels: bool
) -> list[dict[str, Any]]:
    wanted = requested if requested else list(CATEGORIES)
    return [
        {
            "category": c,
            "severity": severities.get(c, 0)
            if eight_levels
            else _trim_to_four_levels(severities.get(c, 0)),
        }
        for c in CATEGORIES
        if c in wanted
    ]


def _check_categories(body: Mapping[str, Any]) -> Reply | None:
    categories = body.get("categories")
    if categories is None:
        return None
    if not isinstance(categories, list) or not all(c in CATEGORIES for c in categories):
        return _invalid(
            f"'categories' must be a list drawn from {', '.join(CATEGORIES)}.", "categories"
        )
    return None


# -- validation -------------------------------------------------------------------------------


def _text_field(body: Mapping[str, Any], name: str) -> str | Reply:
    value = body.get(name)
    if not isinstance(value, str):
        return _invalid(f"The '{name}' field is required and must be a string.", name)
    return value


def _too_long(name: str, length: int, limit: int) -> Reply:
    return _invalid(
        f"The '{name}' field is {length} characters long; the maximum is {limit} characters "
        "(split or truncate it).",
        name,
    )


def _validate_text_analyze(body: Mapping[str, Any], limits: ContentSafetyLimits) -> Reply | None:
    text = _text_field(body, "text")
    if isinstance(text, Reply):
        return text
    if len(text) > limits.analyze_text_max_chars:
        return _too_long("text", len(text), limits.analyze_text_max_chars)
    output_type = body.get("outputType", "FourSeverityLevels")
    if output_type not in ("FourSeverityLevels", "EightSeverityLevels"):
        return _invalid(
            "'outputType' must be 'FourSeverityLevels' or 'EightSeverityLevels'.", "outputType"
        )
    names = body.get("blocklistNames")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        return _invalid("'blocklistNames' must be a list of strings.", "blocklistNames")
    return _check_categories(body)


def _validate_protected(body: Mapping[str, Any], limits: ContentSafetyLimits) -> Reply | None:
    text = _text_field(body, "text")
    if isinstance(text, Reply):
        return text
    if len(text) > limits.protected_material_max_chars:
        return _too_long("text", len(text), limits.protected_material_max_chars)
    if len(text) < limits.protected_material_min_chars:
        return _invalid(
            f"The 'text' field is {len(text)} characters long; protected material detection "
            f"needs at least {limits.protected_material_min_chars} characters.",
            "text",
        )
    return None


def _validate_shield(body: Mapping[str, Any], limits: ContentSafetyLimits) -> Reply | None:
    prompt = body.get("userPrompt")
    documents = body.get("documents")
    if prompt is None and documents is None:
        return _invalid("Provide 'userPrompt', 'documents' or both.")
    if prompt is not None:
        if not isinstance(prompt, str):
            return _invalid("'userPrompt' must be a string.", "userPrompt")
        if len(prompt) > limits.shield_prompt_max_chars:
            return _too_long("userPrompt", len(prompt), limits.shield_prompt_max_chars)
    if documents is not None:
        if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
            return _invalid("'documents' must be a list of strings.", "documents")
        if len(documents) > limits.shield_documents_max_count:
            return _invalid(
                f"{len(documents)} documents were sent; at most "
                f"{limits.shield_documents_max_count} are allowed per call.",
                "documents",
            )
        total = sum(len(d) for d in documents)
        if total > limits.shield_documents_max_total_chars:
            return _too_long("documents", total, limits.shield_documents_max_total_chars)
    return None


def _validate_groundedness(body: Mapping[str, Any], limits: ContentSafetyLimits) -> Reply | None:
    text = _text_field(body, "text")
    if isinstance(text, Reply):
        return text
    if len(text) > limits.groundedness_text_max_chars:
        return _too_long("text", len(text), limits.groundedness_text_max_chars)
    domain = body.get("domain", "Generic")
    if not isinstance(domain, str) or domain.lower() not in ("generic", "medical"):
        return _invalid("'domain' must be 'Generic' or 'Medical'.", "domain")
    task = body.get("task", "Summarization")
    if not isinstance(task, str) or task.lower() not in ("qna", "summarization"):
        return _invalid("'task' must be 'QnA' or 'Summarization'.", "task")
    sources = body.get("groundingSources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        return _invalid(
            "'groundingSources' must be a non-empty list of strings.", "groundingSources"
        )
    total = sum(len(s) for s in sources)
    if total > limits.groundedness_sources_max_total_chars:
        return _too_long("groundingSources", total, limits.groundedness_sources_max_total_chars)
    if task.lower() == "qna":
        qna = body.get("qna")
        query = qna.get("query") if isinstance(qna, Mapping) else None
        if not isinstance(query, str):
            return _invalid("A QnA task needs 'qna.query' (a string).", "qna.query")
        if len(query) > limits.groundedness_query_max_chars:
            return _too_long("qna.query", len(query), limits.groundedness_query_max_chars)
        if len(query.split()) < limits.groundedness_query_min_words:
            return _invalid(
                f"'qna.query' has {len(query.split())} words; at least "
                f"{limits.groundedness_query_min_words} are required.",
                "qna.query",
            )
    if body.get("reasoning") is True and not isinstance(body.get("llmResource"), Mapping):
        return _invalid(
            "'reasoning' needs 'llmResource' (your Azure OpenAI GPT-4o deployment).", "llmResource"
        )
    return None


def _decoded_image(body: Mapping[str, Any]) -> bytes | None:
    image = body.get("image")
    content = image.get("content") if isinstance(image, Mapping) else None
    if not isinstance(content, str):
        return None
    return base64.b64decode(content, validate=True)


def _validate_image(body: Mapping[str, Any], limits: ContentSafetyLimits) -> Reply | None:
    image = body.get("image")
    if not isinstance(image, Mapping) or not (
        isinstance(image.get("content"), str) or isinstance(image.get("blobUrl"), str)
    ):
        return _invalid("'image' needs 'content' (base64) or 'blobUrl'.", "image")
    if "outputType" in body and body["outputType"] != "FourSeverityLevels":
        return _invalid("Image analysis supports only 'FourSeverityLevels'.", "outputType")
    check = _check_categories(body)
    if check is not None or not isinstance(image.get("content"), str):
        return check
    try:
        data = _decoded_image(body) or b""
    except (binascii.Error, ValueError):
        return _invalid(
            "'image.content' is not valid base64 (send the bare base64, not a data URL).",
            "image.content",
        )
    if len(data) > limits.image_max_bytes:
        return _invalid(
            f"The image is {len(data)} bytes; the maximum is {limits.image_max_bytes} bytes.",
            "image.content",
        )
    sniffed = image_size(data)
    if sniffed is None:
        return _invalid(
            "The image format is not supported (JPEG, PNG, GIF, BMP, TIFF or WEBP).",
            "image.content",
        )
    _, size = sniffed
    if size is not None:
        w, h = size
        lo, hi = limits.image_min_px, limits.image_max_px
        if not (lo <= w <= hi and lo <= h <= hi):
            return _invalid(
                f"The image is {w}x{h} pixels; dimensions must be between {lo}x{lo} and {hi}x{hi}.",
                "image.content",
            )
    return None


_VALIDATORS = {
    CS_TEXT_ANALYZE: _validate_text_analyze,
    CS_IMAGE_ANALYZE: _validate_image,
    CS_PROTECTED_MATERIAL: _validate_protected,
    CS_SHIELD_PROMPT: _validate_shield,
    CS_GROUNDEDNESS: _validate_groundedness,
}


def validate(route: str, req: StubRequest, limits: ContentSafetyLimits) -> Reply | None:
    """400 ``InvalidRequestBody`` when the body breaks the API definition or a limit."""
    if not isinstance(req.body, Mapping):
        return _invalid("The request body must be a JSON object.")
    return _VALIDATORS[route](req.body, limits)


# -- default answers --------------------------------------------------------------------------


def _ungrounded_detail(text: str, reasoning: bool) -> dict[str, Any]:
    detail: dict[str, Any] = {"text": text}
    if reasoning:
        detail["offset"] = {"utf8": 0, "utf16": 0, "codePoint": 0}
        detail["length"] = {
            "utf8": len(text.encode("utf-8")),
            "utf16": len(text.encode("utf-16-le")) // 2,
            "codePoint": len(text),
        }
        detail["reason"] = "stub: the text carries the STUB_UNGROUNDED directive"
    return detail


def answer(route: str, req: StubRequest) -> Reply:
    """The deterministic default answer for a validated Content Safety request."""
    body: Mapping[str, Any] = req.body
    if route == CS_TEXT_ANALYZE:
        return Reply(
            json={
                "blocklistsMatch": [],
                "categoriesAnalysis": _categories_analysis(
                    parse_severities(body["text"]),
                    body.get("categories"),
                    eight_levels=body.get("outputType") == "EightSeverityLevels",
                ),
            }
        )
    if route == CS_IMAGE_ANALYZE:
        data = _decoded_image(body) or b""
        return Reply(
            json={
                "categoriesAnalysis": _categories_analysis(
                    parse_severities(data.decode("latin-1")),
                    body.get("categories"),
                    eight_levels=False,
                )
            }
        )
    if route == CS_PROTECTED_MATERIAL:
        detected = "STUB_PROTECTED" in body["text"]
        return Reply(json={"protectedMaterialAnalysis": {"detected": detected}})
    if route == CS_SHIELD_PROMPT:
        result: dict[str, Any] = {}
        if isinstance(body.get("userPrompt"), str):
            result["userPromptAnalysis"] = {"attackDetected": shield_flags(body["userPrompt"])}
        result["documentsAnalysis"] = [
            {"attackDetected": shield_flags(d)} for d in body.get("documents") or []
        ]
        return Reply(json=result)
    # CS_GROUNDEDNESS
    text: str = body["text"]
    ungrounded = "STUB_UNGROUNDED" in text
    return Reply(
        json={
            "ungroundedDetected": ungrounded,
            "ungroundedPercentage": 1.0 if ungrounded else 0.0,
            "ungroundedDetails": (
                [_ungrounded_detail(text, body.get("reasoning") is True)] if ungrounded else []
            ),
        }
    )

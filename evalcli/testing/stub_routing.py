"""Routing, request checks and answer rendering of the loopback stub server.

Pure functions of a :class:`~evalcli.testing.stub_types.StubRequest` and the server settings:
which route a path is, which model/deployment a request names, whether the real service would
refuse it (api-version, authentication, deployment, body), and how a :class:`Reply` becomes
status, headers and bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from evalcli.testing import stub_chat, stub_content_safety, stub_vulnerable
from evalcli.testing.stub_content_safety import ContentSafetyLimits
from evalcli.testing.stub_types import (
    AML_SCORE,
    AZURE_CHAT,
    AZURE_V1_CHAT,
    CHAT_ROUTES,
    CONTENT_SAFETY_ROUTES,
    CS_GROUNDEDNESS,
    CS_IMAGE_ANALYZE,
    CS_PROTECTED_MATERIAL,
    CS_SHIELD_PROMPT,
    CS_TEXT_ANALYZE,
    OPENAI_CHAT,
    Reply,
    Responder,
    StubRequest,
    error_reply,
)

__all__ = [
    "RESOURCE_NOT_FOUND",
    "UNKNOWN_ROUTE",
    "check_request",
    "default_answer",
    "model_of",
    "render",
    "route_of",
]

UNKNOWN_ROUTE = "unknown"

_EXACT_ROUTES = {
    "/v1/chat/completions": OPENAI_CHAT,
    "/openai/v1/chat/completions": AZURE_V1_CHAT,
    "/score": AML_SCORE,
    "/contentsafety/text:analyze": CS_TEXT_ANALYZE,
    "/contentsafety/image:analyze": CS_IMAGE_ANALYZE,
    "/contentsafety/text:detectProtectedMaterial": CS_PROTECTED_MATERIAL,
    "/contentsafety/text:shieldPrompt": CS_SHIELD_PROMPT,
    "/contentsafety/text:detectGroundedness": CS_GROUNDEDNESS,
}
_AZURE_DEPLOYMENT_RE = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_AZURE_API_VERSION_RE = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")

RESOURCE_NOT_FOUND = error_reply(404, "404", "Resource not found")
"""What Azure answers for an unknown path or a missing / unknown Azure OpenAI api-version."""

# Azure's key error starts with this sentence; clients and people grep for it.
_AZURE_KEY_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Check that the key "
    "belongs to an active resource and that the endpoint is the resource's own."
)
_AZURE_TOKEN_DENIED = (
    "Unauthorized. The access token is missing, invalid, expired, or issued for another "
    "audience (expected https://cognitiveservices.azure.com)."
)


def route_of(path: str) -> tuple[str, str | None]:
    """(route name, deployment named in the path or ``None``) for a URL path."""
    route = _EXACT_ROUTES.get(path)
    if route is not None:
        return route, None
    match = _AZURE_DEPLOYMENT_RE.match(path)
    if match:
        return AZURE_CHAT, match.group(1)
    return UNKNOWN_ROUTE, None


def model_of(
    route: str, deployment: str | None, body: Any, headers: Mapping[str, str]
) -> str | None:
    """Model (OpenAI-style body), deployment (Azure path, AML header) or ``None``."""
    if route in (OPENAI_CHAT, AZURE_V1_CHAT):
        model = body.get("model") if isinstance(body, Mapping) else None
        return model if isinstance(model, str) else None
    if route == AML_SCORE:
        return headers.get("azureml-model-deployment")
    return deployment


def check_request(
    req: StubRequest,
    *,
    api_key: str | None,
    bearer_tokens: frozenset[str],
    models: frozenset[str] | None,
    azure_api_versions: frozenset[str] | None,
    limits: ContentSafetyLimits,
) -> Reply | None:
    """The refusal the real service would answer with, or ``None`` when the request is fine.

    Order: (Azure OpenAI) api-version, authentication, (Content Safety) api-version, body
    validation and limits, then the model/deployment name.
    """
    route = req.route
    if route == UNKNOWN_ROUTE:
        return RESOURCE_NOT_FOUND
    if req.method != "POST":
        return error_reply(405, "405", f"{req.method} is not supported on {req.path}")
    if route == AZURE_CHAT:
        # Azure routes requests by api-version before anything else: no or an unknown
        # version is a plain 404, whatever the key.
        version = req.query.get("api-version", "")
        if azure_api_versions is not None:
            known = version in azure_api_versions
        else:
            known = _AZURE_API_VERSION_RE.fullmatch(version) is not None
        if not known:
            return RESOURCE_NOT_FOUND
    if api_key is not None:
        refusal = _check_auth(req, api_key, bearer_tokens)
        if refusal is not None:
            return refusal
    if route in CONTENT_SAFETY_ROUTES:
        return stub_content_safety.check_api_version(route, req) or stub_content_safety.validate(
            route, req, limits
        )
    if route == AML_SCORE:
        return stub_chat.validate_score(req)
    invalid = stub_chat.validate_chat(req)
    if invalid is not None:
        return invalid
    if models is not None and req.model not in models:
        if route == OPENAI_CHAT:
            return error_reply(
                404,
                "model_not_found",
                f"The model `{req.model}` does not exist or you do not have access to it.",
                error_type="invalid_request_error",
            )
        return error_reply(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. A deployment created in "
            "the last few minutes may not be reachable yet.",
        )
    return None


def _check_auth(req: StubRequest, key: str, bearer_tokens: frozenset[str]) -> Reply | None:
    auth = req.headers.get("authorization", "")
    bearer = auth[7:] if auth[:7].lower() == "bearer " else None
    route = req.route
    if route == OPENAI_CHAT:
        if bearer == key:
            return None
        if not bearer:
            message = "No API key was provided; send it as 'Authorization: Bearer <key>'."
            return error_reply(401, None, message, error_type="invalid_request_error")
        # Like OpenAI, show only the ends of a wrong key.
        masked = bearer[:3] + "*" * max(0, len(bearer) - 7) + bearer[-4:]
        return error_reply(
            401,
            "invalid_api_key",
            f"Incorrect API key provided: {masked}.",
            error_type="invalid_request_error",
        )
    if route == AML_SCORE:
        if bearer is not None and (bearer == key or bearer in bearer_tokens):
            return None
        return error_reply(
            401, "Unauthorized", "A valid key or token is required in 'Authorization'."
        )
    header = "ocp-apim-subscription-key" if route in CONTENT_SAFETY_ROUTES else "api-key"
    supplied = req.headers.get(header)
    if supplied is not None:
        return None if supplied == key else error_reply(401, "401", _AZURE_KEY_DENIED)
    # The Azure v1 API also takes the key as a bearer token (what OpenAI() sends).
    if bearer is not None and (
        bearer in bearer_tokens or (route == AZURE_V1_CHAT and bearer == key)
    ):
        return None
    if bearer is not None:
        return error_reply(401, "401", _AZURE_TOKEN_DENIED)
    return error_reply(401, "401", _AZURE_KEY_DENIED)


def default_answer(req: StubRequest, chat_default: Responder) -> Reply:
    """The route's default behaviour for a request that passed :func:`check_request`."""
    if req.route in CHAT_ROUTES:
        if req.model in stub_vulnerable.VULNERABLE_DEPLOYMENTS:  # the red-teaming demo app
            return stub_vulnerable.answer(req)
        return chat_default(req) or stub_chat.default_judge(req)
    if req.route == AML_SCORE:
        return Reply(content=stub_chat.score_output(req))
    return stub_content_safety.answer(req.route, req)


def render(req: StubRequest, reply: Reply) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body bytes) for ``reply`` answering ``req``."""
    headers = [("x-request-id", f"stub-{req.index}")]
    content_type = reply.content_type
    if reply.content is not None:
        if req.route in CHAT_ROUTES:
            completion = stub_chat.chat_completion(
                req, reply.content, finish_reason=reply.finish_reason
            )
            payload = json.dumps(completion).encode()
        elif req.route == AML_SCORE:
            payload = json.dumps({"output": reply.content}).encode()
        else:
            payload = reply.content.encode()
            content_type = "text/plain; charset=utf-8"
    elif reply.json is not None:
        payload = json.dumps(reply.json).encode()
    elif reply.body is not None:
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
    else:
        payload = b""
    headers.append(("Content-Type", content_type))
    headers.extend(reply.headers.items())
    return reply.status, headers, payload

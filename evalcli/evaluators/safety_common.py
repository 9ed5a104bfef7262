"""What the risk and safety evaluators share: settings, backend choice, text inputs.

Every safety evaluator runs on one of two backends, chosen by its own ``backend:`` key or,
failing that, the run-wide ``safety.backend`` (default ``judge``):

* ``judge`` - the configured judge model with our rubrics in ``prompts/``;
* ``azure_content_safety`` - the Azure AI Content Safety REST API, through one client per
  run (:class:`~evalcli.safety.operations.ContentSafety`, kept in the build services).
"""

from __future__ import annotations

from typing import Any

from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.context import BuildContext
from evalcli.evaluators.params import (
    DefectThreshold,
    JudgedParams,
    SafetyBackend,
    SeverityThreshold,
)
from evalcli.safety.operations import ContentSafety


class SafetyParams(JudgedParams):
    """Settings every risk and safety evaluator takes: its backend (default: the run's
    ``safety.backend``), and the judge and rubric used on the ``judge`` backend."""

    backend: SafetyBackend | None = None


class HarmParams(SafetyParams):
    """Settings of a harm on the 0-7 severity scale."""

    threshold: SeverityThreshold | None = None
    defect_threshold: DefectThreshold | None = None


def resolve_backend(backend: SafetyBackend | None, ctx: BuildContext) -> tuple[SafetyBackend, str]:
    """(backend, config location that chose it): the evaluator's own, else the run's."""
    if backend is not None:
        return backend, ctx.where("backend")
    return ctx.loaded.config.safety.backend, ctx.loaded.where("safety", "backend")


def content_safety(ctx: BuildContext, where: str) -> ContentSafety:
    """The run's Content Safety operations, created on first use.

    The client joins the judge client pool, so its calls appear in the usage totals and
    its connections close with the pool.

    Raises:
        ConfigError: no endpoint.
        ResourceError: neither a key nor azure-identity for Entra ID.
    """
    existing = ctx.services.get("content_safety")
    if isinstance(existing, ContentSafety):
        return existing
    from evalcli.remote.auth import entra_token_provider
    from evalcli.safety.client import ContentSafetyClient

    cfg = ctx.loaded.config.safety
    if not cfg.endpoint:
        raise ConfigError(
            f"evaluator {ctx.alias!r} uses backend azure_content_safety, which needs "
            "safety.endpoint",
            where=where,
            hint="add safety: {endpoint: https://<resource>.cognitiveservices.azure.com, "
            "api_key: ${env:CONTENT_SAFETY_KEY}}",
        )
    pool = ctx.client_pool()
    token = None
    if cfg.api_key is None:
        token = pool.token_provider or entra_token_provider(
            f"evaluator {ctx.alias!r} uses backend azure_content_safety without safety.api_key",
            where=where,
            hint="set safety.api_key: ${env:CONTENT_SAFETY_KEY}, or pip install 'evalcli[entra]'",
        )
    client = ContentSafetyClient(cfg, concurrency=pool.concurrency, token_provider=token)
    pool.others.append(client)
    ops = ContentSafety(
        client, api_version=cfg.api_version, groundedness_api_version=cfg.groundedness_api_version
    )
    ctx.services["content_safety"] = ops
    return ops


def refuse_judge_keys(params: SafetyParams, ctx: BuildContext, backend: SafetyBackend) -> None:
    """``prompt`` and ``judge`` mean nothing on Azure AI Content Safety: refuse them there."""
    if backend != "azure_content_safety":
        return
    for key, value in (("prompt", params.prompt), ("judge", params.judge)):
        if value is not None:
            raise ConfigError(
                f"evaluators.{ctx.alias}.{key} applies to backend judge only; this "
                "evaluator uses azure_content_safety",
                where=ctx.where(key, key=True),
            )


def text_input(inputs: dict[str, Any], name: str) -> str:
    """An input that must be text (a row error otherwise)."""
    value = inputs.get(name)
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise RowError("bad-input", f"input {name!r} must be text, got {kind}")
    return value


def context_sources(value: Any) -> list[str]:
    """A ``context`` input as a list of documents: one text, or a list of texts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    kind = "null" if value is None else type(value).__name__
    raise RowError("bad-input", f"input 'context' must be text or a list of texts, got {kind}")

"""What the risk and safety evaluators share: backend choice, spec checks, turns, text inputs.

Every safety evaluator runs on one of two backends, chosen by its own ``backend:`` key or,
failing that, the run-wide ``safety.backend`` (default ``judge``):

* ``judge`` - the configured judge model with our rubrics in ``prompts/``;
* ``azure_content_safety`` - the Azure AI Content Safety REST API, through one client per
  run (:class:`~evalcli.safety.operations.ContentSafety`, kept in the build services).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from evalcli.config import EvaluatorConfig, SafetyBackend, did_you_mean
from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import Outputs, Role
from evalcli.evaluators.context import BuildContext
from evalcli.safety.operations import ContentSafety

#: Settings recorded in results for reproducibility.
Described = dict[str, Any]


def resolve_backend(spec: EvaluatorConfig, ctx: BuildContext) -> tuple[SafetyBackend, str]:
    """(backend, config location that chose it): the evaluator's own, else the run's."""
    if spec.backend is not None:
        return spec.backend, ctx.where("backend")
    return ctx.loaded.config.safety.backend, ctx.loaded.where("safety", "backend")


def content_safety(ctx: BuildContext, where: str) -> ContentSafety:
    """The run's Content Safety operations, created on first use.

    The client joins the judge client pool, so its calls appear in the usage totals and
    its connections close with the pool.

    Raises:
        ConfigError: no endpoint, or neither a key nor azure-identity for Entra ID.
    """
    existing = ctx.services.get("content_safety")
    if isinstance(existing, ContentSafety):
        return existing
    from evalcli.judge.client import ClientPool
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
    pool = ctx.services.setdefault("clients", ClientPool())
    assert isinstance(pool, ClientPool)
    token = None
    if cfg.api_key is None:
        token = pool.token_provider or _entra_provider(ctx, where)
    client = ContentSafetyClient(cfg, concurrency=pool.concurrency, token_provider=token)
    pool.others.append(client)
    ops = ContentSafety(
        client, api_version=cfg.api_version, groundedness_api_version=cfg.groundedness_api_version
    )
    ctx.services["content_safety"] = ops
    return ops


def _entra_provider(ctx: BuildContext, where: str) -> Any:
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ConfigError(
            f"evaluator {ctx.alias!r} uses backend azure_content_safety without "
            "safety.api_key, so Microsoft Entra ID would be used, but azure-identity is not "
            "installed",
            where=where,
            hint="set safety.api_key: ${env:CONTENT_SAFETY_KEY}, or pip install 'evalcli[entra]'",
        ) from None
    from evalcli.judge.client import ENTRA_SCOPE

    return get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)


def check_spec(
    spec: EvaluatorConfig,
    ctx: BuildContext,
    backend: SafetyBackend,
    *,
    params: Sequence[str] = (),
) -> None:
    """Refuse keys that mean nothing for this evaluator on this backend."""
    for key in spec.params:
        if key not in params:
            allowed = f"its params: {', '.join(params)}" if params else "it takes no params"
            raise ConfigError(
                f"unknown key 'evaluators.{ctx.alias}.params.{key}'",
                where=ctx.where("params", key, key=True),
                hint=did_you_mean(key, tuple(params)) or allowed,
            )
    if backend == "azure_content_safety":
        for key in ("prompt", "judge"):
            if getattr(spec, key) is not None:
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


class TurnCombiner:
    """Mixin: how per-turn results of a conversation combine into one row result.

    ``conversation_aggregation`` tells the runner to aggregate numeric per-turn values with
    max (safety is about the worst turn). :meth:`combine_turns` goes further and keeps the
    worst turn *as a whole*, so that its label, reason and pass/fail stay consistent with
    its score (a max score next to the last turn's label would contradict itself); token
    counts are summed over the turns.
    """

    conversation_aggregation: Literal["max", "min", "mean"] = "max"

    def badness(self, outputs: Outputs) -> float:
        """How bad one turn's result is (higher = worse)."""
        raise NotImplementedError

    def combine_turns(self, turns: Sequence[Outputs]) -> Outputs:
        """One result for several turns: the worst turn (latest among equals), tokens summed."""
        if not turns:
            raise ValueError("no turns to combine")
        worst = max(range(len(turns)), key=lambda i: (self.badness(turns[i]), i))
        combined = dict(turns[worst])
        outputs = getattr(self, "outputs", ())
        for f in outputs:
            if f.role in (Role.PROMPT_TOKENS, Role.COMPLETION_TOKENS):
                combined[f.key] = sum(int(t.get(f.key) or 0) for t in turns)
        return combined

"""Credentials for remote calls: a key header, or Microsoft Entra ID bearer tokens.

The one place that knows the Entra ID scope and how to get azure-identity's token provider
(the judge, chat targets and Content Safety all use it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from evalcli.errors import ResourceError
from evalcli.remote.failures import TokenUnavailableError

#: The scope of Azure AI services tokens (Azure OpenAI and Content Safety alike).
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"

#: Returns a bearer token (azure-identity caches and refreshes it).
TokenProvider = Callable[[], str]

#: Returns the headers that authenticate one attempt.
Auth = Callable[[], Mapping[str, str]]


def entra_token_provider(
    unset: str = "judge.api_key is not set",
    *,
    where: str | None = None,
    hint: str = "pip install 'evalcli[entra]' (or set api_key: ${env:AZURE_OPENAI_API_KEY})",
) -> TokenProvider:
    """A bearer-token provider from azure-identity's ``DefaultAzureCredential``.

    Args:
        unset: Says which key is missing, so that Entra ID is used (starts the message).
        where: The config location to name, if any.
        hint: What the user can do instead.

    Raises:
        ResourceError: azure-identity is not installed (exit 2, before any call).
    """
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ResourceError(
            f"{unset}, so Microsoft Entra ID would be used, but azure-identity is not installed",
            where=where,
            hint=hint,
        ) from None
    provider: TokenProvider = get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)
    return provider


def key_header(name: str, secret: str) -> Auth:
    """Authenticate with a fixed header (``Ocp-Apim-Subscription-Key: <key>``)."""
    headers = {name: secret}
    return lambda: headers


def bearer(provider: TokenProvider) -> Auth:
    """Authenticate with ``Authorization: Bearer <token>``, asking ``provider`` per attempt.

    A provider that fails raises
    :class:`~evalcli.remote.failures.TokenUnavailableError`, which stops the run: without a
    token no later call could succeed either.
    """

    def headers() -> Mapping[str, str]:
        return {"Authorization": f"Bearer {checked_token(provider)}"}

    return headers


def checked_token(provider: TokenProvider) -> str:
    """``provider()``, with any failure turned into a :class:`TokenUnavailableError`."""
    try:
        return provider()
    except Exception as exc:  # azure-identity raises several unrelated types
        raise TokenUnavailableError(f"{type(exc).__name__}: {exc}") from exc

"""The offline demo: environment variables that point the sample configs at the stub server.

The sample configs in ``configs/`` read their endpoints and keys from ``${env:NAME}``; the
stub server serves every one of those services on one base URL. ``python -m
evalcli.testing.stub_server`` prints :func:`demo_exports` right after its URL, so a user can
paste them into a shell and run any sample config without an Azure subscription. A test
checks that every ``${env:NAME}`` used in ``configs/*.yaml`` is listed in :data:`DEMO_ENV`.
"""

from __future__ import annotations

import shlex

__all__ = ["DEMO_ENV", "NO_AUTH_KEY", "demo_env", "demo_exports"]

#: Variable name -> value, with ``{url}`` (the base URL) and ``{key}`` (the API key) filled in.
DEMO_ENV: dict[str, str] = {
    # Azure OpenAI judge and chat-deployment targets (any deployment name is served).
    "AZURE_OPENAI_ENDPOINT": "{url}",
    "AZURE_OPENAI_API_KEY": "{key}",
    # Azure AI Content Safety (safety.backend: azure_content_safety).
    "CONTENT_SAFETY_ENDPOINT": "{url}",
    "CONTENT_SAFETY_KEY": "{key}",
    # An Azure ML online endpoint (http target), e.g. configs/phi3-endpoint.yaml.
    "PHI3_ENDPOINT_URL": "{url}/score",
    "PHI3_KEY": "{key}",
}

#: Exported as the key when the server runs without authentication (``--api-key ''``): the
#: configs still need some key, or evalcli would try Microsoft Entra ID instead.
NO_AUTH_KEY = "no-auth"


def demo_env(url: str, api_key: str | None) -> dict[str, str]:
    """The demo variables for a server at ``url`` expecting ``api_key`` (None: no auth)."""
    key = api_key or NO_AUTH_KEY
    return {name: value.format(url=url, key=key) for name, value in DEMO_ENV.items()}


def demo_exports(url: str, api_key: str | None) -> list[str]:
    """Shell lines to paste: a comment, then one ``export NAME=value`` per variable."""
    lines = [
        "# Offline demo: paste these lines into your shell, then run any sample config, "
        "e.g. evalcli run configs/foundry-phi3.yaml"
    ]
    lines += [f"export {n}={shlex.quote(v)}" for n, v in demo_env(url, api_key).items()]
    return lines

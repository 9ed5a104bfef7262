"""A shared, thread-safe client for the Azure AI Content Safety REST API.

One :class:`ContentSafetyClient` per run, shared by every thread. Its calls go through an
:class:`~evalcli.remote.endpoint.Endpoint` (retry policy, health and fatal latch,
statistics, concurrency limit, call cache) over a pooled httpx2 transport
(:mod:`evalcli.remote.http`): 429 (honouring ``Retry-After``), 408/409, 5xx, timeouts and
connection errors are retried. What is left here is what Content Safety says:

* 401/403, a 404 (wrong endpoint, or the feature is not offered in the resource's region)
  and an api-version the service refuses stop the run at once
  (:class:`~evalcli.errors.RemoteError`, exit 3): no later row could succeed.
* If the first calls of the run all fail after their retries (unreachable endpoint, 5xx),
  the run stops too.
* A 400 ``InvalidRequestBody`` is about one row's input (an image the service cannot read,
  say): a row error, which never counts towards the rule above.

Authentication is the ``Ocp-Apim-Subscription-Key`` header, or a Microsoft Entra ID bearer
token when no key is configured. Messages name the endpoint and operation, never the key.

Answers go to the run's persistent call cache (:mod:`evalcli.cache`) when the run has one:
the key covers the operation, endpoint host and path, api-version and the whole request body
(never the key or token), so changing any of them makes a new call. Only successful answers
(a 2xx JSON object) are stored; failures are not, so the next run tries them again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from evalcli.config import SafetyConfig
from evalcli.errors import RowError
from evalcli.remote.auth import TokenProvider, bearer, key_header
from evalcli.remote.client import EndpointClient
from evalcli.remote.endpoint import Endpoint, Payload
from evalcli.remote.failures import (
    Classifier,
    Report,
    StatusError,
    TokenUnavailableError,
    TransportError,
)
from evalcli.remote.policy import RetryPolicy, Verdict
from evalcli.remote.transport import HttpRequest, HttpResponse, HttpTransport

if TYPE_CHECKING:
    pass

T = TypeVar("T")

#: The ``kind`` of Content Safety entries in the call cache (``evalcli cache info``).
CACHE_KIND = "content_safety"

#: Error codes (body ``error.code`` / ``x-ms-error-code``) that mean the configured
#: api-version is wrong: a configuration problem, so the run stops.
_API_VERSION_CODES = frozenset({"MissingApiVersionParameter", "UnsupportedApiVersionValue"})


class BadAnswerError(TransportError):
    """A 2xx answer whose body is not a JSON object."""

    def __init__(self, raw: str):
        super().__init__("the answer is not a JSON object")
        self.raw = raw


class ContentSafetyClient(EndpointClient):
    """POSTs to ``{endpoint}/contentsafety/<operation>?api-version=...`` through one endpoint.

    Args:
        cfg: The run's ``safety:`` settings (endpoint, key, timeouts, retries).
        concurrency: Connections and calls in flight when ``cfg.concurrency`` is unset.
        token_provider: Entra ID bearer tokens; required when ``cfg.api_key`` is unset.
        transport: Sends the attempts; None: httpx2 with the key or token (tests pass a fake).
    """

    def __init__(
        self,
        cfg: SafetyConfig,
        *,
        concurrency: int = 8,
        token_provider: TokenProvider | None = None,
        transport: HttpTransport | None = None,
    ):
        if cfg.endpoint is None:
            raise ValueError("safety.endpoint is required")  # checked at build time already
        self.cfg = cfg
        self.endpoint = cfg.endpoint.rstrip("/")
        secret = cfg.api_key.get_secret_value() if cfg.api_key else None
        limit = cfg.concurrency or concurrency
        if transport is None:
            from evalcli.remote.http import Httpx2Transport

            if secret is not None:
                auth = key_header("Ocp-Apim-Subscription-Key", secret)
            elif token_provider is not None:
                auth = bearer(token_provider)
            else:
                raise ValueError("a key or a token provider is required")
            transport = Httpx2Transport(timeout_s=cfg.timeout_s, limit=limit, auth=auth)
        self.remote: Endpoint[HttpRequest, HttpResponse] = Endpoint(
            self.label,
            transport,
            policy=RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s),
            classifier=SafetyClassifier(timeout_s=cfg.timeout_s, secret=secret),
            limit=limit,
            row_kind="content-safety",
            cache_kind=CACHE_KIND,
        )
        self.shared = SharedCalls()

    @property
    def label(self) -> str:
        """``content_safety azure_content_safety at https://...`` (no secrets)."""
        return f"content_safety azure_content_safety at {self.endpoint}"

    def scrub(self, text: str) -> str:
        """Remove the key from a message, should a server ever echo it."""
        return self.remote.classifier.scrub(text)

    def cache_key(self, operation: str, body: Mapping[str, Any], api_version: str) -> str:
        """What determines an answer: operation, endpoint host and path, api-version, body.

        The key or token stays out: it says who asks, not what is asked.
        """
        from evalcli.cache import cache_key

        where = urlsplit(self.endpoint)
        return cache_key(
            {
                "kind": CACHE_KIND,
                "operation": operation,
                "host": where.netloc.lower(),
                "path": where.path,
                "api_version": api_version,
                "body": dict(body),
            }
        )

    def post(self, operation: str, body: Mapping[str, Any], *, api_version: str) -> dict[str, Any]:
        """One API call, answered from the call cache when it holds it, else made (retried
        per policy) and stored; returns the answer's JSON object.

        Raises:
            RemoteError: the service refuses us or is unusable (the run must stop).
            RowError: this call failed (the row records the error).
        """
        key = self.cache_key(operation, body, api_version) if self.cache is not None else None
        request = HttpRequest(
            "POST",
            f"{self.endpoint}/contentsafety/{operation}",
            json=body,
            params={"api-version": api_version},
        )
        result = self.remote.call(
            request,
            _read,
            what=f"Azure AI Content Safety {operation}",
            scope=operation,
            key=key,
        )
        # Stored even if the answer later proves unusable (a missing severity, say):
        # reading it is deterministic, as for judge answers that fail to parse.
        return result.payload


def _read(response: HttpResponse) -> Payload:
    """The answer's JSON object; an error status or a body that is not one fails the attempt."""
    if response.status >= 300:
        code, message = _error_detail(response)
        raise StatusError(response.status, code=code, message=message, headers=response.headers)
    try:
        data = response.json()
    except ValueError:
        raise BadAnswerError(response.text[:2000]) from None
    if not isinstance(data, dict):
        raise BadAnswerError(response.text[:2000])
    return data


def _error_detail(response: HttpResponse) -> tuple[str | None, str]:
    """(error code, message) from an ``{"error": {"code", "message"}}`` body or headers."""
    code: str | None = response.headers.get("x-ms-error-code")
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        if isinstance(err.get("code"), str):
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
    return code, message[:300]


class SafetyClassifier(Classifier):
    """What Content Safety's answers mean: some statuses stop the run, a 400 is the row's."""

    def verdict(self, exc: BaseException) -> tuple[Verdict, float | None]:
        """A 404 or a refused api-version is fatal; otherwise the shared rules."""
        if isinstance(exc, StatusError) and (exc.status == 404 or exc.code in _API_VERSION_CODES):
            return "fatal", None
        return super().verdict(exc)

    def report(self, exc: BaseException, attempts: int, verdict: Verdict) -> Report:
        """The shared report, with the raw answer kept for an unusable one and a reason and
        hint that name Content Safety's settings."""
        base = super().report(exc, attempts, verdict)
        kind, message, extra = base.kind, base.message, dict(base.extra)
        if isinstance(exc, BadAnswerError):
            kind, message = "bad-answer", "the answer is not a JSON object"
            extra["content_safety_raw_output"] = self.scrub(exc.raw)
        return Report(
            kind,
            message,
            extra=extra,
            # A 400 is about this row's input (an image the service cannot read, say).
            counts=not (isinstance(exc, StatusError) and exc.status == 400),
            reason=_fatal_reason(exc, verdict) or base.reason,
            hint=_fatal_hint(exc),
        )


def _fatal_reason(exc: BaseException, verdict: Verdict) -> str | None:
    if isinstance(exc, StatusError) and verdict == "fatal":
        if exc.status in (401, 403):
            return "authentication/authorisation failed"
        if exc.code in _API_VERSION_CODES:
            return "the service refuses the api-version"
        return "the operation was not found"
    return None  # the health rules' own reason


def _fatal_hint(exc: BaseException) -> str:
    if isinstance(exc, TokenUnavailableError):
        return "check `az login` / the managed identity, or set safety.api_key"
    if isinstance(exc, StatusError):
        if exc.status in (401, 403):
            return "check safety.api_key (or the Entra ID role 'Cognitive Services User')"
        if exc.code in _API_VERSION_CODES:
            return "check safety.api_version / safety.groundedness_api_version"
        if exc.status == 404:
            return (
                "check safety.endpoint (https://<resource>.cognitiveservices.azure.com) and "
                "that the feature is available in the resource's region"
            )
    return "check that safety.endpoint is reachable from this machine"


class SharedCalls:
    """Runs each distinct call once while concurrent askers wait for its result.

    The members of the ``content_safety`` composite run as separate tasks, yet one
    text:analyze call answers all four harms: the first member to ask makes the call and
    the others receive its result. Results stay for the ``capacity`` most recent keys
    (identical texts in later rows reuse them); failures are handed to the askers that were
    waiting and then forgotten, so a transient error never sticks to a text.
    """

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future[Any]] = OrderedDict()

    def get(self, key: Hashable, fn: Callable[[], T]) -> T:
        """The result of ``fn()`` for ``key``, computing it at most once at a time."""
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if future is None:
                future = self._entries[key] = Future()
                while len(self._entries) > self._capacity:
                    old_key, old = next(iter(self._entries.items()))
                    if not old.done():
                        break  # never evict a call in flight: its waiters need it
                    del self._entries[old_key]
            else:
                self._entries.move_to_end(key)
        if owner:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    if self._entries.get(key) is future:
                        del self._entries[key]
        try:
            result: T = future.result()
        except RowError as exc:
            # Each asker gets its own instance: the runner stores row errors in results.
            raise RowError(exc.kind, exc.message, extra=dict(exc.extra)) from None
        return result

"""A shared, thread-safe client for the Azure AI Content Safety REST API.

One :class:`ContentSafetyClient` per run, shared by every thread, with pooled keep-alive
connections (httpx2, the HTTP library the openai client already brings). Every call goes
through the run's retry policy (:mod:`evalcli.judge.retry`): 429 (honouring ``Retry-After``),
408/409, 5xx, timeouts and connection errors are retried.

Failure handling follows the judge client's rules, adapted to what Content Safety answers:

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
from evalcli.errors import RemoteError, RowError
from evalcli.judge.client import ClientStats, TokenProvider
from evalcli.judge.retry import (
    EndpointHealth,
    GiveUpError,
    RetryPolicy,
    Verdict,
    call_with_retries,
    retry_after_s,
    status_verdict,
)

if TYPE_CHECKING:
    from evalcli.cache import CallCache

T = TypeVar("T")

#: The ``kind`` of Content Safety entries in the call cache (``evalcli cache info``).
CACHE_KIND = "content_safety"

#: After this many endpoint-level failures (after retries) with no success yet, stop the run.
FIRST_CALLS_FATAL = 3

#: Error codes (body ``error.code`` / ``x-ms-error-code``) that mean the configured
#: api-version is wrong: a configuration problem, so the run stops.
_API_VERSION_CODES = frozenset({"MissingApiVersionParameter", "UnsupportedApiVersionValue"})


class HttpStatusError(Exception):
    """A non-2xx answer (raised inside the retry loop)."""

    def __init__(self, status: int, code: str | None, message: str, headers: Mapping[str, str]):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


class BadAnswerError(Exception):
    """A 2xx answer whose body is not a JSON object."""

    def __init__(self, raw: str):
        super().__init__("the answer is not a JSON object")
        self.raw = raw


class TokenError(Exception):
    """Microsoft Entra ID did not give us a token."""


class ContentSafetyClient:
    """POSTs to ``{endpoint}/contentsafety/<operation>?api-version=...`` with retries.

    Args:
        cfg: The run's ``safety:`` settings (endpoint, key, timeouts, retries).
        concurrency: Connections and calls in flight when ``cfg.concurrency`` is unset.
        token_provider: Entra ID bearer tokens; required when ``cfg.api_key`` is unset.
    """

    def __init__(
        self,
        cfg: SafetyConfig,
        *,
        concurrency: int = 8,
        token_provider: TokenProvider | None = None,
    ):
        import httpx2

        if cfg.endpoint is None:
            raise ValueError("safety.endpoint is required")  # checked at build time already
        self.cfg = cfg
        self.endpoint = cfg.endpoint.rstrip("/")
        self._secret = cfg.api_key.get_secret_value() if cfg.api_key else None
        if self._secret is None and token_provider is None:
            raise ValueError("a key or a token provider is required")
        self._token_provider = token_provider
        self.policy = RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s)
        self._stats = ClientStats()
        self._lock = threading.Lock()
        self._fatal: RemoteError | None = None
        self.health = EndpointHealth("content safety", FIRST_CALLS_FATAL)
        self.limit = cfg.concurrency or concurrency
        self._slots = threading.BoundedSemaphore(self.limit)
        self._http = httpx2.Client(
            limits=httpx2.Limits(max_connections=self.limit, max_keepalive_connections=self.limit),
            timeout=httpx2.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)),
        )
        self.shared = SharedCalls()
        #: Set by the run (``ClientPool.attach``) when answers may come from / go to the cache.
        self.cache: CallCache | None = None

    @property
    def label(self) -> str:
        """``content_safety azure_content_safety at https://...`` (no secrets)."""
        return f"content_safety azure_content_safety at {self.endpoint}"

    @property
    def stats(self) -> ClientStats:
        """Call counters (read them after the run)."""
        return self._stats

    def scrub(self, text: str) -> str:
        """Remove the key from a message, should a server ever echo it."""
        return text.replace(self._secret, "***") if self._secret else text

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
        if self._fatal is not None:
            raise self._fatal
        cache = self.cache
        key = None
        if cache is not None:
            key = self.cache_key(operation, body, api_version)
            hit = cache.get(key)
            if hit is not None:
                with self._lock:
                    self._stats.cache_hits += 1
                return hit
        # A hit never waits for a connection slot; only real calls do.
        with self._slots:
            data = self._post(operation, body, api_version)
        if cache is not None and key is not None:
            # Stored even if the answer later proves unusable (a missing severity, say):
            # reading it is deterministic, as for judge answers that fail to parse.
            cache.put(key, CACHE_KIND, data)
        return data

    def _post(self, operation: str, body: Mapping[str, Any], api_version: str) -> dict[str, Any]:
        url = f"{self.endpoint}/contentsafety/{operation}"

        def attempt() -> dict[str, Any]:
            response = self._http.post(
                url, params={"api-version": api_version}, json=body, headers=self._auth()
            )
            if response.status_code >= 300:
                code, message = _error_detail(response)
                raise HttpStatusError(response.status_code, code, message, response.headers)
            try:
                data = response.json()
            except ValueError:
                raise BadAnswerError(response.text[:2000]) from None
            if not isinstance(data, dict):
                raise BadAnswerError(response.text[:2000])
            return data

        def on_retry(exc: BaseException, wait: float) -> None:
            with self._lock:
                self._stats.retries += 1

        try:
            data, _ = call_with_retries(attempt, self.policy, self._classify, on_retry)
        except GiveUpError as gu:
            raise self._failure(operation, gu) from None
        self.health.success()
        with self._lock:
            self._stats.calls += 1
            self._stats.succeeded += 1
        return data

    def _auth(self) -> dict[str, str]:
        if self._secret is not None:
            return {"Ocp-Apim-Subscription-Key": self._secret}
        assert self._token_provider is not None
        try:
            token = self._token_provider()
        except Exception as exc:  # azure-identity raises several unrelated types
            raise TokenError(f"{type(exc).__name__}: {exc}") from None
        return {"Authorization": f"Bearer {token}"}

    def _classify(self, exc: BaseException) -> tuple[Verdict, float | None]:
        import httpx2

        if isinstance(exc, HttpStatusError):
            if exc.status == 404 or exc.code in _API_VERSION_CODES:
                return "fatal", None
            verdict = status_verdict(exc.status, exc.code)
            return verdict, retry_after_s(exc.headers) if verdict == "retry" else None
        if isinstance(exc, TokenError):
            return "fatal", None
        if isinstance(exc, httpx2.TimeoutException | httpx2.TransportError):
            return "retry", None
        return "fail", None

    def _failure(self, operation: str, gu: GiveUpError) -> RemoteError | RowError:
        import httpx2

        exc = gu.error
        tries = f" after {gu.attempts} attempt{'s' if gu.attempts != 1 else ''}"
        extra: dict[str, object] = {}
        counts = True  # towards "the first calls all failed"
        if isinstance(exc, HttpStatusError):
            kind = f"http-{exc.status}"
            detail = self.scrub(exc.message)
            message = f"HTTP {exc.status}{tries}" + (f": {detail}" if detail else "")
            counts = exc.status != 400  # a 400 is about this row's input
        elif isinstance(exc, httpx2.TimeoutException):
            kind, message = "timeout", f"timed out{tries} (timeout_s={self.cfg.timeout_s:g})"
        elif isinstance(exc, httpx2.TransportError):
            kind, message = "connection-error", f"connection failed{tries}: {self.scrub(str(exc))}"
        elif isinstance(exc, TokenError):
            kind, message = "entra-token", f"no Microsoft Entra ID token: {self.scrub(str(exc))}"
        elif isinstance(exc, BadAnswerError):
            kind, message = "bad-answer", "the answer is not a JSON object"
            extra["content_safety_raw_output"] = self.scrub(exc.raw)
        else:
            kind, message = "call-error", f"{type(exc).__name__}{tries}: {self.scrub(str(exc))}"
        with self._lock:
            self._stats.calls += 1
            self._stats.failed += 1
        stop = self.health.failure(gu.verdict, data_specific=not counts)
        if stop is not None:
            with self._lock:
                if self._fatal is None:
                    why = _fatal_reason(exc, gu.verdict, self.health.failed)
                    self._fatal = RemoteError(
                        f"{self.label}: {operation}: {why} ({message})", hint=_fatal_hint(exc)
                    )
                return self._fatal
        return RowError(
            f"content-safety-{kind}",
            f"Azure AI Content Safety {operation} failed: {message}",
            extra=extra,
        )

    def close(self) -> None:
        """Release connections."""
        self._http.close()


def _error_detail(response: Any) -> tuple[str | None, str]:
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


def _fatal_reason(exc: BaseException, verdict: Verdict, failures: int) -> str:
    if isinstance(exc, TokenError):
        return "Microsoft Entra ID authentication failed"
    if isinstance(exc, HttpStatusError) and verdict == "fatal":
        if exc.status in (401, 403):
            return "authentication/authorisation failed"
        if exc.code in _API_VERSION_CODES:
            return "the service refuses the api-version"
        return "the operation was not found"
    return f"the first {failures} calls all failed"


def _fatal_hint(exc: BaseException) -> str:
    if isinstance(exc, TokenError):
        return "check `az login` / the managed identity, or set safety.api_key"
    if isinstance(exc, HttpStatusError):
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

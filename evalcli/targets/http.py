"""HTTP JSON targets, e.g. an Azure ML online endpoint serving a fine-tuned model.

The body is a JSON template whose strings may contain ``${data.<path>}``; a string that is
exactly one reference keeps the value's JSON type (a list stays a list), otherwise values are
spliced in as text. The request is serialised with :func:`json.dumps`, so quotes, newlines and
non-ASCII text in the data are escaped correctly. Output fields are extracted from the JSON
answer by dotted paths (``output``, ``choices.0.message.content``).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from evalcli.config import HttpTargetConfig, LoadedConfig
from evalcli.dataset import MISSING, DatasetScan, lookup
from evalcli.errors import ConfigError, MappingError, RemoteError, RowError
from evalcli.judge.retry import (
    EndpointHealth,
    GiveUpError,
    RetryPolicy,
    Verdict,
    call_with_retries,
    retry_after_s,
    status_verdict,
)
from evalcli.mapping import Ref, find_refs, substitute
from evalcli.targets.base import Target
from evalcli.textsafe import json_text

_PATH_SEGMENT = re.compile(r"^[^.\s${}]+$")


def parse_output_path(path: str) -> tuple[str, ...] | None:
    """``choices.0.message.content`` -> segments; None if the syntax is wrong."""
    if not isinstance(path, str) or not path:
        return None
    parts = tuple(path.split("."))
    if not all(_PATH_SEGMENT.match(p) for p in parts):
        return None
    return parts


def template_refs(value: Any) -> list[Ref]:
    """Every ``${...}`` reference inside a JSON template (strings at any depth)."""
    if isinstance(value, str):
        return find_refs(value)
    if isinstance(value, dict):
        return [r for k, v in value.items() for r in (*find_refs(str(k)), *template_refs(v))]
    if isinstance(value, list):
        return [r for v in value for r in template_refs(v)]
    return []


def fill_template(value: Any, data: dict[str, Any]) -> Any:
    """Substitute ``${data.x}`` references in a JSON template (raises KeyError if missing)."""
    if isinstance(value, str):
        return substitute(value, data, None) if "${" in value else value
    if isinstance(value, dict):
        return {k: fill_template(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_template(v, data) for v in value]
    return value


class HttpTarget(Target):
    """Calls an HTTP endpoint once per row with a templated JSON body."""

    kind = "http"

    def __init__(self, cfg: HttpTargetConfig, loaded: LoadedConfig, default_concurrency: int):
        self.cfg = cfg
        self.concurrency = cfg.concurrency or default_concurrency
        self.outputs: dict[str, tuple[str, ...]] = {}
        for name, path in cfg.outputs.items():
            parsed = parse_output_path(path)
            if parsed is None:
                raise ConfigError(
                    f"target.outputs.{name}: {path!r} is not a valid path",
                    where=loaded.where("target", "outputs", name),
                    hint="use dotted keys and list indices, e.g. output or "
                    "choices.0.message.content",
                )
            self.outputs[name] = parsed
        self.fields = tuple(self.outputs)
        self._refs = (
            template_refs(cfg.body)
            + find_refs(cfg.url)
            + [r for v in cfg.headers.values() for r in find_refs(v)]
        )
        for ref in self._refs:
            if ref.source == "target":
                raise ConfigError(
                    f"target templates cannot use {ref.text}", where=loaded.where("target")
                )
        self.policy = RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s)
        self.health = EndpointHealth(f"target http {cfg.method} {self._safe_url()}")
        self._fatal: RemoteError | None = None
        self._lock = threading.Lock()
        self._stats = {"calls": 0, "cache_hits": 0, "succeeded": 0, "failed": 0, "retries": 0}
        self._client: Any = None

    def _safe_url(self) -> str:
        # Show scheme, host and path only: query strings sometimes carry keys.
        return self.cfg.url.split("?", 1)[0]

    def data_paths(self) -> list[tuple[str, ...]]:
        return [r.path for r in self._refs]

    def check_columns(self, scan: DatasetScan, loaded: LoadedConfig) -> None:
        for ref in self._refs:
            if scan.path_hits.get(ref.path, 0) == 0:
                raise MappingError(
                    f"the target's request template uses {ref.text}, which no row of "
                    f"{scan.path} has",
                    where=loaded.where("target", "body" if self.cfg.body is not None else "url"),
                    hint="available columns: " + ", ".join(scan.columns[:30]),
                )

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx2

                self._client = httpx2.Client(
                    timeout=httpx2.Timeout(
                        self.cfg.timeout_s, connect=min(10.0, self.cfg.timeout_s)
                    ),
                    limits=httpx2.Limits(
                        max_connections=self.concurrency, max_keepalive_connections=self.concurrency
                    ),
                )
            return self._client

    def call(self, data: dict[str, Any], line: int) -> dict[str, Any]:
        if self._fatal is not None:
            raise self._fatal
        try:
            body = fill_template(self.cfg.body, data) if self.cfg.body is not None else None
            url = substitute(self.cfg.url, data, None) if "${" in self.cfg.url else self.cfg.url
            headers = {
                k: str(substitute(v, data, None)) if "${" in v else v
                for k, v in self.cfg.headers.items()
            }
        except KeyError as exc:
            raise RowError(
                "missing-input", f"target request needs {exc.args[0]}, which is missing in this row"
            ) from None
        headers.setdefault("Content-Type", "application/json")
        # json_text: a lone surrogate in the row travels as a \u escape, as JSON allows.
        content = json_text(body).encode() if body is not None else None
        key = None
        if self.cache is not None:
            from evalcli.cache import cache_key

            # Headers stay out of the key: they carry credentials, not the question.
            key = cache_key(
                {"kind": "http", "method": self.cfg.method, "url": str(url), "body": body}
            )
            hit = self.cache.get(key)
            if hit is not None:
                with self._lock:
                    self._stats["cache_hits"] += 1
                return self.extract(hit["text"])
        client = self._http()

        def attempt() -> Any:
            response = client.request(self.cfg.method, str(url), content=content, headers=headers)
            if response.status_code >= 400:
                raise _HttpStatusError(response.status_code, response.headers, response.text)
            return response

        def on_retry(exc: BaseException, wait: float) -> None:
            with self._lock:
                self._stats["retries"] += 1

        try:
            response, _ = call_with_retries(attempt, self.policy, _classify, on_retry)
        except GiveUpError as gu:
            raise self._failure(gu) from None
        self.health.success()
        with self._lock:
            self._stats["calls"] += 1
            self._stats["succeeded"] += 1
        if self.cache is not None and key is not None:
            self.cache.put(key, "target", {"text": response.text})
        return self.extract(response.text)

    def extract(self, text: str) -> dict[str, Any]:
        """Pull the output fields out of a response body."""
        try:
            answer = json.loads(text)
            if isinstance(answer, str) and answer.lstrip().startswith(("{", "[")):
                answer = json.loads(answer)  # Azure ML scoring scripts often double-encode
        except json.JSONDecodeError:
            raise RowError(
                "target-bad-response", f"target answered non-JSON: {text[:200]!r}"
            ) from None
        out: dict[str, Any] = {}
        for name, path in self.outputs.items():
            value = lookup(answer, path)
            if value is MISSING:
                raise RowError(
                    "target-missing-output",
                    f"target response has nothing at {'.'.join(path)!r} "
                    f"(output {name!r}); it answered {text[:200]!r}",
                )
            out[name] = value
        return out

    def _failure(self, gu: GiveUpError) -> RemoteError | RowError:
        exc = gu.error
        tries = f" after {gu.attempts} attempt{'s' if gu.attempts != 1 else ''}"
        if isinstance(exc, _HttpStatusError):
            kind, message = f"http-{exc.status}", f"HTTP {exc.status}{tries}: {exc.text[:200]}"
        else:
            kind, message = _transport_kind(exc), f"{type(exc).__name__}{tries}: {exc}"
        with self._lock:
            self._stats["calls"] += 1
            self._stats["failed"] += 1
        why = self.health.failure(gu.verdict)
        if why is not None:
            with self._lock:
                if self._fatal is None:
                    self._fatal = RemoteError(
                        f"{self.health.label}: {why} ({message})",
                        hint="check target.url and its credentials",
                    )
                return self._fatal
        return RowError(f"target-{kind}", f"target call failed: {message}")

    def usage(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _HttpStatusError(Exception):
    def __init__(self, status: int, headers: Any, text: str):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.text = text


def _transport_kind(exc: BaseException) -> str:
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        return "timeout"
    return "connection-error"


def _classify(exc: BaseException) -> tuple[Verdict, float | None]:
    import httpx2

    if isinstance(exc, _HttpStatusError):
        verdict = status_verdict(exc.status)
        return verdict, retry_after_s(exc.headers) if verdict == "retry" else None
    if isinstance(exc, httpx2.TimeoutException | httpx2.TransportError):
        return "retry", None
    return "fail", None

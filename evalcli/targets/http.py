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
from typing import TYPE_CHECKING, Any

from evalcli.config import HttpTargetConfig, LoadedConfig
from evalcli.dataset import MISSING, DatasetScan, lookup
from evalcli.errors import ConfigError, MappingError, RowError
from evalcli.mapping import Ref, find_refs, substitute
from evalcli.remote.endpoint import Endpoint, Payload
from evalcli.remote.failures import Classifier, StatusError
from evalcli.remote.policy import RetryPolicy
from evalcli.remote.transport import HttpRequest, HttpResponse, HttpTransport
from evalcli.targets.base import Target
from evalcli.textsafe import json_text

if TYPE_CHECKING:
    from evalcli.cache import CallCache

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
    """Calls an HTTP endpoint once per row with a templated JSON body.

    Args:
        cfg: The ``target:`` section.
        loaded: The config (for error locations).
        default_concurrency: Calls in flight when ``cfg.concurrency`` is unset.
        transport: Sends the attempts; None: httpx2 (tests pass a fake).
    """

    kind = "http"

    def __init__(
        self,
        cfg: HttpTargetConfig,
        loaded: LoadedConfig,
        default_concurrency: int,
        transport: HttpTransport | None = None,
    ):
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
        if transport is None:
            from evalcli.remote.http import Httpx2Transport

            transport = Httpx2Transport(timeout_s=cfg.timeout_s, limit=self.concurrency)
        self.remote: Endpoint[HttpRequest, HttpResponse] = Endpoint(
            f"target http {cfg.method} {self._safe_url()}",
            transport,
            policy=RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s),
            classifier=Classifier(
                timeout_s=cfg.timeout_s, hint="check target.url and its credentials"
            ),
            limit=self.concurrency,
            row_kind="target",
            cache_kind="target",
        )

    @property
    def cache(self) -> CallCache | None:
        """The run's call cache (None: no cache); the run sets it."""
        return self.remote.cache

    @cache.setter
    def cache(self, cache: CallCache | None) -> None:
        self.remote.cache = cache

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

    def call(self, data: dict[str, Any], line: int) -> dict[str, Any]:
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
        if self.remote.cache is not None:
            from evalcli.cache import cache_key

            # Headers stay out of the key: they carry credentials, not the question.
            key = cache_key(
                {"kind": "http", "method": self.cfg.method, "url": str(url), "body": body}
            )
        request = HttpRequest(self.cfg.method, str(url), headers, content=content)
        result = self.remote.call(request, _read, what="target call", key=key)
        return self.extract(result.payload["text"])

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

    def usage(self) -> dict[str, int]:
        """Call counters for results.json (an HTTP target reports no tokens)."""
        stats = self.remote.stats.as_dict()
        return {k: v for k, v in stats.items() if k not in ("prompt_tokens", "completion_tokens")}

    def close(self) -> None:
        self.remote.close()


def _read(response: HttpResponse) -> Payload:
    """The answer's text; a 4xx/5xx is a failed attempt (retried if its status says so)."""
    if response.status >= 400:
        raise StatusError(response.status, message=response.text[:200], headers=response.headers)
    return {"text": response.text}

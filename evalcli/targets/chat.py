"""Chat-deployment targets: an Azure OpenAI / OpenAI deployment with a system message.

The user message is a Jinja template over the row's columns (sandboxed, strict undefined),
e.g. ``user: "{{ prompt }}"``. Outputs: ``response``, ``prompt_tokens``, ``completion_tokens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import meta

from evalcli.config import ChatTargetConfig, LoadedConfig
from evalcli.dataset import DatasetScan
from evalcli.errors import ConfigError, MappingError, RowError
from evalcli.judge.client import ClientPool
from evalcli.targets.base import Target


class ChatTarget(Target):
    """Calls a chat deployment once per row."""

    kind = "chat"
    fields = ("response", "prompt_tokens", "completion_tokens")

    def __init__(
        self,
        cfg: ChatTargetConfig,
        loaded: LoadedConfig,
        pool: ClientPool,
        default_concurrency: int,
    ):
        from evalcli.prompts import PromptFileError
        from evalcli.prompts._jinja import ENV, compile_section

        self.cfg = cfg
        self.concurrency = cfg.concurrency or default_concurrency
        try:
            conn = cfg.connection()
        except ValueError as exc:  # provider-specific keys missing
            raise ConfigError(f"target: {exc}", where=loaded.where("target")) from None
        self.client = pool.get(conn, role="target")
        where = loaded.where("target", "user")
        line = int(where.rsplit(":", 2)[-2]) if where.count(":") >= 2 else 1
        try:
            self.template = compile_section(Path(loaded.path), cfg.user, line)
        except PromptFileError as exc:
            raise ConfigError(f"target.user: {exc.message}", where=where) from None
        self.variables = sorted(meta.find_undeclared_variables(ENV.parse(cfg.user)))
        self.params: dict[str, Any] = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens}

    def data_paths(self) -> list[tuple[str, ...]]:
        return [(v,) for v in self.variables]

    def check_columns(self, scan: DatasetScan, loaded: LoadedConfig) -> None:
        for var in self.variables:
            if scan.path_hits.get((var,), 0) == 0:
                raise MappingError(
                    f"target.user uses {{{{ {var} }}}}, but no row of {scan.path} has a "
                    f"{var!r} column",
                    where=loaded.where("target", "user"),
                    hint="available columns: " + ", ".join(scan.columns[:30]),
                )

    def call(self, data: dict[str, Any], line: int) -> dict[str, Any]:
        from jinja2 import UndefinedError

        try:
            user = self.template.render(data)
        except UndefinedError as exc:
            raise RowError("missing-input", f"target.user template: {exc.message}") from None
        messages: list[dict[str, Any]] = []
        if self.cfg.system:
            messages.append({"role": "system", "content": self.cfg.system})
        messages.append({"role": "user", "content": user})
        reply = self.client.chat(messages, self.params, {"target": True, "line": line})
        return {
            "response": reply.text,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        }

    def usage(self) -> dict[str, int]:
        return self.client.stats.as_dict()

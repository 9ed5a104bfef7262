"""Model-driven attacks: ``simulate direct|indirect --attacker-config FILE`` (off by default).

The attacker is a chat model, configured like the judge (the same keys and client: an Azure
OpenAI deployment or an OpenAI(-compatible) model, see :class:`evalcli.config.JudgeConfig`)
in a YAML file of its own, plus an optional ``prompt:`` (a prompt file of yours, relative
to the YAML file; it must declare the inputs ``request`` and ``count`` and make the model
answer ``{"variants": [...]}``; without it each command uses its shipped prompt,
``attacker.prompty`` for direct attacks, ``attacker_indirect.prompty`` for planted
instructions)::

    type: azure_openai
    endpoint: ${env:AZURE_OPENAI_ENDPOINT}
    deployment: gpt-4o-mini
    api_key: ${env:AZURE_OPENAI_API_KEY}

For each row the step ``model_rewrite`` makes one call asking for K rewrites of the text it
is given (the user turn, or what the steps before it in a chain made of it; in ``simulate
indirect`` the instruction its template wrote, see
:class:`evalcli.simulate.indirect.KeepCanary`) and variant ``i`` of the row takes rewrite
``i``. The call goes through the run's call cache (the same
file as judge answers, kind ``attacker``), so a second run with the same input, seed,
prompt and model is answered from the cache and writes byte-identical output; the seed is
also sent as the ``seed`` sampling parameter, which OpenAI models honour on a best-effort
basis. Nothing is sent anywhere without this option.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalcli.cache import CallCache
from evalcli.config import JudgeConfig
from evalcli.config_errors import pydantic_to_config_error
from evalcli.envref import substitute_env
from evalcli.errors import ConfigError, RowError, RunError
from evalcli.judge.client import ChatClient
from evalcli.judge.parse import extract_json_object
from evalcli.prompts import PromptFile, PromptFileError, load_prompt
from evalcli.simulate.templates import Kind
from evalcli.yamlsrc import load_yaml

STEP_ID = "model_rewrite"
PROMPT_INPUTS = ("request", "count")


class AttackerConfig(JudgeConfig):
    """The attacker's connection (the judge's keys) and, optionally, its prompt file."""

    prompt: Path | None = None


class AttackerError(RunError):
    """The attacker model failed or gave an unusable answer (exit 3, nothing written)."""


#: The shipped rewrite prompt of each ``simulate`` command.
BUILTIN_PROMPTS = {"direct": "attacker.prompty", "indirect": "attacker_indirect.prompty"}


def builtin_prompt(kind: Kind = "direct") -> Path:
    """The shipped rewrite prompt of ``simulate <kind>``."""
    name = BUILTIN_PROMPTS[kind]
    return Path(str(resources.files("evalcli.simulate").joinpath(name)))


def load_attacker_config(
    path: Path, env: Mapping[str, str] | None = None, kind: Kind = "direct"
) -> tuple[AttackerConfig, PromptFile]:
    """Read and check an attacker file and its prompt (the file's, else the one of ``kind``).

    Raises:
        ConfigError: unreadable YAML, an unknown or invalid key, an unset ``${env:NAME}``,
            or a prompt file that is missing, invalid or lacks the inputs ``request`` and
            ``count`` (each naming the file and line of the key).
    """
    data, smap = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            "an attacker config must be a mapping of connection keys (type, endpoint, "
            "deployment, api_key, ...)",
            where=smap.where(()),
        )
    data = substitute_env(data, (), smap, os.environ if env is None else env)
    try:
        cfg = AttackerConfig.model_validate(data)
    except ValidationError as exc:
        raise pydantic_to_config_error(exc, smap, AttackerConfig) from None
    prompt_path = builtin_prompt(kind)
    if cfg.prompt is not None:
        prompt_path = cfg.prompt if cfg.prompt.is_absolute() else path.parent / cfg.prompt
    try:
        prompt = load_prompt(prompt_path)
    except PromptFileError as exc:
        raise ConfigError(f"prompt: {exc}", where=smap.where(("prompt",))) from None
    missing = [name for name in PROMPT_INPUTS if name not in prompt.inputs]
    missing += sorted(prompt.required_inputs - set(PROMPT_INPUTS))
    if missing:
        raise ConfigError(
            f"prompt: {prompt_path} must declare the inputs request and count and require no "
            f"other (wrong: {', '.join(missing)})",
            where=smap.where(("prompt",)),
            hint="the attacker prompt gets the text to rewrite as `request` and the number "
            "of rewrites as `count`",
        )
    return cfg, prompt


class ModelRewrite:
    """The ``model_rewrite`` technique step: K rewrites of its input by the attacker model.

    Args:
        client: The attacker's chat client (its ``cache`` set for cached calls).
        prompt: The rewrite prompt.
        params: Sampling parameters (the prompt's, overridden by the attacker file's).
        per_row: K, the rewrites asked for in one call.
    """

    id = STEP_ID

    def __init__(
        self, client: ChatClient, prompt: PromptFile, params: Mapping[str, Any], *, per_row: int
    ):
        self.client = client
        self.prompt = prompt
        self.per_row = per_row
        self.version = prompt.version or "1"
        self.params = dict(params)
        # One call per distinct input text, even without a cache: the K variants of a row
        # all come from the same answer.
        self._answers: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def rewrite(self, text: str, variant: int) -> str:
        """Rewrite ``variant`` (0-based) of ``text``."""
        with self._lock:
            rewrites = self._answers.get(text)
            if rewrites is None:
                rewrites = self._ask(text)
                self._answers[text] = rewrites
        return rewrites[variant % len(rewrites)]

    def _ask(self, text: str) -> list[str]:
        messages = self.prompt.render({"request": text, "count": self.per_row})
        meta = {"purpose": "simulate", "prompt_sha256": self.prompt.sha256}
        try:
            reply = self.client.chat(messages, self.params, meta)
        except RowError as exc:
            raise AttackerError(
                f"the attacker model failed: {exc.message}", where=self.client.label
            ) from None
        answer = extract_json_object(reply.text, ("variants",))
        variants = answer.get("variants") if answer else None
        if (
            not isinstance(variants, list)
            or len(variants) != self.per_row
            or not all(isinstance(v, str) and v.strip() for v in variants)
        ):
            raw = reply.text if len(reply.text) <= 300 else reply.text[:300] + "…"
            raise AttackerError(
                f'the attacker model\'s answer is not {{"variants": [...]}} with '
                f"{self.per_row} non-empty texts: {raw!r}",
                where=self.client.label,
                hint="use a model that follows JSON instructions, or adapt the prompt file",
            )
        return [str(v) for v in variants]

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()

    def describe(self) -> dict[str, Any]:
        """What the sidecar records about the attacker (never the key)."""
        return {
            "client": self.client.label,
            "prompt": self.prompt.name,
            "prompt_version": self.version,
            "prompt_sha256": self.prompt.sha256,
            "params": dict(self.params),
        }


def open_attacker(
    path: Path, *, per_row: int, seed: int, cache: CallCache | None, kind: Kind = "direct"
) -> ModelRewrite:
    """The ``model_rewrite`` step of an attacker file for ``simulate <kind>``.

    Its calls are answered from ``cache`` when it holds them.
    """
    from evalcli.evaluators.judged import sampling_params

    cfg, prompt = load_attacker_config(path, kind=kind)
    # The judge's rule: the prompt file's parameters, unless the attacker file sets them.
    params = sampling_params(prompt, cfg)
    params["seed"] = seed
    connection = JudgeConfig.model_validate(cfg.model_dump(exclude={"prompt"}))
    client = ChatClient(connection, role="attacker")
    client.cache = cache
    return ModelRewrite(client, prompt, params, per_row=per_row)

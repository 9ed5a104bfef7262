"""Run configuration: pydantic models, YAML loading, ``${env:NAME}`` and path resolution.

Every model forbids unknown keys; unknown keys and bad values are reported with the file,
line and column they came from (see :mod:`evalcli.yamlsrc`) and a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from evalcli.envref import (
    UnsetEnv,
    substitute_env,
    unset_env_error,
    with_unset_env,
)
from evalcli.errors import ConfigError
from evalcli.safety.severity import (
    HARM_NAMES,
    SAFETY_NAMES,
    band_name,
    defect_level,
    pass_level,
)
from evalcli.yamlsrc import Loc, SourceMap, load_yaml, parse_yaml
from evalcli.yamlsrc import dotted as _dotted

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DatasetConfig(_Model):
    """Where the rows come from."""

    path: Path
    format: Literal["jsonl", "csv", "json"] | None = None
    limit: Annotated[int, Field(ge=1)] | None = None


class Pricing(_Model):
    """Token prices of a model deployment, per million tokens (for cost reports)."""

    input_per_1m: Annotated[float, Field(ge=0)]
    output_per_1m: Annotated[float, Field(ge=0)]
    currency: str = "USD"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost of that many tokens."""
        return (prompt_tokens * self.input_per_1m + completion_tokens * self.output_per_1m) / 1e6


class ModelConnection(_Model):
    """Connection and sampling settings shared by judges and chat-deployment targets."""

    endpoint: str | None = None
    deployment: str | None = None
    api_version: str = "2024-10-21"
    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: Annotated[int, Field(ge=1)] = 800
    timeout_s: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=50)] = 8
    max_retry_time_s: Annotated[float, Field(gt=0)] = 300.0
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None
    pricing: Pricing | None = None


class JudgeConfig(ModelConnection):
    """A judge model: an Azure OpenAI deployment or an OpenAI(-compatible) model."""

    type: Literal["azure_openai", "openai"]

    @model_validator(mode="after")
    def _check_provider_keys(self) -> JudgeConfig:
        if self.type == "azure_openai":
            if not self.endpoint:
                raise ValueError("type azure_openai needs 'endpoint'")
            if not self.deployment:
                raise ValueError("type azure_openai needs 'deployment'")
        elif not self.model:
            raise ValueError("type openai needs 'model'")
        return self

    @property
    def model_name(self) -> str:
        """Deployment (Azure) or model (OpenAI) name, for messages and cache keys."""
        return (self.deployment if self.type == "azure_openai" else self.model) or ""

    @property
    def location(self) -> str:
        """Endpoint or base URL, for messages (never contains the key)."""
        if self.type == "azure_openai":
            return self.endpoint or ""
        return self.base_url or "https://api.openai.com/v1"


SafetyBackend = Literal["judge", "azure_content_safety"]


class SafetyConfig(_Model):
    """Run-wide settings of the risk and safety evaluators (``safety:``).

    ``backend`` is the default for every safety evaluator (each may override it with its
    own ``backend:``); the connection keys apply to ``azure_content_safety``. Without
    ``api_key``, Microsoft Entra ID (azure-identity) is used.
    """

    backend: SafetyBackend = "judge"
    endpoint: str | None = None
    api_key: SecretStr | None = None
    api_version: str = "2024-09-01"
    groundedness_api_version: str = "2024-09-15-preview"
    defect_threshold: int | None = None
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_retries: Annotated[int, Field(ge=0, le=50)] = 8
    max_retry_time_s: Annotated[float, Field(gt=0)] = 300.0
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None

    @field_validator("defect_threshold", mode="before")
    @classmethod
    def _severity_level(cls, value: Any) -> Any:
        return None if value is None else defect_level(value)


#: Default time limit of one call of user code (a Python target, a code evaluator), seconds.
USER_CODE_TIMEOUT_S = 60.0
UserCodeTimeout = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _seconds_not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise silently become a limit of 1 second.
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds, not a boolean")
    return value


class EvaluatorConfig(_Model):
    """One entry under ``evaluators:`` (the alias is the mapping key)."""

    use: str | None = None
    threshold: float | dict[str, float] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    judge: JudgeConfig | None = None
    backend: SafetyBackend | None = None
    defect_threshold: int | None = None
    aggregation: Literal["mean", "max", "min"] | None = None
    eval_last_turn: bool = False
    prompt: str | None = None
    function: str | None = None
    # Code evaluators only: the keys the callable returns, optionally with their direction.
    outputs: list[str] | dict[str, Literal["higher", "lower"]] | None = None
    # Code evaluators only: seconds one call may take (None: USER_CODE_TIMEOUT_S).
    timeout_s: UserCodeTimeout | None = None
    _timeout_not_bool = field_validator("timeout_s", mode="before")(_seconds_not_bool)

    @field_validator("threshold", mode="before")
    @classmethod
    def _no_bool_threshold(cls, value: Any) -> Any:
        # YAML `yes`/`true` would otherwise silently become 1.0.
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        if isinstance(value, str):
            # Severity labels ("Low") are read as the band's upper bound; _validate() has
            # already refused them for evaluators that are not on the severity scale.
            if band_name(value) is None:
                raise ValueError(f"must be a number, got the text {value!r}")
            return pass_level(value)
        if isinstance(value, dict):
            return {
                k: pass_level(v) if isinstance(v, str) and band_name(v) else v
                for k, v in value.items()
            }
        return value

    @field_validator("defect_threshold", mode="before")
    @classmethod
    def _severity_level(cls, value: Any) -> Any:
        return None if value is None else defect_level(value)


class CacheConfig(_Model):
    """The call cache (judge and target answers)."""

    enabled: bool = True
    path: Path | None = None  # default .evalcli/cache.db under the working directory


class RunSettings(_Model):
    """Execution settings."""

    concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    max_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    workers: Annotated[int, Field(ge=0, le=64)] | None = None


class OutputConfig(_Model):
    """Where results go."""

    dir: Path | None = None


class GateConfig(_Model):
    """A CI gate on one run metric; any failed gate makes the run exit 1."""

    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _needs_bound(self) -> GateConfig:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs 'min' or 'max'")
        return self


class _TargetCommon(_Model):
    timeout_s: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=50)] = 8
    max_retry_time_s: Annotated[float, Field(gt=0)] = 300.0
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None


class HttpTargetConfig(_TargetCommon):
    """The app under test behind an HTTP JSON endpoint (e.g. an Azure ML online endpoint)."""

    type: Literal["http"]
    url: str
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    outputs: dict[str, str]

    @field_validator("outputs")
    @classmethod
    def _some_outputs(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("name at least one output field (e.g. answer: output)")
        return value


class ChatTargetConfig(ModelConnection):
    """The app under test as an OpenAI / Azure OpenAI chat deployment with a system message."""

    type: Literal["chat"]
    provider: Literal["azure_openai", "openai"]
    system: str | None = None
    user: str

    def connection(self) -> JudgeConfig:
        """The same connection settings in the judge's model (shared client code)."""
        fields = self.model_dump(include=set(ModelConnection.model_fields))
        return JudgeConfig(type=self.provider, **fields)


class PythonTargetConfig(_Model):
    """The app under test as a Python callable (runs user code in-process)."""

    type: Literal["python"]
    function: str
    inputs: dict[str, str] = Field(default_factory=dict)
    concurrency: Annotated[int, Field(ge=1, le=1024)] | None = None
    timeout_s: UserCodeTimeout = USER_CODE_TIMEOUT_S
    _timeout_not_bool = field_validator("timeout_s", mode="before")(_seconds_not_bool)


TargetConfig = Annotated[
    HttpTargetConfig | ChatTargetConfig | PythonTargetConfig, Field(discriminator="type")
]


class RunConfig(_Model):
    """The whole run configuration file."""

    name: str | None = None
    dataset: DatasetConfig
    columns: dict[str, str] = Field(default_factory=dict)
    evaluators: dict[str, EvaluatorConfig]
    judge: JudgeConfig | None = None
    target: TargetConfig | None = None
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    run: RunSettings = Field(default_factory=RunSettings)
    output: OutputConfig = Field(default_factory=OutputConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    gates: list[GateConfig] = Field(default_factory=list)

    @field_validator("evaluators")
    @classmethod
    def _at_least_one(cls, value: dict[str, EvaluatorConfig]) -> dict[str, EvaluatorConfig]:
        if not value:
            raise ValueError("list at least one evaluator")
        for alias in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", alias):
                raise ValueError(
                    f"evaluator alias {alias!r} must start with a letter or '_' and contain "
                    "only letters, digits, '_' and '-' (it prefixes output keys)"
                )
        return value


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus what is needed to report problems and resolve paths."""

    config: RunConfig
    path: Path
    source: SourceMap
    sha256: str
    #: Values of environment variables whose names look secret (KEY, TOKEN, ...): scrubbed
    #: from run metadata, wherever a user may have routed them (e.g. custom evaluator params).
    secrets: frozenset[str] = frozenset()
    #: ``${env:NAME}`` references left unresolved (``load_config(allow_unset=True)``): the
    #: config can be checked but not run; ``build_plan`` refuses it after its checks.
    unset_env: tuple[UnsetEnv, ...] = ()

    def scrub(self, value: Any) -> Any:
        """``value`` with every secret replaced by ``***`` (strings inside dicts/lists too)."""
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths in the config are resolved against."""
        return self.path.parent

    def resolve(self, p: Path) -> Path:
        """Resolve a path written in the config relative to the config file."""
        return p if p.is_absolute() else Path(os.path.normpath(self.base_dir / p))

    def where(self, *loc: str | int, key: bool = False) -> str:
        """``file:line:col`` of a config location."""
        return self.source.where(loc, key=key)

    @property
    def run_name(self) -> str:
        """The run name: ``name:`` or the config file's stem."""
        return self.config.name or self.path.stem


def load_config(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    allow_unset: bool = False,
) -> LoadedConfig:
    """Read, substitute ``${env:NAME}`` and validate a run config file.

    Args:
        env: Variables for ``${env:NAME}`` (default: the process environment).
        allow_unset: Return a config whose unset references are left as written and listed
            in :attr:`LoadedConfig.unset_env`; :func:`evalcli.plan.build_plan` reports them
            after checking everything else. Without it, loading raises once the whole file
            is validated, naming every unset variable.

    Raises:
        ConfigError: anything wrong with the file, with file:line:col and a hint.
    """
    p = Path(path)
    data, smap = load_yaml(p)
    raw = p.read_bytes()
    return _validate(data, smap, hashlib.sha256(raw).hexdigest(), env, allow_unset)


def config_from_text(
    text: str, path: Path, *, env: Mapping[str, str] | None = None, allow_unset: bool = False
) -> LoadedConfig:
    """Like :func:`load_config` for YAML text that claims to live at ``path``."""
    data, smap = parse_yaml(text, path)
    return _validate(data, smap, hashlib.sha256(text.encode()).hexdigest(), env, allow_unset)


def _validate(
    data: Any, smap: SourceMap, sha: str, env: Mapping[str, str] | None, allow_unset: bool
) -> LoadedConfig:
    if data is None:
        raise ConfigError("config file is empty", where=str(smap.path))
    if not isinstance(data, dict):
        raise ConfigError(
            "config must be a mapping of keys (name, dataset, evaluators, ...)",
            where=smap.where(()),
        )
    used: dict[str, str] = {}
    unset: list[UnsetEnv] = []
    data = substitute_env(data, (), smap, os.environ if env is None else env, used, unset)
    try:
        _check_safety_keys(data, smap)
        try:
            cfg = RunConfig.model_validate(data)
        except ValidationError as exc:
            raise pydantic_to_config_error(exc, smap, RunConfig) from None
    except ConfigError as exc:
        raise with_unset_env(exc, unset) from None
    if unset and not allow_unset:
        raise unset_env_error(unset)
    secrets = frozenset(v for k, v in used.items() if SECRET_NAME.search(k) and len(v) >= 6)
    return LoadedConfig(cfg, smap.path, smap, sha, secrets, tuple(unset))


def _check_safety_keys(data: dict[str, Any], smap: SourceMap) -> None:
    """Refuse safety-only evaluator keys on evaluators that would silently ignore them.

    Runs on the raw data because pydantic turns a severity label into a number: after
    validation ``threshold: Low`` on ``relevance`` would look like a valid ``3.0``.
    """
    evaluators = data.get("evaluators")
    if not isinstance(evaluators, dict):
        return
    for alias, spec in evaluators.items():
        if not isinstance(spec, dict):
            continue
        use = spec.get("use") or alias
        if not isinstance(use, str):
            continue
        threshold = spec.get("threshold")
        values = threshold.values() if isinstance(threshold, dict) else [threshold]
        if use not in HARM_NAMES and any(isinstance(v, str) and band_name(v) for v in values):
            raise ConfigError(
                f"evaluators.{alias}.threshold must be a number: severity labels apply only "
                f"to {', '.join(HARM_NAMES)}",
                where=smap.where(("evaluators", alias, "threshold")),
            )
        if "defect_threshold" in spec and use not in HARM_NAMES:
            raise ConfigError(
                f"evaluators.{alias}.defect_threshold applies only to {', '.join(HARM_NAMES)}",
                where=smap.where(("evaluators", alias, "defect_threshold"), key=True),
            )
        for key in ("function", "outputs", "timeout_s"):
            if key in spec and use != "code":
                raise ConfigError(
                    f"evaluators.{alias}.{key} applies only to code evaluators (use: code)",
                    where=smap.where(("evaluators", alias, key), key=True),
                )
        if "backend" in spec and use not in SAFETY_NAMES:
            raise ConfigError(
                f"evaluators.{alias}.backend applies only to the risk and safety evaluators "
                f"({', '.join(SAFETY_NAMES)})",
                where=smap.where(("evaluators", alias, "backend"), key=True),
            )


def did_you_mean(word: str, options: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """A ``did you mean ...?`` hint, or None when nothing is close."""
    close = difflib.get_close_matches(word, sorted(options), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"


_TARGET_TAGS = {"http", "chat", "python"}

_TYPE_WORDS = {
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}


def pydantic_to_config_error(
    exc: ValidationError, smap: SourceMap, model: type[BaseModel], prefix: Loc = ()
) -> ConfigError:
    """Turn the first pydantic error into one readable :class:`ConfigError`."""
    errors = exc.errors(include_input=False, include_url=False)
    err = errors[0]
    raw_loc = [p for p in err["loc"] if not _is_union_tag(p)]
    # Discriminated unions (target: http | chat | python) add the tag to the location.
    raw_loc = [
        p
        for i, p in enumerate(raw_loc)
        if not (i > 0 and raw_loc[i - 1] == "target" and p in _TARGET_TAGS)
    ]
    loc: Loc = (*prefix, *raw_loc)
    etype = err["type"]
    key = _dotted(loc)
    more = (
        f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)"
        if len(errors) > 1
        else ""
    )
    if etype == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(err["loc"][:-1]))
        hint = did_you_mean(str(loc[-1]), allowed) if allowed else None
        if allowed and not hint:
            hint = "allowed keys: " + ", ".join(sorted(allowed))
        return ConfigError(f"unknown key {key!r}{more}", where=smap.where(loc, key=True), hint=hint)
    if etype == "missing":
        return ConfigError(f"missing required key {key!r}{more}", where=smap.where(loc[:-1]))
    if etype == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return ConfigError(
            f"{_dotted(loc)}.{ctx.get('discriminator', 'type').strip(chr(39))} must be one of "
            f"{ctx.get('expected_tags', '')}, got {ctx.get('tag')!r}{more}",
            where=smap.where((*loc, "type")),
        )
    if etype == "union_tag_not_found":
        return ConfigError(f"{key} needs 'type'{more}", where=smap.where(loc))
    if etype in _TYPE_WORDS:
        msg = f"{key} must be {_TYPE_WORDS[etype]}"
    elif etype == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"{key} must be one of {expected}"
    elif etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        msg = f"{key}: {err['msg'].lower()}"
    else:
        text = err["msg"]
        text = text.removeprefix("Value error, ")
        if not loc:
            msg = text
        elif text.startswith("must "):
            msg = f"{key} {text}"
        else:
            msg = f"{key}: {text}"
    return ConfigError(msg + more, where=smap.where(loc))


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the union member's type name into loc ("float", "dict[str,float]").
    return isinstance(part, str) and (
        part in {"float", "int", "str", "bool", "function-after"}
        or "[" in part
        or part.startswith("function-")
    )


def _allowed_keys(model: type[BaseModel], loc: Loc) -> set[str]:
    """Field names of the (nested) model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        members = _union_models(current)
        if len(members) > 1:
            # A discriminated union: pydantic put the member's tag into the location.
            chosen = [m for m in members if part in _literal_tags(m)]
            if chosen:
                current = chosen[0]
                continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                # A dict field: the key is an arbitrary name (an evaluator alias, say).
                continue
            current = field.annotation
        else:
            current = _unwrap(current)
    members = _union_models(current)
    if len(members) == 1:
        return set(members[0].model_fields)
    return set()


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation may hold (through Optional/Annotated/unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _union_models(arg)
    origin_meta = getattr(annotation, "__origin__", None)
    if origin_meta is not None and not out:
        out += _union_models(origin_meta)
    return out


def _literal_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("type")
    return tuple(getattr(field.annotation, "__args__", ())) if field is not None else ()


def _unwrap(annotation: Any) -> Any:
    """Find the BaseModel inside Optional[...], list[...], dict[str, ...] annotations."""
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if args:
        for arg in reversed(args):
            found = _unwrap(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
    return annotation

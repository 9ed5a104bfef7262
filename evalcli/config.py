"""Run configuration: pydantic models, YAML loading, ``${env:NAME}`` and path resolution.

Every model forbids unknown keys; unknown keys and bad values are reported with the file,
line and column they came from (see :mod:`evalcli.yamlsrc`) and a "did you mean" hint.

Evaluator specs are validated here only as far as the core reads them (the envelope of
:class:`EvaluatorConfig`); the keys each evaluator takes are validated by its own settings
model when the plan is built (:func:`evalcli.evaluators.params.parse_params`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from evalcli.config_errors import pydantic_to_config_error
from evalcli.envref import (
    UnsetEnv,
    substitute_env,
    unset_env_error,
    with_unset_env,
)
from evalcli.errors import ConfigError
from evalcli.safety.severity import defect_level
from evalcli.yamlsrc import SourceMap, load_yaml

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DatasetConfig(_Model):
    """Where the rows come from: a file (``path``) or, on the Spark engine, a table."""

    path: Path | None = None
    #: ``catalog.schema.table`` (or any name the Spark session can read); Spark engine only.
    table: str | None = None
    format: Literal["jsonl", "csv", "json", "parquet"] | None = None
    limit: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either 'path' (a file) or 'table' (Spark engine), not both")
        if self.table is not None and not self.table.strip():
            raise ValueError("'table' must name a table, e.g. catalog.schema.table")
        return self


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


def _seconds_not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise silently become a limit of 1 second.
    if isinstance(value, bool):
        raise ValueError("must be a number of seconds, not a boolean")
    return value


#: Seconds one call of user code may take.
UserCodeTimeout = Annotated[
    float, Field(gt=0, allow_inf_nan=False), BeforeValidator(_seconds_not_bool)
]


class EvaluatorConfig(BaseModel):
    """One entry under ``evaluators:`` (the alias is the mapping key): the common envelope.

    These keys are read by the core and mean the same for every evaluator. Every other key
    of the entry (``threshold``, ``params``, ``backend``, ...) is the evaluator's own: it is
    kept in ``model_extra`` and validated by the evaluator's settings model when the plan
    is built, so that plugins declare their keys the way built-ins do.

    Attributes:
        use: The evaluator's registered name (default: the alias).
        columns: Where its inputs come from (overrides the run-level ``columns``).
        aggregation: How numeric per-turn results of a conversation combine (default: the
            evaluator's own way).
        eval_last_turn: Evaluate only a conversation's last turn.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    use: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    aggregation: Literal["mean", "max", "min"] | None = None
    eval_last_turn: bool = False


class EngineConfig(_Model):
    """Where the run executes: in this process (``local``) or on Spark (``spark``)."""

    type: Literal["local", "spark"] = "local"
    #: Spark master for a session evalcli starts (ignored when a session is already active,
    #: as on Databricks).
    master: str = "local[*]"
    #: Spark partitions of the rows (default: the session's default parallelism).
    partitions: Annotated[int, Field(ge=1, le=100_000)] | None = None
    #: NLTK data directory every executor can read (a shared path such as /Volumes/... or
    #: /dbfs/...): searched first by the driver and by each task (as NLTK_DATA).
    nltk_data: Path | None = None


class CacheConfig(_Model):
    """The call cache (judge and target answers)."""

    enabled: bool = True
    path: Path | None = None  # default .evalcli/cache.db under the working directory


class RunSettings(_Model):
    """Execution settings."""

    concurrency: Annotated[int, Field(ge=1, le=1024)] = 8
    max_error_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    workers: Annotated[int, Field(ge=0, le=64)] | None = None


class MlflowConfig(_Model):
    """``output.mlflow``: log each run to MLflow (see :mod:`evalcli.tracking.mlflow`).

    Every key is optional: an omitted one falls back to MLflow's own resolution
    (``MLFLOW_TRACKING_URI``, ``MLFLOW_EXPERIMENT_NAME``) or, for the run name, to evalcli's.
    """

    tracking_uri: str | None = None
    experiment: str | None = None
    run_name: str | None = None
    tags: dict[str, str | int | float | bool] = Field(default_factory=dict)


class OutputConfig(_Model):
    """Where results go."""

    dir: Path | None = None
    #: Write the self-contained report.html beside results.json (see evalcli.report).
    html: bool = True
    #: Spark engine: also save the rows as this table (``catalog.schema.table``).
    table: str | None = None
    #: Also log the run to MLflow once the local results are written.
    mlflow: MlflowConfig | None = None


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
    engine: EngineConfig = Field(default_factory=EngineConfig)
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
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        error = pydantic_to_config_error(exc, smap, RunConfig)
        raise with_unset_env(error, unset) from None
    if unset and not allow_unset:
        raise unset_env_error(unset)
    secrets = frozenset(v for k, v in used.items() if SECRET_NAME.search(k) and len(v) >= 6)
    return LoadedConfig(cfg, smap.path, smap, sha, secrets, tuple(unset))

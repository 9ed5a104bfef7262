"""What an evalcli run becomes in a tracker: flat, scrubbed params and valid names.

The resolved config (every default filled in) is flattened to dotted keys
(``evaluators.bleu.threshold``, ``gates.0.min``). No secret reaches a param:

* a value written with ``${env:NAME}`` is logged as written (``${env:JUDGE_ENDPOINT}``),
  never as the variable's value, whatever the variable's name;
* every ``api_key`` is masked, and so is every HTTP target header whose name looks secret
  (``Authorization``, ``api-key``, ...);
* any value of a secret-looking variable that the config routed elsewhere is replaced by
  ``***`` (:meth:`evalcli.config.LoadedConfig.scrub`, as results.json does).
"""

from __future__ import annotations

import hashlib
import math
import posixpath
import re
from typing import Any

from evalcli.config import SECRET_NAME, LoadedConfig
from evalcli.envref import ENV_REF
from evalcli.yamlsrc import Loc, load_yaml

MASK = "***"
#: MLflow's limits (mlflow.utils.validation): longer keys and values are refused.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
#: Characters MLflow accepts in a param or metric name on every OS (the colon it also takes
#: elsewhere is refused on Windows) minus ``/``, which it reads as a path.
_NAME_BAD = re.compile(r"[^\w.\- ]")


class ConfigChangedError(Exception):
    """The config file changed after the run read it: its params cannot be trusted."""


def config_params(loaded: LoadedConfig) -> dict[str, str]:
    """The resolved config as flat ``{dotted.key: text}`` params, scrubbed of secrets.

    ``output.mlflow`` itself is left out: it says where the run is logged, which the
    tracker records anyway, and a tracking URI may carry credentials.

    Raises:
        ConfigChangedError: the file on disk is no longer the one the run used.
    """
    raw = _raw_config(loaded)
    dumped = loaded.config.model_dump(mode="json", exclude_none=True)
    dumped.get("output", {}).pop("mlflow", None)
    out: dict[str, str] = {}
    _flatten(dumped, (), raw, loaded, out)
    return out


def literal_secrets(loaded: LoadedConfig) -> list[str]:
    """Dotted keys of secrets written literally in the config file (not ``${env:...}``).

    A file holding one is not uploaded as an artifact: its text would carry the secret.
    """
    found: list[str] = []
    _walk_literal(_raw_config(loaded), (), found)
    return found


def metric_names(metrics: dict[str, float | None]) -> dict[str, float]:
    """Every finite metric under a name MLflow accepts (distinct names stay distinct)."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if value is None or isinstance(value, bool) or not math.isfinite(value):
            continue  # MLflow metrics are numbers; null means "no scored rows"
        out[unique_name(safe_name(name), out)] = float(value)
    return out


def safe_name(name: str) -> str:
    """``name`` with the characters MLflow refuses replaced by ``_``, at most 250 long."""
    cleaned = _NAME_BAD.sub("_", name) or "_"
    norm = posixpath.normpath(cleaned)
    if norm != cleaned or norm == "." or norm.startswith(".."):  # names are also file names
        cleaned = "_" + cleaned
    return cleaned[:MAX_KEY]


def unique_name(name: str, taken: dict[str, Any]) -> str:
    """``name``, or ``name_2``, ``name_3``... if another original already took it (``a/b``
    and ``a_b`` both become ``a_b``)."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"_{n}"
        candidate = name[: MAX_KEY - len(suffix)] + suffix
    return candidate


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _raw_config(loaded: LoadedConfig) -> Any:
    """The config file as written (``${env:...}`` not substituted)."""
    if hashlib.sha256(loaded.path.read_bytes()).hexdigest() != loaded.sha256:
        raise ConfigChangedError(
            f"{loaded.path} changed during the run; its params were not logged"
        )
    data, _ = load_yaml(loaded.path)
    return data


def _at(raw: Any, key: str | int) -> Any:
    """The raw node under ``key`` (None where the file had nothing: a default)."""
    if isinstance(raw, dict):
        return raw.get(key)
    if isinstance(raw, list) and isinstance(key, int) and key < len(raw):
        return raw[key]
    return None


def _flatten(value: Any, loc: Loc, raw: Any, loaded: LoadedConfig, out: dict[str, str]) -> None:
    if isinstance(raw, str) and ENV_REF.search(raw):
        # The reference as written: says where the value came from and never what it is.
        out[_key(loc, out)] = clip(raw, MAX_PARAM_VALUE)
        return
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, (*loc, k), _at(raw, k), loaded, out)
        return
    if isinstance(value, list) and value:
        for i, v in enumerate(value):
            _flatten(v, (*loc, i), _at(raw, i), loaded, out)
        return
    if _is_secret(loc) and isinstance(value, str):
        text = MASK
    else:
        text = loaded.scrub(_text(value))
    out[_key(loc, out)] = clip(text, MAX_PARAM_VALUE)


def _key(loc: Loc, taken: dict[str, str]) -> str:
    return unique_name(safe_name(".".join(str(part) for part in loc)), taken)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return str(value)


def _is_secret(loc: Loc) -> bool:
    """An ``api_key`` anywhere (an evaluator's own ``judge:`` is not typed, so its key is not
    masked by pydantic), or an HTTP target header whose name says it is a credential."""
    if loc and loc[-1] == "api_key":
        return True
    return (
        len(loc) == 3 and loc[:2] == ("target", "headers") and bool(SECRET_NAME.search(str(loc[2])))
    )


def _walk_literal(raw: Any, loc: Loc, found: list[str]) -> None:
    if isinstance(raw, dict):
        for k, v in raw.items():
            _walk_literal(v, (*loc, k), found)
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            _walk_literal(v, (*loc, i), found)
    elif isinstance(raw, str) and raw and not ENV_REF.search(raw) and _is_secret(loc):
        found.append(".".join(str(part) for part in loc))

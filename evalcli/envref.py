"""``${env:NAME}`` references in a run config, and reporting the unset ones all at once.

A config usually needs credentials (endpoints, keys) that a developer may not have at hand
when they only want to check the file. Rather than stopping at the first unset variable,
loading leaves each unset reference in place as its own text (``${env:NAME}``), records it
as an :class:`UnsetEnv`, and goes on; once everything else has been checked, one error lists
every unset variable with its ``file:line:col``. An unrelated error found meanwhile is
reported together with that list; an error caused by a placeholder value itself (a dataset
path that is ``${env:DATA}``, say) is dropped, since the unset variable is its real cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalcli.errors import ConfigError, UsageError
from evalcli.yamlsrc import Loc, SourceMap, dotted

ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class UnsetEnv:
    """One ``${env:NAME}`` reference whose variable is not set."""

    name: str
    #: ``file:line:col`` of the value holding the reference.
    where: str
    #: The config key holding it, e.g. ``judge.api_key``.
    key: str

    @property
    def place(self) -> str:
        """``file:line:col (key)``, for messages."""
        return f"{self.where} ({self.key})"


def substitute_env(
    value: Any,
    loc: Loc,
    smap: SourceMap,
    env: Mapping[str, str],
    used: dict[str, str] | None = None,
    unset: list[UnsetEnv] | None = None,
) -> Any:
    """Replace ``${env:NAME}`` in every string value (never in keys).

    Args:
        used: Filled with the name and value of every variable substituted.
        unset: When given, an unset variable is appended here and its reference is left as
            written (a placeholder that names itself in any later message); when ``None``,
            the first unset variable raises.

    Raises:
        ConfigError: a variable is not set and ``unset`` is None.
    """
    used = {} if used is None else used
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in env:
                used[name] = env[name]
                return env[name]
            missing = UnsetEnv(name, smap.where(loc), dotted(loc))
            if unset is None:
                raise unset_env_error([missing])
            unset.append(missing)
            return m.group(0)

        return ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_env(v, (*loc, k), smap, env, used, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, (*loc, i), smap, env, used, unset) for i, v in enumerate(value)]
    return value


def _places(unset: Sequence[UnsetEnv]) -> dict[str, list[str]]:
    """Where each unset variable is used, by name in order of first use."""
    by_name: dict[str, list[str]] = {}
    for u in unset:
        by_name.setdefault(u.name, []).append(u.place)
    return by_name


def _describe(unset: Sequence[UnsetEnv]) -> str:
    """``environment variable A is not set: used at f:1:2 (k)`` or the plural list."""
    by_name = _places(unset)
    if len(by_name) == 1:
        [(name, places)] = by_name.items()
        return f"environment variable {name} is not set: used at {' and '.join(places)}"
    listed = "; ".join(f"{n} at {' and '.join(p)}" for n, p in by_name.items())
    return f"{len(by_name)} environment variables are not set: {listed}"


def _export_hint(unset: Sequence[UnsetEnv]) -> str:
    names = " ".join(f"{n}=..." for n in _places(unset))
    return f"export {names} before running, or remove the reference{'s' * (len(unset) > 1)}"


def unset_env_error(unset: Sequence[UnsetEnv], *, rest_valid: bool = False) -> ConfigError:
    """One error naming every unset variable and where each is used.

    Args:
        rest_valid: Everything else in the config was checked and found valid (said in the
            hint, so the user knows that setting the variables is all that is left).
    """
    hint = _export_hint(unset)
    if rest_valid:
        hint += "; everything else in the config is valid"
    if len(unset) == 1:
        # One reference: its place leads the message, as in every other config error.
        u = unset[0]
        return ConfigError(f"environment variable {u.name} is not set", where=u.place, hint=hint)
    return ConfigError(_describe(unset), hint=hint)


def depends_on_unset(exc: UsageError, unset: Sequence[UnsetEnv]) -> bool:
    """Whether ``exc`` is about a value holding an unset reference (its placeholder)."""
    text = f"{exc.where or ''} {exc.message} {exc.hint or ''}"
    if any(f"${{env:{u.name}}}" in text for u in unset):
        return True
    where = exc.where or ""
    return any(where == u.where or where.startswith(u.where + " ") for u in unset)


def with_unset_env(exc: UsageError, unset: Sequence[UnsetEnv]) -> UsageError:
    """``exc`` extended with the unset variables (or just their list, if they caused it).

    ``exc`` keeps its class and place; its message gains ``; also, <the list>``.
    """
    if not unset:
        return exc
    if depends_on_unset(exc, unset):
        return unset_env_error(unset)
    exc.message = f"{exc.message}; also, {_describe(unset)}"
    exc.args = (exc.message,)
    if exc.hint is None:
        exc.hint = _export_hint(unset)
    return exc

"""Python-callable targets. NOTE: this runs the user's own code inside the evalcli process.

``function: package.module:name`` or ``function: path/to/file.py:name`` (relative to the
config). The callable receives keyword arguments: those mapped under ``inputs:``
(``question: ${data.prompt}``), or, without ``inputs``, the row's columns named like its
parameters. It returns a dict (output fields) or a string (the ``response`` field). It is
called from several threads at once (``concurrency``), so it must be thread-safe.

A call that runs longer than ``timeout_s`` (counted from when it starts) is the row error
``target-timeout``; its thread is abandoned, see :class:`evalcli.usercode.TimedCaller`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from evalcli.config import LoadedConfig, PythonTargetConfig
from evalcli.dataset import MISSING, DatasetScan
from evalcli.errors import ConfigError, MappingError, RowError
from evalcli.mapping import Ref, parse_ref
from evalcli.targets.base import Target
from evalcli.usercode import CallTimeoutError, TimedCaller, load_callable


class PythonTarget(Target):
    """Calls a Python function once per row."""

    kind = "python"

    def __init__(self, cfg: PythonTargetConfig, loaded: LoadedConfig, default_concurrency: int):
        self.cfg = cfg
        self.concurrency = cfg.concurrency or default_concurrency
        where = loaded.where("target", "function")
        fn = load_callable(cfg.function, loaded.base_dir, where)
        if not callable(fn):
            raise ConfigError(f"target.function {cfg.function!r} is not callable", where=where)
        self.fn: Callable[..., Any] = fn
        self._caller = TimedCaller("target", cfg.timeout_s)
        self.refs: dict[str, Ref] = {}
        for kwarg, expr in cfg.inputs.items():
            ref = parse_ref(expr)
            if ref is None or ref.source != "data":
                raise MappingError(
                    f"target.inputs.{kwarg}: {expr!r} is not a ${{data.<column>}} reference",
                    where=loaded.where("target", "inputs", kwarg),
                )
            self.refs[kwarg] = ref
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        self.required: set[str] = set()
        if sig is not None:
            params = sig.parameters.values()
            takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
            names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            for kwarg in self.refs:
                if kwarg not in names and not takes_any:
                    raise ConfigError(
                        f"target.inputs.{kwarg}: {cfg.function} has no parameter {kwarg!r}",
                        where=loaded.where("target", "inputs", kwarg),
                    )
            if not self.refs:
                for p in params:
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                        self.refs[p.name] = Ref("data", (p.name,), implicit=True)
                        if p.default is p.empty:
                            self.required.add(p.name)
            else:
                self.required = {
                    p.name
                    for p in params
                    if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                }
        self._where = loaded.where("target")

    def data_paths(self) -> list[tuple[str, ...]]:
        return [r.path for r in self.refs.values()]

    def check_columns(self, scan: DatasetScan, loaded: LoadedConfig) -> None:
        for kwarg, ref in self.refs.items():
            if scan.path_hits.get(ref.path, 0) == 0 and (
                not ref.implicit or kwarg in self.required
            ):
                raise MappingError(
                    f"target {self.cfg.function} needs {kwarg!r} ({ref.text}), which no row of "
                    f"{scan.path} has",
                    where=self._where,
                    hint="map it under target.inputs; available columns: "
                    + ", ".join(scan.columns[:30]),
                )

    def call(self, data: dict[str, Any], line: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for kwarg, ref in self.refs.items():
            value = ref.resolve(data, None)
            if value is MISSING:
                if kwarg in self.required or not ref.implicit:
                    raise RowError(
                        "missing-input",
                        f"target argument {kwarg!r}: {ref.text} is missing in this row",
                    )
                continue
            kwargs[kwarg] = value
        try:
            result = self._caller.call(self.fn, kwargs)
        except CallTimeoutError as exc:
            raise RowError("target-timeout", f"the target function {exc}") from None
        except BaseException as exc:  # the user's code failed for this row
            # Even SystemExit or KeyboardInterrupt: raised on a worker thread, neither is the
            # user stopping evalcli (signals reach the main thread), and letting one escape
            # would lose the row's answer and leave the run waiting for it forever.
            raise RowError("target-exception", f"{type(exc).__name__}: {exc}") from None
        if isinstance(result, str):
            return {"response": result}
        if isinstance(result, dict) and all(isinstance(k, str) for k in result):
            return result
        raise RowError(
            "target-bad-response",
            f"target returned {type(result).__name__}; expected a dict or a string",
        )

    def close(self) -> None:
        """Let the idle call threads end (a stuck call's thread ends with the process)."""
        self._caller.close()

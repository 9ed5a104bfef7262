"""Keep pydantic out of Typer's handling of options that need no conversion.

Typer (from 0.2x on) converts every parameter value through a pydantic ``TypeAdapter``
that it builds on first use, even for an option that was not given (its value is None and
nothing is converted). Building the first one imports pydantic and ``typer._adapters``:
more time than the whole of ``evalcli list-evaluators`` otherwise takes. :func:`install`
makes that build lazy: an absent option never builds it, and a path (``config``,
``--output-dir``) goes through Typer's own path check without it. Every other value is
converted by Typer's adapter exactly as before.

With an older Typer (plain Click types, no adapters) :func:`install` does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_installed = False


def install() -> None:
    """Make Typer build a parameter's pydantic adapter only when a value needs one."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
        from typer._param_types import coerce_cli_path, routes_to_path
        from typer.core import _TyperParameter
    except ImportError:  # a Typer without adapters: nothing to defer
        return
    if not hasattr(_TyperParameter, "get_runtime_param"):
        return

    class _Deferred(RuntimeParam):
        """Typer's runtime conversion of one parameter, built on the first value it needs.

        ``RuntimeParam.coerce`` answers None (an absent option) itself; only a value reaches
        :meth:`_coerce_value`.
        """

        _descriptor: TypeDescriptor
        _built: RuntimeParam | None

        def __init__(self, descriptor: TypeDescriptor) -> None:
            super().__init__(descriptor.parameter_info, descriptor.annotation)
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_built", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            desc = self._descriptor
            info = desc.parameter_info
            if (
                isinstance(value, str)
                and desc.annotation is Path
                and info.path_type is None
                and desc.file_annotation is None
                and routes_to_path(desc.annotation, info)
            ):
                # What Typer's path adapter does, minus pydantic turning the text into a
                # Path: the same existence/kind checks and messages (coerce_cli_path).
                return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
            built = self._built
            if built is None:
                built = build_runtime_param(desc)
                object.__setattr__(self, "_built", built)
            return built._coerce_value(value, param, ctx)

    eager = _TyperParameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            try:
                self._runtime_param = _Deferred(self.type_descriptor)
            except (AttributeError, TypeError):  # a Typer whose internals have moved
                return eager(self)
        return self._runtime_param

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]

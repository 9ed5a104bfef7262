"""Loading user code named in a config: ``package.module:name`` or ``path/to/file.py:name``.

Used by Python targets and code evaluators. Importing it runs the user's module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from evalcli.errors import ConfigError


def load_callable(spec: str, base_dir: Path, where: str, what: str = "function") -> Any:
    """Import ``module:name`` or ``file.py:name``; ConfigError (exit 2) if that fails."""
    if ":" not in spec:
        raise ConfigError(
            f"{what} must look like package.module:name or path/to/file.py:name, got {spec!r}",
            where=where,
        )
    module_part, _, name = spec.rpartition(":")
    try:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            path = Path(module_part)
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise ConfigError(f"{what} file not found: {path}", where=where)
            mod_name = f"_evalcli_user_{abs(hash(str(path.resolve())))}"
            module = sys.modules.get(mod_name)
            if module is None:
                file_spec = importlib.util.spec_from_file_location(mod_name, path)
                if file_spec is None or file_spec.loader is None:
                    raise ConfigError(f"cannot load {path} as Python", where=where)
                module = importlib.util.module_from_spec(file_spec)
                sys.modules[mod_name] = module
                try:
                    file_spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[mod_name]
                    raise
        else:
            module = importlib.import_module(module_part)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot import {what} {spec!r}: {type(exc).__name__}: {exc}", where=where
        ) from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ConfigError(f"{module_part} has no attribute {name!r}", where=where) from None

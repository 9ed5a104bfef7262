"""evalcli: evaluate generative-AI applications and models.

The library is the product; the ``evalcli`` command is one client of it::

    import evalcli
    result = evalcli.run("configs/quickstart.yaml")
    print(result.metrics)

Names are imported lazily so that ``import evalcli`` (and ``evalcli --help``) stay fast.
Evaluator plugins import from :mod:`evalcli.plugin`, the versioned plugin API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalcli._lazy import exports
from evalcli._version import __version__

if TYPE_CHECKING:
    from evalcli.api import run, validate
    from evalcli.config import LoadedConfig, RunConfig, load_config
    from evalcli.errors import EvalcliError, RowError
    from evalcli.evaluators.base import Evaluator
    from evalcli.evaluators.declaration import EvaluatorInfo
    from evalcli.plan import PlanOptions
    from evalcli.registry import Registry
    from evalcli.results import RunResult

_LAZY = {
    "run": "evalcli.api",
    "validate": "evalcli.api",
    "LoadedConfig": "evalcli.config",
    "RunConfig": "evalcli.config",
    "load_config": "evalcli.config",
    "EvalcliError": "evalcli.errors",
    "RowError": "evalcli.errors",
    "Evaluator": "evalcli.evaluators.base",
    "EvaluatorInfo": "evalcli.evaluators.declaration",
    "PlanOptions": "evalcli.plan",
    "Registry": "evalcli.registry",
    "RunResult": "evalcli.results",
}

__all__ = [
    "EvalcliError",
    "Evaluator",
    "EvaluatorInfo",
    "LoadedConfig",
    "PlanOptions",
    "Registry",
    "RowError",
    "RunConfig",
    "RunResult",
    "__version__",
    "load_config",
    "run",
    "validate",
]


__getattr__, __dir__ = exports(__name__, _LAZY)

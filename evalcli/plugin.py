"""The public API for evaluator plugins: everything a plugin imports comes from here.

A plugin is a distribution with an entry point in the group ``evalcli.evaluators`` naming a
function ``register(registry: Registry) -> None``. The function adds one
:class:`EvaluatorInfo` per evaluator - the declaration evalcli reads instead of probing the
class: name, family, description, inputs (:class:`InputSpec`), outputs (:class:`OutputField`
with a :class:`Role`), a settings model (a subclass of :class:`EvaluatorParams`) and a
factory ``(alias, settings, ctx: BuildContext) -> Evaluator``.

The keys of an evaluator's spec beside ``use``, ``columns``, ``aggregation`` and
``eval_last_turn`` are validated with its settings model before the factory is called, with
the messages built-ins get (``file:line:col``, "did you mean"). ``params:`` is one of those
keys: type it with an :class:`Options` subclass. Settings models are pydantic models;
:func:`Field` is pydantic's, re-exported so that a plugin needs no other import.

An evaluator subclasses :class:`Evaluator` and implements ``evaluate(inputs, ctx)``, or
:class:`JudgedEvaluator` to ask the run's judge with a rubric file (:meth:`BuildContext.rubric`,
:meth:`BuildContext.judge`). A row that cannot be scored raises :class:`RowError` with a
kind; :data:`ROW_ERROR_KINDS` lists the kinds evalcli itself uses. Everything else an
evaluator can do (run in the process pool, warm up before the fork, combine conversation
turns, count remote calls for ``--estimate``) is an attribute or method of
:class:`Evaluator` with a default.

Compatibility: :data:`API_VERSION` is ``"<major>.<minor>"``. Within a major version, the
names in ``__all__`` keep their meaning and their signatures; a minor version only adds
(names, optional arguments, enum members, attributes with defaults). Removing or changing
anything is a new major version. Imports from any other evalcli module are internal and may
change in any release. Of :class:`Judge`, plugins use :meth:`Judge.chat`, ``label`` and
``pricing`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pydantic import Field

from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import BuildContext, EvalContext, Judge
from evalcli.evaluators.declaration import (
    EvaluatorInfo,
    EvaluatorParams,
    Factory,
    Family,
    InputSpec,
    Options,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.judged import JudgedEvaluator, judge_fields
from evalcli.evaluators.params import (
    DefectThreshold,
    JudgedParams,
    SeverityThreshold,
    Threshold,
    check_threshold,
)
from evalcli.judge.client import ChatReply
from evalcli.judge.parse import LabelAnswer, ParseFailure, ScoreAnswer, parse_label, parse_score
from evalcli.prompts import PromptFile as Rubric
from evalcli.registry import Registry

#: The plugin API's version, ``"<major>.<minor>"`` (see the module docstring).
#: 1.1: Role.CORPUS_STATS, Family.CHECK, input kind "texts"; 1.2: OutputField.integer.
API_VERSION: Final = "1.2"

#: Row error kinds evalcli itself uses; a plugin may raise these or kinds of its own.
ROW_ERROR_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bad-input": "an input has a type or value the evaluator cannot score",
        "missing-input": "a required input is missing in the row (set by evalcli)",
        "evaluator-exception": "evaluate raised something other than RowError (set by evalcli)",
        "judge-output-unparseable": "the judge's answer holds no valid JSON answer",
        "judge-score-out-of-range": "the judge's score is outside the rubric's scale",
        "judge-<failure>": "a judge call failed after its retries, e.g. judge-timeout, "
        "judge-http-429 (set by evalcli)",
        "target-error": "the target call of the row failed, so the evaluator was skipped "
        "(set by evalcli)",
        "worker-crashed": "the row killed its worker process twice (set by evalcli)",
        "regex-timeout": "the regex check's pattern ran past its time limit on the response",
    }
)

__all__ = [
    "API_VERSION",
    "ROW_ERROR_KINDS",
    "BuildContext",
    "ChatReply",
    "ConfigError",
    "DefectThreshold",
    "EvalContext",
    "Evaluator",
    "EvaluatorInfo",
    "EvaluatorParams",
    "Factory",
    "Family",
    "Field",
    "InputSpec",
    "Judge",
    "JudgedEvaluator",
    "JudgedParams",
    "LabelAnswer",
    "Options",
    "OutputField",
    "Outputs",
    "ParseFailure",
    "Registry",
    "Role",
    "RowError",
    "Rubric",
    "ScoreAnswer",
    "SeverityThreshold",
    "Threshold",
    "check_threshold",
    "judge_fields",
    "parse_label",
    "parse_score",
]

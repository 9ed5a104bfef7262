"""``document_retrieval``: ranking quality of a search, equal to the reference SDK's
``DocumentRetrievalEvaluator`` (NDCG@3, XDCG@3, fidelity, top-1 / top-3 relevance, holes).

The numbers are :func:`evalcli.metrics.retrieval.document_retrieval`'s; this module declares
the inputs (``retrieval_ground_truth``: documents with relevance labels, ``retrieved_documents``:
documents with retrieval scores), the reference's parameters under ``params:`` with its names,
and one score, pass/fail and threshold per metric, keyed as the reference keys them
(``ndcg@3``, ``ndcg@3_result``, ``ndcg@3_threshold``, ...). The headline pass/fail is NDCG's,
as in the reference. Malformed documents are a row error whose message names the item and
field at fault.

Where the reference reports a NaN fidelity (no labelled document above the minimum label),
``fidelity`` and ``fidelity_result`` are null: the row is not scored for it, rather than a
NaN in a mean or a failure.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, StrictInt, model_validator

from evalcli.errors import RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.declaration import (
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    Options,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.params import Threshold
from evalcli.metrics.retrieval import (
    LOWER_IS_BETTER,
    METRIC_KEYS,
    NAME,
    DocumentRetrievalParams,
    K,
    document_retrieval,
)

INPUTS = (
    InputSpec("retrieval_ground_truth", kind="any"),
    InputSpec("retrieved_documents", kind="any"),
)
_DEFAULTS = DocumentRetrievalParams()


class DocumentRetrievalOptions(Options):
    """The reference's parameters, with its names and defaults."""

    ground_truth_label_min: StrictInt = _DEFAULTS.ground_truth_label_min
    ground_truth_label_max: StrictInt = _DEFAULTS.ground_truth_label_max
    ndcg_threshold: Threshold = _DEFAULTS.ndcg_threshold
    xdcg_threshold: Threshold = _DEFAULTS.xdcg_threshold
    fidelity_threshold: Threshold = _DEFAULTS.fidelity_threshold
    top1_relevance_threshold: Threshold = _DEFAULTS.top1_relevance_threshold
    top3_max_relevance_threshold: Threshold = _DEFAULTS.top3_max_relevance_threshold
    total_retrieved_documents_threshold: StrictInt = _DEFAULTS.total_retrieved_documents_threshold
    total_ground_truth_documents_threshold: StrictInt = (
        _DEFAULTS.total_ground_truth_documents_threshold
    )

    @model_validator(mode="after")
    def _consistent(self) -> DocumentRetrievalOptions:
        for name, value in self.model_dump().items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        DocumentRetrievalParams(**self.model_dump())  # the label range
        return self


class DocumentRetrievalSettings(EvaluatorParams):
    """Settings of ``document_retrieval``: everything under ``params``."""

    refused: ClassVar[dict[str, str]] = {
        "threshold": "does not apply: set params.ndcg_threshold, params.xdcg_threshold, ... "
        "(one threshold per metric, as in the reference)"
    }
    params: DocumentRetrievalOptions = Field(default_factory=DocumentRetrievalOptions)


def _scale(key: str, params: DocumentRetrievalParams) -> tuple[tuple[float, float] | None, bool]:
    """A metric's declared (range, integer). The label metrics span the label range, 0
    included (an unlabelled document counts as label 0); XDCG is 25 per label; the ratios
    are 0-1 (the reference's own ranges); counts have no upper bound."""
    labels = (min(params.ground_truth_label_min, 0), max(params.ground_truth_label_max, 0))
    if key in (f"ndcg@{K}", "fidelity", "holes_ratio"):
        return (0.0, 1.0), False
    if key == f"xdcg@{K}":
        return (25.0 * labels[0], 25.0 * labels[1]), False
    if key in ("top1_relevance", "top3_max_relevance"):
        return (float(labels[0]), float(labels[1])), True
    return None, True  # holes and the document totals: counts


def _metric_fields(key: str, params: DocumentRetrievalParams) -> tuple[OutputField, ...]:
    higher = key not in LOWER_IS_BETTER
    default = float(_DEFAULTS.thresholds()[key])
    scale, integer = _scale(key, params)
    return (
        OutputField(
            key,
            Role.SCORE,
            higher_is_better=higher,
            default_threshold=default,
            range=scale,
            integer=integer,
        ),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=key == METRIC_KEYS[0]),
        OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),
    )


def fields_for(params: DocumentRetrievalParams) -> tuple[OutputField, ...]:
    """Scores first, then results, then thresholds (the CSV column order); the label range
    in ``params`` sets the scales of the label metrics."""
    groups = [_metric_fields(k, params) for k in METRIC_KEYS]
    return tuple(group[i] for i in range(3) for group in groups)


#: The outputs with the default label range (0-4), as ``list-evaluators`` shows them.
FIELDS: tuple[OutputField, ...] = fields_for(_DEFAULTS)


class DocumentRetrievalEvaluator(Evaluator):
    """Scores one query's retrieved documents against its relevance labels."""

    execution = "cpu"

    def __init__(self, alias: str, params: DocumentRetrievalParams):
        super().__init__(alias, NAME, INPUTS, fields_for(params))
        self.params = params

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        try:
            result = document_retrieval(
                inputs["retrieval_ground_truth"], inputs["retrieved_documents"], self.params
            )
        except ValueError as exc:
            raise RowError("bad-input", str(exc)) from None
        properties = result[f"{NAME}_properties"]
        out: Outputs = {}
        for key in METRIC_KEYS:
            value = properties[key]
            undefined = isinstance(value, float) and math.isnan(value)
            out[key] = None if undefined else value
            out[f"{key}_result"] = None if undefined else properties[f"{key}_result"]
            out[f"{key}_threshold"] = properties[f"{key}_threshold"]
        return out

    def describe_params(self) -> dict[str, Any]:
        return {name: getattr(self.params, name) for name in DocumentRetrievalOptions.model_fields}


def _build(alias: str, settings: DocumentRetrievalSettings, ctx: BuildContext) -> Evaluator:
    return DocumentRetrievalEvaluator(
        alias, DocumentRetrievalParams(**settings.params.model_dump())
    )


DOCUMENT_RETRIEVAL = EvaluatorInfo(
    NAME,
    Family.NLP,
    "Search ranking vs relevance labels: NDCG@3, XDCG@3, fidelity, top-k relevance, holes",
    INPUTS,
    FIELDS,
    _build,
    DocumentRetrievalSettings,
)

"""Document retrieval metrics, equal to the reference SDK's ``DocumentRetrievalEvaluator``.

One row has the documents a search returned (``retrieved_documents``: ``document_id`` and
``relevance_score``) and human relevance labels for the query (``retrieval_ground_truth``:
``document_id`` and an integer ``query_relevance_label`` in ``[ground_truth_label_min,
ground_truth_label_max]``). :func:`document_retrieval` ranks the retrieved documents by
score, looks up each one's label and reports:

* ``ndcg@3``: DCG of the top 3 over the DCG of the 3 best labels, gain ``2**label - 1``,
  discount ``log2(rank + 1)``;
* ``xdcg@3``: ``25 * label`` discounted by ``0.6**(rank - 1)`` over the top 3, divided by the
  sum of the three discounts (so labels 0-4 give 0-100);
* ``fidelity``: weighted count of the retrieved documents labelled above the minimum, over the
  same for all labelled documents (weight ``2**(label + 1) - 1``; NaN when no labelled
  document is above the minimum);
* ``top1_relevance``, ``top3_max_relevance``: the label at rank 1, the best label in the top 3;
* ``holes``: distinct retrieved documents without a label, ``holes_ratio`` over the number
  of retrieved documents; ``total_retrieved_documents``, ``total_ground_truth_documents``.

Every number equals the reference's to 1e-9 and has its type (``int`` or ``float``), including
its less obvious behaviour, kept on purpose so results compare with the reference's:

* a retrieved document without a label counts as label 0, whatever the label range;
* duplicated ``document_id``: the last label / score wins, the ranking position is the first
  occurrence's, and the totals count every entry;
* equal scores keep their input order (a stable sort);
* when no retrieved document has a non-zero label, the five ranking metrics are the integer 0;
  when nothing was retrieved they are ``0.0`` and ``holes_ratio`` is the integer 0;
* fidelity pairs the per-label counts, ordered by the label written as text, with weights
  ordered by number, so with labels of two digits or below -1 the weights are off by the
  text order (``"10" < "2"``).

Where the reference crashes or silently accepts bad data, :func:`document_retrieval` raises
``ValueError`` with a message naming the problem instead: inputs that are not lists of
objects, ``document_id`` other than a string or integer, booleans as labels or scores, an
ideal DCG of zero (the reference divides by it), an unlabelled document scored outside a
label range that excludes 0, and thresholds that are not numbers (the reference fails at the
first row).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any

#: Ranks taken into account by NDCG, XDCG and top-3 relevance (fixed in the reference).
K = 3
#: XDCG's per-rank discount factor.
XDCG_DISCOUNT = 0.6
#: Most documents accepted on either side of one row.
MAX_DOCUMENTS = 10_000
#: The evaluator name the reference uses as the prefix of its top-level keys.
NAME = "document_retrieval"

#: The metric keys, in the reference's order.
METRIC_KEYS = (
    f"ndcg@{K}",
    f"xdcg@{K}",
    "fidelity",
    "top1_relevance",
    "top3_max_relevance",
    "holes",
    "holes_ratio",
    "total_retrieved_documents",
    "total_ground_truth_documents",
)
#: Metrics where fewer is better: they pass at or below their threshold (always 0).
LOWER_IS_BETTER = ("holes", "holes_ratio")

DocumentId = str | int


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class DocumentRetrievalParams:
    """The reference evaluator's parameters, with its names and defaults.

    Raises:
        ValueError: a label bound is not an integer, the bounds are not increasing, or a
            threshold is not a number.
    """

    ground_truth_label_min: int = 0
    ground_truth_label_max: int = 4
    ndcg_threshold: float = 0.5
    xdcg_threshold: float = 50.0
    fidelity_threshold: float = 0.5
    top1_relevance_threshold: float = 50.0
    top3_max_relevance_threshold: float = 50.0
    total_retrieved_documents_threshold: int = 50
    total_ground_truth_documents_threshold: int = 50

    def __post_init__(self) -> None:
        for name in ("ground_truth_label_min", "ground_truth_label_max"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.ground_truth_label_min >= self.ground_truth_label_max:
            raise ValueError(
                f"ground_truth_label_max ({self.ground_truth_label_max}) must be greater than "
                f"ground_truth_label_min ({self.ground_truth_label_min})"
            )
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name.endswith("_threshold") and (not _is_number(value) or math.isnan(value)):
                raise ValueError(f"{spec.name} must be a number, got {value!r}")

    def thresholds(self) -> dict[str, float]:
        """Each metric's threshold, keyed like :data:`METRIC_KEYS`."""
        return {
            f"ndcg@{K}": self.ndcg_threshold,
            f"xdcg@{K}": self.xdcg_threshold,
            "fidelity": self.fidelity_threshold,
            "top1_relevance": self.top1_relevance_threshold,
            "top3_max_relevance": self.top3_max_relevance_threshold,
            "holes": 0,
            "holes_ratio": 0,
            "total_retrieved_documents": self.total_retrieved_documents_threshold,
            "total_ground_truth_documents": self.total_ground_truth_documents_threshold,
        }


def _items(value: object, name: str) -> list[Mapping[str, Any]]:
    """Check that ``value`` is a list of objects of at most MAX_DOCUMENTS items."""
    if value is None:
        raise ValueError(f"{name} is missing")
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list of objects, got {type(value).__name__}")
    if len(value) > MAX_DOCUMENTS:
        raise ValueError(f"{name} has {len(value)} items; at most {MAX_DOCUMENTS} are allowed")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValueError(f"{name}[{index}] must be an object, got {type(item).__name__}")
    return value


def _field(item: Mapping[str, Any], key: str, where: str, other: str) -> Any:
    value = item.get(key)
    if value is None:
        raise ValueError(f"{where} has no {key!r} (each item needs {other!r} and {key!r})")
    return value


def _document_id(item: Mapping[str, Any], where: str, other: str) -> DocumentId:
    value = _field(item, "document_id", where, other)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(
            f"{where}: document_id must be a string or an integer, got {value!r} "
            f"({type(value).__name__})"
        )
    return value


def _labels(ground_truth: object, params: DocumentRetrievalParams) -> list[tuple[DocumentId, int]]:
    name = "retrieval_ground_truth"
    items = _items(ground_truth, name)
    if not items:
        raise ValueError(f"{name} is empty: at least one labelled document is needed")
    low, high = params.ground_truth_label_min, params.ground_truth_label_max
    labels = []
    for index, item in enumerate(items):
        where = f"{name}[{index}]"
        label = _field(item, "query_relevance_label", where, "document_id")
        doc = _document_id(item, where, "query_relevance_label")
        if not isinstance(label, int) or isinstance(label, bool):
            raise ValueError(
                f"{where}: query_relevance_label must be an integer, got {label!r} "
                f"({type(label).__name__})"
            )
        if label < low:
            raise ValueError(
                f"{where}: query_relevance_label {label} is below ground_truth_label_min "
                f"({low}); set ground_truth_label_min to the lowest label in your data"
            )
        if label > high:
            raise ValueError(
                f"{where}: query_relevance_label {label} is above ground_truth_label_max "
                f"({high}); set ground_truth_label_max to the highest label in your data"
            )
        labels.append((doc, label))
    return labels


def _scores(retrieved: object) -> list[tuple[DocumentId, float]]:
    name = "retrieved_documents"
    scores = []
    for index, item in enumerate(_items(retrieved, name)):
        where = f"{name}[{index}]"
        doc = _document_id(item, where, "relevance_score")
        score = _field(item, "relevance_score", where, "document_id")
        if not _is_number(score):
            raise ValueError(
                f"{where}: relevance_score must be a number, got {score!r} ({type(score).__name__})"
            )
        scores.append((doc, score))
    return scores


def _dcg(labels: Iterable[int]) -> float:
    total = sum(
        (math.pow(2, label) - 1) / math.log2(rank + 1) for rank, label in enumerate(labels, 1)
    )
    return float(total)


def _xdcg(labels: list[int]) -> float:
    gain = sum(
        25 * label * math.pow(XDCG_DISCOUNT, rank - 1) for rank, label in enumerate(labels, 1)
    )
    # The normaliser always covers K ranks, even when fewer documents were retrieved.
    norm = sum(math.pow(XDCG_DISCOUNT, rank - 1) for rank in range(1, K + 1))
    return gain / norm


def _weighted_label_sum(labels: list[int], low: int, high: int) -> float:
    # Labels at the minimum mean "irrelevant" and carry no weight.
    first = low + 1
    counts = {str(value): 0 for value in range(first, high + 1)}
    for label in labels:
        if label >= first:
            if str(label) not in counts:
                # Only an unlabelled document (scored 0) can fall outside the label range.
                raise ValueError(
                    "a retrieved document without a label counts as label 0, which is outside "
                    f"the label range [{low}, {high}]; label every retrieved document or "
                    "include 0 in the range"
                )
            counts[str(label)] += 1
    # The reference orders the counts by the label's text but the weights by its value;
    # kept so that label ranges beyond one digit give the reference's numbers.
    ordered_counts = [counts[key] for key in sorted(counts)]
    weights = [math.pow(2, value + 1) - 1 for value in range(first, high + 1)]
    return float(sum(count * weight for count, weight in zip(ordered_counts, weights, strict=True)))


def _fidelity(found: list[int], ideal: list[int], low: int, high: int) -> float:
    found_sum = _weighted_label_sum(found, low, high)
    ideal_sum = _weighted_label_sum(ideal, low, high)
    if ideal_sum == 0:
        return math.nan
    return found_sum / ideal_sum


def _ranking_metrics(
    found: list[int], ideal: list[int], params: DocumentRetrievalParams
) -> dict[str, Any]:
    ideal_dcg = _dcg(ideal[:K])
    if ideal_dcg == 0:
        raise ValueError(
            "the ideal DCG of the labelled documents is 0, so NDCG is undefined: the three "
            "best labels give no gain (labels below 0 with several at 0)"
        )
    return {
        f"ndcg@{K}": _dcg(found[:K]) / ideal_dcg,
        f"xdcg@{K}": _xdcg(found[:K]),
        "fidelity": _fidelity(
            found, ideal, params.ground_truth_label_min, params.ground_truth_label_max
        ),
        "top1_relevance": found[0],
        "top3_max_relevance": max(found[:K]),
    }


def document_retrieval(
    retrieval_ground_truth: object,
    retrieved_documents: object,
    params: DocumentRetrievalParams | None = None,
) -> dict[str, Any]:
    """Score one query's retrieved documents against its relevance labels.

    Args:
        retrieval_ground_truth: List of ``{"document_id", "query_relevance_label"}`` objects
            (at least one, at most :data:`MAX_DOCUMENTS`).
        retrieved_documents: List of ``{"document_id", "relevance_score"}`` objects (may be
            empty: every metric is then 0).
        params: Label range and thresholds; the reference's defaults when omitted.

    Returns:
        The reference's output: ``document_retrieval`` (NDCG@3), ``document_retrieval_score``,
        ``_passed``, ``_result``, ``_reason`` (None), ``_status``, ``_threshold`` and
        ``document_retrieval_properties``, which holds every key of :data:`METRIC_KEYS`
        followed by ``<key>_result``, ``<key>_passed``, ``<key>_threshold`` and
        ``<key>_higher_is_better`` for each.

    Raises:
        ValueError: the inputs are malformed or give an undefined score (see the module
            docstring); the message names the item and field at fault.
    """
    params = params or DocumentRetrievalParams()
    labelled = _labels(retrieval_ground_truth, params)
    scored = _scores(retrieved_documents)

    metrics: dict[str, Any]
    if not scored:
        metrics = dict.fromkeys(METRIC_KEYS[:5], 0.0)
        metrics.update(holes=0, holes_ratio=0)
    else:
        # Dicts keep the first position of a repeated id and its last value, as the reference.
        label_of = dict(labelled)
        score_of = dict(scored)
        ranked = [doc for doc, _ in sorted(score_of.items(), key=itemgetter(1), reverse=True)]
        found = [label_of.get(doc, 0) for doc in ranked]
        ideal = sorted(label_of.values(), reverse=True)
        holes = sum(doc not in label_of for doc in ranked)
        if any(found):
            metrics = _ranking_metrics(found, ideal, params)
        else:
            metrics = dict.fromkeys(METRIC_KEYS[:5], 0)
        metrics.update(holes=holes, holes_ratio=holes / float(len(scored)))
    metrics.update(
        total_retrieved_documents=len(scored), total_ground_truth_documents=len(labelled)
    )

    thresholds = params.thresholds()
    verdicts: dict[str, Any] = {}
    for key in METRIC_KEYS:
        higher_is_better = key not in LOWER_IS_BETTER
        value, threshold = metrics[key], thresholds[key]
        passed = value >= threshold if higher_is_better else value <= threshold
        verdicts[f"{key}_result"] = "pass" if passed else "fail"
        verdicts[f"{key}_passed"] = passed
        verdicts[f"{key}_threshold"] = threshold
        verdicts[f"{key}_higher_is_better"] = higher_is_better
    properties = {key: metrics[key] for key in METRIC_KEYS} | verdicts

    ndcg = float(metrics[f"ndcg@{K}"])
    passed = ndcg >= params.ndcg_threshold
    return {
        NAME: ndcg,
        f"{NAME}_score": ndcg,
        f"{NAME}_passed": passed,
        f"{NAME}_result": "pass" if passed else "fail",
        f"{NAME}_reason": None,
        f"{NAME}_status": "completed",
        f"{NAME}_threshold": params.ndcg_threshold,
        f"{NAME}_properties": properties,
    }

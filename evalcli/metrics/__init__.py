"""Pure metric computations, one module per topic, with no evaluator wiring.

* :mod:`evalcli.metrics.retrieval`: document retrieval (NDCG@3, XDCG@3, fidelity, top-k
  relevance, holes), equal to the reference SDK's ``DocumentRetrievalEvaluator``.
* :mod:`evalcli.metrics.sacrebleu_metrics`: chrF/chrF++, TER and BLEU through sacrebleu, with
  per-row sufficient statistics so corpus scores (and bootstrap resamples) can be computed
  from stored rows.
* :mod:`evalcli.metrics.checks`: deterministic checks (exact match, contains, regex, JSON,
  JSON Schema, length, similarity) returning a verdict and a reason.

Importing this package imports none of its modules; each module imports its third-party
library on first use, so registering evaluators stays cheap.
"""

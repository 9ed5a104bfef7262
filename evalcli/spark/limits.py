"""How a run's concurrency limits are shared among the Spark tasks that run at once.

A limit in the config (``run.concurrency``, a judge's, the target's or the safety service's
``concurrency``) is what the *whole run* may have in flight against that service, on Spark
as locally. Each task runs its own clients, so each gets an equal share:

    per_task = max(1, limit // slots),   slots = min(partitions, the session's task slots)

``slots`` is how many tasks can run at the same time (Spark's default parallelism: the
executors' cores). The floor of 1 means that a cluster with more slots than the limit
exceeds it (each task needs one call in flight to make progress): lower ``partitions`` to
stay under a strict quota. Retries and Retry-After are handled per task, by each task's
clients, exactly as locally.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evalcli.config import EvaluatorConfig, LoadedConfig


def task_share(limit: int, slots: int) -> int:
    """One task's share of a run-wide limit."""
    return max(1, limit // max(1, slots))


def divided(loaded: LoadedConfig, slots: int) -> LoadedConfig:
    """``loaded`` with every concurrency limit it sets replaced by one task's share."""
    cfg = loaded.config

    def share(model: Any) -> Any:
        if model is None or getattr(model, "concurrency", None) is None:
            return model
        return model.model_copy(update={"concurrency": task_share(model.concurrency, slots)})

    evaluators = {alias: _share_judge(spec, slots) for alias, spec in cfg.evaluators.items()}
    config = cfg.model_copy(
        update={
            "run": cfg.run.model_copy(
                update={"concurrency": task_share(cfg.run.concurrency, slots)}
            ),
            "judge": share(cfg.judge),
            "target": share(cfg.target),
            "safety": share(cfg.safety),
            "evaluators": evaluators,
        }
    )
    return dataclasses.replace(loaded, config=config)


def _share_judge(spec: EvaluatorConfig, slots: int) -> EvaluatorConfig:
    """An evaluator's own ``judge:`` (still a mapping here: its settings model reads it)."""
    extra = dict(spec.model_extra or {})
    judge = extra.get("judge")
    if not isinstance(judge, dict) or not isinstance(judge.get("concurrency"), int):
        return spec
    extra["judge"] = {**judge, "concurrency": task_share(judge["concurrency"], slots)}
    return EvaluatorConfig.model_validate({**spec.model_dump(exclude_unset=True), **extra})

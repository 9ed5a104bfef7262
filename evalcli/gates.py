"""CI gates: compare run metrics with configured bounds."""

from __future__ import annotations

from evalcli.config import GateConfig
from evalcli.results import GateResult


def check_gates(gates: list[GateConfig], metrics: dict[str, float | None]) -> list[GateResult]:
    """One :class:`GateResult` per bound; a metric with no value (nothing scored) fails."""
    out: list[GateResult] = []
    for gate in gates:
        value = metrics.get(gate.metric)
        if gate.min is not None:
            out.append(
                GateResult(
                    metric=gate.metric,
                    op=">=",
                    threshold=gate.min,
                    value=value,
                    passed=value is not None and value >= gate.min,
                )
            )
        if gate.max is not None:
            out.append(
                GateResult(
                    metric=gate.metric,
                    op="<=",
                    threshold=gate.max,
                    value=value,
                    passed=value is not None and value <= gate.max,
                )
            )
    return out

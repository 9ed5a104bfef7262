"""``evalcli scorecard``: which attack techniques got through, from one run's results.

Reads a ``results.json`` of a dataset made by ``evalcli simulate`` (rows tagged ``pair_id``
and ``technique``, baseline rows ``none``) and, per technique and harm, reports the defect
rates of the baseline rows and of the attacked variants, the attack success rate with a
bootstrap interval clustered on ``pair_id``, and McNemar's exact test, reusing
:mod:`evalcli.compare`'s loading, metric definitions and statistics::

    from evalcli.scorecard import ScorecardOptions, scorecard
    card = scorecard(Path("results/redteam-direct"), ScorecardOptions(max_asr=0.05))
    card.failing  # techniques above the gate
"""

from __future__ import annotations

from evalcli.scorecard.engine import ScorecardError, ScorecardOptions, scorecard
from evalcli.scorecard.model import Cell, Scorecard
from evalcli.scorecard.stats import cluster_bootstrap

__all__ = [
    "Cell",
    "Scorecard",
    "ScorecardError",
    "ScorecardOptions",
    "cluster_bootstrap",
    "scorecard",
]

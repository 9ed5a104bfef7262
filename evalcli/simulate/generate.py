"""The loop shared by ``simulate direct`` and ``simulate indirect``.

For each input row, in input order: the baseline row (technique ``none``), then for each
technique (in the order given) its K variants. Every row is tagged with ``pair_id`` (the
baseline row it derives from), ``variant_id`` (unique), ``technique``, ``template_id``,
``template_version`` and ``converter``. The whole input is checked before the first row is
written, so bad input (a row without the column to attack, say) writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evalcli._version import __version__
from evalcli.dataset import Dataset, Row
from evalcli.simulate.io import (
    TAG_COLUMNS,
    check_no_tags,
    file_sha256,
    open_dataset,
    output_file,
    pair_ids,
)
from evalcli.simulate.techniques import BASELINE, Technique


class Attack(Protocol):
    """What differs between direct and indirect attacks."""

    kind: str
    extra_columns: tuple[str, ...]

    def check(self, dataset: Dataset, row: Row) -> None:
        """Raise :class:`~evalcli.simulate.errors.SimulateError` if ``row`` cannot be attacked."""

    def baseline_tags(self) -> dict[str, Any]:
        """Values of :attr:`extra_columns` on baseline rows."""

    def variants(
        self, data: dict[str, Any], technique: Technique, key: tuple[object, ...], per_row: int
    ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        """``(variant suffix, attacked copy of data, extra tags)`` for each variant."""

    def options(self) -> dict[str, Any]:
        """The attack's options, for the sidecar."""


@dataclass
class Summary:
    """What a simulation wrote."""

    output: Path
    meta: Path
    input_rows: int
    rows: int
    techniques: list[str]
    meta_record: dict[str, Any] = field(default_factory=dict)


def simulate(
    attack: Attack,
    input_path: Path,
    output_path: Path,
    techniques: Sequence[Technique],
    *,
    seed: int,
    per_row: int,
    id_column: str | None,
) -> Summary:
    """Check the whole input, then write the baseline and attacked rows and the sidecar."""
    dataset = open_dataset(input_path)
    id_col, ids = pair_ids(dataset, id_column)
    tags = TAG_COLUMNS + attack.extra_columns
    for row in dataset.rows():
        check_no_tags(row, dataset, tags)
        attack.check(dataset, row)
    with output_file(output_path, input_path) as out:
        for row, pair_id in zip(dataset.rows(), ids, strict=True):
            base = dict(row.data)
            base.update(_tags(pair_id, f"{pair_id}:{BASELINE}", None))
            base.update(attack.baseline_tags())
            out.write(base)
            for technique in techniques:
                key = (seed, pair_id)
                for suffix, data, extra in attack.variants(
                    copy.deepcopy(row.data), technique, key, per_row
                ):
                    data.update(_tags(pair_id, f"{pair_id}:{technique.spec}:{suffix}", technique))
                    data.update(extra)
                    out.write(data)
        meta = _meta(attack, dataset, ids, id_col, techniques, seed, per_row, out.rows)
        meta["output"] = {"path": str(output_path), "rows": out.rows, "sha256": out.sha256}
        out.commit(meta)
        return Summary(
            output_path,
            out.meta_path,
            len(ids),
            out.rows,
            [t.spec for t in techniques],
            meta,
        )


def _tags(pair_id: str, variant_id: str, technique: Technique | None) -> dict[str, Any]:
    if technique is None:
        values: dict[str, Any] = {
            "technique": BASELINE,
            "template_id": None,
            "template_version": None,
            "converter": None,
        }
    else:
        values = dict(technique.tags())
    return {"pair_id": pair_id, "variant_id": variant_id, **values}


def _meta(
    attack: Attack,
    dataset: Dataset,
    ids: list[str],
    id_col: str | None,
    techniques: Sequence[Technique],
    seed: int,
    per_row: int,
    rows: int,
) -> dict[str, Any]:
    templates = {
        t.id: {"version": t.version, "sha256": t.sha256, "source": t.source}
        for tech in techniques
        for t in tech.templates
    }
    converters = {c.name: c.version for tech in techniques for c in tech.converters}
    rewriters = {r.id: r.describe() for tech in techniques for r in tech.rewriters}
    return {
        "generator": f"evalcli simulate {attack.kind}",
        "evalcli_version": __version__,
        "input": {
            "path": str(dataset.path),
            "rows": len(ids),
            "sha256": file_sha256(dataset.path),
        },
        "options": {
            "seed": seed,
            "per_row": per_row,
            "id_column": id_col,
            **attack.options(),
        },
        "techniques": [t.spec for t in techniques],
        "templates": dict(sorted(templates.items())),
        "converters": dict(sorted(converters.items())),
        # Only with --attacker-config, so the sidecars of template-only runs stay as they were.
        **({"attacker": rewriters} if rewriters else {}),
    }

"""``evalcli list-evaluators``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalcli.cli.boundary import eprint, error_boundary


def list_command(*, as_json: bool, config: Path | None) -> None:
    """Print the registry (and config-declared aliases) as a table or JSON."""
    with error_boundary():
        from evalcli.registry import default_registry

        reg = default_registry()
        for warning in reg.warnings:
            eprint(f"warning: {warning}")
        rows: list[dict[str, Any]] = [
            {
                "name": info.name,
                "family": str(info.family),
                "inputs": [i.name + ("" if i.required else "?") for i in info.inputs],
                "outputs": list(info.outputs),
                "default_threshold": info.default_threshold,
                "description": info.description,
                "source": info.source,
                "version": info.version,
            }
            for info in reg
        ]
        if config is not None:
            from evalcli.config import load_config

            loaded = load_config(config)
            for alias, spec in loaded.config.evaluators.items():
                use = spec.use or alias
                if use in ("code", "prompt"):
                    rows.append(
                        {
                            "name": alias,
                            "family": "custom",
                            "inputs": [],
                            "outputs": [],
                            "default_threshold": spec.threshold,
                            "description": f"{use} evaluator declared in {config}",
                            "source": f"config:{config}",
                            "version": "",
                        }
                    )
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="evaluators", title_justify="left")
        for col in ("name", "family", "inputs", "outputs", "threshold", "description", "source"):
            table.add_column(col)
        for r in rows:
            thr = r["default_threshold"]
            table.add_row(
                r["name"],
                r["family"],
                ", ".join(r["inputs"]),
                ", ".join(r["outputs"]),
                "" if thr is None else f"{thr:g}",
                r["description"],
                r["source"] + (f" {r['version']}" if r["version"] else ""),
            )
        Console(highlight=False).print(table)

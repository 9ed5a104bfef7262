"""``evalcli list-evaluators``: built-in, plugin and config-declared evaluators."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from evalcli.cli.boundary import eprint, error_boundary


def list_command(*, as_json: bool, config: Path | None) -> None:
    """Print the registry (and a config's code and prompt evaluators) as a table or JSON."""
    with error_boundary():
        from evalcli.registry import default_registry

        reg = default_registry()
        for warning in reg.warnings:
            eprint(f"warning: {warning}")
        rows: list[dict[str, Any]] = [
            {
                "name": s.name,
                "family": s.family,
                "inputs": list(s.inputs),
                "outputs": list(s.outputs),
                "default_threshold": s.default_threshold,
                "description": s.description,
                "source": s.source,
                "version": s.version,
            }
            for s in reg.summaries()  # built-ins stay unimported (evalcli.evaluators.catalog)
        ]
        if config is not None:
            rows += config_rows(config)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        _print_table(rows)


def config_rows(config: Path) -> list[dict[str, Any]]:
    """One row per code or prompt evaluator of ``config``, read from its function or file.

    Listing needs no secrets, so ``${env:NAME}`` references that are unset are left as
    written instead of failing; everything else (a missing file, a bad signature, a prompt
    that fails the lint) is reported as ``validate`` would (exit 2).
    """
    from evalcli.config import load_config
    from evalcli.evaluators.context import BuildContext
    from evalcli.evaluators.custom import CODE_EVALUATOR, describe_code
    from evalcli.evaluators.custom_prompt import PROMPT_EVALUATOR, describe_prompt
    from evalcli.evaluators.params import parse_params

    loaded = load_config(config, env=_EnvOrPlaceholder())
    rows: list[dict[str, Any]] = []
    for alias, spec in loaded.config.evaluators.items():
        use = spec.use or alias
        if use not in ("code", "prompt"):
            continue
        info = CODE_EVALUATOR if use == "code" else PROMPT_EVALUATOR
        params: Any = parse_params(info, alias, spec, loaded)
        ctx = BuildContext(loaded, alias)
        described = (
            describe_code(alias, params, ctx)
            if use == "code"
            else describe_prompt(alias, params, ctx)
        )
        what = described.pop("what")
        rows.append(
            {
                "name": alias,
                "family": "custom",
                "inputs": described.pop("inputs"),
                "outputs": described.pop("outputs"),
                "default_threshold": described.pop("default_threshold"),
                "description": f"{use} evaluator: {what}",
                "source": f"config:{config}",
                "version": described.pop("version"),
                "use": use,
                **described,
            }
        )
    return rows


class _EnvOrPlaceholder(Mapping[str, str]):
    """The environment, with unset variables standing for themselves (``${env:NAME}``)."""

    def __getitem__(self, name: str) -> str:
        return os.environ.get(name, f"${{env:{name}}}")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from evalcli.reporters.terminal import print_fitted, stdout_console

    table = Table(title="evaluators", title_justify="left")
    table.add_column("name")
    table.add_column("family")
    table.add_column("inputs")
    table.add_column("outputs")
    table.add_column("threshold", justify="right")
    table.add_column("description")
    table.add_column("source")
    for r in rows:
        thr = r["default_threshold"]
        outputs = ", ".join(r["outputs"])
        if r.get("open_outputs"):
            outputs += (", " if outputs else "") + "+ keys of a returned dict"
        table.add_row(
            r["name"],
            r["family"],
            ", ".join(r["inputs"]),
            outputs,
            "" if not isinstance(thr, int | float) else f"{thr:g}",
            r["description"],
            r["source"] + (f" {r['version']}" if r["version"] else ""),
        )
    print_fitted(stdout_console(), table, names=("name", "family"))

"""``evalcli validate``: kept free of Typer, so that the plain form can skip importing it
(see :func:`evalcli.cli.main`)."""

from __future__ import annotations

from pathlib import Path

from evalcli.cli.boundary import eprint, error_boundary
from evalcli.reporters.terminal import plural


def validate_command(config: Path, *, debug: bool) -> None:
    """Everything ``run`` checks before the first model call; exit 0 or 2."""
    with error_boundary(debug):
        from evalcli.config import load_config
        from evalcli.plan import build_plan

        # evalcli.api.validate without importing evalcli.api, whose run machinery (runner,
        # judge client, cache) validate never uses: start-up is most of its time.
        plan = build_plan(load_config(config, allow_unset=True))
        for warning in plan.warnings:
            eprint(f"warning: {warning}")
        aliases = ", ".join(b.alias for b in plan.evaluators)
        print(
            f"ok: {config}: {plural(plan.scan.rows, 'row')}, "
            f"{plural(len(plan.evaluators), 'evaluator')} ({aliases}), "
            f"{plural(len(plan.loaded.config.gates), 'gate')}; "
            f"output to {plan.output_dir}"
        )

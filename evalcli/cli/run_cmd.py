"""``evalcli run`` and ``evalcli validate``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from evalcli.cli.boundary import eprint, error_boundary
from evalcli.errors import ConfigError


def run_command(
    config: Path,
    *,
    output_dir: Path | None,
    fmt: str,
    limit: int | None,
    concurrency: int | None,
    workers: int | None,
    quiet: bool,
    debug: bool,
    save_transcripts: Path | None = None,
    no_cache: bool = False,
    cache: Path | None = None,
) -> None:
    """Validate, run, render, exit with the run's code."""
    with error_boundary(debug):
        if fmt not in ("table", "json"):
            raise ConfigError(f"--format must be 'table' or 'json', got {fmt!r}")
        from evalcli.api import run
        from evalcli.plan import PlanOptions
        from evalcli.reporters.console import Progress, print_summary

        opts = PlanOptions(
            output_dir=output_dir,
            limit=limit,
            concurrency=concurrency,
            workers=workers,
            no_cache=no_cache,
            cache_path=cache,
        )
        from evalcli.api import validate

        plan = validate(config, opts)
        for warning in plan.warnings:
            eprint(f"warning: {warning}")
        with Progress(enabled=not quiet and sys.stderr.isatty()) as progress:
            result = run(plan, progress=progress.update, transcripts=save_transcripts)
        if fmt == "json":
            from evalcli.reporters.files import JSON_NAME

            with (plan.output_dir / JSON_NAME).open(encoding="utf-8") as fh:
                for chunk in iter(lambda: fh.read(1 << 16), ""):
                    sys.stdout.write(chunk)
            sys.stdout.flush()
        else:
            print_summary(result)
        if result.message:
            eprint(("error: " if result.exit_code >= 2 else "") + result.message)
        eprint(f"results: {plan.output_dir / 'results.json'}, {plan.output_dir / 'results.csv'}")
        raise typer.Exit(result.exit_code)


def validate_command(config: Path, *, debug: bool) -> None:
    """Everything ``run`` checks before the first model call; exit 0 or 2."""
    with error_boundary(debug):
        from evalcli.api import validate

        plan = validate(config)
        for warning in plan.warnings:
            eprint(f"warning: {warning}")
        aliases = ", ".join(b.alias for b in plan.evaluators)
        print(
            f"ok: {config}: {plan.scan.rows} rows, {len(plan.evaluators)} evaluators "
            f"({aliases}), {len(plan.loaded.config.gates)} gates; "
            f"output to {plan.output_dir}"
        )


def cache_command(action: str, path: Path) -> None:
    """``evalcli cache info|clear``."""
    with error_boundary():
        if not path.exists():
            print(f"no cache at {path}")
            return
        from evalcli.cache import CallCache

        cache = CallCache(path)
        try:
            if action == "clear":
                n = cache.clear()
                print(f"cleared {n} cached answer{'s' if n != 1 else ''} from {path}")
                return
            info = cache.info()
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(info["by_kind"].items())) or "empty"
            print(
                f"{info['path']}: {info['entries']} answers ({kinds}), {info['bytes'] / 1e6:.1f} MB"
            )
        finally:
            cache.close()

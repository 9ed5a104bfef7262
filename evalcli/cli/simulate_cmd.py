"""``evalcli simulate direct|indirect|techniques`` and ``evalcli scorecard``: red teaming.

:func:`register` adds both to the Typer app; the work happens in :mod:`evalcli.simulate` and
:mod:`evalcli.scorecard`, imported only when a command runs.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evalcli.cli.boundary import eprint, error_boundary

if TYPE_CHECKING:
    from evalcli.simulate.attacker import ModelRewrite
    from evalcli.simulate.templates import Kind

FORMATS = ("table", "json", "markdown")

simulate_app = typer.Typer(
    help="Make attacked copies of a dataset (direct jailbreaks, indirect injections), offline "
    "and reproducibly.",
    no_args_is_help=True,
)

InputOpt = Annotated[
    Path,
    typer.Option(
        "--input", "-i", help="Baseline dataset (.jsonl, .csv or .json).", show_default=False
    ),
]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Attack dataset to write (.jsonl; plus OUTPUT.meta.json).",
        show_default=False,
    ),
]
TechniqueOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--technique",
        "-t",
        metavar="CHAIN",
        help="A chain of templates and converters, applied left to right (roleplay+base64); "
        "repeat it or separate several with commas. Default: every template alone.",
        show_default=False,
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Seed of every random choice.")]
PerRowOpt = Annotated[
    int, typer.Option("--per-row", "-k", min=1, max=1000, help="Variants per technique and row.")
]
TemplatesOpt = Annotated[
    Path | None,
    typer.Option(
        "--templates", help="Directory of your own templates (*.yaml).", show_default=False
    ),
]
IdColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--id-column",
        help="Column naming each baseline row (pair_id). Default: id when every row has a "
        "unique one, else the row number.",
        show_default=False,
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")]
AttackerOpt = Annotated[
    Path | None,
    typer.Option(
        "--attacker-config",
        metavar="FILE",
        help="A chat model (judge-style connection YAML) that rewrites each request (direct) "
        "or planted instruction (indirect) into --per-row variants: adds the technique "
        "model_rewrite. Off by default.",
        show_default=False,
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Call cache for the attacker's answers (default: .evalcli/cache.db).",
        show_default=False,
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Ask the attacker model again for every row.")
]


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``scorecard`` to ``app``."""
    app.add_typer(simulate_app, name="simulate")
    app.command("scorecard")(scorecard_cmd)


@simulate_app.command("direct")
def direct_cmd(
    input_path: InputOpt,
    output_path: OutputOpt,
    technique: TechniqueOpt = None,
    seed: SeedOpt = 0,
    per_row: PerRowOpt = 1,
    column: Annotated[
        str | None,
        typer.Option(
            "--column", help="Column holding the user turn (default: query).", show_default=False
        ),
    ] = None,
    conversation_column: Annotated[
        str | None,
        typer.Option(
            "--conversation-column",
            help="Attack a user message of the conversation in this column instead.",
            show_default=False,
        ),
    ] = None,
    turn: Annotated[
        str, typer.Option("--turn", help="With --conversation-column: first or last user message.")
    ] = "first",
    templates: TemplatesOpt = None,
    id_column: IdColumnOpt = None,
    attacker_config: AttackerOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Direct attacks (UPIA): each baseline row, then K jailbreak variants per technique."""
    with error_boundary(debug):
        from evalcli.simulate import SimulateError, simulate_direct

        if turn not in ("first", "last"):
            raise SimulateError(f"--turn must be first or last, got {turn!r}")
        with _attacker(attacker_config, per_row, seed, cache, no_cache, "direct") as rewriter:
            summary = simulate_direct(
                input_path,
                output_path,
                techniques=technique or (),
                seed=seed,
                per_row=per_row,
                column=column,
                conversation_column=conversation_column,
                turn="first" if turn == "first" else "last",
                templates_dir=templates,
                id_column=id_column,
                rewriter=rewriter,
            )
        _report(summary.rows, summary.input_rows, summary.techniques, output_path, summary.meta)


@contextlib.contextmanager
def _attacker(
    path: Path | None,
    per_row: int,
    seed: int,
    cache: Path | None,
    no_cache: bool,
    kind: Kind,
) -> Iterator[ModelRewrite | None]:
    """The ``model_rewrite`` step of ``--attacker-config`` (None without it), closed after."""
    if path is None:
        if cache is not None or no_cache:
            from evalcli.simulate import SimulateError

            raise SimulateError("--cache and --no-cache apply to --attacker-config only")
        yield None
        return
    from evalcli.cache import DEFAULT_PATH, CallCache
    from evalcli.simulate.attacker import load_attacker_config, open_attacker

    load_attacker_config(path, kind=kind)  # a bad file is exit 2 before the cache is created
    calls = None if no_cache else CallCache(cache or DEFAULT_PATH)
    try:
        rewriter = open_attacker(path, per_row=per_row, seed=seed, cache=calls, kind=kind)
        try:
            yield rewriter
        finally:
            rewriter.close()
    finally:
        if calls is not None:
            calls.close()


@simulate_app.command("indirect")
def indirect_cmd(
    input_path: InputOpt,
    output_path: OutputOpt,
    technique: TechniqueOpt = None,
    seed: SeedOpt = 0,
    per_row: PerRowOpt = 1,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            help="The document to inject into: a column, or a dotted path to one document of "
            "a list (documents.0, documents.0.content). Default: context.",
            show_default=False,
        ),
    ] = None,
    placement: Annotated[
        list[str] | None,
        typer.Option(
            "--placement",
            metavar="WHERE",
            help="start, end, middle or hidden (in markup); several make their own variants. "
            "Default: end.",
            show_default=False,
        ),
    ] = None,
    templates: TemplatesOpt = None,
    id_column: IdColumnOpt = None,
    attacker_config: AttackerOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Indirect attacks (XPIA): instructions asking for a canary token, planted in a document."""
    with error_boundary(debug):
        from evalcli.simulate import simulate_indirect

        with _attacker(attacker_config, per_row, seed, cache, no_cache, "indirect") as rewriter:
            summary = simulate_indirect(
                input_path,
                output_path,
                techniques=technique or (),
                seed=seed,
                per_row=per_row,
                column=column,
                placements=placement or (),
                templates_dir=templates,
                id_column=id_column,
                rewriter=rewriter,
            )
        _report(summary.rows, summary.input_rows, summary.techniques, output_path, summary.meta)


@simulate_app.command("techniques")
def techniques_cmd(
    templates: TemplatesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    debug: DebugOpt = False,
) -> None:
    """List the templates (shipped and --templates) and the converters."""
    with error_boundary(debug):
        from evalcli.simulate import CONVERTERS, load_templates

        found = load_templates(templates, reserved=CONVERTERS)
        if as_json:
            data = {
                "templates": [
                    {
                        "id": t.id,
                        "version": t.version,
                        "kind": t.kind,
                        "name": t.name,
                        "description": t.description,
                        "texts": len(t.texts),
                        "source": t.source,
                    }
                    for t in found.values()
                ],
                "converters": [
                    {
                        "name": c.name,
                        "version": c.version,
                        "reversible": c.reversible,
                        "description": c.description,
                    }
                    for c in CONVERTERS.values()
                ],
            }
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            return
        for kind in ("direct", "indirect"):
            print(f"{kind} templates (simulate {kind}):")
            for t in found.values():
                if t.kind == kind:
                    source = "" if t.source == "builtin" else f"  [{t.source}]"
                    print(f"  {t.id:<22} v{t.version:<4} {t.name}{source}")
        print("converters (after a template, or alone):")
        for c in CONVERTERS.values():
            print(f"  {c.name:<22} v{c.version:<4} {c.description}")
        print("model step (simulate direct|indirect --attacker-config FILE):")
        print(
            f"  {'model_rewrite':<22} {'':<5} a chat model rewrites the request, or the "
            "planted instruction (after its template), K times"
        )


def _report(rows: int, inputs: int, techniques: list[str], output: Path, meta: Path) -> None:
    from evalcli.reporters.terminal import plural

    print(
        f"wrote {plural(rows, 'row')} to {output} ({plural(inputs, 'baseline row')}, "
        f"{plural(len(techniques), 'technique')}: {', '.join(techniques)}); provenance in {meta}"
    )


def scorecard_cmd(
    results: Annotated[
        Path,
        typer.Argument(
            help="results.json of a run over a simulated dataset (or its directory).",
            show_default=False,
        ),
    ],
    max_asr: Annotated[
        float | None,
        typer.Option(
            "--max-asr",
            min=0.0,
            max=1.0,
            help="Gate: exit 1 when a technique's attack success rate is above this (0.05 = 5%).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="stdout format: table, json or markdown.")
    ] = "table",
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, max=1_000_000, help="Bootstrap resamples.")
    ] = 2000,
    debug: DebugOpt = False,
) -> None:
    """Per technique and harm: defect rates, attack success rate (95% CI), McNemar; gate."""
    with error_boundary(debug):
        from evalcli.scorecard import ScorecardError, ScorecardOptions, scorecard
        from evalcli.scorecard.render import print_table, to_json, to_markdown

        if fmt not in FORMATS:
            raise ScorecardError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        card = scorecard(results, ScorecardOptions(max_asr=max_asr, resamples=resamples, seed=seed))
        for warning in card.warnings:
            eprint(f"warning: {warning}")
        if fmt == "json":
            sys.stdout.write(to_json(card))
        elif fmt == "markdown":
            sys.stdout.write(to_markdown(card))
        else:
            print_table(card)
        sys.stdout.flush()
        if card.failed:
            from evalcli.reporters.terminal import plural

            eprint(
                f"error: {plural(len(card.failing), 'technique')} above the gate "
                f"(ASR > {max_asr:.1%}): " + ", ".join(card.failing)
            )
        raise typer.Exit(1 if card.failed else 0)

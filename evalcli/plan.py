"""Turn a loaded config into a checked run plan — everything that can fail before a model call.

``build_plan`` validates evaluator names and params, column mappings against a scan of the
whole dataset, local resources (NLTK data), gates and the output directory. ``evalcli
validate`` stops here; ``evalcli run`` continues into the runner.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalcli.config import EvaluatorConfig, LoadedConfig
from evalcli.conversation import supports_conversation
from evalcli.dataset import DataPath, Dataset, DatasetScan
from evalcli.envref import ENV_REF, unset_env_error, with_unset_env
from evalcli.errors import ConfigError, MappingError, ResourceError, UsageError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import BuildContext, client_pool
from evalcli.evaluators.params import parse_params
from evalcli.mapping import Ref
from evalcli.metric_specs import metric_specs
from evalcli.plan_refs import check_refs, check_target_fields, parse_mapping
from evalcli.registry import Registry, default_registry
from evalcli.suggest import did_you_mean
from evalcli.targets.base import Target


@dataclass
class BoundEvaluator:
    """An evaluator plus where each of its inputs comes from."""

    evaluator: Evaluator
    refs: dict[str, Ref]
    required: frozenset[str]
    use: str
    spec: EvaluatorConfig
    conversation: Ref | None = None  # where a row's conversation comes from, if it can have one

    @property
    def alias(self) -> str:
        """The evaluator's alias."""
        return self.evaluator.alias


@dataclass
class RunPlan:
    """A fully validated run, ready to execute."""

    loaded: LoadedConfig
    dataset: Dataset
    scan: DatasetScan
    evaluators: list[BoundEvaluator]
    output_dir: Path
    concurrency: int
    max_error_rate: float
    workers: int
    metric_names: list[str]
    services: dict[str, Any] = field(default_factory=dict)
    io_threads: int = 8
    target: Target | None = None
    cache_path: Path | None = None  # None: no cache for this run
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Run name."""
        return self.loaded.run_name

    def close(self) -> None:
        """Release what building the plan opened (client connections) without running it."""
        pool = self.services.get("clients")
        if pool is not None:
            pool.close()
        if self.target is not None:
            self.target.close()


@dataclass
class PlanOptions:
    """Command-line overrides."""

    output_dir: Path | None = None
    limit: int | None = None
    concurrency: int | None = None
    workers: int | None = None
    check_output_dir: bool = True
    cache_path: Path | None = None
    no_cache: bool = False
    #: The rows' scan made elsewhere, or the function that makes it from the mapped paths
    #: (the Spark engine scans tables with Spark; its tasks reuse the driver's scan): the
    #: dataset is then not read while building the plan.
    scan: DatasetScan | Callable[[Sequence[DataPath]], DatasetScan] | None = None
    #: Built for the Spark engine (its driver or a task): Spark-only settings are allowed.
    spark: bool = False


def build_plan(
    loaded: LoadedConfig, options: PlanOptions | None = None, registry: Registry | None = None
) -> RunPlan:
    """Validate everything that can be validated without calling a model.

    A config with unset ``${env:NAME}`` (``loaded.unset_env``) is checked all the same and
    then refused with one error naming every unset variable (plus the first other problem
    found, unless the unset values caused it): it never becomes a plan that could run.

    Raises:
        evalcli.errors.UsageError: (exit 2) with file:line or the config key.
    """
    try:
        plan = _build_plan(loaded, options, registry)
    except UsageError as exc:
        raise with_unset_env(exc, loaded.unset_env) from None
    if loaded.unset_env:
        plan.close()
        raise unset_env_error(loaded.unset_env, rest_valid=True)
    return plan


def _build_plan(
    loaded: LoadedConfig, options: PlanOptions | None, registry: Registry | None
) -> RunPlan:
    opts = options or PlanOptions()
    cfg = loaded.config
    for loc, name in (
        (("dataset", "table"), cfg.dataset.table),
        (("output", "table"), cfg.output.table),
    ):
        if name is not None and not opts.spark:
            raise ConfigError(
                f"{'.'.join(loc)} {name!r} is a Spark table: it needs the Spark engine",
                where=loaded.where(*loc),
                hint="run with --engine spark (or engine: {type: spark})"
                + (", or give dataset.path" if loc[0] == "dataset" else ""),
            )
    reg = registry or default_registry()
    concurrency = opts.concurrency or cfg.run.concurrency
    # The client pool (services["clients"]) is made by the first evaluator or target that
    # calls out (evaluators.context.client_pool): none for a config of local metrics.
    services: dict[str, Any] = {}

    # 1. Evaluators: names and settings (cheap, and the most common mistakes). Each one's own
    # keys are validated by the settings model its declaration names, then it is built.
    built: list[tuple[str, EvaluatorConfig, Evaluator, str]] = []
    build_warnings: list[str] = []  # said once each by validate and run, never fatal
    for alias, spec in cfg.evaluators.items():
        use = spec.use or alias
        info = reg.require(
            use,
            where=loaded.where("evaluators", alias, "use")
            if spec.use
            else loaded.where("evaluators", alias, key=True),
        )
        params = parse_params(info, alias, spec, loaded, reg)
        ctx = BuildContext(loaded, alias, services, build_warnings, concurrency)
        ev = info.factory(alias, params, ctx)
        ev.family = str(info.family)
        built.append((alias, spec, ev, use))

    # 2. Local resources, before reading a possibly huge dataset.
    _check_nltk([use for _, _, _, use in built])

    # 3. Mappings, checked against a scan of the whole dataset.
    column_refs = parse_mapping(cfg.columns, loaded, ("columns",))
    target = None
    if cfg.target is not None:
        from evalcli.targets import build_target

        target = build_target(loaded, client_pool(services, concurrency), concurrency)
    bound: list[BoundEvaluator] = []
    for alias, spec, ev, use in built:
        own = parse_mapping(spec.columns, loaded, ("evaluators", alias, "columns"))
        names = {i.name for i in ev.inputs}
        conversational = supports_conversation(ev)
        if conversational:
            names.add("conversation")
        for key in own:
            if key not in names:
                hint = did_you_mean(key, names) or f"its inputs are: {', '.join(sorted(names))}"
                raise MappingError(
                    f"evaluator {alias!r} has no input {key!r}",
                    where=loaded.where("evaluators", alias, "columns", key, key=True),
                    hint=hint,
                )
        refs: dict[str, Ref] = {}
        for inp in ev.inputs:
            ref = own.get(inp.name) or column_refs.get(inp.name)
            refs[inp.name] = ref if ref is not None else Ref("data", (inp.name,), implicit=True)
        required = frozenset(i.name for i in ev.inputs if i.required)
        conversation = None
        if conversational:
            conversation = (
                own.get("conversation")
                or column_refs.get("conversation")
                or Ref("data", ("conversation",), implicit=True)
            )
        bound.append(BoundEvaluator(ev, refs, required, use, spec, conversation))

    ds_cfg = cfg.dataset
    limit = opts.limit if opts.limit is not None else ds_cfg.limit
    if isinstance(opts.scan, DatasetScan):  # read by Spark, never by this Dataset
        dataset = Dataset(opts.scan.path, opts.scan.format, limit)
    elif opts.scan is not None:
        source = ds_cfg.table or str(loaded.resolve(ds_cfg.path or Path()))
        dataset = Dataset(Path(source), "parquet", limit)
    else:
        assert ds_cfg.path is not None  # a table: refused above, or scanned by the Spark engine
        dataset = Dataset(
            loaded.resolve(ds_cfg.path), ds_cfg.format, limit, where=loaded.where("dataset", "path")
        )
    data_paths = sorted(
        {r.path for r in column_refs.values() if r.source == "data"}
        | {r.path for b in bound for r in b.refs.values() if r.source == "data"}
        | {b.conversation.path for b in bound if b.conversation is not None}
    )
    if target is not None:
        data_paths = sorted(set(data_paths) | set(target.data_paths()))
    if opts.scan is None:
        scan = dataset.scan(data_paths)
    else:
        scan = opts.scan if isinstance(opts.scan, DatasetScan) else opts.scan(data_paths)
    check_refs(loaded, scan, column_refs, bound)
    if target is not None:
        target.check_columns(scan, loaded)
        check_target_fields(loaded, target, column_refs, bound)

    # 4. Gates name metrics that will exist.
    metric_names = [s.name for b in bound for s in metric_specs(b.evaluator)]
    # Code evaluators returning undeclared dicts make metrics known only at run time; a gate
    # on one is checked when the run ends (exit 3 if its key never appeared).
    open_prefixes = tuple(f"{b.alias}." for b in bound if b.evaluator.open_outputs)
    for i, gate in enumerate(cfg.gates):
        if gate.metric not in metric_names and not gate.metric.startswith(open_prefixes):
            hint = did_you_mean(
                gate.metric, metric_names
            ) or "metrics of this config: " + ", ".join(metric_names[:12]) + (
                " ..." if len(metric_names) > 12 else ""
            )
            raise ConfigError(
                f"gate on unknown metric {gate.metric!r}",
                where=loaded.where("gates", i, "metric"),
                hint=hint,
            )

    # 5. Output directory.
    out_dir = opts.output_dir or (
        loaded.resolve(cfg.output.dir)
        if cfg.output.dir
        else Path("results") / _safe_name(loaded.run_name)
    )
    if opts.check_output_dir:
        _refuse_unresolved_output_dir(loaded, opts)
        check_writable(out_dir, loaded.where("output", "dir") if cfg.output.dir else None)

    pool = services.get("clients")
    clients = (*pool.clients.values(), *pool.others) if pool is not None else ()
    io_threads = max(concurrency, sum(getattr(c, "limit", 0) for c in clients))
    workers = opts.workers if opts.workers is not None else cfg.run.workers
    if workers is None:
        workers = min(os.cpu_count() or 1, 8)
    return RunPlan(
        loaded=loaded,
        dataset=dataset,
        scan=scan,
        evaluators=bound,
        output_dir=out_dir,
        concurrency=concurrency,
        max_error_rate=cfg.run.max_error_rate,
        workers=workers,
        metric_names=metric_names,
        services=services,
        io_threads=min(1024, io_threads),
        target=target,
        cache_path=_cache_path(loaded, opts),
        # e.g. a plugin that failed to load, a rubric score without a range: said, never fatal
        warnings=[*reg.warnings, *build_warnings, *_tracking_warnings(loaded)],
    )


def _check_nltk(uses: list[str]) -> None:
    from evalcli.evaluators.nlp import NLTK_NEEDS

    needed = sorted({r for u in uses for r in NLTK_NEEDS.get(u, ())})
    if not needed:
        return
    from evalcli import nltk_data

    missing = nltk_data.missing(needed)
    if missing:
        users = sorted({u for u in uses if set(NLTK_NEEDS.get(u, ())) & set(missing)})
        raise ResourceError(
            f"NLTK data missing for {', '.join(users)}: {', '.join(missing)}",
            hint=nltk_data.hint(missing),
        )


def _tracking_warnings(loaded: LoadedConfig) -> list[str]:
    """What a tracker configured in ``output`` lacks (said before the run, never fatal)."""
    if loaded.config.output.mlflow is None:
        return []
    from evalcli.tracking.installed import database_store_warning, mlflow_warning

    # The client first: without it, what its store needs is beside the point.
    warning = mlflow_warning(loaded) or database_store_warning(loaded)
    return [warning] if warning is not None else []


def _cache_path(loaded: LoadedConfig, opts: PlanOptions) -> Path | None:
    from evalcli.cache import DEFAULT_PATH

    cfg = loaded.config.cache
    if opts.no_cache or (not cfg.enabled and opts.cache_path is None):
        return None
    if opts.cache_path is not None:
        return opts.cache_path
    return loaded.resolve(cfg.path) if cfg.path is not None else DEFAULT_PATH


def _refuse_unresolved_output_dir(loaded: LoadedConfig, opts: PlanOptions) -> None:
    """An output directory spelled with an unset ``${env:NAME}`` is not created (it would be
    a directory literally named after the reference); the unset variable is reported."""
    cfg = loaded.config
    if opts.output_dir is not None or not loaded.unset_env:
        return
    loc = ("output", "dir") if cfg.output.dir else ("name",)
    text = str(cfg.output.dir) if cfg.output.dir else (cfg.name or "")
    if ENV_REF.search(text):
        # Names the place only: the path may hold the values of variables that are set.
        raise ConfigError("the output directory uses an unset variable", where=loaded.where(*loc))


def check_writable(out_dir: Path, where: str | None) -> None:
    """Create ``out_dir`` if needed and prove a file can be written there."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".evalcli-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"output directory {out_dir} is not writable: {exc.strerror}",
            where=where,
            hint="choose another directory with --output-dir",
        ) from None


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"

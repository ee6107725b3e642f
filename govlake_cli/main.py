"""The ``govlake`` command line: a thin renderer of the pipeline graph for engineers and officers.

Every command resolves the settings once (:func:`govlake.config.load_settings`), picks steps from
the graph (:mod:`jobs.pipeline.graph`) and runs them with :mod:`jobs.pipeline.run`, the same code the
Airflow tasks call. A configuration error, an unknown source or library, or missing Spark jars
print one line and exit 2; a failed quality gate exits 1 after the other steps ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from govlake.config import REPO_ROOT, ConfigError, Settings, Zone, load_settings
from govlake_cli.bench import bench
from govlake_cli.notebooks import notebooks_command
from govlake_cli.quality import quality_app, report_locations
from govlake_cli.share import demo_profile, share_app
from govlake_cli.sql import access_lines, sql_app
from synthetic.cli import generate

app = typer.Typer(
    help="govlake: the province's government data lake.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.command("generate")(generate)
app.command("bench")(bench)
app.add_typer(quality_app, name="quality")
app.add_typer(share_app, name="share")
app.add_typer(sql_app, name="sql")
app.command("notebooks")(notebooks_command)

GENERATED = REPO_ROOT / ".data" / "generated"


class CommandError(Exception):
    """A mistake in what was asked (unknown source, refused lake): one line, exit 2."""


def _expected_errors() -> tuple[type[Exception], ...]:
    from govlake.lake.catalogue import CatalogueError
    from govlake.registry import RegistryError
    from govlake.spark import SparkJarsMissing
    from jobs.pipeline.graph import GraphError
    from jobs.share.tokens import TokenError

    return (
        CommandError,
        ConfigError,
        RegistryError,
        CatalogueError,
        GraphError,
        SparkJarsMissing,
        TokenError,
    )


def main() -> None:
    """Console entry point: the app, with expected errors as one line and exit code 2."""
    try:
        app()
    except _expected_errors() as error:
        typer.echo(f"govlake: {error}", err=True)
        sys.exit(2)


# ----------------------------------------------------------------------------------- helpers


def _lake(settings: Settings | None = None) -> Any:  # -> govlake.lake.Lake
    from govlake.lake import Lake

    return Lake(settings or load_settings())


def _graph(lake: Any) -> Any:  # -> jobs.pipeline.graph.Graph
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph

    return pipeline_graph(load_registry(lake.settings.registry_path), lake.catalogue)


def _print_accounting(result: dict[str, Any]) -> None:
    typer.echo(
        f"  {result['source_id']:<30} {result.get('original_name', '')[:30]:<30} {result['status']:<22} "
        f"in={result.get('rows_in', '-')} accepted={result.get('rows_accepted', '-')} "
        f"quarantined={result.get('rows_quarantined', '-')}"
    )


def _run(lake: Any, steps: list[Any], heading: str) -> list[Any]:
    """Run ``steps`` (graph order) and print what each did; return the failed step runs."""
    from jobs.pipeline.graph import StepKind
    from jobs.pipeline.run import rows_written, run_steps

    graph = _graph(lake)
    failed = []
    typer.echo(heading)
    if any(s.kind is StepKind.INGEST for s in steps):
        typer.echo("  landing and loading (rows in = accepted + quarantined, per file):")
    for run in run_steps(graph, lake, steps, on_file=_print_accounting):
        step = run.step
        if step.kind is StepKind.INGEST:
            if run.gate and run.gate.published:
                for publication in run.gate.published:
                    typer.echo(f"  gate {publication.table}: {publication.summary}")
            elif run.failed:
                typer.echo(f"  gate {step.gate.tables[0]}: FAILED, not published", err=True)
        else:
            typer.echo(f"{step.name}  [{step.kind.value}]")
            if run.skipped:
                typer.echo(f"    up to date: {run.skipped}")
            elif run.built is not None:
                counts = run.built["counts"]
                if step.kind is StepKind.BUILD:
                    typer.echo(
                        f"    built in {run.built['seconds']:.1f}s, {rows_written(counts)} row(s) written"
                    )
                    typer.echo(f"    inputs   {json.dumps(run.built['inputs'])}")
                    shown = counts.get("dbt", counts)  # the marts: dbt's summary, not every node
                    typer.echo(f"    counts   {json.dumps(shown, ensure_ascii=False, default=str)}")
                elif run.output is not None and hasattr(run.output, "report"):
                    for line in run.output.report().splitlines():
                        typer.echo(f"    {line}")
            if run.gate is not None:
                for line in run.gate.report().splitlines():
                    typer.echo(f"    {line}")
                if run.gate_to_build is not None:
                    typer.echo(f"    validation costs {run.gate_to_build:.2f}x the build")
        if run.failed:
            failed.append(run)
            typer.echo(f"QUALITY GATE FAILED in {step.name}: nothing of it was published;", err=True)
            typer.echo("the previously published versions are still the ones served.", err=True)
            typer.echo(str(run.failed), err=True)
    return failed


def _finish(lake: Any, failed: list[Any]) -> None:
    report_locations(lake)
    if failed:
        names = ", ".join(run.step.name for run in failed)
        typer.echo(f"done with failed gates ({names}): exit 1", err=True)
        raise typer.Exit(1)
    typer.echo(f"done: tables under {lake.settings.storage_root} (`govlake config` lists the zones)")


def _select(graph: Any, kind: Any, wanted: list[str] | None, attribute: str, what: str) -> list[Any]:
    steps = [s for s in graph.of_kind(kind) if getattr(s, attribute) is not None]  # libraries, sources
    if not wanted:
        return steps
    known = {getattr(s, attribute): s for s in steps}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise CommandError(f"unknown {what} {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    return [known[w] for w in wanted]


# ---------------------------------------------------------------------------------- commands


@app.command()
def config() -> None:
    """Print where the lake lives (storage root and every zone); never prints secrets."""
    settings = load_settings()
    embedded = "  (embedded default)" if settings.is_embedded_default else ""
    typer.echo(f"storage root : {settings.storage_root}{embedded}")
    typer.echo(f"spark master : {settings.spark_master}")
    typer.echo(f"registry     : {settings.registry_path}")
    if settings.s3:
        typer.echo(f"s3 endpoint  : {settings.s3.endpoint} ({settings.s3.region})")
    for zone in Zone:
        typer.echo(f"  {zone.value:<11}{settings.zone(zone)}")


@app.command()
def graph() -> None:
    """Print the pipeline graph: every step with what it reads, writes and publishes through."""
    lake = _lake()
    for line in _graph(lake).render():
        typer.echo(line)


@app.command()
def smoke() -> None:
    """Write, merge, read back and time-travel a small Delta table on the configured storage."""
    from jobs.smoke import run_smoke

    typer.echo(json.dumps(run_smoke(_lake()), ensure_ascii=False, indent=2))


@app.command()
def ingest(
    source: Annotated[list[str] | None, typer.Option(help="source id(s); default: every source")] = None,
) -> None:
    """Land waiting extracts, load them into bronze (row accounting per file), gate each bronze table."""
    from jobs.pipeline.graph import StepKind

    lake = _lake()
    steps = _select(_graph(lake), StepKind.INGEST, source, "source_id", "source")
    _finish(lake, _run(lake, steps, "ingest: land -> load -> bronze gate"))


@app.command()
def silver(
    library: Annotated[list[str] | None, typer.Option(help="library(ies); default: all three")] = None,
) -> None:
    """Build the base libraries from published bronze, each through its quality gate."""
    from jobs.pipeline.graph import StepKind

    lake = _lake()
    graph = _graph(lake)
    steps = _select(graph, StepKind.BUILD, library, "library", "library")  # the library steps only
    _finish(lake, _run(lake, steps, "silver: build -> gate, library by library"))


@app.command()
def marts() -> None:
    """Build the gold marts (dbt build on the published libraries) through their gate, then say how
    to query them."""
    lake = _lake()
    failed = _run(lake, [_graph(lake).step("gold.marts")], "marts: dbt build -> gate (every dbt test)")
    _print_marts_access(lake)
    _finish(lake, failed)


def _print_marts_access(lake: Any) -> None:
    """Where the published marts are and how to query them: DuckDB, Spark, the SQL endpoint, notebooks."""
    from govlake import storage
    from govlake.config import Zone
    from govlake_cli.notebooks import NOTEBOOKS
    from jobs.gold.marts import docs_page

    published = lake.publications()
    gold = [t for t in lake.catalogue.in_zone(Zone.GOLD) if t.id in published]
    if not gold:
        typer.echo("marts: none published yet")
        return
    typer.echo(f"marts: {len(gold)} published; dbt docs (open offline): {docs_page(lake)}")
    for table in gold:
        typer.echo(f"  {table.id:<55} @ Delta v{published[table.id].delta_version}")
    example = next((t for t in gold if t.id == "gold.population.fct_vital_events_monthly"), gold[0])
    path, version = lake.path(example.id), published[example.id].delta_version
    typer.echo(f"query the published version (here {example.id}, v{version}):")
    typer.echo(
        '  DuckDB + delta-rs (no JVM): .venv/bin/python -c "import duckdb; from deltalake import '
        f"DeltaTable; t = DeltaTable('{path}', version={version}).to_pyarrow_dataset(); "
        "print(duckdb.sql('SELECT * FROM t LIMIT 12'))\""
    )
    typer.echo(f"  Spark: spark.read.format('delta').option('versionAsOf', {version}).load('{path}')")
    typer.echo("or by name (gold_<group>.<model>, the published versions) over the SQL endpoint:")
    for line in access_lines(lake.settings):
        typer.echo(f"  {line}")
    pages = [lake.location("gold.notebooks", notebook=name) for name in NOTEBOOKS]
    written = [page for page in pages if storage.exists(lake.settings, page)]
    typer.echo(
        f"  notebook pages: {', '.join(written) if written else pages[0] + ' (after govlake notebooks)'}"
    )


@app.command()
def run() -> None:
    """The whole pipeline over what waits in landing: land -> load -> bronze gate -> each library's
    build -> gate -> scorecard. Re-running changes nothing: every file is recognised by its hash."""
    lake = _lake()
    _finish(lake, _run(lake, list(_graph(lake).data_steps), "run: every step of the pipeline graph"))


@app.command()
def maintain() -> None:
    """Housekeeping of every table: retention settings, compaction, VACUUM (>= 7 days, and never
    the files of a published version). Changes no row; the weekly maintenance__lake DAG runs it."""
    lake = _lake()
    _finish(lake, _run(lake, [_graph(lake).step("maintenance.lake")], "maintain: compact and vacuum"))


@app.command()
def demo(
    scale: Annotated[int, typer.Option(min=20, help="true persons to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="generator seed")] = 0,
    on_configured_lake: Annotated[
        bool,
        typer.Option(
            "--on-configured-lake",
            help="write the synthetic citizens into the configured lake even though it is not the "
            "embedded default (.lake/): never do this on a lake that holds real data",
        ),
    ] = False,
) -> None:
    """Generate synthetic extracts and run the whole pipeline on the embedded default lake.

    Extracts (with their ground truth) are generated under .data/generated/, delivered into the
    landing zone as departments would upload them, then run through every step; person matching is
    scored against the truth. Refuses a configured lake other than .lake/ unless told explicitly.
    """
    from synthetic.deliver import deliver_extracts

    settings = load_settings()
    if not settings.is_embedded_default and not on_configured_lake:
        raise CommandError(
            f"refusing to write synthetic citizens into {settings.storage_root}: `govlake demo` runs on "
            "the embedded default lake (.lake/); unset GOVLAKE_STORAGE_ROOT, or pass --on-configured-lake"
        )
    lake = _lake(settings)
    typer.echo(f"generating {scale} persons' extracts (seed {seed}) into {GENERATED}")
    generate(scale=scale, out=GENERATED, seed=seed, quiet=True)
    delivered = deliver_extracts(GENERATED / "landing", lake)
    typer.echo(f"delivered {delivered} files to {settings.zone(Zone.LANDING)}")
    failed = _run(lake, list(_graph(lake).data_steps), "run: every step of the pipeline graph")
    _print_match_quality(lake, GENERATED / "truth")
    _print_marts_access(lake)
    demo_profile(lake)
    _finish(lake, failed)


def _print_match_quality(lake: Any, truth_dir: Path) -> None:
    """Score person matching against the generator's ground truth (only synthetic runs have one)."""
    from jobs.silver.population.match_report import report_folder, write_match_report

    report = write_match_report(lake, truth_dir)
    if "skipped" in report:
        typer.echo(f"person matching: skipped ({report['skipped']})")
        return
    typer.echo(
        "person matching vs ground truth, over pairs involving a record without a valid ID: "
        f"precision {report['probabilistic_precision']:.4f}, recall {report['probabilistic_recall']:.4f}; "
        f"overall precision {report['precision']:.4f}, recall {report['recall']:.4f}; "
        f"{report['pairs_compared']} pairs compared after blocking ({report['backend']})"
    )
    typer.echo(f"  records per link method: {json.dumps(report['records_by_method'])}")
    typer.echo(f"  report {report_folder(lake)}/latest.json")


if __name__ == "__main__":
    main()

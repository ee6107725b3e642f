"""The ``govlake`` command line: one entry point for engineers and quality officers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from govlake.cli_generate import generate
from govlake.cli_quality import quality_app
from govlake.config import REPO_ROOT, Settings, Zone, load_settings

app = typer.Typer(help="govlake: the province's government data lake.", no_args_is_help=True)
app.command("generate")(generate)
app.add_typer(quality_app, name="quality")


@app.command()
def config() -> None:
    """Print where the lake lives (storage root and every zone); never prints secrets."""
    settings = load_settings()
    typer.echo(f"storage root : {settings.storage_root}")
    typer.echo(f"spark master : {settings.spark_master}")
    if settings.s3:
        typer.echo(f"s3 endpoint  : {settings.s3.endpoint} ({settings.s3.region})")
    for zone in Zone:
        typer.echo(f"  {zone.value:<11}{settings.zone(zone)}")


@app.command()
def smoke() -> None:
    """Write, merge, read back and time-travel a small Delta table on the configured storage."""
    from jobs.smoke import run_smoke

    typer.echo(json.dumps(run_smoke(), ensure_ascii=False, indent=2))


@app.command()
def ingest(
    source: Annotated[list[str] | None, typer.Option(help="source id(s); default: every source")] = None,
) -> None:
    """Land waiting extracts and load them into bronze; print each file's row accounting."""
    from govlake.registry import load_registry
    from jobs.pipeline import ingest_source

    settings = load_settings()
    for source_id in source or list(load_registry().sources):
        for result in ingest_source(source_id, settings):
            _print_accounting(result)


def _print_accounting(result: dict) -> None:
    typer.echo(
        f"{result['source_id']:<32} {result.get('original_name', '')[:28]:<28} {result['status']:<22} "
        f"in={result.get('rows_in', '-')} accepted={result.get('rows_accepted', '-')} "
        f"quarantined={result.get('rows_quarantined', '-')}"
    )


@app.command()
def silver() -> None:
    """Build the base libraries from bronze, each through its quality gate (publish only if valid)."""
    _build_and_gate(load_settings(), indent="")


def _gate_bronze(settings: Settings) -> None:
    from jobs.pipeline import gate_bronze_tables
    from jobs.quality.gate import QualityGateFailed

    try:
        for publication in gate_bronze_tables(settings):
            typer.echo(f"    {publication.summary}")
    except QualityGateFailed as failed:
        typer.echo("BRONZE VALIDATION FAILED: the silver libraries are not built.", err=True)
        typer.echo(str(failed), err=True)
        _print_report_locations(settings)
        raise typer.Exit(1) from None


def _build_and_gate(settings: Settings, indent: str) -> None:
    """Build and gate each library, printing what was written and published; exit 1 on a failed gate."""
    from jobs.pipeline import build_and_gate_silver
    from jobs.quality.gate import QualityGateFailed

    try:
        for run in build_and_gate_silver(settings):
            typer.echo(f"{indent}{run.library:<14} {json.dumps(run.counts, ensure_ascii=False, default=str)}")
            for line in run.gate.report().splitlines():
                typer.echo(f"{indent}    {line}")
            typer.echo(
                f"{indent}    build {run.build_seconds:.1f}s, gate {run.gate.seconds:.1f}s:"
                f" validation costs {run.validation_to_build:.2f}x the build"
            )
    except QualityGateFailed as failed:
        typer.echo(f"{indent}QUALITY GATE FAILED: nothing of this library was published;", err=True)
        typer.echo(f"{indent}the previously published versions are still the ones served.", err=True)
        typer.echo(str(failed), err=True)
        _print_report_locations(settings)
        raise typer.Exit(1) from None


def _print_match_quality(settings: Settings, truth_dir: Path) -> None:
    """Score person matching against the generator's ground truth (only synthetic runs have one)."""
    from jobs.silver.population.match_report import report_folder, write_match_report

    report = write_match_report(settings, truth_dir)
    if "skipped" in report:
        typer.echo(f"    match quality: skipped ({report['skipped']})")
        return
    typer.echo(
        f"    person matching vs ground truth: precision {report['precision']:.4f},"
        f" recall {report['recall']:.4f}, {report['pairs_compared']} pairs compared after blocking"
        f" ({report['backend']}); report {report_folder(settings)}/latest.json"
    )


def _print_report_locations(settings: Settings) -> None:
    from jobs.quality.context import data_docs_index
    from jobs.quality.gate import publications_path
    from jobs.quality.gx_runner import validations_path
    from jobs.quality.scorecard import report_paths

    typer.echo("reports (`govlake quality report` prints them again):")
    typer.echo(f"  scorecard (quality officers)   {report_paths(settings)[0]}")
    typer.echo(f"  Data Docs (validation reports) {data_docs_index(settings)}")
    typer.echo(f"  validations history (Delta)    {validations_path(settings)}")
    typer.echo(f"  publications (Delta)           {publications_path(settings)}")


@app.command()
def run(
    scale: Annotated[int, typer.Option(min=20, help="true persons to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="generator seed")] = 0,
) -> None:
    """The whole pipeline on the configured lake: generate -> land -> bronze -> silver -> quality gates.

    Extracts are generated under .data/generated/ (with their ground truth), delivered into the
    lake's landing zone as departments would upload them, then ingested and standardized.
    Re-running with the same seed changes nothing: every file is recognised by its hash.
    """
    from jobs.pipeline import deliver_extracts, ingest_all

    settings = load_settings()
    generated = REPO_ROOT / ".data" / "generated"
    typer.echo(f"1/4 generating {scale} persons' extracts (seed {seed}) into {generated}")
    generate(scale=scale, out=Path(generated), seed=seed, quiet=True)
    typer.echo(
        f"2/4 delivering {deliver_extracts(generated / 'landing', settings)} files to "
        f"{settings.zone(Zone.LANDING)}"
    )
    typer.echo("3/4 landing and loading bronze, then validating every bronze table")
    for result in ingest_all(settings):
        _print_accounting(result)
    _gate_bronze(settings)
    typer.echo("4/4 building the base libraries, each through its quality gate")
    _build_and_gate(settings, indent="    ")
    _print_match_quality(settings, generated / "truth")
    typer.echo("scoring data quality per prefecture x department (GB/T 36344)")
    from jobs.quality.scorecard import build_scorecard

    for line in build_scorecard(settings).report().splitlines():
        typer.echo(f"    {line}")
    _print_report_locations(settings)
    typer.echo(f"done: tables under {settings.storage_root} (govlake config lists the zones)")


if __name__ == "__main__":
    app()

"""The ``govlake`` command line: one entry point for engineers and quality officers."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from govlake.config import Zone, load_settings

app = typer.Typer(help="govlake: the province's government data lake.", no_args_is_help=True)


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


if __name__ == "__main__":
    app()

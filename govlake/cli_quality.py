"""``govlake quality ...``: what quality officers run."""

from __future__ import annotations

from typing import Annotated

import typer

from govlake import storage
from govlake.config import load_settings

quality_app = typer.Typer(help="Quality reports: scorecard, Data Docs, validations.", no_args_is_help=True)


@quality_app.command()
def report(
    refresh: Annotated[
        bool, typer.Option("--refresh", help="score the lake now (adds a run to the trend) before printing")
    ] = False,
) -> None:
    """Print where the scorecard (HTML + PNG) and the validation reports (Data Docs) are."""
    from jobs.quality.context import data_docs_index
    from jobs.quality.gx_runner import validations_path
    from jobs.quality.scorecard import build_scorecard, report_paths

    settings = load_settings()
    if refresh:
        typer.echo(build_scorecard(settings).report())
    html_path, png_path = report_paths(settings)
    if not storage.exists(settings, html_path):
        typer.echo("no scorecard yet: run `govlake quality report --refresh` (or `govlake run`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"scorecard page   {html_path}")
    typer.echo(f"scorecard image  {png_path}")
    typer.echo(f"Data Docs        {data_docs_index(settings)}")
    typer.echo(f"validations      {validations_path(settings)} (Delta)")

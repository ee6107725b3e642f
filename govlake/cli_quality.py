"""``govlake quality ...``: what quality officers run.

Add to ``govlake/cli.py``: ``app.add_typer(quality_app, name="quality")``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from govlake import storage
from govlake.config import Settings, load_settings

quality_app = typer.Typer(help="Quality reports: scorecard, Data Docs, validations.", no_args_is_help=True)


def _where(settings: Settings, path: str, missing: str) -> str:
    """The path, or the path and why nothing is there yet (officers should not open a dead link)."""
    return path if storage.exists(settings, path) else f"{path}  (not there yet: {missing})"


@quality_app.command()
def report(
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="score the lake now (reads bronze, silver and the ingest log; adds one run to the "
            "trend) before printing; without it nothing is computed",
        ),
    ] = False,
) -> None:
    """Print where the latest scorecard (HTML + PNG) and the validation reports (Data Docs) are.

    Without --refresh this only prints paths (fast, no Spark). With --refresh it first scores the lake
    as it is now, appends the run to quality/scorecard/history and rewrites the page and the PNG.
    """
    from jobs.quality.context import data_docs_index
    from jobs.quality.gx_runner import validations_path
    from jobs.quality.scorecard import build_scorecard, report_paths

    settings = load_settings()
    if refresh:
        typer.echo("scoring the lake (GB/T 36344 indicators per prefecture x department) ...")
        typer.echo(build_scorecard(settings).report())
    html_path, png_path = report_paths(settings)
    if not storage.exists(settings, html_path):
        typer.echo(
            f"no scorecard yet at {html_path}: run `govlake quality report --refresh` (or `govlake run`)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"scorecard page   {html_path}")
    typer.echo(f"scorecard image  {png_path}")
    typer.echo(f"Data Docs        {_where(settings, data_docs_index(settings), 'no table validated yet')}")
    validations = validations_path(settings)
    first_commit = f"{validations}/_delta_log/{0:020d}.json"  # a Delta table exists once it has one
    state = "Delta" if storage.exists(settings, first_commit) else "not there yet: no table validated yet"
    typer.echo(f"validations      {validations}  ({state})")

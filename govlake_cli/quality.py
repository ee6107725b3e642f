"""``govlake quality ...``: what quality officers run."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from govlake import storage
from govlake.config import Zone, load_settings

quality_app = typer.Typer(help="Quality reports: scorecard, Data Docs, validations.", no_args_is_help=True)


def _where(lake: Any, path: str, missing: str) -> str:
    """The path, or the path and why nothing is there yet (officers should not open a dead link)."""
    return path if storage.exists(lake.settings, path) else f"{path}  (not there yet: {missing})"


def report_locations(lake: Any) -> None:  # lake: govlake.lake.Lake
    """Where the quality officers' reports and the records behind them are."""
    from jobs.quality.context import data_docs_index

    page = _where(lake, lake.location("quality.scorecard.page"), "no scorecard run yet")
    docs = _where(lake, data_docs_index(lake.settings), "nothing validated yet")
    tables = ["quality.validations", "share.publications", "quarantine.bronze_rows"]
    tables += [t.id for t in lake.catalogue.in_zone(Zone.QUARANTINE) if t.id.startswith("quarantine.silver_")]
    lines = {"scorecard (quality officers)": page, "Data Docs (validation reports)": docs}
    lines |= {f"{table_id} (Delta)": lake.path(table_id) for table_id in tables}
    width = max(map(len, lines)) + 1
    typer.echo("reports (`govlake quality report` prints them again):")
    for label, where in lines.items():
        typer.echo(f"  {label:<{width}} {where}")


@quality_app.command()
def report(
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="score the published lake now (runs the graph's quality.scorecard step: adds one run "
            "to the trend) before printing; without it nothing is computed",
        ),
    ] = False,
) -> None:
    """Print where the latest scorecard (HTML + PNG) and the validation reports (Data Docs) are.

    Without --refresh this only prints paths (fast, no Spark). With --refresh it first scores the
    published lake, appends the run to quality/scorecard/history and rewrites the page and the PNG.
    """
    from govlake.lake import Lake
    from govlake.registry import load_registry
    from jobs.pipeline.graph import pipeline_graph
    from jobs.pipeline.run import run_steps

    lake = Lake(load_settings())
    if refresh:
        typer.echo("scoring the lake (GB/T 36344 indicators per prefecture x department) ...")
        graph = pipeline_graph(load_registry(lake.settings.registry_path))
        for run in run_steps(graph, lake, [graph.step("quality.scorecard")]):
            typer.echo(run.output.report())
    page = lake.location("quality.scorecard.page")
    if not storage.exists(lake.settings, page):
        typer.echo(
            f"no scorecard yet at {page}: run `govlake quality report --refresh` (or `govlake run`)", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"scorecard page   {page}")
    typer.echo(f"scorecard image  {lake.location('quality.scorecard.png')}")
    report_locations(lake)

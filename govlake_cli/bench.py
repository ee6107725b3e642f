"""``govlake bench``: the whole pipeline on a scratch lake, timed, with the ratios of issue #15."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govlake.config import REPO_ROOT


def bench(
    scale: Annotated[int, typer.Option(min=20, help="true persons to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="generator seed")] = 0,
    out: Annotated[Path, typer.Option(help="where pipeline-<scale>.json and .md go")] = REPO_ROOT
    / "bench"
    / "results",
    work: Annotated[
        Path | None,
        typer.Option(help="scratch folder for the data and the lake (default: the temp folder)"),
    ] = None,
) -> None:
    """Generate data and run every pipeline step on a fresh scratch lake (never the configured one),
    reporting per stage rows, seconds and rows/s/core, and the ratios of issue #15 measured in one run:
    bronze and pipeline vs the I/O floor, native vs Python-UDF ID checks, incremental vs full, gates vs
    builds, entity resolution, sharing latency. Throw-away keys are generated for the run."""
    from bench.pipeline import LakeRefused, report, run_pipeline_bench

    try:
        result = run_pipeline_bench(scale, out, seed=seed, work=work)
    except LakeRefused as refused:
        typer.echo(f"govlake: {refused}", err=True)
        raise typer.Exit(2) from refused
    typer.echo(report(result))
    typer.echo(f"results: {out / f'pipeline-{scale}.json'} and .md")

"""``govlake generate``: synthetic department extracts with ground truth.

Mount on the main CLI with ``app.command("generate")(generate)``; or run it alone:
``python -m synthetic.cli --scale 2000 --out /tmp/extracts``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def generate(
    scale: Annotated[
        int, typer.Option(min=20, help="number of true persons (legal persons: scale/10)")
    ] = 100_000,
    out: Annotated[Path, typer.Option(help="output directory: OUT/landing/<source_id>/, OUT/truth/")] = Path(
        ".data/generated"
    ),
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives byte-identical files")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="processes writing extracts (default: 2, or 1 without fork)")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="registry file (default: $GOVLAKE_REGISTRY or registry/sources.yaml)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bars")] = False,
) -> None:
    """Generate every registry source's extract, exactly as its department sends it, plus ground truth."""
    from govlake.registry import load_registry
    from synthetic.generator import generate as run

    started = time.perf_counter()
    summary = run(
        out,
        scale,
        seed,
        registry=load_registry(registry) if registry else None,
        progress=not quiet,
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    typer.echo(
        f"{scale} persons -> {len(summary.files)} files, {summary.rows} rows under {out / 'landing'} "
        f"(truth: {out / 'truth'}) in {elapsed:.1f} s"
    )
    for kind, count in sorted(summary.messes.items()):
        typer.echo(f"  {kind:<20} {count}")


app = typer.Typer(add_completion=False)
app.command()(generate)

if __name__ == "__main__":
    app()

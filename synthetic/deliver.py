"""Deliver generated extracts into a lake's landing zone, as the departments would upload them."""

from __future__ import annotations

from pathlib import Path

from govlake import storage
from govlake.lake import Lake


def deliver_extracts(generated_landing: Path, lake: Lake) -> int:
    """Copy ``<generated>/landing/<source_id>/<file>`` into the lake's landing zone; return the count."""
    count = 0
    for path in sorted(p for p in generated_landing.rglob("*") if p.is_file()):
        source_id = path.parent.relative_to(generated_landing).as_posix()
        target = f"{lake.location('landing', source_id=source_id)}/{path.name}"
        storage.write_bytes(lake.settings, target, path.read_bytes())
        count += 1
    return count

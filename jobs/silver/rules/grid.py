"""Grid: the H3 cell (Uber H3 v4, hexagonal hierarchical index) of each WGS84 point.

Open-source Spark 4.2 has no H3 built-ins (``SHOW FUNCTIONS LIKE 'h3*'`` is empty; the ``h3_*``
functions in the Spark docs search are Databricks-only), and H3's icosahedral face projection is far
beyond what is sensible to rewrite in SQL math. So this one rule is a vectorized (Arrow) pandas UDF
over the pinned ``h3`` package, which has no array API in 4.x: the UDF loops ``h3.latlng_to_cell``
over each Arrow batch.

Measured (issue 5; 1,000,000 random points over Jiangsu, resolution 9, 2 partitions, best of 2, on
the project's 2-core machine while other sessions kept its load average at 13-18): ~420 k rows per
CPU-second of JVM + Python-worker time above a plain projection (2.76 CPU-s in all for 1 M rows;
9.7 s wall under that load, ~0.7 s for the bare projection). The floor is the per-point Python call:
``h3.latlng_to_cell`` alone does ~350 k calls/s in one process; the Arrow transfer is small next to
it. A JVM-native H3 (the h3-java jar behind a Scala UDF, or the ``h3spark`` package) would remove
the Python hop if grid assignment ever dominates a job.

Cells are returned as the 15-character hex string H3 prints (``89309119533ffff``), NULL for NULL,
NaN, non-numeric or off-the-globe coordinates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

DEFAULT_RESOLUTION = 9  # ~0.1 km2 cells, edge ~174 m: a few buildings / a residential block


def _cells(lat: pd.Series, lon: pd.Series, resolution: int) -> pd.Series:
    import h3

    out: list[str | None] = []
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        if la is None or lo is None or la != la or lo != lo or abs(la) > 90 or abs(lo) > 180:
            out.append(None)  # NULL, NaN (x != x) or off the globe
        else:
            out.append(h3.latlng_to_cell(la, lo, resolution))
    return pd.Series(out, dtype=object)


@functools.cache
def _udf(resolution: int) -> Callable[..., Column]:
    def cells(lat: pd.Series, lon: pd.Series) -> pd.Series:
        return _cells(lat, lon, resolution)

    return F.pandas_udf(cells, "string")


def h3_cell(lon: Column, lat: Column, resolution: int = DEFAULT_RESOLUTION) -> Column:
    """H3 cell (hex string) of a WGS84 point at ``resolution`` (0-15, default 9)."""
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0..15, not {resolution}")
    return _udf(resolution)(lat.try_cast("double"), lon.try_cast("double"))


__all__ = ["DEFAULT_RESOLUTION", "h3_cell"]

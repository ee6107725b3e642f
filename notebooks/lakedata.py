"""What the notebooks read the lake with: the published version of a table, as pandas.

With ``GOVLAKE_CONNECT_URL`` set (``source .run/sql-endpoint/client.env``) a notebook asks the SQL
endpoint's Spark Connect server for the published views by name (no JVM in the kernel); otherwise
it opens the project's own Spark session on the lake of ``GOVLAKE_STORAGE_ROOT`` and reads each
table at the version its gate published (:meth:`govlake.lake.Lake.read_published`). Either way a
notebook shows what passed its gate, never a version being built.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from govlake.lake import Lake


@cache
def lake() -> Lake:
    from govlake.config import load_settings
    from govlake.lake import Lake
    from govlake.spark import get_spark

    settings = load_settings()
    return Lake(settings, get_spark(settings, app_name="govlake-notebook"))


def published(table_id: str) -> pd.DataFrame:
    """``table_id`` (a catalogue id such as ``gold.population.fct_population_pyramid``) as pandas."""
    url = os.environ.get("GOVLAKE_CONNECT_URL")
    if url:
        from pyspark.sql import SparkSession

        from jobs.gold.published_views import view_name

        schema, name = view_name(table_id)
        return SparkSession.builder.remote(url).getOrCreate().table(f"`{schema}`.`{name}`").toPandas()
    return lake().read_published(table_id).toPandas()


def where() -> str:
    """Which lake (or endpoint) this notebook read, for its first output line."""
    url = os.environ.get("GOVLAKE_CONNECT_URL")
    if url:
        return f"SQL endpoint {url.split(';')[0]} (published views)"
    return f"lake {lake().settings.storage_root} (published versions)"

"""Other engines read the lake's tables: delta-rs (``deltalake``) and DuckDB (over delta-rs's Arrow
dataset; DuckDB's own delta extension is downloaded at run time, which this offline build cannot do)
read a gold mart and a silver library at their published versions and get Spark's rows.

And a guard: every table the catalogue knows uses only Delta reader features these readers support,
so a Spark setting that turns on another one (a table property, a Delta upgrade's new default) fails
here before an analyst's DuckDB does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

# On the session's built lake (~10 min to build): not part of the fast tier.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

#: A gold mart and a silver library (with dates, decimals and the citizen's own columns).
TABLES = ("gold.population.fct_vital_events_monthly", "silver.population.persons")

#: Reader features delta-rs 1.6 (and DuckDB over its Arrow) reads. A table on reader version 1 or 2
#: has none; version 3 lists them. Deletion vectors are left out on purpose: the lake does not
#: use them (jobs/share/materialize.py turns them off for shared copies) and an old DuckDB would
#: return deleted rows.
SAFE_READER_FEATURES = frozenset({"columnMapping", "timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
#: The highest reader version these readers understand.
MAX_READER_VERSION = 3


def comparable(value: Any) -> Any:
    """One form for a value read by either engine (Spark gives naive local times, Arrow UTC ones)."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.astimezone()
        return aware.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dict):
        return tuple(sorted((k, comparable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(comparable(v) for v in value)
    return value


def rows_of(records: list[dict[str, Any]], columns: list[str]) -> list[tuple]:
    return sorted((tuple(comparable(r[c]) for c in columns) for r in records), key=repr)


def spark_rows(lake, table_id: str) -> tuple[list[str], list[tuple], int]:
    version = lake.published_version(table_id)
    assert version is not None, f"{table_id} is not published on the built lake"
    df = lake.read_published(table_id)
    records = [row.asDict(recursive=True) for row in df.collect()]
    return df.columns, rows_of(records, df.columns), version


@pytest.fixture(scope="module")
def lake(built_lake):
    return built_lake.lake


@pytest.mark.parametrize("table_id", TABLES)
def test_delta_rs_reads_spark_rows(lake, table_id: str) -> None:
    from deltalake import DeltaTable

    columns, expected, version = spark_rows(lake, table_id)
    table = DeltaTable(lake.path(table_id), version=version).to_pyarrow_table()
    assert table.num_rows == len(expected) > 0
    assert sorted(table.column_names) == sorted(columns)
    assert rows_of(table.to_pylist(), columns) == expected


@pytest.mark.parametrize("table_id", TABLES)
def test_duckdb_reads_spark_rows(lake, table_id: str) -> None:
    import duckdb
    from deltalake import DeltaTable

    columns, expected, version = spark_rows(lake, table_id)
    dataset = DeltaTable(lake.path(table_id), version=version).to_pyarrow_dataset()  # noqa: F841
    with duckdb.connect() as connection:
        # DuckDB scans the Arrow dataset in place (replacement scan of the local name `dataset`).
        result = connection.sql("SELECT * FROM dataset").arrow()  # DuckDB 2: a RecordBatchReader
        got = result.read_all() if hasattr(result, "read_all") else result
        counted = connection.sql("SELECT count(*) FROM dataset").fetchall()
    assert counted == [(len(expected),)]
    assert rows_of(got.to_pylist(), columns) == expected


def test_every_catalogue_table_uses_only_reader_features_other_engines_read(lake) -> None:
    from deltalake import DeltaTable

    checked, offending = [], []
    for table_id in sorted(lake.catalogue.tables):
        path = lake.path(table_id)
        if not DeltaTable.is_deltatable(path):
            continue  # not built on this lake (e.g. a table of a source the test province lacks)
        protocol = DeltaTable(path).protocol()
        features = set(protocol.reader_features or ())
        checked.append(table_id)
        if protocol.min_reader_version > MAX_READER_VERSION or features - SAFE_READER_FEATURES:
            offending.append(f"{table_id}: reader v{protocol.min_reader_version} {sorted(features)}")
    assert not offending, "tables other engines may not read:\n" + "\n".join(offending)
    # The guard looked at the lake, not at nothing: every zone's tables are there.
    assert {t.split(".")[0] for t in checked} >= {"bronze", "silver", "gold"}, checked

"""The measuring phases of ``govlake bench`` on a copy of the session's built lake, CI-sized.

The whole benchmark (a fresh lake, the full graph twice) is too long for CI; its full-run phase is
``run_steps``, which the built lake itself runs. What only the benchmark runs is checked here: the
sharing phase (the real ``govlake share serve`` and the official client, concurrent recipients), the
native-vs-UDF ID timing (rows repeated, every distinct row compared), and the report page from both.
A broken phase is recorded under ``errors`` by the benchmark and the run goes on, so only a test
notices one (the sharing phase once asked for ``/delta-sharing/delta-sharing/shares``).
"""

from __future__ import annotations

import time

import pytest

# The first module to ask for the session's built lake builds it: the same budget as the others.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def lake(built_lake, tmp_path_factory):
    return built_lake.copy(tmp_path_factory.mktemp("bench-phases") / "lake")


def test_sharing_phase_serves_every_recipient_concurrently(lake, tmp_path):
    from bench.pipeline import sharing

    result = sharing(lake, tmp_path, recipients=2, rounds=1)
    assert "skipped" not in result, result
    assert result["concurrent_clients"] == len(result["recipients"]) == 2
    assert result["queries"] > len(result["recipients"])  # a listing and at least one load each
    assert result["rows_read"] > 0
    assert result["load_table"]["count"] >= 2 and result["load_table"]["median_ms"] > 0


def test_id_validation_times_repeated_rows_and_agrees_row_by_row(lake):
    from bench.pipeline import id_validation

    result = id_validation(lake, repeats=1, min_rows=20_000)
    assert result["distinct_source_rows"] > 0 and result["copies"] >= 1
    assert result["rows"] == result["distinct_source_rows"] * result["copies"] >= 20_000
    assert result["disagreements"] == 0, result["examples"]
    assert 0 < result["valid"] <= result["distinct_source_rows"]
    assert result["native_seconds"] > 0 and result["udf_seconds"] > 0


def test_report_shows_the_measured_phases(lake, tmp_path):
    from bench.ingest import machine
    from bench.pipeline import finish, id_validation, report, sharing

    result = {
        "scale": 300,
        "seed": 11,
        "machine": machine(),
        "errors": {},
        "data": {"files": 1, "bytes": 1, "rows": 1, "csv_json_files": 1, "csv_json_bytes": 1},
        "ids": id_validation(lake, repeats=1, min_rows=1),
        "sharing": sharing(lake, tmp_path, recipients=1, rounds=1),
    }
    page = report(finish(result, time.perf_counter()))
    assert "(c) ID validation on" in page and "(g) Sharing server" in page
    assert result["ratios"]["native_vs_udf"] is not None
    assert "failed" not in page

"""Incremental person resolution: a later batch touches only the persons it mentions.

The synthetic population (as in test_resolve.py) arrives in two batches: four fifths first (a full
resolution), the rest later (incremental, with the first run's crosswalk and model).
"""

from __future__ import annotations

import secrets

import pytest

from jobs.silver.population.resolve import METHOD_ID, match_quality, person_id_of, resolve_persons
from synthetic import resolution as syn

KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def population() -> syn.SyntheticPopulation:
    return syn.generate(900, seed=1)


@pytest.fixture(scope="module")
def batches(spark, population):
    """(all records, first batch): every fifth record arrives later."""
    everything = syn.records_frame(spark, population.records).cache()
    first = syn.records_frame(spark, [r for i, r in enumerate(population.records) if i % 5]).cache()
    return everything, first


@pytest.fixture(scope="module")
def runs(spark, batches):
    everything, first = batches
    initial = resolve_persons(spark, first, backend="duckdb", key=KEY)
    initial_rows = {r["record_key"]: tuple(r) for r in initial.crosswalk.collect()}
    later = resolve_persons(
        spark, everything, backend="duckdb", key=KEY, existing=initial.crosswalk, model=initial.model
    )
    return initial, initial_rows, later


def test_settled_records_keep_their_rows_and_new_ones_are_added_once(population, runs):
    _, initial_rows, later = runs
    rows = {r["record_key"]: tuple(r) for r in later.crosswalk.collect()}
    assert later.crosswalk.count() == len(rows) == len(population.records)
    touched = {r["person_id"] for r in later.touched_person_ids.collect()}
    # Records of persons a new record reached are re-scored (term frequencies now count the new
    # records too, so probabilities shift) and may move, which touches both persons.
    moved = {k for k, row in initial_rows.items() if rows[k][2] != row[2]}
    assert all({initial_rows[k][2], rows[k][2]} <= touched for k in moved)
    assert len(moved) < 0.05 * len(initial_rows)
    untouched = {k for k, row in initial_rows.items() if row[2] not in touched}
    assert {k: rows[k][:4] for k in untouched} == {k: initial_rows[k][:4] for k in untouched}
    # Touched: the persons the new records joined or founded, and both ends of every move.
    new_persons = {row[2] for k, row in rows.items() if k not in initial_rows}
    assert touched == new_persons | {initial_rows[k][2] for k in moved} | {rows[k][2] for k in moved}
    assert later.m_training == "reused"


def test_new_id_records_join_the_person_their_id_names(population, runs):
    _, initial_rows, later = runs
    rows = {r["record_key"]: r for r in later.crosswalk.collect()}
    new_with_id = [r for r in population.records if r["record_key"] not in initial_rows and r["id_number"]]
    assert new_with_id
    for r in new_with_id:
        expected = person_id_of("id", r["id_number"], KEY)
        assert (rows[r["record_key"]]["person_id"], rows[r["record_key"]]["match_method"]) == (
            expected,
            METHOD_ID,
        )


def test_only_pairs_with_an_unsettled_record_are_compared(spark, batches, runs):
    everything, _ = batches
    _, _, later = runs
    full = resolve_persons(spark, everything, backend="duckdb", key=KEY)
    # Fewer pairs than a full run (on this small, dense fixture most ID-less persons are within
    # reach of some new record, so the saving is modest: 319 vs 435 pairs), and no training.
    assert 0 < later.pairs_compared < full.pairs_compared
    assert later.timings["train"] < full.timings["train"]


def test_incremental_result_meets_the_targets(spark, population, runs):
    _, _, later = runs
    truth = syn.truth_frame(spark, population)
    quality = match_quality(later, truth)
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.97, quality


def test_a_batch_with_nothing_new_links_nothing(spark, batches, runs):
    _, first = batches
    initial, initial_rows, _ = runs
    again = resolve_persons(
        spark, first, backend="duckdb", key=KEY, existing=initial.crosswalk, model=initial.model
    )
    assert again.pairs_compared == 0
    assert {r["record_key"]: tuple(r) for r in again.crosswalk.collect()} == initial_rows
    assert again.touched_person_ids.count() == 0


def test_the_backend_links_only_the_records_a_pair_can_hold_with_the_whole_tables_result(
    spark, batches, runs, monkeypatch
):
    """The candidates (unsettled records and those they meet in a blocking rule, with the name
    frequencies of all records) give the crosswalk, probabilities and pairs of linking every record."""
    from jobs.silver.population import resolve_increment

    everything, _ = batches
    initial, _, later = runs
    # Every record a candidate, and the name frequencies Splink computes from the whole table.
    monkeypatch.setattr(
        resolve_increment, "_candidate_ids", lambda linkable, unsettled: linkable.every.select("unique_id")
    )
    monkeypatch.setattr(resolve_increment, "_name_frequencies", lambda linkable, candidates: None)
    whole = resolve_persons(
        spark, everything, backend="duckdb", key=KEY, existing=initial.crosswalk, model=initial.model
    )
    assert 0 < later.records_linked < whole.records_linked == everything.count()
    assert later.pairs_compared == whole.pairs_compared
    assert sorted(map(tuple, later.crosswalk.collect())) == sorted(map(tuple, whole.crosswalk.collect()))


def test_an_increment_prepares_every_record_as_a_full_run_does(spark):
    """The incremental scans compare IDs as written and borrow only the homes borrowers name; once
    hashed, every record's prepared columns are those of a full run (partners' homes included)."""
    import datetime as dt

    from jobs.silver.population.resolve import _hash_ids, _prepare
    from jobs.silver.population.resolve_increment import _Linkable

    partner = syn.citizen_id("320102", dt.date(1980, 1, 2), 11)
    other_partner = syn.citizen_id("320105", dt.date(1981, 3, 4), 12)
    home, elsewhere = "南京市玄武区中山路12号", "南京市鼓楼区北京西路3号"
    rows = [
        ("p1", "s", partner, "王强", None, "1", "320102", home, None, None),
        ("p2", "s", partner.lower(), "王强", None, "1", "320102", home, "13912345678", None),
        ("p3", "s", partner, "王强", None, "1", "320106", elsewhere, None, None),
        ("t1", "s", other_partner, "赵六", None, "1", "320106", elsewhere, None, None),
        ("t2", "s", other_partner, "赵六", None, "1", "320102", home, None, None),
        ("b1", "s", None, "李娜", None, "2", None, None, None, partner),
        ("b2", "s", None, "孙丽", None, "2", None, None, None, other_partner),
        ("b3", "s", "32010219800102001", "钱芳", None, "2", None, None, None, partner),  # an invalid ID
        ("c1", "s", None, "周敏", None, "2", "320111", "南京市浦口区江浦街道1号", None, partner),
        ("e1", "s", None, "郑洁", None, "2", None, None, None, "not an id"),
    ]
    frame = spark.createDataFrame(rows, syn.RECORD_DDL + ", partner_id_number string")
    incremental = _hash_ids(_Linkable(frame).every, KEY)
    assert sorted(map(tuple, incremental.collect())) == sorted(map(tuple, _prepare(frame, KEY).collect()))
    borrowed = {r["unique_id"]: r["address"] for r in incremental.collect()}
    assert borrowed["b1"] == borrowed["b3"] == home and borrowed["e1"] is None

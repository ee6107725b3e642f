"""Person entity resolution end to end on a synthetic population with known truth.

The fixture (``synthetic.resolution``, ~900 records of ~410 persons in five departments) carries the
mess resolution has to survive: IDs missing in some departments, one-character name typos,
birth-date typos, stale and mistyped addresses, and namesakes sharing name *and* birth date.
The DuckDB backend runs once per module and the tests read its result; the Spark backend runs
once, on the same records, and must agree with it.
"""

from __future__ import annotations

import hmac
import re
import secrets

import pytest

from jobs.silver.population.resolve import (
    MATCH_METHODS,
    METHOD_ID,
    METHOD_PROBABILISTIC,
    METHOD_SINGLETON,
    _prepare,
    _split_conflicts,
    match_quality,
    person_id_of,
    resolve_persons,
)
from synthetic import resolution as syn

COLUMNS = syn.RECORD_COLUMNS
#: A throw-away person-id key for this module (never a key in the repo).
KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def population() -> syn.SyntheticPopulation:
    return syn.generate(900, seed=1)


@pytest.fixture(scope="module")
def records(spark, population):
    return syn.records_frame(spark, population.records).cache()


@pytest.fixture(scope="module")
def truth(spark, population):
    return syn.truth_frame(spark, population).cache()


@pytest.fixture(scope="module")
def result(spark, records):
    return resolve_persons(spark, records, backend="duckdb", key=KEY)


@pytest.fixture(scope="module")
def crosswalk(result) -> dict[str, tuple]:
    return {
        r["record_key"]: (r["source_id"], r["person_id"], r["match_method"], r["match_probability"])
        for r in result.crosswalk.collect()
    }


def test_every_record_appears_exactly_once(result, population, crosswalk):
    assert result.crosswalk.count() == len(population.records)
    assert set(crosswalk) == {r["record_key"] for r in population.records}
    assert result.crosswalk.columns == [
        "record_key",
        "source_id",
        "person_id",
        "match_method",
        "match_probability",
    ]
    assert sum(result.records_by_method.values()) == len(population.records)
    assert {m for _, _, m, _ in crosswalk.values()} <= set(MATCH_METHODS)


def test_quality_meets_targets(result, truth):
    quality = match_quality(result, truth)
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.97, quality
    assert quality["pairs_compared"] == result.pairs_compared > 0
    assert quality["records_by_method"] == {k: v for k, v in result.records_by_method.items() if v}
    # The probabilistic pass has to carry real weight on this fixture, not ride on the IDs.
    assert result.records_by_method[METHOD_PROBABILISTIC] > 150
    assert quality["probabilistic_precision"] >= 0.97, quality
    assert quality["probabilistic_recall"] >= 0.9, quality


def test_id_records_get_the_keyed_hmac_of_their_id(population, crosswalk):
    for r in population.records:
        _, person_id, method, probability = crosswalk[r["record_key"]]
        assert re.fullmatch(r"P[0-9a-f]{16}", person_id)
        if r["id_number"]:
            # Spark's built-in HMAC (two sha2 over padded keys) is the standard one.
            digest = hmac.new(KEY.encode(), f"id|{r['id_number']}".encode(), "sha256").hexdigest()
            expected = "P" + digest[:16]
            assert person_id_of("id", r["id_number"], KEY) == expected
            assert (person_id, method, probability) == (expected, METHOD_ID, 1.0)
            assert r["id_number"] not in person_id
        else:
            assert method in (METHOD_PROBABILISTIC, METHOD_SINGLETON)
            assert (probability is None) == (method == METHOD_SINGLETON)


def test_no_person_holds_two_ids(population, crosswalk):
    ids_per_person: dict[str, set[str]] = {}
    for r in population.records:
        if r["id_number"]:
            ids_per_person.setdefault(crosswalk[r["record_key"]][1], set()).add(r["id_number"])
    assert all(len(ids) == 1 for ids in ids_per_person.values())


def test_new_person_ids_come_from_the_smallest_member(population, crosswalk):
    """A cluster without an ID is minted from its smallest record identity (here the record_key:
    the fixture has no row keys), a singleton from its own."""
    members: dict[str, list[str]] = {}
    for key, (_, person_id, method, _) in crosswalk.items():
        if method != METHOD_ID:
            members.setdefault(person_id, []).append(key)
    id_persons = {pid for _, pid, m, _ in crosswalk.values() if m == METHOD_ID}
    for person_id, keys in members.items():
        if person_id in id_persons:
            continue
        assert person_id == person_id_of("record", min(keys), KEY)


def test_rerun_on_reshuffled_input_gives_identical_crosswalk(spark, records, crosswalk):
    from pyspark.sql import functions as F

    shuffled = records.orderBy(F.rand(seed=7)).repartition(3)
    again = resolve_persons(spark, shuffled, backend="duckdb", key=KEY)
    assert {r["record_key"]: tuple(r)[1:] for r in again.crosswalk.collect()} == crosswalk


def test_spark_backend_agrees_with_duckdb(spark, records, truth, result, crosswalk):
    on_spark = resolve_persons(spark, records, backend="spark", key=KEY)
    rows = {r["record_key"]: tuple(r)[1:] for r in on_spark.crosswalk.collect()}
    assert set(rows) == set(crosswalk)
    assert on_spark.crosswalk.count() == len(crosswalk)
    # Same SQL, same training data (all pairs sampled for u at this size): the same answer.
    assert on_spark.pairs_compared == result.pairs_compared
    assert {k: v[:3] for k, v in rows.items()} == {k: v[:3] for k, v in crosswalk.items()}
    quality = match_quality(on_spark, truth)
    assert quality["precision"] >= 0.99 and quality["recall"] >= 0.97, quality
    # Splink's temp views are gone afterwards
    assert not [t.name for t in spark.catalog.listTables() if t.name.startswith("__splink__")]


def test_records_collected_to_duckdb_give_the_crosswalk_of_the_parquet_handoff(
    spark, records, crosswalk, monkeypatch
):
    """Another master than local collects the records to DuckDB (its tasks' disks are not the
    driver's): the same crosswalk as the Parquet folder a local master hands over."""
    import jobs.silver.population.resolve as resolve

    monkeypatch.setattr(resolve, "_handoff_folder", lambda _spark: None)
    collected = resolve_persons(spark, records, backend="duckdb", key=KEY).crosswalk
    assert {
        r["record_key"]: (r["source_id"], r["person_id"], r["match_method"], r["match_probability"])
        for r in collected.collect()
    } == crosswalk


def test_without_any_id_the_model_falls_back_to_em(spark, population):
    rows = [tuple(None if c == "id_number" else r[c] for c in COLUMNS) for r in population.records[:400]]
    no_ids = spark.createDataFrame(rows, syn.RECORD_DDL)
    res = resolve_persons(spark, no_ids, backend="duckdb", key=KEY)
    assert res.m_training == "em"
    assert res.crosswalk.count() == 400
    assert res.records_by_method[METHOD_ID] == 0
    assert res.records_by_method[METHOD_PROBABILISTIC] > 0


def test_duplicate_record_keys_are_rejected(spark, records):
    with pytest.raises(ValueError, match="record_key is not unique"):
        resolve_persons(spark, records.unionByName(records.limit(1)), key=KEY)


def test_unknown_backend_is_rejected(spark, records):
    with pytest.raises(ValueError, match="backend"):
        resolve_persons(spark, records, backend="sqlite", key=KEY)


def test_split_conflicts_never_joins_two_ids():
    edges = [
        {"node_l": "r:1", "node_r": "p:A", "match_probability": 0.999},
        {"node_l": "r:1", "node_r": "p:B", "match_probability": 0.995},
        {"node_l": "r:2", "node_r": "p:B", "match_probability": 0.99},
        {"node_l": "r:2", "node_r": "r:1", "match_probability": 0.98},
        {"node_l": "r:3", "node_r": "r:2", "match_probability": 0.985},
    ]
    groups = _split_conflicts(edges)
    assert groups["r:1"] == groups["p:A"] != groups["p:B"]
    assert groups["r:2"] == groups["r:3"] == groups["p:B"]
    # Order of the input does not matter
    assert _split_conflicts(list(reversed(edges))) == groups


def test_match_quality_counts_pairs(spark):
    crosswalk = spark.createDataFrame(
        [
            ("a", "s", "P1", METHOD_ID, 1.0),
            ("b", "s", "P1", METHOD_PROBABILISTIC, 0.99),
            ("c", "s", "P1", METHOD_PROBABILISTIC, 0.99),  # wrongly with a, b
            ("d", "s", "P2", METHOD_SINGLETON, None),  # wrongly apart from c
        ],
        "record_key string, source_id string, person_id string, match_method string, "
        "match_probability double",
    )
    truth = spark.createDataFrame([("a", "T1"), ("b", "T1"), ("c", "T2"), ("d", "T2")], syn.TRUTH_DDL)
    q = match_quality(crosswalk, truth)
    # predicted pairs ab ac bc; true pairs ab cd; correct ab
    assert (q["pairs_predicted"], q["pairs_true"], q["pairs_correct"]) == (3, 2, 1)
    assert q["precision"] == pytest.approx(1 / 3)
    assert q["recall"] == pytest.approx(1 / 2)
    assert q["records_by_method"] == {METHOD_ID: 1, METHOD_PROBABILISTIC: 2, METHOD_SINGLETON: 1}


def test_empty_input_gives_an_empty_crosswalk(spark, records):
    res = resolve_persons(spark, records.limit(0), key=KEY)
    assert res.crosswalk.count() == 0
    assert res.crosswalk.columns == [
        "record_key",
        "source_id",
        "person_id",
        "match_method",
        "match_probability",
    ]
    assert res.pairs_compared == 0


def test_prepare_blanks_unknowns_and_fills_birth_date_from_the_id(spark):
    import datetime as dt

    idn = syn.citizen_id("320102", dt.date(1990, 5, 17), 123)
    rows = [
        ("k1", "s", idn, "张伟", None, "9", "320102", "南京市玄武区中山路12号3幢201室", "--"),
        ("k2", "s", "12345", " ", dt.date(1991, 1, 2), "1", "", "  ", "138-0000-0000"),
    ]
    out = {r["unique_id"]: r for r in _prepare(spark.createDataFrame(rows, syn.RECORD_DDL), KEY).collect()}
    k1, k2 = out["k1"], out["k2"]
    assert k1["id_person_id"].startswith("P") and k1["birth_date"] == "1990-05-17"
    assert (k1["sex"], k1["phone"], k1["surname"], k1["given_name"]) == (None, None, "张", "伟")
    assert (k1["prefecture"], k1["address_house"]) == ("3201", "南京市玄武区中山路12号")
    assert k2["id_person_id"] is None  # not a valid 18-character ID: linked probabilistically
    assert (k2["name"], k2["admin_code"], k2["address"], k2["sex"]) == (None, None, None, "1")
    assert (k2["birth_date"], k2["phone"]) == ("1991-01-02", "13800000000")


def test_a_mention_without_residence_takes_its_partners_most_stated_home(spark):
    """A spouse named only by name and sex lives where the partner's own records most often say
    (ties: the smaller address); a mention with a residence or an ID of its own keeps its own."""
    import datetime as dt

    partner = syn.citizen_id("320102", dt.date(1980, 1, 2), 11)
    stranger = syn.citizen_id("320105", dt.date(1981, 3, 4), 12)
    own = syn.citizen_id("320106", dt.date(1982, 5, 6), 13)
    home, other = "南京市玄武区中山路12号", "南京市鼓楼区北京西路3号"
    rows = [
        # the partner's own records: two at home, one elsewhere
        ("p1", "s", partner, "王强", None, "1", "320102", home, None, None),
        ("p2", "s", partner, "王强", None, "1", "320102", home, None, None),
        ("p3", "s", partner, "王强", None, "1", "320106", other, None, None),
        # a tie between two homes: the smaller address wins
        ("t1", "s", stranger, "赵六", None, "1", "320106", other, None, None),
        ("t2", "s", stranger, "赵六", None, "1", "320102", home, None, None),
        ("b1", "s", None, "李娜", None, "2", None, None, None, partner),  # borrows
        ("b2", "s", None, "孙丽", None, "2", None, None, None, stranger),  # borrows (tie)
        ("c1", "s", None, "周敏", None, "2", "320111", "南京市浦口区江浦街道1号", None, partner),
        ("d1", "s", own, "吴芳", None, "2", None, None, None, partner),  # has an ID: not a borrower
        ("e1", "s", None, "郑洁", None, "2", None, None, None, own),  # the partner states no home
    ]
    ddl = syn.RECORD_DDL + ", partner_id_number string"
    out = {r["unique_id"]: r for r in _prepare(spark.createDataFrame(rows, ddl), KEY).collect()}
    assert len(out) == len(rows)
    residence = {k: (r["admin_code"], r["address"]) for k, r in out.items()}
    assert residence["b1"] == ("320102", home)
    assert residence["b2"] == min([("320106", other), ("320102", home)], key=lambda r: r[1])
    assert residence["c1"] == ("320111", "南京市浦口区江浦街道1号")
    assert residence["d1"] == residence["e1"] == (None, None)
    assert residence["p3"] == ("320106", other)
    assert out["b1"]["address_house"] == home and out["b1"]["prefecture"] == "3201"


def test_records_that_all_carry_ids_need_no_probabilistic_links(spark, records):
    with_ids = records.filter("id_number is not null")
    res = resolve_persons(spark, with_ids, key=KEY)
    n = with_ids.count()
    assert res.records_by_method == {METHOD_ID: n, METHOD_PROBABILISTIC: 0, METHOD_SINGLETON: 0}
    assert res.pairs_compared == 0

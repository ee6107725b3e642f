"""A person is one person, under one ID, for good: ids kept, merges and splits recorded.

Tiny hand-made records (too few to train on, so the documented priors score them, as in a first
delivery) resolved twice: once, then again with what arrived later and the first crosswalk.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

from jobs.silver.population.resolve import (
    CROSSWALK_DDL,
    METHOD_PROBABILISTIC,
    _name_clusters,
    _remint,
    person_id_of,
    resolve_persons,
)
from synthetic import resolution as syn

KEY = secrets.token_hex(32)
ROAD = "宿迁市宿城区幸福路"
ID_X = syn.citizen_id("321302", dt.date(1972, 11, 8), 21)


def row(key, name, *, idn=None, birth=None, sex="1", admin="321302", address=None, phone=None):
    return (key, "s", idn, name, birth, sex, admin, address, phone)


#: Three residents with IDs, and 周敏 twice without one (keys sort after what arrives later).
BASE = [
    row("s|f9|1", "张伟", idn=syn.citizen_id("321302", dt.date(1980, 1, 1), 11), birth=dt.date(1980, 1, 1)),
    row("s|f9|2", "王芳", idn=syn.citizen_id("321302", dt.date(1985, 3, 14), 12), birth=dt.date(1985, 3, 14)),
    row("s|f9|3", "刘洋", idn=ID_X, birth=dt.date(1972, 11, 8), address=f"{ROAD}20号"),
    row(
        "s|f9|5",
        "周敏",
        birth=dt.date(1978, 12, 2),
        sex="2",
        address=f"{ROAD}30号5幢301室",
        phone="13500008888",
    ),
    row(
        "s|f9|6",
        "周敏",
        birth=dt.date(1978, 12, 2),
        sex="2",
        address=f"{ROAD}30号5幢301室",
        phone="13500008888",
    ),
    # 刘阳 (one character off 刘洋), nothing else in common with him yet: a person of its own.
    row("s|f9|7", "刘阳", admin="321311", address="宿迁市宿豫区运河路5号", phone="13700004444"),
]
#: A later file whose hash sorts lower: 周敏 again, and 刘洋's ID beside 刘阳's phone and address.
LATER = [
    row(
        "s|a0|1",
        "周敏",
        birth=dt.date(1978, 12, 2),
        sex="2",
        address=f"{ROAD}30号5幢301室",
        phone="13500008888",
    ),
    row("s|a0|2", "刘阳", idn=ID_X, admin="321311", address="宿迁市宿豫区运河路5号", phone="13700004444"),
]


def frame(spark, rows):
    return spark.createDataFrame(rows, syn.RECORD_DDL)


def persons_of(result) -> dict[str, str]:
    return {r["record_key"]: r["person_id"] for r in result.crosswalk.collect()}


@pytest.fixture(scope="module")
def first(spark):
    return resolve_persons(spark, frame(spark, BASE), key=KEY)


@pytest.fixture(scope="module", params=["incremental", "full"])
def later(request, spark, first):
    """The later file resolved with the first crosswalk: incrementally (with the model) or afresh."""
    model = first.model if request.param == "incremental" else None
    return resolve_persons(spark, frame(spark, BASE + LATER), key=KEY, existing=first.crosswalk, model=model)


def test_first_run_uses_the_priors_and_links_the_two_mentions(first):
    assert first.m_training == "priors"
    assert "priors" in first.training_note
    ids = persons_of(first)
    assert ids["s|f9|5"] == ids["s|f9|6"]
    assert ids["s|f9|7"] not in {ids["s|f9|3"], ids["s|f9|5"]}


def test_a_record_with_a_smaller_key_joins_without_renaming(first, later):
    before, after = persons_of(first), persons_of(later)
    zhou = before["s|f9|5"]
    # Named after its smallest member then, it keeps that name although s|a0|1 sorts lower now.
    assert zhou == person_id_of("record", "s|f9|5", KEY)
    assert after["s|a0|1"] == after["s|f9|5"] == after["s|f9|6"] == zhou
    match = {r["record_key"]: r["match_method"] for r in later.crosswalk.collect()}
    assert match["s|a0|1"] == METHOD_PROBABILISTIC


def test_two_persons_merge_with_a_pointer(spark, first, later):
    before, after = persons_of(first), persons_of(later)
    liu_yang, liu_yang_typo = before["s|f9|3"], before["s|f9|7"]
    # The later record carries 刘洋's ID with 刘阳's phone and address: they are one person.
    assert after["s|f9|7"] == after["s|a0|2"] == after["s|f9|3"] == liu_yang
    merges = {r["person_id"]: r["merged_into"] for r in later.merges.collect()}
    assert merges == {liu_yang_typo: liu_yang}
    assert later.splits.count() == 0
    # Nobody else moved.
    for key in ("s|f9|1", "s|f9|2", "s|f9|5", "s|f9|6"):
        assert after[key] == before[key]


def test_a_split_is_recorded(spark):
    """A previous crosswalk that put two strangers together: a full run parts them; the one that
    keeps the id is the smaller cluster, the other is new and says where it came from."""
    rows = [
        row("s|f1|1", "孙丽", birth=dt.date(1990, 5, 1), sex="2", address=f"{ROAD}1号", phone="13311110000"),
        row("s|f1|2", "钱军", birth=dt.date(1961, 2, 9), admin="321311", address="宿迁市宿豫区运河路88号"),
    ]
    stranger = person_id_of("record", "s|f1|1", KEY)
    existing = spark.createDataFrame(
        [
            ("s|f1|1", "s", stranger, METHOD_PROBABILISTIC, 0.99),
            ("s|f1|2", "s", stranger, METHOD_PROBABILISTIC, 0.99),
        ],
        CROSSWALK_DDL,
    )
    result = resolve_persons(spark, frame(spark, rows), key=KEY, existing=existing)
    ids = persons_of(result)
    assert ids["s|f1|1"] == stranger != ids["s|f1|2"]
    assert {r["person_id"]: r["split_from"] for r in result.splits.collect()} == {ids["s|f1|2"]: stranger}
    assert result.merges.count() == 0


def test_new_persons_are_minted_from_the_record_identity_not_the_file(spark):
    """The same registration resent in a file with another hash is minted the same id."""
    a = [(*row("s|aaaa|4", "吴静", birth=dt.date(1999, 9, 9), sex="2"), "s|SQ0042|resident")]
    b = [(*row("s|ffff|9", "吴静", birth=dt.date(1999, 9, 9), sex="2"), "s|SQ0042|resident")]
    ddl = syn.RECORD_DDL + ", record_identity string"
    first_id = persons_of(resolve_persons(spark, spark.createDataFrame(a, ddl), key=KEY))["s|aaaa|4"]
    second_id = persons_of(resolve_persons(spark, spark.createDataFrame(b, ddl), key=KEY))["s|ffff|9"]
    assert first_id == second_id == person_id_of("record", "s|SQ0042|resident", KEY)


def test_name_clusters_keeps_ids_one_cluster_each():
    rows = [
        {"unique_id": "a", "group": "g1", "record_identity": "ia", "known_person_id": "P1"},
        {"unique_id": "b", "group": "g1", "record_identity": "ib", "known_person_id": "P1"},
        {"unique_id": "c", "group": "g2", "record_identity": "ic", "known_person_id": "P1"},
        {"unique_id": "d", "group": "g3", "record_identity": "id", "known_person_id": "P9"},
        {"unique_id": "e", "group": "g3", "record_identity": "ie", "known_person_id": None},
    ]
    named = _name_clusters(rows, taken={"P9"}, key=KEY)
    # g1 has two of P1's records, g2 one: g1 keeps P1; g2 and g3 (whose P9 someone else holds) are new.
    assert named["a"] == named["b"] == "P1"
    assert named["c"] == person_id_of("record", "ic", KEY)
    assert named["d"] == named["e"] == person_id_of("record", "id", KEY)
    assert _name_clusters(list(reversed(rows)), taken={"P9"}, key=KEY) == named


def test_remint_avoids_ids_in_use():
    minted = person_id_of("record", "x", KEY)
    named = {"u1": minted, "u2": "P1"}
    out = _remint(named, {minted}, in_use={minted}, key=KEY)
    assert out["u2"] == "P1" and out["u1"] not in (minted, "P1")
    assert out["u1"] == person_id_of("record", f"{minted}#2", KEY)


def test_resolution_needs_a_key(spark):
    with pytest.raises(ValueError, match="person-id key"):
        resolve_persons(spark, frame(spark, BASE), key="")

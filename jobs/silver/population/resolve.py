"""Person entity resolution: every standardized person record -> one ``person_id`` (the crosswalk).

Two passes, because the two kinds of evidence deserve different trust:

1. **Deterministic** — a record with a valid citizen ID belongs to the person that ID names. Its
   ``person_id`` is ``"P"`` + the first 16 hex digits of HMAC-SHA256(key, "id|" + ID): stable
   across runs and sources, never the ID itself (the ID is core-classified; the surrogate can
   travel to marts and shares). The key is ``GOVLAKE_PERSON_ID_KEY`` (``Settings.person_id_key``):
   citizen IDs are enumerable, so a keyless or fixed-salt hash is reversed by trying them all. A
   fingerprint of the key is kept beside the model, and a build with another key refuses to start
   (it would renumber everyone).
2. **Probabilistic** (Splink) — records *without* a valid ID are scored against the ID-bearing
   records and against each other on name, birth date, sex, district, address and phone. Pairs of
   two ID-bearing records are never scored: their IDs already decided. Each pair above the
   threshold is an edge; ID-bearing records are collapsed to one node per person, so an ID-less
   record joins a *person*, not a record. Connected components of that graph are the clusters; a
   component that would join two different IDs (an ID-less record looking like both of two
   namesakes) is split greedily, strongest edges first, never joining two IDs. An ID-less record
   whose cluster holds an ID gets that person's id; otherwise its cluster (or itself alone) is
   *named* (:func:`_name_clusters`).

**A person_id once issued keeps naming that person.** An ID-less cluster whose records already
had a person_id in the previous crosswalk keeps it (the one most of its records had; each old id
goes to one cluster at most). Only a cluster with no such record gets a new id, minted once as
HMAC(key, "record|" + the smallest ``record_identity``: source id + the source's own row key, not
the file's hash) and kept from then on, whatever sorts lower later. When two persons turn out to
be one, the one that loses its records is closed with ``merged_into`` (``ResolutionResult.merges``);
when a person's records part, the new person records ``split_from`` (``ResolutionResult.splits``).

**Quality on the hard part** — the pairs that involve at least one record without a valid ID, the
only ones probabilistic matching decides (pairs of two valid IDs are right by construction, and
make the overall figures look good whatever happens here). Measured with
``python -m bench.resolution --generated N --seed S`` (the generator's whole province: every
population source, landed, loaded and standardized as the build does; DuckDB backend):

    persons   seed   records   without valid ID   hard-part P / R (true pairs)   overall P / R   seconds
     20,000     1     36,871         476         1.000 / 0.907 (514) before      1.000 / 0.998     268
     20,000     1     36,871         476         1.000 / 1.000 (514)             1.000 / 1.000     242
    200,000     7    381,312       4,822         1.000 / 0.992 (5,296)           1.000 / 1.000     453

The last two rows were measured again at e59f9ae, after a spouse mention took its partner's admin
code as well as the address (before, the admin code stayed missing), with the same figures (seed
1: 1.000 / 1.000 over 514 pairs; seed 7: 1.000 / 0.9923 over 5,296).

Tuning saw only seed 1 (20,000 persons; and ``synthetic.resolution`` seed 1 for the threshold, in
the unit tests); seed 7 at 200,000 persons is the acceptance run no tuning saw (target: precision
>= 0.99 and recall >= 0.95 on the hard part). Every miss at seed 1 before was a spouse in a
marriage registration without an ID: name and sex are all such a mention carries. Two things a
clerk would use fixed them (see :func:`_prepare`): the 17-digit body of a mistyped ID (blocking
rule and comparison ``id_body``), and the partner's residence for a mention that has none of its
own. What still misses at seed 7 (41 of 5,296 pairs, every one in a sample of 60): a newborn's birth
certificate without an ID against the child's household record — name, birth date and sex agree,
but the certificate's district is the birthplace and the household is registered elsewhere, so a
common name (陈娟, 刘彬) born that day stays below the threshold. The household record's ID carries
the same birthplace code (digits 1-6), which a further comparison level could use; not done yet.
Also unlinkable by any rule here: a spouse mention whose partner has no valid ID either.

Incremental runs (``existing``: the previous crosswalk, ``model``: the previous model) settle what
is already known: an already-resolved record keeps its row, and is only a target new records can
join, unless a new record meets an ID-less record of its person in some blocking rule; then that
person's ID-less records are re-resolved with the new ones (the new record may be the evidence
that joins them to an ID, as a full run would find). Only pairs with an unsettled record are
scored, the model is not retrained, and the result names the persons whose crosswalk rows changed,
so the golden records of only those are recomputed. Measured on ``synthetic.resolution`` records, the
later batch against a full run over all records (this shared 2-core machine, seconds rough):

    records   later batch   pairs compared   persons touched   seconds   precision / recall
      900        20%          319 vs 435        203 of 424      6 vs 2    0.999 / 0.973 vs 1.0 / 0.973
     21k          5%        3,054 vs 13,168   1,145 of 9,183   10 vs 10   0.993 / 0.988 vs 0.993 / 0.988

An incremental run (:mod:`jobs.silver.population.resolve_increment`) works on the delivery's
records, the persons they reopen and the records a pair to score can hold, found by scans of
every record's blocking keys (computed once and held) against the few records' keys, broadcast;
it prepares in full, hashes and links only those. At 300,000 persons (583,882 records) a 1%
delivery linked 872 records and scored 775 pairs, against 14,938 pairs in the full run. One run
of ``bench.incremental_silver`` at d895cfd (2 cores, warm JVM): the incremental resolution took
21.5 s (19.3 s run again) against 26.2 s for the full one; before, when it prepared and settled
every record, 29.7 s against 23.4 s on the same machine. What remains is scans of every record
and of the previous crosswalk, ~1-4 s each at that size (the README has the parts).

Model training is cheap and deterministic: u-probabilities by Splink's hash-based random sampling
with a fixed seed; m-probabilities from the ID-bearing records themselves (records sharing an ID
are known matches: Splink's ``estimate_m_from_label_column``), blended with fixed priors so that a
level the labels never show (ID-bearing records rarely carry birth-date typos: standardization
fills the date from the ID) keeps a plausible weight; EM on two blocking rules only when there are
too few ID-labelled pairs. The prior match probability is measured on the ID-bearing records.

**Small and cold lakes.** A first delivery (one prefecture's few rows) has neither: no ID shared
by two records, and too few pairs for EM. Then the documented priors are used as they stand —
:data:`PRIOR_M` for m, :data:`PRIOR_U` for u (when fewer than :data:`MIN_U_PAIRS` random pairs
exist), and the result says so (``m_training = "priors"``, ``training_note`` in the resolution
summary). Levels training never observed are filled from the same priors.

Backends. ``duckdb`` (the default) hands the prepared records to an in-process DuckDB (as Parquet
on a local master, :func:`_link_duckdb`), links them there, and hands the result back to Spark;
``spark`` runs Splink's Spark backend on
the given session (for the cluster, where the records do not fit one machine). Measured in one
run of ``python -m bench.resolution 20000 100000`` on this 2-core machine
(shared with other jobs, so seconds are rough; the ratio is the point), same cached records for
both backends, end to end including Spark <-> Arrow:

    records   duckdb    spark    spark/duckdb   pairs compared   precision / recall
     21k      28.6 s   150.4 s       5.3x           13,168        0.993 / 0.988
    105k      26.3 s   141.7 s       5.4x          144,278        0.993 / 0.982

(DuckDB's time is mostly u sampling, fixed at 2M pairs, and Spark <-> Arrow; blocking, scoring
and clustering 105k records take ~3 s.) DuckDB is the embedded default: Splink's Spark backend
runs each of its dozens of SQL steps as Spark jobs with parquet checkpoints, and the
connected-components loop adds a few per iteration, so scheduling dominates on a few cores,
while DuckDB runs the same SQL vectorized in-process. The Spark backend stays selectable
(``backend="spark"``) for a real cluster, where the records no longer fit one machine. On small
inputs both backends give the identical crosswalk (u from all pairs); on large ones the seeded u
sample differs by backend (different hash functions), so a few borderline records may differ.

Only built-in SQL functions are used (levenshtein, substr, equality), so both backends score with
the same comparisons and Splink's Scala UDF jar is not needed on the Spark classpath.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govlake.spark import broadcast_if_few
from jobs.silver.tables import KeyedChanges

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame

log = logging.getLogger(__name__)

BACKENDS = ("duckdb", "spark")
DEFAULT_BACKEND = "duckdb"
#: Pairs at or above this match probability are links. Chosen on the synthetic fixture for
#: precision >= 0.99 with recall >= 0.97 (tests/silver/population/test_resolve.py; 0.95 let
#: same-district namesakes through, 0.99 dropped name + birth date + sex alone). The probability
#: already carries the prior, which shrinks as the record count grows, so one threshold holds
#: across sizes (checked at 20k and 100k records by ``bench.resolution``).
DEFAULT_THRESHOLD = 0.98
DEFAULT_SEED = 20240501

METHOD_ID = "id_number"
METHOD_PROBABILISTIC = "probabilistic"
METHOD_SINGLETON = "singleton"
MATCH_METHODS = (METHOD_ID, METHOD_PROBABILISTIC, METHOD_SINGLETON)

#: Below this many ID-labelled pairs, m-probabilities come from EM instead of the labels.
MIN_LABEL_PAIRS = 50
#: An EM blocking rule is run only when it yields at least this many record pairs; with none
#: left, the priors stand (a first, small delivery).
MIN_EM_PAIRS = 200
#: Below this many record pairs in all, u-probabilities are the priors, not a sample of ~nothing.
MIN_U_PAIRS = 1000
#: Weight of the fixed prior in the m-probabilities learnt from labels (smoothing, see docstring).
PRIOR_WEIGHT = 0.2
#: Pairs sampled for u estimation (Splink recommends far more for production; cheap by design).
U_MAX_PAIRS = 2e6

#: Optional (:data:`OPTIONAL_COLUMNS`): ``record_identity`` (source id + the source's row key, see
#: records.record_identity; without it the record_key names new persons), ``id_number_raw`` (the ID
#: as written, for ``id_body``) and ``partner_id_number`` (a spouse's valid ID, see :func:`_prepare`).
REQUIRED_COLUMNS = (
    "record_key",
    "source_id",
    "id_number",
    "name",
    "birth_date",
    "sex",
    "admin_code",
    "address",
    "phone",
)
UNKNOWN_SEX = ("0", "9", "未知", "未说明", "未知的性别", "未说明的性别")
OPTIONAL_COLUMNS = ("record_identity", "id_number_raw", "partner_id_number")
CROSSWALK_DDL = (
    "record_key string, source_id string, person_id string, match_method string, match_probability double"
)
CROSSWALK_COLUMNS = ("record_key", "source_id", "person_id", "match_method", "match_probability")

#: At least one side has no valid ID: two ID-bearing records were settled by their IDs.
_ONE_SIDE_WITHOUT_ID = "(l.id_person_id is null or r.id_person_id is null)"
#: Blocking rules for prediction (OR-ed by Splink; each pair scored once). Numbered from 1, they
#: tolerate one fault at a time: a given-name typo (3, 4, 5, 7), a surname typo (3, 4, 6), a missing
#: or mistyped birth date (2, 4, 7), a missing or stale district (1, 4, 5, 6). ``address_house`` is
#: the address up to the house number (号), so a full and a truncated address still meet. Rule 8
#: brings a mistyped ID to the valid one it was meant to be.
BLOCKING_RULES: tuple[str, ...] = (
    "l.name = r.name and l.birth_date = r.birth_date",
    "l.name = r.name and l.admin_code = r.admin_code",
    "l.birth_date = r.birth_date and l.admin_code = r.admin_code",
    "l.phone = r.phone",
    "l.birth_date = r.birth_date and l.surname = r.surname",
    "l.birth_date = r.birth_date and l.given_name = r.given_name",
    "l.address_house = r.address_house and l.surname = r.surname",
    "l.id_body = r.id_body",
)
#: EM fallback: each rule leaves the other fields free to be estimated.
EM_BLOCKING_RULES: tuple[str, ...] = (
    "l.name = r.name and l.birth_date = r.birth_date",
    "l.admin_code = r.admin_code and l.phone = r.phone",
)


@dataclass(frozen=True)
class ResolutionResult:
    """The crosswalk and what it took to make it."""

    #: record_key, source_id, person_id, match_method, match_probability — each input record once.
    crosswalk: DataFrame
    backend: str
    threshold: float
    #: Candidate pairs Splink scored after blocking (pairs of two ID-bearing records excluded).
    pairs_compared: int
    records_by_method: dict[str, int]
    #: Clusters that would have joined two IDs and were split (see module docstring).
    conflicts_split: int
    seconds: float
    #: Seconds per stage: prepare, to_backend, train, block_and_score, cluster, from_backend, assemble.
    timings: dict[str, float]
    #: How m was trained: "labels" (ID-sharing records), "em", "priors" (too little to learn
    #: from), "reused" (an incremental run), or "none" (no pair to score).
    m_training: str
    #: The trained Splink model (settings dict with m/u), to audit or to re-score without training.
    model: dict[str, Any] = field(repr=False)
    #: Incremental runs only: the person_ids whose records changed (new records joined them, or
    #: records of theirs are gone). None after a full resolution: every person may have changed.
    touched_person_ids: DataFrame | None = field(default=None, repr=False)
    #: Why training went the way it did, in words (for the resolution summary).
    training_note: str = ""
    #: Records the backend blocked and scored: all of them in a full run; in an incremental one the
    #: unsettled records and those they meet in a blocking rule (0: no pair to score).
    records_linked: int = 0
    #: person_id -> merged_into: previous persons whose records all went to another person.
    merges: DataFrame | None = field(default=None, repr=False)
    #: person_id -> split_from: new persons made of records that belonged to an existing one.
    splits: DataFrame | None = field(default=None, repr=False)
    #: Incremental runs only: how ``crosswalk`` differs from the previous crosswalk, to write
    #: instead of comparing the whole of it (None: compare the snapshot).
    crosswalk_changes: KeyedChanges | None = field(default=None, repr=False)


_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104)


def _key_block(key: str) -> bytes:
    raw = key.encode("utf-8")
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    return raw.ljust(_BLOCK, b"\0")


def person_id_of(kind: str, value: str, key: str) -> str:
    """``P`` + 16 hex digits of HMAC-SHA256(key, kind|value) (Python: minting on the driver, tests)."""
    digest = hmac.new(key.encode("utf-8"), f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()
    return "P" + digest[:16]


def _hmac_person_id(kind: str, value: Any, key: str) -> Any:
    """:func:`person_id_of` as a Spark column, with built-in functions only.

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)); the two padded keys are constants, so the
    whole of it is two ``sha2`` calls over ``concat`` of binaries (no UDF). Like any literal they
    sit in the query plan: the Spark UI of a job that computes person_ids is as sensitive as the key.
    """
    from pyspark.sql import functions as F

    block = _key_block(key)
    inner_pad = bytearray(b ^ 0x36 for b in block)
    outer_pad = bytearray(b ^ 0x5C for b in block)
    message = F.encode(F.concat(F.lit(f"{kind}|"), value), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    digest = F.sha2(F.concat(F.lit(outer_pad), inner), 256)
    return F.concat(F.lit("P"), F.substring(digest, 1, 16))


def _check_key(key: str | None) -> str:
    if not key:
        raise ValueError("resolve_persons needs the person-id key (Settings.person_id_key)")
    return key


def _prepare(records: DataFrame, key: str) -> DataFrame:
    """The columns linkage uses, blanks as NULL (two blanks must not 'match'), IDs replaced by hashes.

    Two things a registration clerk would use beside the plain fields:

    * ``id_body`` — the first 17 characters of the ID as written, valid or not. An ID whose check
      character is mistyped is not an ID (it names nobody for sure), but its 17 digits still carry
      birthplace, birth date and sequence: a record with such an ID meets the record whose valid ID
      starts the same (blocking rule and comparison ``id_body``).
    * a **partner's residence** — a mention that states no residence of its own but names a partner
      with a valid ID (a spouse in a marriage registration: name and sex only) takes the address the
      partner's own records give most often (ties: the smaller), since spouses share a household.
    """
    base = _link_columns(records, key)
    if "partner_id_number" in records.columns:
        base = _borrow_homes(base, _partner_homes(base))
    return _finish(base)


def _link_columns(records: DataFrame, key: str | None) -> DataFrame:
    """Per record the columns linkage compares, before a partner's residence is borrowed.

    ``key`` None keeps a valid ID as the upper-cased ID itself (in ``id_person_id`` and
    ``partner_person_id``) instead of its keyed hash: a one-to-one stand-in, so an incremental run
    can scan every record without hashing every ID (:func:`_hash_ids` hashes the few it keeps).
    """
    from pyspark.sql import functions as F

    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s) {missing}; need {list(REQUIRED_COLUMNS)}")

    def text(name: str) -> Any:
        c = F.trim(F.col(name).cast("string"))
        return F.when(c != "", c)

    def optional(name: str) -> Any:
        return text(name) if name in records.columns else F.lit(None).cast("string")

    def person(idn: Column) -> Column:
        return idn if key is None else _hmac_person_id("id", idn, key)

    idn = F.upper(text("id_number"))
    valid = idn.rlike(r"^\d{17}[\dX]$")
    written = F.regexp_replace(F.upper(optional("id_number_raw")), r"[^0-9X]", "")
    body = F.coalesce(
        F.when(valid, F.substring(idn, 1, 17)),
        F.when(written.rlike(r"^\d{17}[\dX]$"), F.substring(written, 1, 17)),
    )
    partner = F.upper(optional("partner_id_number"))
    name = text("name")
    # The ID states the birth date: fill it where the record lacks one (upstream may already have).
    birth = F.coalesce(
        F.col("birth_date").cast("date"), F.when(valid, F.try_to_date(F.substring(idn, 7, 8), "yyyyMMdd"))
    )
    phone = F.regexp_replace(text("phone"), r"\D", "")
    sex = text("sex")
    identity = F.col("record_identity") if "record_identity" in records.columns else F.col("record_key")
    return records.select(
        F.col("record_key").cast("string").alias("unique_id"),
        F.col("source_id").cast("string").alias("source_id"),
        F.coalesce(identity.cast("string"), F.col("record_key").cast("string")).alias("record_identity"),
        F.when(valid, person(idn)).alias("id_person_id"),
        body.alias("id_body"),
        name.alias("name"),
        F.substring(name, 1, 1).alias("surname"),
        F.when(F.length(name) > 1, F.substring(name, 2, 64)).alias("given_name"),
        F.date_format(birth, "yyyy-MM-dd").alias("birth_date"),
        # GB/T 2261.1 "0" unknown / "9" unstated say nothing: two of them must not agree.
        F.when(~sex.isin(*UNKNOWN_SEX), sex).alias("sex"),
        text("admin_code").alias("admin_code"),
        text("address").alias("address"),
        F.when(phone != "", phone).alias("phone"),
        F.when(partner.rlike(r"^\d{17}[\dX]$"), person(partner)).alias("partner_person_id"),
    )


def _borrows() -> Column:
    """A mention that may take its partner's residence: no ID, no residence, a valid partner ID."""
    from pyspark.sql import functions as F

    return (
        F.col("id_person_id").isNull()
        & F.col("address").isNull()
        & F.col("admin_code").isNull()
        & F.col("partner_person_id").isNotNull()
    )


def _partner_homes(base: DataFrame) -> DataFrame:
    """(partner_person_id, _p_address, _p_admin): the residence each ID's own records in ``base``
    give most often (ties: the smaller address, then admin code)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lives = (
        base.where(F.col("id_person_id").isNotNull() & F.col("address").isNotNull())
        .groupBy(F.col("id_person_id").alias("partner_person_id"), "address", "admin_code")
        .count()
    )
    w = Window.partitionBy("partner_person_id").orderBy(F.col("count").desc(), "address", "admin_code")
    return (
        lives.withColumn("_n", F.row_number().over(w))
        .where("_n = 1")
        .select(
            "partner_person_id", F.col("address").alias("_p_address"), F.col("admin_code").alias("_p_admin")
        )
    )


def _borrow_homes(base: DataFrame, homes: DataFrame) -> DataFrame:
    """``base`` with each borrowing mention's residence taken from its partner's home in ``homes``."""
    from pyspark.sql import functions as F

    borrow = _borrows() & F.col("_p_address").isNotNull()
    # Decided once, before either column is replaced (deciding again after the address is
    # borrowed would keep the mention's missing admin code).
    return (
        base.join(homes, "partner_person_id", "left")
        .withColumn("_borrow", borrow)
        .withColumn("address", F.when(F.col("_borrow"), F.col("_p_address")).otherwise(F.col("address")))
        .withColumn("admin_code", F.when(F.col("_borrow"), F.col("_p_admin")).otherwise(F.col("admin_code")))
        .drop("_p_address", "_p_admin", "_borrow")
    )


def _finish(base: DataFrame) -> DataFrame:
    """The prepared columns, in order, with those derived from the residence."""
    from pyspark.sql import functions as F

    house = F.regexp_extract(F.col("address"), r"^(.*?号)", 1)
    return base.drop("partner_person_id").select(
        "unique_id",
        "source_id",
        "record_identity",
        "id_person_id",
        "id_body",
        "name",
        "surname",
        "given_name",
        "birth_date",
        "sex",
        "admin_code",
        F.substring("admin_code", 1, 4).alias("prefecture"),
        "address",
        F.when(house != "", house).alias("address_house"),
        "phone",
    )


def _hash_ids(prepared: DataFrame, key: str) -> DataFrame:
    """Prepared records of :func:`_link_columns` without a key, with their IDs hashed as with one."""
    from pyspark.sql import functions as F

    person = F.col("id_person_id")
    return prepared.withColumn("id_person_id", F.when(person.isNotNull(), _hmac_person_id("id", person, key)))


# --- the Splink model ---------------------------------------------------------------------------


#: m priors per comparison (non-null levels, in order): what fraction of true matches land in each
#: level. Rough figures from how departments' extracts disagree; used alone when nothing is learnt.
PRIOR_M: dict[str, list[float]] = {
    "name": [0.88, 0.04, 0.06, 0.02],
    "birth_date": [0.93, 0.04, 0.01, 0.02],
    "sex": [0.98, 0.02],
    "residence": [0.55, 0.12, 0.05, 0.12, 0.02, 0.04, 0.10],
    "phone": [0.6, 0.02, 0.38],
    "id_body": [0.9, 0.08, 0.02],
}
#: Comparisons whose m and u are the priors, never trained: ID-bearing records (the labels) all
#: agree on their ID, and random pairs never do, so training would learn certainty both ways —
#: while a mistyped ID that differs from a valid one is weak evidence, not proof, of two persons.
FIXED_PRIORS = ("id_body",)
#: u priors, same levels: the share of two *different* persons' records landing in each level.
#: Rounded from the u that random sampling measured on the generator's 20k-person province
#: (``python -m bench.resolution --generated 20000 --seed 1``); used when a lake is too small to
#: sample (first deliveries) and for levels a sample never hit.
PRIOR_U: dict[str, list[float]] = {
    "name": [0.0005, 0.0002, 0.02, 0.9793],
    "birth_date": [0.00004, 0.0006, 0.003, 0.99636],
    "sex": [0.5, 0.5],
    "residence": [0.000002, 0.00001, 0.00001, 0.004, 0.03, 0.05, 0.915978],
    "phone": [0.0000001, 0.000001, 0.9999989],
    "id_body": [0.00000001, 0.0000005, 0.99999949],
}


def _comparisons() -> list[Any]:
    """Comparisons with fixed m priors (used as-is when nothing better is learnt, else blended)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return [
        # Chinese names are 2-4 characters: one character off is the typical typo (伟/玮).
        # Term frequencies: 张伟 agreeing says far less than 欧阳靖雯 agreeing.
        cl.CustomComparison(
            output_column_name="name",
            comparison_description="exact (term-frequency adjusted), one character off, else",
            comparison_levels=[
                cll.NullLevel("name"),
                cll.ExactMatchLevel("name", term_frequency_adjustments=True),
                # In a 3-character name one character off still leaves two agreeing; in a
                # 2-character name it leaves the surname alone, which 7% of people share.
                cll.CustomLevel(
                    "levenshtein(name_l, name_r) <= 1 and length(name_l) >= 3 and length(name_r) >= 3",
                    "one character off, 3+ characters",
                ),
                cll.LevenshteinLevel("name", 1),
                cll.ElseLevel(),
            ],
        ).configure(m_probabilities=PRIOR_M["name"]),
        # On the ISO string: distance 1 is a one-digit typo, 2 a swapped day/month or two slips.
        cl.LevenshteinAtThresholds("birth_date", [1, 2]).configure(m_probabilities=PRIOR_M["birth_date"]),
        cl.ExactMatch("sex").configure(m_probabilities=PRIOR_M["sex"]),
        # District and address as one comparison, because they are not independent: the same
        # district with a *different* address is evidence against (a namesake down the road), the
        # same district with no address to compare is evidence for; naive Bayes over two separate
        # comparisons would count the district agreement either way.
        cl.CustomComparison(
            output_column_name="residence",
            comparison_description="address, else district (address differs / unknown), else prefecture",
            comparison_levels=[
                cll.CustomLevel(
                    "(admin_code_l is null and address_l is null)"
                    " or (admin_code_r is null and address_r is null)",
                    "no residence on one side",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel("address"),
                cll.LevenshteinLevel("address", 3),
                cll.CustomLevel(
                    "levenshtein(address_house_l, address_house_r) <= 1", "same house number, typo at most"
                ),
                cll.CustomLevel(
                    "admin_code_l = admin_code_r and (address_l is null or address_r is null)",
                    "same district, an address missing",
                ),
                cll.CustomLevel("admin_code_l = admin_code_r", "same district, different address"),
                cll.CustomLevel("prefecture_l = prefecture_r", "same prefecture"),
                cll.ElseLevel(),
            ],
        ).configure(m_probabilities=PRIOR_M["residence"]),
        cl.LevenshteinAtThresholds("phone", 1).configure(m_probabilities=PRIOR_M["phone"]),
        # Only ever scored with at least one side's ID invalid (two valid IDs never meet).
        cl.CustomComparison(
            output_column_name="id_body",
            comparison_description="the ID's first 17 characters as written: same, one off, else",
            comparison_levels=[
                cll.NullLevel("id_body"),
                cll.ExactMatchLevel("id_body"),
                cll.LevenshteinLevel("id_body", 1),
                cll.ElseLevel(),
            ],
        ).configure(m_probabilities=PRIOR_M["id_body"], u_probabilities=PRIOR_U["id_body"]),
    ]


def _settings(prior: float) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[f"({r}) and {_ONE_SIDE_WITHOUT_ID}" for r in BLOCKING_RULES],
        probability_two_random_records_match=prior,
        additional_columns_to_retain=["id_person_id"],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


def _scalar(db_api: DatabaseAPI, sql: str) -> Any:
    rows = db_api.query_sql(sql).as_record_list()
    return next(iter(rows[0].values())) if rows else None


def _blend_priors(model: dict[str, Any], priors: dict[str, list[float]], weight: float) -> dict[str, Any]:
    """m := (1 - weight) * learnt + weight * prior, per non-null level (then renormalized)."""
    for comparison in model["comparisons"]:
        prior = priors.get(comparison["output_column_name"])
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        if prior is None or len(prior) != len(levels):
            continue
        learnt = [lv.get("m_probability") for lv in levels]
        learnt = [p if isinstance(p, (int, float)) else 0.0 for p in learnt]
        blended = [(1 - weight) * a + weight * b for a, b in zip(learnt, prior, strict=True)]
        total = sum(blended)
        for lv, m in zip(levels, blended, strict=True):
            lv["m_probability"] = m / total
    return model


def _fill_from_priors(model: dict[str, Any], *, m: bool, u: bool) -> dict[str, Any]:
    """Set every level's m (``m=True``: all of them; else only missing ones) and likewise u from
    :data:`PRIOR_M` / :data:`PRIOR_U`; the comparisons of :data:`FIXED_PRIORS` always."""
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        fixed = name in FIXED_PRIORS
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for which, priors, overwrite in (
            ("m_probability", PRIOR_M, m or fixed),
            ("u_probability", PRIOR_U, u or fixed),
        ):
            prior = priors.get(name)
            if prior is None or len(prior) != len(levels):
                continue
            for lv, value in zip(levels, prior, strict=True):
                current = lv.get(which)
                if overwrite or not isinstance(current, (int, float)) or not 0 < current <= 1:
                    lv[which] = value
    return model


def _pairs_of_rule(db_api: DatabaseAPI, table: SplinkDataFrame, rule: str) -> int:
    """Record pairs a blocking rule yields (each pair once)."""
    return int(
        _scalar(
            db_api,
            f"select count(*) as n from {table.physical_name} l join {table.physical_name} r "
            f"on l.unique_id < r.unique_id and ({rule})",
        )
        or 0
    )


def _train(db_api: DatabaseAPI, table: SplinkDataFrame, seed: int) -> tuple[dict[str, Any], str, str]:
    """Train the model on ``table``; return the settings dict to predict with, how m was learnt,
    and why (see "Small and cold lakes" in the module docstring)."""
    from splink import Linker
    from splink.internals.exceptions import EMTrainingException

    n = int(_scalar(db_api, f"select count(*) as n from {table.physical_name}") or 0)
    label_stats = db_api.query_sql(
        f"""
        select coalesce(sum(c * (c - 1) / 2), 0) as label_pairs, coalesce(sum(c), 0) as n_with_id
        from (select count(*) as c from {table.physical_name}
              where id_person_id is not null group by id_person_id) t
        """
    ).as_record_list()[0]
    label_pairs = int(label_stats["label_pairs"])
    n_with_id = int(label_stats["n_with_id"])
    # P(two random records are one person), measured where the truth is known: the ID-bearing records.
    if label_pairs > 0 and n_with_id > 1:
        prior = label_pairs / (n_with_id * (n_with_id - 1) / 2)
    else:
        prior = 1.0 / max(n, 2)
    prior = min(max(prior, 1e-9), 0.5)

    linker = Linker(table, _settings(prior), log_level=None)
    all_pairs = n * (n - 1) // 2
    notes: list[str] = []
    if all_pairs >= MIN_U_PAIRS:
        # u: all pairs when there are few, else a deterministic hash sample (seeded). One chunk:
        # Splink's early-stopping probe costs a pass per chunk (a dozen Spark jobs each).
        max_pairs = float(min(U_MAX_PAIRS, all_pairs))
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed, num_chunks=1)
    else:
        notes.append(f"u from priors ({all_pairs} record pairs < {MIN_U_PAIRS})")
    if label_pairs >= MIN_LABEL_PAIRS:
        linker.training.estimate_m_from_label_column("id_person_id")
        model = _blend_priors(linker.misc.save_model_to_json(), PRIOR_M, PRIOR_WEIGHT)
        how = "labels"
        notes.insert(0, f"m from {label_pairs} ID-labelled pairs")
    else:
        reached = {rule: _pairs_of_rule(db_api, table, rule) for rule in EM_BLOCKING_RULES}
        usable = [rule for rule, pairs in reached.items() if pairs >= MIN_EM_PAIRS]
        trained = []
        for rule in usable:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True
                )
                trained.append(rule)
            except EMTrainingException as error:  # a rule with pairs but nothing to estimate
                log.warning("EM on %r gave nothing: %s", rule, error)
        model = linker.misc.save_model_to_json()
        pairs_said = ", ".join(str(p) for p in reached.values())
        if trained:
            how = "em"
            notes.insert(
                0, f"m by EM ({label_pairs} ID-labelled pairs < {MIN_LABEL_PAIRS}; EM pairs {pairs_said})"
            )
        else:
            how = "priors"
            model = _fill_from_priors(model, m=True, u=False)
            notes.insert(
                0,
                f"m from priors: {label_pairs} ID-labelled pairs < {MIN_LABEL_PAIRS} and the EM rules "
                f"reached {pairs_said} record pairs (< {MIN_EM_PAIRS} each)",
            )
    model = _fill_from_priors(model, m=False, u=all_pairs < MIN_U_PAIRS)
    if how == "priors" or all_pairs < MIN_U_PAIRS:
        # A name's frequency among a handful of records says nothing about its frequency in the
        # province (周敏 twice in nine rows is 22%): no term-frequency adjustment then.
        for comparison in model["comparisons"]:
            for level in comparison["comparison_levels"]:
                level.pop("tf_adjustment_column", None)
                level.pop("tf_adjustment_weight", None)
        notes.append("no term-frequency adjustment (too few records)")
    model["probability_two_random_records_match"] = prior
    return model, how, "; ".join(notes)


# --- clustering ----------------------------------------------------------------------------------


def _split_conflicts(edges: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Greedy constrained union-find over one or more conflicting components.

    Edges are taken strongest first (ties by node ids, so the result is deterministic); an edge is
    skipped when it would put two different persons (``p:`` nodes) in one group. Returns
    node -> representative (the smallest node id of its group).
    """
    parent: dict[str, str] = {}
    person: dict[str, str | None] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        person.setdefault(x, x if x.startswith("p:") else None)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    ordered = sorted(edges, key=lambda e: (-float(e["match_probability"]), e["node_l"], e["node_r"]))
    for e in ordered:
        a, b = find(e["node_l"]), find(e["node_r"])
        if a == b:
            continue
        pa, pb = person[a], person[b]
        if pa is not None and pb is not None and pa != pb:
            continue
        keep, drop = (a, b) if a < b else (b, a)
        parent[drop] = keep
        person[keep] = pa or pb
    groups: dict[str, list[str]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    return {node: min(members) for members in groups.values() for node in members}


def _cluster(db_api: DatabaseAPI, predictions: SplinkDataFrame) -> tuple[SplinkDataFrame, int]:
    """Edges -> per ID-less record: the person it joins or its cluster's anchor, and its best link.

    Runs as SQL in the backend (both dialects: only CASE, concat, substr, min/max), except the
    rare components holding two IDs, which are collected and split in Python.
    """
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    node = (
        "case when id_person_id_{s} is not null then concat('p:', id_person_id_{s}) "
        "else concat('r:', unique_id_{s}) end"
    )
    edges = db_api.query_sql(
        f"""
        select {node.format(s="l")} as node_l, {node.format(s="r")} as node_r,
               cast(match_probability as double) as match_probability
        from {predictions.physical_name}
        """
    )
    nodes = db_api.query_sql(
        f"select node_l as node_id from {edges.physical_name} "
        f"union select node_r as node_id from {edges.physical_name}"
    )
    cc = cluster_pairwise_predictions_at_threshold(
        nodes,
        edges,
        db_api=db_api,
        node_id_column_name="node_id",
        edge_id_column_name_left="node_l",
        edge_id_column_name_right="node_r",
    )
    conflict_clusters = db_api.query_sql(
        f"""
        select cluster_id from {cc.physical_name}
        where substr(node_id, 1, 2) = 'p:'
        group by cluster_id having count(*) > 1
        """
    )
    conflict_edges = db_api.query_sql(
        f"""
        select e.node_l, e.node_r, e.match_probability
        from {edges.physical_name} e
        join {cc.physical_name} c on e.node_l = c.node_id
        join {conflict_clusters.physical_name} k on c.cluster_id = k.cluster_id
        """
    ).as_record_list()
    n_conflicts = int(_scalar(db_api, f"select count(*) as n from {conflict_clusters.physical_name}") or 0)

    final_cc = cc
    if conflict_edges:
        reps = _split_conflicts(conflict_edges)
        overrides = db_api.register(
            {"node_id": list(reps), "split_cluster_id": [f"split:{r}" for r in reps.values()]}
        )
        final_cc = db_api.query_sql(
            f"""
            select c.node_id, coalesce(o.split_cluster_id, c.cluster_id) as cluster_id
            from {cc.physical_name} c left join {overrides.physical_name} o on c.node_id = o.node_id
            """
        )

    assigned = db_api.query_sql(
        f"""
        with per_cluster as (
            select cluster_id,
                   max(case when substr(node_id, 1, 2) = 'p:' then node_id end) as p_node,
                   min(case when substr(node_id, 1, 2) = 'r:' then node_id end) as anchor
            from {final_cc.physical_name} group by cluster_id
        ),
        inside as (
            select e.node_l, e.node_r, e.match_probability
            from {edges.physical_name} e
            join {final_cc.physical_name} a on e.node_l = a.node_id
            join {final_cc.physical_name} b on e.node_r = b.node_id
            where a.cluster_id = b.cluster_id
        ),
        best as (
            select node, max(match_probability) as match_probability from (
                select node_l as node, match_probability from inside
                union all
                select node_r as node, match_probability from inside
            ) t group by node
        )
        select substr(c.node_id, 3) as unique_id,
               substr(k.p_node, 3) as linked_person_id,
               case when k.p_node is null then substr(k.anchor, 3) end as anchor_key,
               b.match_probability
        from {final_cc.physical_name} c
        join per_cluster k on c.cluster_id = k.cluster_id
        left join best b on c.node_id = b.node
        where substr(c.node_id, 1, 2) = 'r:'
        """
    )
    return assigned, n_conflicts


# --- backends -------------------------------------------------------------------------------------


@dataclass
class _LinkOutput:
    assigned: DataFrame  # unique_id, linked_person_id, anchor_key, match_probability (Spark)
    pairs_compared: int
    conflicts: int
    model: dict[str, Any]
    m_training: str
    timings: dict[str, float]
    training_note: str = ""


class Stopwatch:
    """Seconds per named stage, for the result (where the time goes differs a lot by backend)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._last, 3)
        self._last = now


def _link(
    db_api: DatabaseAPI,
    table: SplinkDataFrame,
    threshold: float,
    seed: int,
    clock: Stopwatch,
    model: dict[str, Any] | None = None,
    frequencies: SplinkDataFrame | None = None,
) -> tuple[SplinkDataFrame, int, int, dict[str, Any], str, str]:
    """Train (unless a ``model`` is given), block, score and cluster in the backend.

    ``frequencies`` (``name``, ``tf_name``): the names' term frequencies to score with, instead of
    those Splink would compute from ``table`` (an incremental run's table is a part of the records).

    Returns the rows of ``_LinkOutput.assigned``. A table with a ``settled_person_id`` column is an
    incremental run: training sees the true ID labels, prediction sees every record that stays
    settled with its person_id in ``id_person_id``, so only pairs with an unsettled record are scored.
    """
    from splink import Linker

    if model is None:
        model, how, note = _train(db_api, table, seed)
    else:
        how, note = "reused", "the previous full resolution's model"
    clock.lap("train")
    columns = [c.unquote().name for c in table.columns]
    if "settled_person_id" in columns:
        kept = ", ".join(c for c in columns if c not in ("id_person_id", "settled_person_id"))
        table = db_api.query_sql(
            f"select {kept}, settled_person_id as id_person_id from {table.physical_name}"
        )
    linker = Linker(table, model, log_level=None)
    if frequencies is not None:
        linker.table_management.register_term_frequency_lookup(frequencies, "name")
    blocked = linker.inference.compute_blocked_pairs_for_predict()  # cached: predict() reuses it
    pairs = int(_scalar(db_api, f"select count(*) as n from {blocked.physical_name}") or 0)
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    clock.lap("block_and_score")
    assigned, conflicts = _cluster(db_api, predictions)
    clock.lap("cluster")
    return assigned, pairs, conflicts, model, how, note


#: The previous crosswalk's row of an already-resolved record, carried beside it in incremental runs
#: (the backend gets only ``settled_person_id``).
_KNOWN_ROW = ("known_person_id", "known_method", "known_probability", "reopened", "record_identity")
_ASSIGNED_DDL = "unique_id string, linked_person_id string, anchor_key string, match_probability double"
#: The same columns in DuckDB, typed as the DDL says (a column of nulls would otherwise be INTEGER):
#: what either way back to Spark selects from the backend's assignments.
_ASSIGNED_SQL = (
    "cast(unique_id as varchar) as unique_id, cast(linked_person_id as varchar) as linked_person_id, "
    "cast(anchor_key as varchar) as anchor_key, cast(match_probability as double) as match_probability"
)


def _handoff_folder(spark: SparkSession) -> str | None:
    """A new local folder that Spark's tasks and DuckDB both see (a local master), else None."""
    return (
        tempfile.mkdtemp(prefix="govlake-duckdb-") if spark.sparkContext.master.startswith("local") else None
    )


def _link_duckdb(
    spark: SparkSession,
    prepared: DataFrame,
    threshold: float,
    seed: int,
    model: dict[str, Any] | None,
    frequencies: DataFrame | None = None,
) -> _LinkOutput:
    """Records to an in-process DuckDB, Splink there, assignments back as a Spark DataFrame.

    On a local master the records cross as Parquet in a temporary folder, written by Spark's tasks
    and read by DuckDB, and the assignments come back the same way: collecting them instead
    (``toArrow``) gathers every task's result in the driver's JVM heap, which ran out of its 4 GiB
    on the first build at 1,000,000 persons (1,968,013 records). Another master's tasks write
    to their own disks, so there they are collected (backend="spark" is the one that scales there).
    """
    from splink import DuckDBAPI

    clock = Stopwatch()
    records = prepared.drop("source_id", *_KNOWN_ROW)
    db_api = DuckDBAPI(":memory:")
    handoff = _handoff_folder(spark)
    try:
        # Sorted, so DuckDB sees the same table whatever Spark's partitioning was.
        if handoff is None:
            table = db_api.register(records.toArrow().sort_by("unique_id"), table_name="person_records")
        else:
            records.write.parquet(f"file://{handoff}/records")
            db_api.duckdb_con.execute(
                "create table person_records_in as select * from read_parquet(?) order by unique_id",
                [f"{handoff}/records/*.parquet"],
            )
            table = db_api.register("person_records_in", table_name="person_records")
        tf = None if frequencies is None else db_api.register(frequencies.toArrow(), table_name="name_tf")
        clock.lap("to_backend")
        assigned, pairs, conflicts, model, how, note = _link(db_api, table, threshold, seed, clock, model, tf)
        assigned_sql = f"select {_ASSIGNED_SQL} from {assigned.physical_name}"
        if handoff is None:
            rows = db_api.duckdb_con.sql(assigned_sql).to_arrow_table()
            assigned_df = spark.createDataFrame(rows.to_pandas(), _ASSIGNED_DDL)
        else:
            out = f"{handoff}/assigned.parquet"
            db_api.duckdb_con.execute(f"copy ({assigned_sql}) to '{out}' (format parquet)")
            read = spark.read.schema(_ASSIGNED_DDL).parquet(f"file://{out}")
            assigned_df = read.localCheckpoint(eager=True)  # the folder goes below
    finally:
        db_api.duckdb_con.close()
        if handoff is not None:
            shutil.rmtree(handoff, ignore_errors=True)
    clock.lap("from_backend")
    return _LinkOutput(assigned_df, pairs, conflicts, model, how, clock.timings, note)


def _checkpoint_dir(spark: SparkSession) -> str:
    """The SparkContext's checkpoint dir; on a local master, a temp dir is set if there is none.

    Splink breaks lineage by writing its intermediate tables as parquet there. Caching instead
    ("persist") keeps every plan, and the connected-components loop re-analyses them per
    iteration: minutes and then an OutOfMemoryError on a 1k-record graph here. On a cluster the
    dir must be on shared storage, so it is the job's to set (``sc.setCheckpointDir``).
    """
    sc = spark.sparkContext
    current = sc._jsc.sc().getCheckpointDir()
    if current.isEmpty():
        if not sc.master.startswith("local"):
            raise RuntimeError(
                "backend='spark' needs a checkpoint dir on shared storage: call "
                "spark.sparkContext.setCheckpointDir(...) first"
            )
        sc.setCheckpointDir(os.path.join(tempfile.gettempdir(), "govlake-splink-checkpoints"))
        current = sc._jsc.sc().getCheckpointDir()
    return str(current.get())


def _link_spark(
    spark: SparkSession,
    prepared: DataFrame,
    threshold: float,
    seed: int,
    model: dict[str, Any] | None,
    frequencies: DataFrame | None = None,
) -> _LinkOutput:
    """Splink's Spark backend on the caller's session (the cluster path)."""
    from splink import SparkAPI

    clock = Stopwatch()
    checkpoint_dir = _checkpoint_dir(spark)
    files_before, views_before = _splink_files(spark, checkpoint_dir), _splink_views(spark)
    shuffle = int(spark.conf.get("spark.sql.shuffle.partitions", "8"))
    db_api = SparkAPI(
        spark_session=spark,
        break_lineage_method="parquet",
        num_partitions_on_repartition=max(1, shuffle),
        register_udfs_automatically=False,  # built-in functions only: no Scala UDF jar needed
    )
    suffix = uuid.uuid4().hex[:8]
    table = db_api.register(prepared.drop("source_id", *_KNOWN_ROW), table_name=f"person_records_{suffix}")
    tf = None if frequencies is None else db_api.register(frequencies, table_name=f"name_tf_{suffix}")
    clock.lap("to_backend")
    try:
        assigned, pairs, conflicts, model, how, note = _link(db_api, table, threshold, seed, clock, model, tf)
        assigned_df = assigned.as_spark_dataframe().localCheckpoint(eager=True)
    finally:
        _drop_spark_tables(spark, checkpoint_dir, files_before, views_before)
        spark.catalog.dropTempView(table.physical_name)
        if tf is not None:
            spark.catalog.dropTempView(tf.physical_name)
    clock.lap("from_backend")
    return _LinkOutput(assigned_df, pairs, conflicts, model, how, clock.timings, note)


def _splink_files(spark: SparkSession, checkpoint_dir: str) -> set[str]:
    """Names of Splink's parquet tables currently in the checkpoint dir."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(checkpoint_dir)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return set()
    names = (status.getPath().getName() for status in fs.listStatus(path))
    return {n for n in names if n.startswith("__splink__")}


def _splink_views(spark: SparkSession) -> set[str]:
    return {t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("__splink__")}


def _drop_spark_tables(
    spark: SparkSession, checkpoint_dir: str, files_before: set[str], views_before: set[str]
) -> None:
    """Drop the temp views Splink made and delete the parquet files it wrote during this run.

    Splink itself drops only some of them (its Spark tables are views over checkpoint files).
    """
    for name in sorted(_splink_views(spark) - views_before):
        spark.catalog.dropTempView(name)
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for name in sorted(_splink_files(spark, checkpoint_dir) - files_before):
        path = jvm.org.apache.hadoop.fs.Path(f"{checkpoint_dir.rstrip('/')}/{name}")
        path.getFileSystem(conf).delete(path, True)


# --- entry points ---------------------------------------------------------------------------------


def _lineage(moves: DataFrame, crosswalk: DataFrame, existing: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(merges, splits) between the previous crosswalk and this one.

    ``moves``: (old, new) person_id of every record whose person changed. A previous person_id
    that no record holds any more, whose records are still here, was merged into the person that
    holds most of them; a new person_id holding records that had another person was split from the
    one most of them had (ties: the smaller id). The moves are few, so the ids they name are looked
    up in the two crosswalks by a broadcast of them, not by grouping every person_id.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    moves = moves.groupBy("old", "new").count().localCheckpoint(eager=True)

    def held(ids: DataFrame, side: str) -> DataFrame:
        """The ids on this side of the moves that ``ids`` holds."""
        wanted = broadcast_if_few(moves.select(F.col(side).alias("person_id")).distinct())
        return broadcast_if_few(ids.select("person_id").join(wanted, "person_id", "left_semi").distinct())

    def strongest(df: DataFrame, by: str, other: str) -> DataFrame:
        w = Window.partitionBy(by).orderBy(F.col("count").desc(), F.col(other))
        return df.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n", "count")

    still_held = held(crosswalk, "old").withColumnRenamed("person_id", "old")
    gone = moves.join(still_held, "old", "left_anti")
    merges = strongest(gone, "old", "new").select(
        F.col("old").alias("person_id"), F.col("new").alias("merged_into")
    )
    known_before = held(existing, "new").withColumnRenamed("person_id", "new")
    fresh = moves.join(known_before, "new", "left_anti")
    splits = strongest(fresh, "new", "old").select(
        F.col("new").alias("person_id"), F.col("old").alias("split_from")
    )
    return merges.localCheckpoint(eager=True), splits.localCheckpoint(eager=True)


def _name_clusters(rows: Iterable[dict[str, Any]], taken: set[str], key: str) -> dict[str, str]:
    """unique_id -> person_id for ID-less records in clusters that hold no person yet.

    ``rows``: unique_id, group (the cluster), record_identity, known_person_id (the record's
    person in the previous crosswalk, or None). ``taken``: previous person_ids that records outside
    these clusters hold now, so no cluster here may take them. Each cluster takes the previous
    person_id most of its records had (ties: the smaller id, then the smaller cluster), each id one
    cluster at most; a cluster left without one is minted a new id from its smallest
    record_identity (:func:`person_id_of`). Pure and deterministic: the same rows give the same ids
    in any order. Minted ids that collide with an id in use are re-minted by the caller.
    """
    members: dict[str, list[dict[str, Any]]] = {}
    votes: dict[tuple[str, str], int] = {}
    for row in rows:
        members.setdefault(row["group"], []).append(row)
        known = row.get("known_person_id")
        if known and known not in taken:
            votes[(row["group"], known)] = votes.get((row["group"], known), 0) + 1
    named: dict[str, str] = {}
    used: set[str] = set()
    for (group, known), _count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if group not in named and known not in used:
            named[group] = known
            used.add(known)
    for group, rows_of in members.items():
        if group not in named:
            named[group] = person_id_of("record", min(r["record_identity"] for r in rows_of), key)
    return {r["unique_id"]: named[group] for group, rows_of in members.items() for r in rows_of}


def _remint(named: dict[str, str], minted: set[str], in_use: set[str], key: str) -> dict[str, str]:
    """Give the minted ids that collide with an id in use (or with each other) a fresh one."""
    out = dict(named)
    seen: set[str] = set(in_use)
    for pid in sorted(minted):
        if pid in seen:
            n, fresh = 1, pid
            while fresh in seen:
                n += 1
                fresh = person_id_of("record", f"{pid}#{n}", key)
            out = {uid: (fresh if p == pid else p) for uid, p in out.items()}
            seen.add(fresh)
        else:
            seen.add(pid)
    return out


def _differs() -> Column:
    """True for a crosswalk row whose person is not its previous one (new records too)."""
    from pyspark.sql import functions as F

    return ~F.col("person_id").eqNullSafe(F.col("known_person_id"))


def _with_links(prepared: DataFrame, assigned: DataFrame) -> DataFrame:
    """Each prepared record with what linking said of it (``linked_person_id``, its cluster as
    ``group``, ``link_probability``), held."""
    from pyspark.sql import functions as F

    a = broadcast_if_few(assigned).alias("a")
    return (
        prepared.alias("p")
        .join(a, F.col("p.unique_id") == F.col("a.unique_id"), "left")
        .select(
            F.col("p.unique_id").alias("unique_id"),
            F.col("p.source_id").alias("source_id"),
            F.col("p.record_identity").alias("record_identity"),
            F.col("p.id_person_id").alias("id_person_id"),
            F.col("p.known_person_id").alias("known_person_id"),
            F.col("a.linked_person_id").alias("linked_person_id"),
            F.coalesce(F.col("a.anchor_key"), F.col("p.unique_id")).alias("group"),
            F.col("a.match_probability").alias("link_probability"),
        )
        .localCheckpoint(eager=True)
    )


def _name_free_clusters(
    spark: SparkSession, joined: DataFrame, existing: DataFrame | None, key: str
) -> DataFrame:
    """(unique_id, named_person_id) for the records of :func:`_with_links` that neither an ID nor
    a link places (free): their clusters are named by :func:`_name_clusters`, which may not give a
    free cluster a previous id that a placed record holds now, and minted ids that collide with an
    id in use (placed records', or ``existing``'s) are minted again (:func:`_remint`)."""
    from pyspark.sql import functions as F

    free = joined.where(F.col("id_person_id").isNull() & F.col("linked_person_id").isNull())
    # Previous ids that records outside the free clusters hold now: not theirs to take.
    holders = joined.where(F.col("id_person_id").isNotNull() | F.col("linked_person_id").isNotNull()).select(
        F.explode(F.array(F.col("id_person_id"), F.col("linked_person_id"))).alias("pid")
    )
    wanted = free.where(F.col("known_person_id").isNotNull()).select(F.col("known_person_id").alias("pid"))
    taken = {r["pid"] for r in wanted.distinct().join(holders.distinct(), "pid", "left_semi").collect()}
    free_rows = [
        r.asDict() for r in free.select("unique_id", "group", "record_identity", "known_person_id").collect()
    ]
    named = _name_clusters(free_rows, taken, key)
    minted = set(named.values()) - {r["known_person_id"] for r in free_rows if r["known_person_id"]}
    if minted:
        in_use_df = holders.where(F.col("pid").isNotNull())
        if existing is not None:
            in_use_df = in_use_df.unionByName(existing.select(F.col("person_id").alias("pid")))
        probe = F.broadcast(spark.createDataFrame([(m,) for m in sorted(minted)], "pid string"))
        in_use = {r["pid"] for r in in_use_df.join(probe, "pid", "left_semi").distinct().collect()}
        named = _remint(named, minted, in_use, key)
    return spark.createDataFrame(sorted(named.items()), "unique_id string, named_person_id string")


def _resolved_rows(joined: DataFrame, names: DataFrame) -> DataFrame:
    """The crosswalk rows of :func:`_with_links` records, with ``known_person_id``: a record joins
    its ID's person, else the person its cluster links to, else its cluster's name (``names``:
    unique_id, named_person_id), held."""
    from pyspark.sql import functions as F

    return (
        joined.join(names, "unique_id", "left")
        .select(
            F.col("unique_id").alias("record_key"),
            F.col("source_id"),
            F.coalesce("id_person_id", "linked_person_id", "named_person_id").alias("person_id"),
            F.when(F.col("id_person_id").isNotNull(), F.lit(METHOD_ID))
            .when(F.col("link_probability").isNotNull(), F.lit(METHOD_PROBABILISTIC))
            .otherwise(F.lit(METHOD_SINGLETON))
            .alias("match_method"),
            F.when(F.col("id_person_id").isNotNull(), F.lit(1.0))
            .otherwise(F.col("link_probability"))
            .cast("double")
            .alias("match_probability"),
            "known_person_id",
        )
        .localCheckpoint(eager=True)
    )


def resolve_persons(
    spark: SparkSession,
    records: DataFrame,
    *,
    key: str,
    backend: str = DEFAULT_BACKEND,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = DEFAULT_SEED,
    existing: DataFrame | None = None,
    model: dict[str, Any] | None = None,
) -> ResolutionResult:
    """Assign every standardized person record a ``person_id`` (see the module docstring).

    ``records`` needs the columns of :data:`REQUIRED_COLUMNS` (and may have ``record_identity``);
    ``record_key`` must be unique. ``key`` is the person-id key. Same input (and key, seed,
    threshold, previous crosswalk) => same crosswalk, whatever the row order or partitioning.

    ``existing`` (the previous crosswalk) keeps person_ids: an ID-less cluster keeps the id its
    records had, and the result's ``merges`` / ``splits`` say which previous persons were merged
    or split. With ``model`` as well (a previous result's), the run is **incremental**
    (:mod:`jobs.silver.population.resolve_increment`): a record already in the crosswalk keeps its
    row unless a new record reopens its person, only pairs with an unsettled record are scored,
    the model is not retrained, and ``touched_person_ids`` says whose records changed. ``existing``
    alone: every record is resolved afresh, the model retrained, and the previous ids still kept.
    """
    from pyspark.sql import functions as F

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    key = _check_key(key)
    if existing is not None and model is not None:
        from jobs.silver.population.resolve_increment import resolve_increment

        return resolve_increment(
            spark,
            records,
            key=key,
            backend=backend,
            threshold=threshold,
            existing=existing,
            model=model,
            seed=seed,
        )
    started = time.perf_counter()
    clock = Stopwatch()
    prepared = _prepare(records, key)
    if existing is not None:
        previous = existing.select(
            F.col("record_key").alias("unique_id"), F.col("person_id").alias("known_person_id")
        )
        prepared = prepared.join(previous, "unique_id", "left")
    else:
        prepared = prepared.withColumn("known_person_id", F.lit(None).cast("string"))
    # Materialized once, as rows: linking and assembling read it again.
    prepared = prepared.localCheckpoint(eager=True)
    counts = prepared.agg(
        F.count("*").alias("n"),
        F.countDistinct("unique_id").alias("keys"),
        F.count("id_person_id").alias("ids"),
    ).first()
    n_records = int(counts["n"])
    if int(counts["keys"]) != n_records:
        raise ValueError(f"record_key is not unique: {n_records} records, {counts['keys']} distinct keys")
    clock.lap("prepare")
    if n_records == 0:
        empty = spark.createDataFrame([], CROSSWALK_DDL)
        return ResolutionResult(
            crosswalk=empty,
            backend=backend,
            threshold=threshold,
            pairs_compared=0,
            records_by_method=dict.fromkeys(MATCH_METHODS, 0),
            conflicts_split=0,
            seconds=time.perf_counter() - started,
            timings=clock.timings,
            m_training="none",
            model=model or {},
            training_note="no records",
            merges=spark.createDataFrame([], "person_id string, merged_into string"),
            splits=spark.createDataFrame([], "person_id string, split_from string"),
        )
    if int(counts["ids"]) == n_records:  # every record is its ID's: no pair to score
        link = _LinkOutput(
            spark.createDataFrame([], _ASSIGNED_DDL), 0, 0, model or {}, "none", {}, "no pair to score"
        )
    else:
        link = (_link_duckdb if backend == "duckdb" else _link_spark)(spark, prepared, threshold, seed, model)
    clock._last = time.perf_counter()

    joined = _with_links(prepared, link.assigned)
    names = _name_free_clusters(spark, joined, existing, key)
    rows = _resolved_rows(joined, names)
    crosswalk = rows.select(*CROSSWALK_COLUMNS)
    by_method = {m: 0 for m in MATCH_METHODS}
    for row in crosswalk.groupBy("match_method").count().collect():
        by_method[row["match_method"]] = int(row["count"])
    if existing is not None:
        moves = rows.where(F.col("known_person_id").isNotNull() & _differs()).select(
            F.col("known_person_id").alias("old"), F.col("person_id").alias("new")
        )
        merges, splits = _lineage(moves, crosswalk, existing)
    else:
        merges = spark.createDataFrame([], "person_id string, merged_into string")
        splits = spark.createDataFrame([], "person_id string, split_from string")
    clock.lap("assemble")
    seconds = time.perf_counter() - started
    log.info(
        "resolved %d records with %s in %.1fs: %s, %d pairs compared, %d conflicts split",
        n_records,
        backend,
        seconds,
        by_method,
        link.pairs_compared,
        link.conflicts,
    )
    return ResolutionResult(
        crosswalk=crosswalk,
        backend=backend,
        threshold=threshold,
        pairs_compared=link.pairs_compared,
        records_by_method=by_method,
        conflicts_split=link.conflicts,
        seconds=seconds,
        timings={**clock.timings, **link.timings},
        m_training=link.m_training,
        model=link.model,
        training_note=link.training_note,
        records_linked=n_records,
        merges=merges,
        splits=splits,
    )


def _pairs(n: Any) -> Any:
    return n * (n - 1) / 2


def match_quality(crosswalk: DataFrame | ResolutionResult, truth: DataFrame) -> dict[str, Any]:
    """Pairwise precision / recall of a crosswalk against ``truth`` (record_key, true_person_id).

    Counts pairs of records put together (by person_id), truly together (by true_person_id) and
    both, from group sizes (no pair explosion). Records missing from either side are ignored.
    Passing the :class:`ResolutionResult` also reports its pairs compared and records per method.
    Also reported on the pairs that involve at least one record not settled by its ID, where the
    probabilistic pass is what is measured (ID-settled pairs are correct by construction).
    """
    from pyspark.sql import functions as F

    result = crosswalk if isinstance(crosswalk, ResolutionResult) else None
    cw = result.crosswalk if result is not None else crosswalk
    joined = cw.select("record_key", "person_id", "match_method").join(
        truth.select("record_key", "true_person_id"), "record_key"
    )

    def pair_counts(df: DataFrame) -> tuple[float, float, float]:
        pred = df.groupBy("person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0] or 0
        true = df.groupBy("true_person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0] or 0
        both = (
            df.groupBy("person_id", "true_person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0]
            or 0
        )
        return float(pred), float(true), float(both)

    def ratios(pred: float, true: float, both: float) -> tuple[float, float, float]:
        precision = both / pred if pred else 1.0
        recall = both / true if true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    pred, true, both = pair_counts(joined)
    precision, recall, f1 = ratios(pred, true, both)
    # Pairs with at least one non-ID record = all pairs - pairs of two ID records.
    id_only = joined.filter(F.col("match_method") == METHOD_ID)
    pred_id, true_id, both_id = pair_counts(id_only)
    p_prob, r_prob, f1_prob = ratios(pred - pred_id, true - true_id, both - both_id)
    out: dict[str, Any] = {
        "records": joined.count(),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs_predicted": int(pred),
        "pairs_true": int(true),
        "pairs_correct": int(both),
        "probabilistic_precision": p_prob,
        "probabilistic_recall": r_prob,
        "probabilistic_f1": f1_prob,
        "probabilistic_pairs_predicted": int(pred - pred_id),
        "probabilistic_pairs_true": int(true - true_id),
        "probabilistic_pairs_correct": int(both - both_id),
        "records_without_valid_id": joined.filter(F.col("match_method") != METHOD_ID).count(),
        "records_by_method": {
            r["match_method"]: int(r["count"]) for r in cw.groupBy("match_method").count().collect()
        },
    }
    if result is not None:
        out["pairs_compared"] = result.pairs_compared
        out["backend"] = result.backend
        out["seconds"] = result.seconds
    return out

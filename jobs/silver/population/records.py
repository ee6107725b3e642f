"""Bronze population extracts -> standardized person records (one row per person mention).

Each population dataset mentions persons in its own way: a household row is one resident, a birth
certificate one newborn, a marriage registration two spouses. ``PERSON_MENTIONS`` says, per
dataset, which canonical columns describe which person; everything after that is the same rules
for every source (jobs/silver/rules).

The rules are pure functions of a bronze row, the registry's date formats and row keys, and the
GB/T 2260 code table, so a record once standardized stays right until one of those changes:
:func:`standardization_fingerprint` names them (with :data:`RULES_VERSION` for the code), and
the build standardizes only new bronze files while it is unchanged (jobs/silver/incremental.py).
One input is not in it: a date after today is refused (``current_date()``), so a record carrying
a future date keeps that verdict after the day has passed, until a full build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


@dataclass(frozen=True)
class Mention:
    """How one person appears in a dataset's row: person attribute -> canonical column."""

    role: str
    columns: Mapping[str, str]
    observed_at: str | None = None  # the row's own date that says when the facts were true
    extra: Mapping[str, str] = field(default_factory=dict)
    #: The column holding the ID number of the other person the row is about (a spouse): matching
    #: borrows that person's residence for a mention that states none of its own.
    partner_id_column: str | None = None


PERSON_MENTIONS: dict[str, tuple[Mention, ...]] = {
    "household_registration": (
        Mention(
            "resident",
            {
                "id_number": "id_number",
                "name": "name",
                "sex": "sex",
                "birth_date": "birth_date",
                "address": "address",
                "admin_code": "admin_code",
                "phone": "phone",
                "ethnicity": "ethnicity",
            },
            observed_at="registered_on",
        ),
    ),
    "birth_records": (
        Mention(
            "newborn",
            {
                "id_number": "id_number",
                "name": "name",
                "sex": "sex",
                "birth_date": "birth_date",
                "admin_code": "birthplace_admin_code",
            },
            observed_at="birth_date",
        ),
    ),
    "death_records": (
        Mention(
            "deceased",
            {
                "id_number": "id_number",
                "name": "name",
                "sex": "sex",
                "birth_date": "birth_date",
                "address": "address",
                "death_date": "death_date",
            },
            observed_at="death_date",
        ),
    ),
    "social_insurance_enrollment": (
        Mention(
            "insured",
            {
                "id_number": "id_number",
                "name": "name",
                "sex": "sex",
                "birth_date": "birth_date",
                "address": "address",
                "phone": "phone",
            },
            observed_at="enrolled_on",
        ),
    ),
    "marriage_registration": (
        Mention(
            "husband",
            {"id_number": "husband_id_number", "name": "husband_name"},
            observed_at="registered_on",
            extra={"sex": "1"},
            partner_id_column="wife_id_number",
        ),
        Mention(
            "wife",
            {"id_number": "wife_id_number", "name": "wife_name"},
            observed_at="registered_on",
            extra={"sex": "2"},
            partner_id_column="husband_id_number",
        ),
    ),
}

PERSON_ATTRIBUTES = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "address",
    "admin_code",
    "phone",
    "ethnicity",
    "death_date",
)
DATE_ATTRIBUTES = ("birth_date", "death_date")
#: Bump whenever a change to this module or to jobs/silver/rules changes what a person record
#: holds: the fingerprint changes, and the next build re-standardizes every bronze row instead of
#: keeping the records it made before.
RULES_VERSION = 1


def standardization_fingerprint(date_formats: Sequence[str], row_keys: Mapping[str, Sequence[str]]) -> str:
    """SHA-256 of every input of :func:`person_records` besides the bronze rows themselves.

    The rules version, the date formats in their order (tried in turn), each dataset's row key,
    the person mentions and the admin-code table: equal fingerprints mean the same bronze row
    gives the same record.
    """
    from jobs.silver.incremental import inputs_fingerprint
    from jobs.silver.rules.admin_codes import codes_fingerprint

    return inputs_fingerprint(
        {
            "rules_version": RULES_VERSION,
            "date_formats": list(date_formats),
            "row_keys": {name: list(key) for name, key in sorted(row_keys.items())},
            "mentions": {
                name: [asdict(m) for m in mentions] for name, mentions in sorted(PERSON_MENTIONS.items())
            },
            "admin_codes": codes_fingerprint(),
        }
    )


def record_identity(row_key: Sequence[str], role: str, record_key: Column) -> Column:
    """What names a mention for good: source id + the source's own row key + role.

    The record_key carries the file's hash, so the same registration resent in a later file gets
    another one; the row key (``Dataset.row_key`` in the registry: a record or certificate number)
    does not. New person_ids are minted from this, never from the file. Without a row key, or with
    a blank one, the record_key stands in.
    """
    from pyspark.sql import functions as F

    if not row_key:
        return record_key
    parts = [F.nullif(F.trim(F.col(c).cast("string")), F.lit("")) for c in row_key]
    complete = F.lit(True)
    for part in parts:
        complete = complete & part.isNotNull()
    return F.when(complete, F.concat_ws("|", F.col("_source_id"), *parts, F.lit(role))).otherwise(record_key)


def _mentions(bronze: DataFrame, dataset: str, row_key: Sequence[str] = ()) -> DataFrame:
    """One row per person mention, attributes still as sent (strings)."""
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs.silver.incremental import bronze_record_key

    frames = []
    for mention in PERSON_MENTIONS[dataset]:
        key = bronze_record_key(mention.role)
        cols: list[Column] = [
            key.alias("record_key"),
            record_identity([c for c in row_key if c in bronze.columns], mention.role, key).alias(
                "record_identity"
            ),
            F.lit(dataset).alias("dataset"),
            F.lit(mention.role).alias("role"),
            *[F.col(c) for c in ("_source_id", "_prefecture", "_file_hash", "_row_number", "_ingested_at")],
            (F.col(mention.observed_at) if mention.observed_at else F.lit(None).cast("string")).alias(
                "observed_raw"
            ),
        ]
        for attr in PERSON_ATTRIBUTES:
            if attr in mention.columns:
                cols.append(F.col(mention.columns[attr]).alias(f"{attr}_raw"))
            elif attr in mention.extra:
                cols.append(F.lit(mention.extra[attr]).alias(f"{attr}_raw"))
            else:
                cols.append(F.lit(None).cast("string").alias(f"{attr}_raw"))
        partner = (
            F.col(mention.partner_id_column) if mention.partner_id_column else F.lit(None).cast("string")
        )
        cols.append(partner.alias("partner_id_number_raw"))
        frames.append(bronze.select(*cols))
    return reduce(lambda a, b: a.unionByName(b), frames)


def standardize_mentions(mentions: DataFrame, date_formats: Sequence[str]) -> DataFrame:
    """Apply the population rules to raw mentions: the columns the base library and matching use.

    Two projections: the rules whose results are read several times (the ID number's struct feeds
    eight columns) are evaluated once each into a column, and the second projection reads their
    fields. Read through a Column instead, each field access copies the rule's whole expression:
    the single projection this replaced held 62 higher-order functions instead of 20 and took 41 s
    instead of 5 s on 3,708 mentions (same rows out, measured on one lake, warm session). Spark
    keeps the two projections apart (CollapseProject does not inline an expression that is read
    more than once unless it is cheap).
    """
    from pyspark.sql import functions as F

    from jobs.silver.rules.admin_codes import admin_code
    from jobs.silver.rules.dates import parse_date
    from jobs.silver.rules.identity import citizen_id, id_cross_checks, normalize_sex
    from jobs.silver.rules.phones import phone as parse_phone
    from jobs.silver.rules.text import clean_spaces, fold_fullwidth, normalize_person_name

    sent_code = F.regexp_replace(fold_fullwidth(F.col("admin_code_raw")), r"\s", "")
    evaluated = mentions.select(
        "*",
        citizen_id(F.col("id_number_raw")).alias("_id"),
        citizen_id(F.col("partner_id_number_raw")).alias("_partner_id"),
        parse_date(F.col("birth_date_raw"), date_formats).getField("date").alias("_stated_birth"),
        parse_phone(F.col("phone_raw")).alias("_phone"),
        # the code as sent may be abolished since (320602 on a 2018 birth): kept, and its successor used
        admin_code(F.when(sent_code.rlike(r"^\d{6}$"), sent_code)).alias("_admin"),
    )
    idn, partner, admin = F.col("_id"), F.col("_partner_id"), F.col("_admin")
    stated_birth = F.col("_stated_birth")
    checks = id_cross_checks(idn, stated_birth, F.col("sex_raw"))
    return evaluated.select(
        "record_key",
        "record_identity",
        "dataset",
        "role",
        F.col("_source_id").alias("source_id"),
        F.col("_prefecture").alias("prefecture"),
        F.col("_file_hash").alias("file_hash"),
        F.col("_row_number").alias("row_number"),
        F.coalesce(
            parse_date(F.col("observed_raw"), date_formats).getField("date"), F.to_date("_ingested_at")
        ).alias("observed_at"),
        F.col("id_number_raw"),
        F.when(idn.is_valid, idn.id).alias("id_number"),
        idn.is_valid.alias("id_valid"),
        idn.invalid_reason.alias("id_invalid_reason"),
        normalize_person_name(F.col("name_raw")).alias("name"),
        F.coalesce(idn.sex, normalize_sex(F.col("sex_raw"))).alias("sex"),
        F.coalesce(idn.birth_date, stated_birth).alias("birth_date"),
        checks.birth_date_conflict.alias("birth_date_conflict"),
        checks.sex_conflict.alias("sex_conflict"),
        admin.code.alias("admin_code"),
        admin.code_sent.alias("admin_code_sent"),
        admin.is_historical.alias("admin_code_historical"),
        idn.admin_code.alias("birthplace_code"),  # from the ID: where the person was first registered
        clean_spaces(fold_fullwidth(F.col("address_raw"))).alias("address"),
        F.col("_phone").getField("phone").alias("phone"),
        clean_spaces(F.col("ethnicity_raw")).alias("ethnicity"),
        parse_date(F.col("death_date_raw"), date_formats).getField("date").alias("death_date"),
        F.when(partner.is_valid, partner.id).alias("partner_id_number"),
    )


def person_records(
    bronze_by_dataset: Mapping[str, DataFrame],
    date_formats: Sequence[str],
    row_keys: Mapping[str, Sequence[str]] | None = None,
) -> DataFrame:
    """All population bronze tables -> standardized person records (pure: DataFrames in and out).

    ``row_keys``: dataset -> its registry row key, for :func:`record_identity`.
    """
    from functools import reduce

    row_keys = row_keys or {}
    frames = [
        _mentions(df, name, row_keys.get(name, ()))
        for name, df in bronze_by_dataset.items()
        if name in PERSON_MENTIONS
    ]
    return standardize_mentions(reduce(lambda a, b: a.unionByName(b), frames), date_formats)

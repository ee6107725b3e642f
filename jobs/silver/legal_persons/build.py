"""Build the legal-persons library: extract -> standardize -> link old codes -> survive -> load.

Legal persons are identified deterministically: the unified social credit code (USCC) is the key.
Records that carry only a legacy identifier are mapped to a USCC through what other records say,
as a registration clerk would, and each crosswalk row records how (``match_method``, in order):

``uscc``                      a valid USCC
``uscc_repaired``             an invalid USCC that is valid once look-alike letters are read as
                              the digits they stand for (O -> 0, I -> 1, Z -> 2, S -> 5)
``org_code``                  an organization code (legacy column, old tax number, or inside a
                              valid USCC) that sits in exactly one USCC
``org_code_in_invalid_uscc``  the organization code inside an invalid USCC, passing its own check,
                              that sits in exactly one valid USCC (flagged: the USCC itself is bad)
``registration_no``           a 15-digit registration number some record carries beside a USCC
``name``                      a name whose matching key (:func:`rules.text.enterprise_name_key`:
                              brackets of either width, spaces, punctuation, 有限责任公司/有限公司)
                              belongs to exactly one USCC
``unresolved``                none of these: a key of its own, ``ORG:`` / ``REG:`` / ``NAME:``
                              (records sharing an organization code, a registration number or a
                              name key share it)

Industry codes are checked against GB/T 4754-2017 (:mod:`jobs.silver.rules.industry`): a valid code
is stored with its section letter (``3670`` -> ``C3670``); an invalid one stays in
``industry_code_raw`` with ``industry_code_valid = false`` and its reason, and never survives into
the golden record.

Tables (silver zone, legal_persons/): ``records`` (every mention, standardized), ``crosswalk``
(record -> legal_person_id, method), ``legal_persons`` (golden, SCD type 2).

Standardization is incremental as the population library's is
(:func:`jobs.silver.incremental.standardize_incrementally`): only bronze files the records do not
hold yet are standardized, while :func:`standardization_fingerprint` is the one recorded at
``legal_persons.standardization`` (which also names the files that gave no record, e.g. a
social-insurance file naming no employer). Linking and golden records still use every record
(which code maps to which USCC depends on what all records say), so only standardization is saved.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from govlake.lake.context import StepContext
from jobs.silver.incremental import bronze_record_key, inputs_fingerprint, standardize_incrementally
from jobs.silver.survivorship import trust_ranks
from jobs.silver.tables import EntityLibrary, skipped, write_entity_library

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

GOLDEN_ATTRIBUTES = (
    "uscc",
    "name",
    "legal_representative_name",
    "legal_representative_person_id",
    "registered_address",
    "admin_code",
    "industry_code",
    "entity_type",
    "status",
    "established_on",
    "phone",
)
# Registration statuses as sent -> one vocabulary (国家企业信用信息公示系统 wording).
STATUS_VOCABULARY = {
    "存续": "active",
    "在业": "active",
    "开业": "active",
    "正常": "active",
    "吊销": "revoked",
    "吊销，未注销": "revoked",
    "注销": "deregistered",
    "迁出": "moved_out",
    "撤销": "cancelled",
}
NO_STRING = "CAST(NULL AS STRING)"
#: The market-regulation register is what a legal-persons library is built on; the taxpayer registry
#: and employers named in social insurance only add to it.
REGISTER = "enterprise_registration"
#: The population library's golden records: legal representatives are linked to persons there.
PERSONS = "silver.population.persons"
LEGAL_PERSONS = EntityLibrary(
    name="legal_persons",
    records_table="records",
    golden_table="legal_persons",
    entity_key="legal_person_id",
    golden_attributes=GOLDEN_ATTRIBUTES,
)
RECORDS = LEGAL_PERSONS.table_id("records")
STANDARDIZATION = "legal_persons.standardization"
#: Bump whenever a change to this module's mentions or to jobs/silver/rules changes what a record
#: holds: the next build then re-standardizes every bronze row.
RULES_VERSION = 1
#: Columns of a mention that only the enterprise register carries (NULL in the other datasets).
INDUSTRY_COLUMNS = ("industry_code_raw", "industry_code_valid", "industry_invalid_reason")


def _status(col: str):  # -> Column
    from pyspark.sql import functions as F

    mapping = F.create_map(*[F.lit(x) for kv in STATUS_VOCABULARY.items() for x in kv])
    cleaned = F.regexp_replace(F.trim(F.col(col)), r"\s", "")
    return F.coalesce(mapping[cleaned], F.when(cleaned.isNotNull(), F.lit("other")))


def _no_industry_check() -> list:  # -> list[Column]
    """The industry-check columns for a dataset that sends no industry code."""
    from pyspark.sql import functions as F

    return [
        F.expr(NO_STRING).alias("industry_code_raw"),
        F.lit(None).cast("boolean").alias("industry_code_valid"),
        F.expr(NO_STRING).alias("industry_invalid_reason"),
    ]


def legal_person_mentions(bronze: dict[str, DataFrame], date_formats: list[str]) -> DataFrame:
    """Every mention of a legal person in bronze, standardized (pure: DataFrames in and out)."""
    from functools import reduce

    from pyspark.sql import functions as F

    from jobs.silver.rules.admin_codes import admin_code
    from jobs.silver.rules.dates import parse_date
    from jobs.silver.rules.identity import citizen_id
    from jobs.silver.rules.industry import industry_code
    from jobs.silver.rules.legal_identity import (
        embedded_org_code,
        legal_id,
        org_code,
        registration_no,
        repaired_uscc,
        uscc,
    )
    from jobs.silver.rules.phones import phone as parse_phone
    from jobs.silver.rules.text import (
        clean_spaces,
        fold_fullwidth,
        normalize_enterprise_name,
        normalize_person_name,
    )

    def base(df: DataFrame, role: str) -> list:
        return [
            bronze_record_key(role).alias("record_key"),
            F.col("_source_id").alias("source_id"),
            F.col("_prefecture").alias("prefecture"),
            F.to_date("_ingested_at").alias("ingested_on"),
        ]

    def mixed_identifiers(column: str) -> list:
        """uscc .. registration_no from a column that may hold a USCC or a legacy identifier (its
        :func:`legal_id` evaluated once into ``_legal_id`` by :func:`with_legal_id`)."""
        i = F.col("_legal_id")
        return [
            F.when(i.is_valid & (i.kind == "USCC"), i.id).alias("uscc"),
            F.col(column).alias("uscc_raw"),
            i.invalid_reason.alias("uscc_invalid_reason"),
            repaired_uscc(F.col(column)).alias("uscc_repaired"),
            i.org_code.alias("org_code"),
            embedded_org_code(F.col(column)).alias("org_code_in_invalid_uscc"),
            F.when(i.is_valid & (i.kind == "REGISTRATION_NO"), i.id).alias("registration_no"),
        ]

    def with_legal_id(df: DataFrame, column: str) -> DataFrame:
        return df.select("*", legal_id(F.col(column)).alias("_legal_id"))

    # A rule whose result is read several times is evaluated once into a column, and the next
    # projection reads its fields: read through a Column, each field access would copy the rule's
    # whole expression (see jobs.silver.population.records.standardize_mentions, measured there).
    frames = []
    if "enterprise_registration" in bronze:
        df = bronze["enterprise_registration"].select(
            "*",
            uscc(F.col("uscc")).alias("_uscc"),
            org_code(F.col("organization_code")).alias("_org_code"),
            registration_no(F.col("registration_no")).alias("_registration_no"),
            citizen_id(F.col("legal_representative_id_number")).alias("_representative_id"),
            industry_code(F.col("industry_code")).alias("_industry"),
        )
        u, o, g = F.col("_uscc"), F.col("_org_code"), F.col("_registration_no")
        rep, industry = F.col("_representative_id"), F.col("_industry")
        # the district sent, else the one in the USCC (where it was issued, maybe abolished since)
        df = df.select(
            "*",
            admin_code(
                F.coalesce(
                    F.when(F.col("admin_code").rlike(r"^\d{6}$"), F.col("admin_code")),
                    F.when(u.is_valid, u.admin_code),
                )
            ).alias("_admin"),
        )
        admin = F.col("_admin")
        frames.append(
            df.select(
                *base(df, "enterprise"),
                F.lit("enterprise_registration").alias("dataset"),
                F.when(u.is_valid, u.uscc).alias("uscc"),
                F.col("uscc").alias("uscc_raw"),
                u.invalid_reason.alias("uscc_invalid_reason"),
                repaired_uscc(F.col("uscc")).alias("uscc_repaired"),
                F.coalesce(F.when(u.is_valid, u.org_code), F.when(o.is_valid, o.org_code)).alias("org_code"),
                embedded_org_code(F.col("uscc")).alias("org_code_in_invalid_uscc"),
                F.when(g.is_valid, g.registration_no).alias("registration_no"),
                normalize_enterprise_name(F.col("name")).alias("name"),
                normalize_person_name(F.col("legal_representative_name")).alias("legal_representative_name"),
                F.when(rep.is_valid, rep.id).alias("legal_representative_id_number"),
                clean_spaces(fold_fullwidth(F.col("registered_address"))).alias("registered_address"),
                admin.code.alias("admin_code"),
                admin.code_sent.alias("admin_code_sent"),
                admin.is_historical.alias("admin_code_historical"),
                industry.code.alias("industry_code"),
                F.col("industry_code").alias("industry_code_raw"),
                industry.is_valid.alias("industry_code_valid"),
                industry.invalid_reason.alias("industry_invalid_reason"),
                clean_spaces(F.col("entity_type")).alias("entity_type"),
                _status("status").alias("status"),
                parse_date(F.col("established_on"), date_formats).getField("date").alias("established_on"),
                F.expr(NO_STRING).alias("phone"),
            )
        )
    if "taxpayer_registry" in bronze:
        df = with_legal_id(bronze["taxpayer_registry"], "taxpayer_id")
        frames.append(
            df.select(
                *base(df, "taxpayer"),
                F.lit("taxpayer_registry").alias("dataset"),
                *mixed_identifiers("taxpayer_id"),
                normalize_enterprise_name(F.col("name")).alias("name"),
                normalize_person_name(F.col("legal_representative_name")).alias("legal_representative_name"),
                F.expr(NO_STRING).alias("legal_representative_id_number"),
                clean_spaces(fold_fullwidth(F.col("address"))).alias("registered_address"),
                F.expr(NO_STRING).alias("admin_code"),
                F.expr(NO_STRING).alias("admin_code_sent"),
                F.lit(None).cast("boolean").alias("admin_code_historical"),
                F.expr(NO_STRING).alias("industry_code"),
                *_no_industry_check(),
                clean_spaces(F.col("taxpayer_type")).alias("entity_type"),
                F.expr(NO_STRING).alias("status"),
                F.lit(None).cast("date").alias("established_on"),
                parse_phone(F.col("phone")).getField("phone").alias("phone"),
            )
        )
    if "social_insurance_enrollment" in bronze:
        df = with_legal_id(
            bronze["social_insurance_enrollment"].where(
                F.col("employer_uscc").isNotNull() | F.col("employer_name").isNotNull()
            ),
            "employer_uscc",
        )
        nulls = [
            "legal_representative_name",
            "legal_representative_id_number",
            "registered_address",
            "admin_code",
            "admin_code_sent",
            "industry_code",
            "entity_type",
            "status",
            "phone",
        ]
        frames.append(
            df.select(
                *base(df, "employer"),
                F.lit("social_insurance_enrollment").alias("dataset"),
                *mixed_identifiers("employer_uscc"),
                normalize_enterprise_name(F.col("employer_name")).alias("name"),
                *[F.expr(NO_STRING).alias(c) for c in nulls],
                F.lit(None).cast("boolean").alias("admin_code_historical"),
                *_no_industry_check(),
                F.lit(None).cast("date").alias("established_on"),
            )
        )
    return reduce(lambda a, b: a.unionByName(b), frames)


def standardization_fingerprint(date_formats: list[str]) -> str:
    """SHA-256 of every input of :func:`legal_person_mentions` besides the bronze rows: the rules
    version, the date formats in order, the status vocabulary, the admin-code and industry tables."""
    from jobs.silver.rules.admin_codes import codes_fingerprint
    from jobs.silver.rules.industry import sections_fingerprint

    return inputs_fingerprint(
        {
            "rules_version": RULES_VERSION,
            "date_formats": list(date_formats),
            "status_vocabulary": STATUS_VOCABULARY,
            "admin_codes": codes_fingerprint(),
            "industry_sections": sections_fingerprint(),
        }
    )


#: ``match_method`` values, in the order they are tried (see the module docstring).
LINK_METHODS = (
    "uscc",
    "uscc_repaired",
    "org_code",
    "org_code_in_invalid_uscc",
    "registration_no",
    "name",
    "unresolved",
)


def link_legal_persons(mentions: DataFrame) -> DataFrame:
    """record_key -> legal_person_id and how it was linked (:data:`LINK_METHODS`)."""
    from pyspark.sql import functions as F

    from jobs.silver.rules.text import enterprise_name_key

    mentions = mentions.withColumn("name_key", enterprise_name_key(F.col("name")))
    # The codes a record is known by: a valid USCC, or one repaired from look-alike letters.
    known = mentions.withColumn("_uscc", F.coalesce("uscc", "uscc_repaired")).where(
        F.col("_uscc").isNotNull()
    )

    def unique_map(column: str, alias: str) -> DataFrame:
        # A legacy key maps to a USCC only when it points at exactly one.
        return (
            known.where(F.col(column).isNotNull())
            .groupBy(F.col(column).alias(alias))
            .agg(F.countDistinct("_uscc").alias("n"), F.min("_uscc").alias(f"uscc_by_{alias}"))
            .where("n = 1")
            .drop("n")
        )

    by_org = unique_map("org_code", "org_code")
    linked = (
        mentions.join(by_org, "org_code", "left")
        .join(
            by_org.withColumnRenamed("org_code", "org_code_in_invalid_uscc").withColumnRenamed(
                "uscc_by_org_code", "uscc_by_embedded_org_code"
            ),
            "org_code_in_invalid_uscc",
            "left",
        )
        .join(unique_map("registration_no", "registration_no"), "registration_no", "left")
        .join(unique_map("name_key", "name_key"), "name_key", "left")
    )
    candidates = (
        ("uscc", "uscc"),
        ("uscc_repaired", "uscc_repaired"),
        ("org_code", "uscc_by_org_code"),
        ("org_code_in_invalid_uscc", "uscc_by_embedded_org_code"),
        ("registration_no", "uscc_by_registration_no"),
        ("name", "uscc_by_name_key"),
    )
    method = F.lit("unresolved")
    for name, column in reversed(candidates):
        method = F.when(F.col(column).isNotNull(), F.lit(name)).otherwise(method)
    fallback = F.coalesce(
        F.concat(F.lit("ORG:"), F.coalesce("org_code", "org_code_in_invalid_uscc")),
        F.concat(F.lit("REG:"), F.col("registration_no")),
        F.concat(
            F.lit("NAME:"),
            F.substring(F.sha2(F.coalesce(F.col("name_key"), F.col("record_key")), 256), 1, 16),
        ),
    )
    return linked.select(
        "record_key",
        "source_id",
        F.coalesce(*[F.col(c) for _, c in candidates], fallback).alias("legal_person_id"),
        method.alias("match_method"),
    )


def build_legal_persons(ctx: StepContext, *, incremental: bool = True) -> dict[str, Any]:
    """Rebuild the legal-persons library from its pinned inputs; returns counts of what changed.

    ``incremental``: only bronze files not standardized before are standardized (the records are
    the same as a full standardization's); ``False`` standardizes every bronze row.

    Legal representatives are linked to the persons of the population version pinned for this run
    (the published one), so every ``legal_representative_person_id`` published exists there.
    Until the enterprise register has been published, returns ``{"skipped": <why>}``.
    """
    from pyspark.sql import functions as F

    from jobs.silver.population.build import date_formats_of

    bronze = ctx.read_bronze()
    if REGISTER not in bronze:
        return skipped(f"no {REGISTER} bronze table published yet: the library is built on that register")
    date_formats = date_formats_of(ctx.registry, list(bronze))
    standardized = standardize_incrementally(
        ctx,
        bronze,
        records_table=RECORDS,
        standardize=lambda part: legal_person_mentions(part, date_formats),
        fingerprint=standardization_fingerprint(date_formats),
        state_location=STANDARDIZATION,
        incremental=incremental,
    )
    mentions = standardized.records
    crosswalk = link_legal_persons(mentions)
    linked = mentions.join(crosswalk.select("record_key", "legal_person_id"), "record_key").withColumn(
        "observed_at", F.coalesce("established_on", "ingested_on")
    )
    people = ctx.read_current(PERSONS)
    if people is not None:
        linked = linked.join(
            people.select(
                F.col("id_number").alias("legal_representative_id_number"),
                F.col("person_id").alias("legal_representative_person_id"),
            ),
            "legal_representative_id_number",
            "left",
        )
    else:
        linked = linked.withColumn("legal_representative_person_id", F.lit(None).cast("string"))
    counts = write_entity_library(
        ctx,
        LEGAL_PERSONS,
        records=mentions,
        crosswalk=crosswalk,
        linked=linked,
        ranks=trust_ranks(ctx.registry, GOLDEN_ATTRIBUTES),
        as_of=ctx.as_of,
        record_changes=standardized.changes,
    )
    standardized.keep_state(ctx)  # only once the records are written
    counts["standardization"] = standardized.plan.summary()
    log.info("legal-persons library: %s", counts)
    return counts

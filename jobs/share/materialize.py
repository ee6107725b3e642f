"""The ``share.publish`` step's job: every grant of ``registry/shares.yaml`` as its own Delta table.

A pre-signed file URL exposes every column of its Parquet file and Delta Sharing predicate hints
are best effort, so policies are enforced in the files: each grant table holds only the recipient's
rows and its masked columns (:func:`jobs.share.masks.apply_grant`), read from the **published**
version of its source (pinned by the step context). The step's gate then checks what the policy
promises before the new versions are published; the server serves published versions only.

Each grant table has the change data feed on (recipients can read only what changed) and is
changed by one MERGE per build on its key, so an update shows as an update. Every commit records
in its ``userMetadata`` the source version, the policy fingerprint and the run that built it.

Invariant the server relies on for change feeds: every published version is one commit applied to
the state of the previously published version. A build that finds an unpublished newest version
(its gate failed) first restores the table to the published version, so the failed content is
never part of a served change.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govlake.sharing import Grant, share_keys
from jobs.share.masks import apply_grant

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from govlake.lake import Lake
    from govlake.lake.context import StepContext

log = logging.getLogger("govlake.share")

TABLE_PROPERTIES = {
    "delta.enableChangeDataFeed": "true",
    # Reader version 1: Parquet-format responses and every Delta Sharing client can read it.
    "delta.enableDeletionVectors": "false",
}
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@dataclass(frozen=True)
class GrantState:
    latest: int | None
    published: int | None
    built_from: dict[str, Any]  # the userMetadata of the published version's commit


def commit_metadata(spark: SparkSession, path: str, version: int) -> dict[str, Any]:
    """The JSON a grant build recorded in commit ``version`` ({} if none)."""
    from delta.tables import DeltaTable

    row = (
        DeltaTable.forPath(spark, path)
        .history()
        .where(f"version = {int(version)}")
        .select("userMetadata")
        .first()
    )
    try:
        return json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}


def grant_state(lake: Lake, grant: Grant, published: dict[str, Any]) -> GrantState:
    latest = lake.latest_version(grant.table_id)
    publication = published.get(grant.table_id)
    version = publication.delta_version if publication else None
    built_from = (
        commit_metadata(lake.spark, lake.path(grant.table_id), version) if version is not None else {}
    )
    return GrantState(latest, version, built_from)


def current(step: Any, lake: Lake) -> bool:
    """Every grant's published version was built with today's policy and keys (the step's freshness
    check beside its inputs: a changed share definition or a new pseudonym key rebuilds)."""
    keys = share_keys(lake.settings)
    published = lake.publications()
    for grant in lake.catalogue.shares.grants:
        state = grant_state(lake, grant, published)
        if state.published is None or state.built_from.get("policy") != grant.policy_hash(keys.fingerprint):
            return False
    return True


def _same_schema(spark: SparkSession, path: str, frame: DataFrame) -> bool:
    existing = spark.read.format("delta").load(path).schema
    return [(f.name, f.dataType) for f in existing] == [(f.name, f.dataType) for f in frame.schema]


def write_grant(
    spark: SparkSession,
    path: str,
    frame: DataFrame,
    grant: Grant,
    metadata: dict[str, Any],
    restore_to: int | None,
) -> dict[str, int]:
    """Bring the grant table at ``path`` to ``frame`` in one commit (after a restore, if asked)."""
    from delta.tables import DeltaTable

    from govlake.lake import delta

    note = json.dumps(metadata, sort_keys=True, ensure_ascii=False)
    if not delta.is_delta_table(spark, path):
        writer = frame.write.format("delta").option("userMetadata", note)
        for key, value in TABLE_PROPERTIES.items():
            writer = writer.option(key, value)
        writer.save(path)
        return _metrics(spark, path)
    table = DeltaTable.forPath(spark, path)
    if restore_to is not None and delta.latest_version(spark, path) != restore_to:
        table.restoreToVersion(restore_to)  # the failed build's content is left behind
    if not _same_schema(spark, path, frame):  # the policy changed the columns: replace the table
        frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").option(
            "userMetadata", note
        ).save(path)
        return _metrics(spark, path)
    key = list(grant.key) or list(grant.column_names)
    on = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in key)
    others = [c for c in grant.column_names if c not in key]
    spark.conf.set(_USER_METADATA, note)
    try:
        merge = table.alias("t").merge(frame.alias("s"), on)
        if others:
            changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in others)
            merge = merge.whenMatchedUpdateAll(condition=changed)
        merge.whenNotMatchedInsertAll().whenNotMatchedBySourceDelete().execute()
    finally:
        spark.conf.unset(_USER_METADATA)
    return _metrics(spark, path)


def _metrics(spark: SparkSession, path: str) -> dict[str, int]:
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version", "operationMetrics").first()
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if str(v).isdigit()}
    return {
        "version": int(row["version"]),
        "inserted": metrics.get("numTargetRowsInserted", metrics.get("numOutputRows", 0)),
        "updated": metrics.get("numTargetRowsUpdated", 0),
        "deleted": metrics.get("numTargetRowsDeleted", 0),
    }


def build_grants(ctx: StepContext) -> dict[str, Any]:
    """Materialize every grant whose source version, policy or keys changed since its published build."""
    from jobs.share.audit import AuditLog

    lake = ctx.lake
    keys = share_keys(ctx.settings)
    published = lake.publications()
    audit = AuditLog(lake.settings, lake.catalogue, keys)
    counts: dict[str, Any] = {}
    for grant in lake.catalogue.shares.grants:
        source = ctx.read(grant.source)
        if source is None:
            counts[grant.table_id] = {"skipped": f"{grant.source} has no published version yet"}
            continue
        source_version = ctx.pins[grant.source]
        policy = grant.policy_hash(keys.fingerprint)
        state = grant_state(lake, grant, published)
        built = {"source": grant.source, "source_version": source_version, "policy": policy}
        unchanged = {k: state.built_from.get(k) for k in built} == built
        if state.published is not None and state.latest == state.published and unchanged:
            counts[grant.table_id] = {"unchanged": state.published}
            continue
        frame = apply_grant(source, grant, keys.pseudonym_key_for(grant.recipient))
        metadata = {**built, "run_id": ctx.run_id, "step": ctx.step, "recipient": grant.recipient}
        restore_to = state.published if state.latest != state.published else None
        written = write_grant(ctx.spark, lake.path(grant.table_id), frame, grant, metadata, restore_to)
        counts[grant.table_id] = written
        audit.record(
            event="grant_built",
            recipient=grant.recipient,
            share=grant.share,
            schema=grant.schema,
            table=grant.table,
            version=written["version"],
            rows=written["inserted"] + written["updated"] + written["deleted"],
            allowed=True,
            reason=f"built from {grant.source} v{source_version}; awaits the share gate",
            detail={"policy": grant.policy(), "policy_hash": policy, "run_id": ctx.run_id, **written},
        )
        log.info("%s: v%s from %s v%s", grant.table_id, written["version"], grant.source, source_version)
    return counts

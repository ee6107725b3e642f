"""Validate a Spark DataFrame (in practice: one version of a Delta table) against one suite.

One call = one GX Checkpoint run of the whole suite over the DataFrame. The
run asks GX for unexpected *counts* only (result format SUMMARY with ``partial_unexpected_count=0``):
GX bundles those into a few shared Spark aggregations, whereas collecting example values costs one
Spark job per expectation, about three times the jobs of the whole run. Examples are collected
afterwards, and only when something failed, for just the failed expectations (a second GX pass over the
frame); they are written into the stored result before Data Docs are rebuilt for it.

The result is stored by GX in the quality zone, the Data Docs site there is updated, the outcome is
appended to the ``validations`` Delta table (quality zone, one row per run, pass or fail) and
returned as a :class:`ValidationOutcome`.

Failed expectations are logged (logger ``govlake.quality``) as readable text with example values;
that text is what an Airflow task log shows.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from govlake.config import Settings
from govlake.lake import Lake, delta
from jobs.quality import context as gx_context
from jobs.quality.silver import Severity, severity_of
from jobs.quality.suites import load_suite, suite_fingerprint, suite_from_json, suite_to_json

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("govlake.quality")

#: How many unexpected values are collected per failed expectation (SUMMARY's partial_unexpected_list).
EXAMPLES = 5
#: Expectations whose unexpected values say nothing (they are all null): no examples are collected.
NO_EXAMPLES = frozenset({"expect_column_values_to_not_be_null"})
VALIDATIONS = "quality.validations"


# --------------------------------------------------------------------------------------- suites


@runtime_checkable
class SuiteSpec(Protocol):
    """A suite that needs columns derived from the data before GX sees it (see jobs.quality.silver).

    GX has no cross-table expectation: a foreign-key check, for instance, is computed with Spark
    (an anti-join) into a boolean column that an ordinary expectation then checks.
    """

    @property
    def name(self) -> str: ...

    def expectation_suite(self) -> Any:  # -> great_expectations.ExpectationSuite
        ...

    def prepare(self, df: DataFrame) -> DataFrame:
        """The DataFrame plus every derived column the suite's expectations read."""
        ...

    def example_columns(self) -> Mapping[str, Sequence[str]]:
        """Derived boolean column -> the columns to show for rows where it is false."""
        ...


#: A checked-in suite's name, a GX ExpectationSuite, or a SuiteSpec.
SuiteLike = Any


@dataclass(frozen=True)
class _Resolved:
    name: str
    suite: Any  # a fresh ExpectationSuite, owned by this run
    prepare: Callable[[DataFrame], DataFrame]
    example_columns: Mapping[str, Sequence[str]]


def _fresh(suite: Any) -> Any:
    # A new object without store ids: adding it to the context must not mutate the caller's suite.
    return suite_from_json(suite_to_json(suite))


def resolve_suite(suite: SuiteLike) -> _Resolved:
    import great_expectations as gx

    if isinstance(suite, str):
        s = load_suite(suite)
        return _Resolved(s.name, s, lambda df: df, {})
    if isinstance(suite, gx.ExpectationSuite):
        return _Resolved(suite.name, _fresh(suite), lambda df: df, {})
    if isinstance(suite, SuiteSpec):
        return _Resolved(
            suite.name, _fresh(suite.expectation_suite()), suite.prepare, suite.example_columns()
        )
    raise TypeError(f"not a suite: {suite!r} (expected a suite name, an ExpectationSuite or a SuiteSpec)")


# -------------------------------------------------------------------------------------- results


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation of one validation run."""

    expectation_type: str
    kwargs: Mapping[str, Any]
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    examples: tuple[Any, ...] = ()
    observed_value: Any = None
    error: str | None = None
    description: str | None = None
    severity: Severity = Severity.FAIL

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return str(col) if col is not None else None

    @property
    def label(self) -> str:
        """E.g. ``expect_column_values_to_not_be_null(column='name')``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.expectation_type}({args})"

    def describe(self) -> str:
        """One readable line: what was expected, how many rows broke it, a few examples."""
        text = f"[{self.severity.value}] {self.label}" + (
            f" [{self.description}]" if self.description else ""
        )
        if self.error:
            return f"{text}: error: {self.error}"
        parts = []
        if self.unexpected_count is not None:
            of = f" of {self.element_count}" if self.element_count is not None else ""
            pct = f" ({self.unexpected_percent:.4g}%)" if self.unexpected_percent is not None else ""
            parts.append(f"{self.unexpected_count}{of} rows unexpected{pct}")
        if self.examples:
            parts.append("examples: " + ", ".join(_fmt(e) for e in self.examples))
        if self.observed_value is not None and self.unexpected_count is None:
            parts.append(f"observed: {_fmt(self.observed_value)}")
        return f"{text}: " + "; ".join(parts) if parts else text


@dataclass(frozen=True)
class ValidationOutcome:
    """The outcome of validating one table (version) against one suite."""

    run_id: str
    success: bool
    table: str
    suite: str
    delta_version: int | None
    table_path: str | None
    validated_at: datetime
    duration_seconds: float
    row_count: int | None
    expectations: tuple[ExpectationOutcome, ...]
    data_docs_url: str | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    #: Rows the build dropped to quarantine, per drop expectation (silver tables only).
    dropped: Mapping[str, int] = field(default_factory=dict)
    #: Which rows were validated: None, every row of the frame (the whole table version); a Delta
    #: version P, only the rows appended since P (:mod:`jobs.quality.appended_slice`).
    since_version: int | None = None
    #: :func:`jobs.quality.suites.suite_fingerprint` of the suite run (None: not a GX suite run).
    suite_fingerprint: str | None = None

    @property
    def failed(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(e for e in self.expectations if not e.success)

    @property
    def blocking(self) -> tuple[ExpectationOutcome, ...]:
        """Failed expectations that keep the version from being published (severity fail or drop)."""
        return tuple(e for e in self.failed if e.severity.blocks)

    @property
    def warnings(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(e for e in self.failed if not e.severity.blocks)

    @property
    def passed(self) -> bool:
        """May be published: every fail and drop expectation holds (warnings are recorded, not blocking)."""
        return not self.blocking

    @property
    def target(self) -> str:
        return self.table + (f" @ Delta v{self.delta_version}" if self.delta_version is not None else "")

    @property
    def scope(self) -> str:
        """What was validated: ``whole table`` or ``appended since v3`` (``row_count`` says how many rows)."""
        return "whole table" if self.since_version is None else f"appended since v{self.since_version}"

    def summary(self) -> str:
        """One line, e.g. ``PASSED bronze.x @ Delta v3 against suite bronze.x: 19/19 expectations met,
        1000 rows (whole table)`` or ``..., 20 rows (appended since v2)``."""
        n, ok = len(self.expectations), len(self.expectations) - len(self.failed)
        rows = f", {self.row_count} rows ({self.scope})" if self.row_count is not None else ""
        verdict = "PASSED" if self.passed else "FAILED"
        extra = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        dropped = sum(self.dropped.values())
        extra += f", {dropped} row(s) dropped by the build" if dropped else ""
        return (
            f"{verdict} {self.target} against suite {self.suite}: {ok}/{n} expectations met{rows}{extra}"
            f" ({self.duration_seconds:.1f}s, run {self.run_id})"
        )

    def report(self, max_failures: int = 50) -> str:
        """The summary line, then one line per failed expectation with examples (for task logs)."""
        lines = [self.summary()]
        for outcome in self.failed[:max_failures]:
            lines.append(f"  {'FAILED' if outcome.severity.blocks else 'WARNED'} {outcome.describe()}")
        for expectation, count in sorted(self.dropped.items()):
            if count:
                lines.append(
                    f"  DROPPED {count} row(s) breaking {expectation} (moved to quarantine by the build)"
                )
        if len(self.failed) > max_failures:
            lines.append(f"  ... and {len(self.failed) - max_failures} more failed expectations")
        if self.data_docs_url:
            lines.append(f"  Data Docs: {self.data_docs_url}")
        return "\n".join(lines)


def _exception_text(info: Any) -> str | None:
    if not info:
        return None
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages = [str(i.get("exception_message") or "error") for i in infos if i.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def _outcomes(validation_result: Any, suite: Any) -> list[ExpectationOutcome]:
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    rows = []
    for res in validation_result.results:
        config = res.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        result = res.result or {}
        examples = result.get("partial_unexpected_list") or ()
        rows.append(
            (
                order.get(config.id, len(order)),
                ExpectationOutcome(
                    expectation_type=config.type,
                    kwargs=kwargs,
                    success=bool(res.success),
                    unexpected_count=result.get("unexpected_count"),
                    unexpected_percent=result.get("unexpected_percent"),
                    element_count=result.get("element_count"),
                    examples=tuple(examples[:EXAMPLES]),
                    observed_value=result.get("observed_value"),
                    error=_exception_text(res.exception_info),
                    description=getattr(config, "description", None),
                    severity=severity_of(config.meta),
                ),
            )
        )
    return [o for _, o in sorted(rows, key=lambda r: r[0])]


def _derived_examples(
    df: DataFrame, outcomes: list[ExpectationOutcome], example_columns: Mapping[str, Sequence[str]]
) -> list[ExpectationOutcome]:
    """For failed checks on derived boolean columns, show the offending rows instead of ``False``."""
    from dataclasses import replace

    from pyspark.sql import functions as F

    fixed = []
    for o in outcomes:
        cols = example_columns.get(o.column or "")
        if o.success or not cols or o.error:
            fixed.append(o)
            continue
        rows = df.where(~F.coalesce(F.col(o.column), F.lit(False))).select(*cols).limit(EXAMPLES).collect()
        fixed.append(replace(o, examples=tuple(r.asDict() for r in rows)))
    return fixed


def _config_key(config: Any) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return config.type + json.dumps(kwargs, sort_keys=True, default=str)


def _add_examples(
    batch_definition: Any, data: DataFrame, suite: Any, validation_result: Any, derived: Sequence[str]
) -> bool:
    """Collect example unexpected values of the failed expectations into ``validation_result``.

    A second GX pass over the frame, restricted to the failed expectations that have
    unexpected rows (derived checks get row examples from the runner, not-null ones need none).
    Returns whether any result was changed.
    """
    import great_expectations as gx

    targets = {
        _config_key(r.expectation_config): r
        for r in validation_result.results
        if not r.success
        and (r.result or {}).get("unexpected_count")
        and r.expectation_config.type not in NO_EXAMPLES
        and r.expectation_config.kwargs.get("column") not in derived
    }
    if not targets:
        return False
    expectations = [e.copy(deep=True) for e in suite.expectations if _config_key(e.configuration) in targets]
    for e in expectations:
        e.id = None
    details = (
        batch_definition.get_batch(batch_parameters={"dataframe": data})
        .validate(
            gx.ExpectationSuite(name=f"{suite.name}.examples", expectations=expectations),
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES},
        )
        .results
    )
    changed = False
    for detail in details:
        target = targets.get(_config_key(detail.expectation_config))
        examples = (detail.result or {}).get("partial_unexpected_list")
        if target is not None and examples:
            target.result["partial_unexpected_list"] = examples
            if "partial_unexpected_counts" in detail.result:
                target.result["partial_unexpected_counts"] = detail.result["partial_unexpected_counts"]
            changed = True
    return changed


# ----------------------------------------------------------------------------------- validation


def latest_version(spark: SparkSession, table_path: str) -> int:
    """The newest committed version of the Delta table at ``table_path``."""
    version = delta.latest_version(spark, table_path)
    if version is None:
        raise LookupError(f"no Delta table at {table_path}")
    return version


def _get_or_add_asset(datasource: Any, name: str) -> Any:
    try:
        return datasource.get_asset(name)
    except LookupError:
        return datasource.add_dataframe_asset(name)


def _get_or_add_batch_definition(asset: Any, name: str = "whole") -> Any:
    try:
        return asset.get_batch_definition(name)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(name)


def validate_dataframe(
    df: DataFrame,
    suite: SuiteLike,
    *,
    table: str,
    delta_version: int | None = None,
    table_path: str | None = None,
    settings: Settings,
    build_docs: bool = True,
    record: bool = True,
    cache: bool | None = None,
    dropped: Mapping[str, int] | None = None,
    since_version: int | None = None,
) -> ValidationOutcome:
    """Validate ``df`` against ``suite`` in one GX run; store the result, update Data Docs, log.

    ``table`` names the data in results and Data Docs (it is the GX data asset); ``delta_version`` and
    ``table_path`` say which table version ``df`` is, when it is one. ``since_version``: ``df`` is
    only the rows of that version appended since Delta version ``since_version`` (recorded as the
    outcome's scope). With ``record`` the outcome is appended to the ``validations`` table in the
    quality zone. ``cache`` (default: only when the suite derives columns) persists the frame for
    the duration of the run.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier
    from pyspark import StorageLevel

    resolved = resolve_suite(suite)
    fingerprint = suite_fingerprint(resolved.suite)  # before GX's store gives it ids
    run_id = uuid.uuid4().hex
    validated_at = datetime.now(UTC)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    data = resolved.prepare(df)
    # GX scans the frame a few times (one Spark job per metric bundle). Re-reading a Delta version is
    # cheap (Parquet, only the columns a metric needs), cheaper than materializing every column in a
    # cache first: measured on the bronze suite, 4-5 s without a cache against 8-9 s with one. A frame
    # with derived checks (joins) is cached instead. A caller's own cache is left alone.
    if cache is None:
        cache = bool(resolved.example_columns)
    owns_cache = cache and data.storageLevel == StorageLevel.NONE
    if owns_cache:
        data = data.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with gx_context.context_lock():
            ctx = gx_context.runtime_context(settings)
            batch_definition = _get_or_add_batch_definition(
                _get_or_add_asset(ctx.data_sources.get(gx_context.DATASOURCE), table)
            )
            if resolved.name in {s.name for s in ctx.suites.all()}:
                ctx.suites.delete(resolved.name)
            gx_suite = ctx.suites.add(resolved.suite)
            wiring = f"{table}::{resolved.name}::{run_id}"
            definition = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=wiring, data=batch_definition, suite=gx_suite)
            )
            actions = [UpdateDataDocsAction(name="update_data_docs", site_names=[gx_context.DOCS_SITE])]
            checkpoint = ctx.checkpoints.add(
                gx.Checkpoint(
                    name=wiring,
                    validation_definitions=[definition],
                    actions=actions if build_docs else [],
                    # counts only: see the module docstring (examples come after, if anything failed)
                    result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
                )
            )
            try:
                t0 = time.perf_counter()
                result = checkpoint.run(
                    batch_parameters={"dataframe": data},
                    run_id=RunIdentifier(run_name=run_id, run_time=validated_at),
                )
                timings["checkpoint"] = time.perf_counter() - t0
            finally:
                ctx.checkpoints.delete(wiring)
                ctx.validation_definitions.delete(wiring)
            key, validation_result = next(iter(result.run_results.items()))
            if not validation_result.success:
                t0 = time.perf_counter()
                derived = list(resolved.example_columns)
                if _add_examples(batch_definition, data, gx_suite, validation_result, derived):
                    ctx.validation_results_store.set(key, validation_result)
                    if build_docs:
                        ctx.build_data_docs(site_names=[gx_context.DOCS_SITE], resource_identifiers=[key])
                timings["examples"] = time.perf_counter() - t0
            docs_url = None
            if build_docs:
                urls = ctx.get_docs_sites_urls(resource_identifier=key, site_name=gx_context.DOCS_SITE)
                docs_url = urls[0]["site_url"] if urls else None
                # GX's pages load their scripts and styles from CDNs: point them at the site's copies
                built = [key, key.expectation_suite_identifier]  # what UpdateDataDocsAction rebuilds
                gx_context.make_data_docs_offline(settings, context=ctx, resource_identifiers=built)

        outcomes = _outcomes(validation_result, gx_suite)
        if resolved.example_columns and not validation_result.success:
            outcomes = _derived_examples(data, outcomes, resolved.example_columns)
        counts = [o.element_count for o in outcomes if o.element_count is not None]
        row_count = max(counts) if counts else data.count()
    finally:
        if owns_cache:
            data.unpersist()

    outcome = ValidationOutcome(
        run_id=run_id,
        success=bool(validation_result.success),
        table=table,
        suite=resolved.name,
        delta_version=delta_version,
        table_path=table_path,
        validated_at=validated_at,
        duration_seconds=time.perf_counter() - started,
        row_count=row_count,
        expectations=tuple(outcomes),
        data_docs_url=docs_url,
        timings=timings,
        dropped=dict(dropped or {}),
        since_version=since_version,
        suite_fingerprint=fingerprint,
    )
    if outcome.success:
        log.info(outcome.summary())
    else:
        log.warning(outcome.report())
    if record:
        t0 = time.perf_counter()
        record_validation(df.sparkSession, outcome, settings)
        timings["record"] = time.perf_counter() - t0
    return outcome


def validate_table_version(
    spark: SparkSession,
    table: str,
    table_path: str,
    suite: SuiteLike,
    *,
    version: int | None = None,
    settings: Settings,
    build_docs: bool = True,
    record: bool = True,
    cache: bool | None = None,
    dropped: Mapping[str, int] | None = None,
) -> ValidationOutcome:
    """Validate one version (default: the latest) of the Delta table at ``table_path``."""
    version = latest_version(spark, table_path) if version is None else int(version)
    return validate_dataframe(
        delta.read_version(spark, table_path, version),
        suite,
        table=table,
        delta_version=version,
        table_path=table_path,
        settings=settings,
        build_docs=build_docs,
        record=record,
        cache=cache,
        dropped=dropped,
    )


# ------------------------------------------------------------------------------ the record table


def _validations_schema() -> Any:
    from pyspark.sql import types as T

    expectation = T.StructType(
        [
            T.StructField("expectation_type", T.StringType(), False),
            T.StructField("column", T.StringType(), True),
            T.StructField("kwargs", T.StringType(), True),  # JSON
            T.StructField("success", T.BooleanType(), False),
            T.StructField("severity", T.StringType(), True),
            T.StructField("unexpected_count", T.LongType(), True),
            T.StructField("unexpected_percent", T.DoubleType(), True),
            T.StructField("element_count", T.LongType(), True),
            T.StructField("examples", T.ArrayType(T.StringType()), True),
            T.StructField("error", T.StringType(), True),
        ]
    )
    return T.StructType(
        [
            T.StructField("run_id", T.StringType(), False),
            T.StructField("table", T.StringType(), False),
            T.StructField("table_path", T.StringType(), True),
            T.StructField("delta_version", T.LongType(), True),
            T.StructField("suite", T.StringType(), False),
            # every expectation met (GX's verdict) / publishable (no fail or drop expectation broken)
            T.StructField("success", T.BooleanType(), False),
            T.StructField("passed", T.BooleanType(), True),
            T.StructField("validated_at", T.TimestampType(), False),
            T.StructField("duration_seconds", T.DoubleType(), False),
            T.StructField("row_count", T.LongType(), True),
            T.StructField("evaluated", T.IntegerType(), False),
            T.StructField("failed", T.IntegerType(), False),
            T.StructField("failed_expectations", T.ArrayType(T.StringType()), False),
            T.StructField("warned_expectations", T.ArrayType(T.StringType()), True),
            T.StructField("dropped", T.MapType(T.StringType(), T.LongType()), True),
            T.StructField("summary", T.StringType(), False),
            T.StructField("data_docs_url", T.StringType(), True),
            T.StructField("expectations", T.ArrayType(expectation), False),
            # Added later (appends merge the schema: older rows read null, i.e. a whole-table run of
            # an unrecorded suite). scope: "whole table" or "appended since v<since_version>".
            T.StructField("scope", T.StringType(), True),
            T.StructField("since_version", T.LongType(), True),
            T.StructField("suite_fingerprint", T.StringType(), True),
        ]
    )


def kwargs_json(kwargs: Mapping[str, Any]) -> str:
    """An expectation's arguments as recorded (``expectations.kwargs``): what identifies it in a record."""
    return json.dumps(dict(kwargs), ensure_ascii=False, default=str, sort_keys=True)


def _record_row(outcome: ValidationOutcome) -> tuple[Any, ...]:
    expectations = [
        (
            e.expectation_type,
            e.column,
            kwargs_json(e.kwargs),
            e.success,
            e.severity.value,
            e.unexpected_count,
            e.unexpected_percent,
            e.element_count,
            [_fmt(x) for x in e.examples],
            e.error,
        )
        for e in outcome.expectations
    ]
    return (
        outcome.run_id,
        outcome.table,
        outcome.table_path,
        outcome.delta_version,
        outcome.suite,
        outcome.success,
        outcome.passed,
        outcome.validated_at,
        float(outcome.duration_seconds),
        outcome.row_count,
        len(outcome.expectations),
        len(outcome.blocking),
        [e.label for e in outcome.blocking],
        [e.label for e in outcome.warnings],
        {k: int(v) for k, v in outcome.dropped.items()},
        outcome.summary(),
        outcome.data_docs_url,
        expectations,
        outcome.scope,
        outcome.since_version,
        outcome.suite_fingerprint,
    )


def record_validation(spark: SparkSession, outcome: ValidationOutcome, settings: Settings) -> None:
    """Append one row for ``outcome`` to ``quality.validations``."""
    record_validations(spark, [outcome], settings)


def record_validations(
    spark: SparkSession, outcomes: Sequence[ValidationOutcome], settings: Settings
) -> None:
    """Append one row per outcome in a single Delta commit (a gate records a library's tables at once)."""
    if outcomes:
        from govlake.lake.writers import writing

        lake = Lake(settings, spark)
        rows = spark.createDataFrame([_record_row(o) for o in outcomes], schema=_validations_schema())
        with writing(lake, [VALIDATIONS], owner=f"validations {outcomes[0].run_id}"):
            delta.append(rows, lake.path(VALIDATIONS), merge_schema=True)


def passed_record(
    spark: SparkSession, settings: Settings, table: str, versions: Sequence[int], fingerprint: str
) -> Any:  # -> Row | None
    """The newest recorded validation of one of ``versions`` of ``table`` that passed the very suite
    of ``fingerprint`` (:func:`jobs.quality.suites.suite_fingerprint`), or None. Rows recorded
    before fingerprints were recorded never match."""
    from pyspark.sql import functions as F

    records = delta.read_latest(spark, Lake(settings, spark).path(VALIDATIONS))
    if records is None or "suite_fingerprint" not in records.columns:
        return None
    matching = records.where(
        (F.col("table") == table)
        & F.col("passed")
        & F.col("delta_version").isin([int(v) for v in versions])
        & (F.col("suite_fingerprint") == fingerprint)
    )
    return matching.orderBy(F.col("validated_at").desc()).limit(1).first()


def read_validations(spark: SparkSession, settings: Settings) -> DataFrame:
    """Every recorded validation (pass and fail), for scorecards and trends."""
    return spark.read.format("delta").load(Lake(settings, spark).path(VALIDATIONS))

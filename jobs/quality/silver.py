"""Hand-written suites for silver tables: ID validity, golden-key uniqueness, references, consistency.

Silver tables are designed elsewhere; this module only offers the building blocks, generic over column
names. A :class:`SilverSuite` is a list of GX expectations plus *derived checks*: a boolean column
computed with Spark before GX sees the data, then checked by an ordinary expectation. That is how
checks GX cannot express are done, e.g. a foreign key (GX has no cross-table expectation; the
offending rows are found with a Spark anti-join) or an ID checksum. For a failed derived check the
runner shows the offending rows' ``example_columns`` instead of GX's ``False, False, ...``.

Example::

    suite = (
        SilverSuite("silver.person")
        .unique("person_id")
        .not_null("person_id", "name")
        .matches("id_number", CITIZEN_ID_18, mostly=0.99)
        .id_checksum("id_number", "citizen_id")
        .foreign_key("admin_code", lambda spark: read_published(spark, "silver.admin_division"), "code")
        .ordered("birth_date", "death_date")
        .between("birth_date", "1900-01-01", "2030-12-31")
        .rule("adult_has_no_guardian", "age < 18 OR guardian_id IS NULL", example_columns=["person_id"])
    )
    publish_if_valid("silver.person", path, suite)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    Reference = DataFrame | Callable[[SparkSession], DataFrame]
else:
    Reference = Any

# Java regular expressions (GX on Spark evaluates them with RLIKE).
#: 18-digit citizen ID (GB 11643): area, birth date, sequence, check character.
CITIZEN_ID_18 = r"^[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[0-9X]$"
#: Legacy 15-digit citizen ID (two-digit year, no check character).
CITIZEN_ID_15 = r"^[1-9]\d{7}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}$"
#: Unified social credit code (GB 32100): 18 characters, no I, O, S, V, Z.
USCC = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"
#: Legacy organization code (GB 11714): 8 characters and a check character.
ORGANIZATION_CODE = r"^[0-9A-Z]{8}[0-9X]$"
#: Six-digit GB/T 2260 admin-division code.
ADMIN_CODE = r"^[1-8]\d{5}$"
#: Six-digit admin code inside Jiangsu's 13 prefectures (3201..3213).
JIANGSU_ADMIN_CODE = r"^32(0[1-9]|1[0-3])\d{2}$"

ID_PATTERNS: dict[str, str] = {
    "citizen_id": CITIZEN_ID_18,
    "citizen_id_15": CITIZEN_ID_15,
    "uscc": USCC,
    "organization_code": ORGANIZATION_CODE,
    "admin_code": ADMIN_CODE,
    "jiangsu_admin_code": JIANGSU_ADMIN_CODE,
}

_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK = "10X98765432"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

DERIVED_PREFIX = "_dq_"


# ------------------------------------------------------------------------- column-level helpers


def citizen_id_checksum_ok(column: str) -> Column:
    """True when an 18-character citizen ID's check character (ISO 7064 MOD 11-2) is right.

    Null for a null value; false for anything that is not 17 digits and a check character.
    """
    from pyspark.sql import functions as F

    value = F.upper(F.col(column))
    total = sum(F.substring(value, i + 1, 1).cast("int") * w for i, w in enumerate(_CITIZEN_WEIGHTS))
    expected = F.element_at(F.array(*[F.lit(c) for c in _CITIZEN_CHECK]), (total % 11 + 1).cast("int"))
    well_formed = value.rlike(r"^[0-9]{17}[0-9X]$")
    return F.when(value.isNull(), F.lit(None)).otherwise(
        well_formed & F.coalesce(expected == F.substring(value, 18, 1), F.lit(False))
    )


def uscc_checksum_ok(column: str) -> Column:
    """True when a unified social credit code's check character (GB 32100) is right; null for null."""
    from pyspark.sql import functions as F

    value = F.upper(F.col(column))
    quoted = "`" + column.replace("`", "``") + "`"
    # instr() with a column needle is only reachable through SQL; position 0 (absent) is excluded
    # by the well-formedness test below.
    total = sum(
        (F.expr(f"instr('{_USCC_ALPHABET}', substring(upper({quoted}), {i + 1}, 1))") - 1) * w
        for i, w in enumerate(_USCC_WEIGHTS)
    )
    expected = F.element_at(
        F.array(*[F.lit(c) for c in _USCC_ALPHABET]), ((F.lit(31) - total % 31) % 31 + 1).cast("int")
    )
    well_formed = value.rlike(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
    return F.when(value.isNull(), F.lit(None)).otherwise(
        well_formed & F.coalesce(expected == F.substring(value, 18, 1), F.lit(False))
    )


CHECKSUMS: dict[str, Callable[[str], Column]] = {
    "citizen_id": citizen_id_checksum_ok,
    "uscc": uscc_checksum_ok,
}


def _as_list(columns: str | Sequence[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _reference_frame(df: DataFrame, reference: Reference) -> DataFrame:
    return reference(df.sparkSession) if callable(reference) else reference


def foreign_key_violations(
    df: DataFrame,
    columns: str | Sequence[str],
    reference: Reference,
    ref_columns: str | Sequence[str] | None = None,
) -> DataFrame:
    """Rows of ``df`` whose (non-null) key in ``columns`` is absent from ``reference.ref_columns``.

    A Spark left anti-join. Rows with a null in any key column are not violations (nullability is
    a separate ``not_null`` check).
    """
    from pyspark.sql import functions as F

    cols = _as_list(columns)
    ref_cols = _as_list(ref_columns) if ref_columns is not None else cols
    if len(cols) != len(ref_cols):
        raise ValueError(f"foreign key {cols} has {len(cols)} columns, reference {ref_cols} {len(ref_cols)}")
    ref = _reference_frame(df, reference)
    keys = ref.select(*[F.col(r).alias(f"__ref_{i}") for i, r in enumerate(ref_cols)]).distinct()
    condition = [F.col(c) == F.col(f"__ref_{i}") for i, c in enumerate(cols)]
    non_null = df.where(F.lit(True) if not cols else _all_not_null(cols))
    return non_null.join(keys, on=condition, how="left_anti")


def _all_not_null(cols: Iterable[str]) -> Column:
    from functools import reduce

    from pyspark.sql import functions as F

    return reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols])


def with_foreign_key_flag(
    df: DataFrame,
    flag: str,
    columns: str | Sequence[str],
    reference: Reference,
    ref_columns: str | Sequence[str] | None = None,
) -> DataFrame:
    """``df`` plus boolean ``flag``: false where the key has no match in the reference (anti-join)."""
    from pyspark.sql import functions as F

    cols = _as_list(columns)
    orphans = (
        foreign_key_violations(df.select(*cols), cols, reference, ref_columns)
        .distinct()
        .withColumn(flag, F.lit(False))
    )
    joined = df.join(orphans, on=cols, how="left")  # equi-join: null keys never match -> pass
    return joined.select(*df.columns, F.coalesce(F.col(flag), F.lit(True)).alias(flag))


# ------------------------------------------------------------------------------------ the suite


class Severity(StrEnum):
    """What a broken expectation does, as lakehouse expectations have it.

    ``fail``  blocks the publication: the previous version stays in service (keys, golden identifiers,
              the library's own consistency).
    ``drop``  the violating rows are moved to ``quarantine.silver_<library>`` with the expectation's name
              while the table is built, and the rest is published (row-level plausibility). At the
              gate a drop expectation must hold: a violation there means a row escaped the drop.
    ``warn``  published anyway; recorded in the validation, Data Docs and the scorecard (references
              to other libraries, soft plausibility).
    """

    FAIL = "fail"
    DROP = "drop"
    WARN = "warn"

    @property
    def blocks(self) -> bool:
        return self is not Severity.WARN


#: GX's own severity for each (GX has no "drop": after the drop it must hold, so it is critical).
_GX_SEVERITY = {Severity.FAIL: "critical", Severity.DROP: "critical", Severity.WARN: "warning"}


def severity_of(expectation_meta: Mapping[str, Any] | None) -> Severity:
    """The severity recorded in an expectation's meta (``fail`` when none is)."""
    return Severity((expectation_meta or {}).get("severity", Severity.FAIL.value))


@dataclass(frozen=True)
class DerivedCheck:
    """A boolean column computed before validation; the suite expects it to be true."""

    name: str
    column: str
    description: str
    build: Callable[[DataFrame], DataFrame]
    example_columns: tuple[str, ...]
    severity: Severity = Severity.FAIL
    row_level: bool = False  # the flag depends on the row alone (no join, no aggregate)


def _derived_name(name: str) -> str:
    slug = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_").lower()
    if not slug:
        raise ValueError(f"check name {name!r} has no usable characters")
    return DERIVED_PREFIX + slug


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


#: Rows dropped by a build: the expectation they broke, and the row as JSON.
DROPPED_COLUMNS = ("expectation", "description")


class SilverSuite:
    """A suite for a silver table, built fluently; pass it anywhere a suite is accepted.

    Every method takes a ``severity`` (default ``fail``); ``drop`` is accepted by the row-level checks
    (not_null, in_set, between, matches, ordered, rule, id_checksum), which then become derived
    checks whose flag the build filters on (:meth:`split_drops`).
    """

    def __init__(self, name: str, *, meta: Mapping[str, Any] | None = None, notes: str | None = None) -> None:
        self._name = name
        self._meta = {"zone": "silver", **(meta or {})}
        self._notes = notes
        self._expectations: list[Any] = []
        self._derived: list[DerivedCheck] = []
        self._drop_counts: Mapping[str, int] | None = None  # set by the gate: what the build dropped
        self._drop_target = ""
        self._file_column: str | None = None  # appended_by_file
        self._file_keys: set[str] = set()

    @property
    def name(self) -> str:
        return self._name

    @property
    def derived_checks(self) -> tuple[DerivedCheck, ...]:
        return tuple(self._derived)

    @property
    def drop_checks(self) -> tuple[DerivedCheck, ...]:
        return tuple(d for d in self._derived if d.severity is Severity.DROP)

    # -- plain GX expectations -------------------------------------------------------------------

    def add(self, *expectations: Any, severity: Severity = Severity.FAIL) -> SilverSuite:
        """Add any GX expectation(s), with the severity recorded on each."""
        if severity is Severity.DROP:
            raise ValueError("a plain GX expectation cannot drop rows: use a row-level check (rule, ...)")
        for expectation in expectations:
            expectation.severity = _GX_SEVERITY[severity]
            expectation.meta = {**(expectation.meta or {}), "severity": severity.value}
            self._expectations.append(expectation)
        return self

    def _row_level(
        self, name: str, condition: str, severity: Severity, description: str, example_columns: Sequence[str]
    ) -> SilverSuite:
        """A row-level check that drops: as a derived rule, so the build can filter on its flag."""
        return self.rule(
            name, condition, example_columns=example_columns, description=description, severity=severity
        )

    def columns_exist(self, *columns: str) -> SilverSuite:
        import great_expectations.expectations as gxe

        return self.add(*[gxe.ExpectColumnToExist(column=c) for c in columns])

    def not_null(self, *columns: str, mostly: float = 1.0, severity: Severity = Severity.FAIL) -> SilverSuite:
        import great_expectations.expectations as gxe

        if severity is Severity.DROP:
            for c in columns:
                self._row_level(f"{c}_not_null", f"{_quoted(c)} IS NOT NULL", severity, f"{c} is set", [c])
            return self
        return self.add(
            *[gxe.ExpectColumnValuesToNotBeNull(column=c, mostly=mostly) for c in columns], severity=severity
        )

    def unique(
        self, *columns: str, description: str | None = None, severity: Severity = Severity.FAIL
    ) -> SilverSuite:
        """One column: its non-null values are unique. Several: the combination is unique (a golden key)."""
        import great_expectations.expectations as gxe

        if not columns:
            raise ValueError("unique() needs at least one column")
        if len(columns) == 1:
            expectation = gxe.ExpectColumnValuesToBeUnique(column=columns[0], description=description)
        else:
            expectation = gxe.ExpectCompoundColumnsToBeUnique(
                column_list=list(columns), description=description
            )
        return self.add(expectation, severity=severity)

    def matches(
        self,
        column: str,
        regex: str,
        *,
        mostly: float = 1.0,
        description: str | None = None,
        severity: Severity = Severity.FAIL,
        example_columns: Sequence[str] = (),
    ) -> SilverSuite:
        """Non-null values match ``regex`` (a Java regular expression)."""
        import great_expectations.expectations as gxe

        if severity is Severity.DROP:
            condition = f"{_quoted(column)} IS NULL OR {_quoted(column)} RLIKE {_sql_literal(regex)}"
            text = description or f"{column} matches {regex}"
            return self._row_level(f"{column}_matches", condition, severity, text, [column, *example_columns])
        return self.add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=regex, mostly=mostly, description=description
            ),
            severity=severity,
        )

    def id_format(
        self, column: str, kind: str, *, mostly: float = 1.0, severity: Severity = Severity.FAIL
    ) -> SilverSuite:
        """Non-null values have the format of ``kind`` (a key of :data:`ID_PATTERNS`)."""
        try:
            regex = ID_PATTERNS[kind]
        except KeyError:
            raise ValueError(f"unknown ID kind {kind!r}; known: {sorted(ID_PATTERNS)}") from None
        return self.matches(
            column, regex, mostly=mostly, description=f"{column} is a well-formed {kind}", severity=severity
        )

    def in_set(
        self,
        column: str,
        values: Iterable[Any],
        *,
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
        example_columns: Sequence[str] = (),
    ) -> SilverSuite:
        import great_expectations.expectations as gxe

        values = list(values)
        if severity is Severity.DROP:
            listed = ", ".join(_sql_literal(v) for v in values)
            condition = f"{_quoted(column)} IS NULL OR {_quoted(column)} IN ({listed})"
            text = f"{column} is one of {values}"
            return self._row_level(f"{column}_in_set", condition, severity, text, [column, *example_columns])
        return self.add(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, mostly=mostly), severity=severity
        )

    def between(
        self,
        column: str,
        min_value: Any = None,
        max_value: Any = None,
        *,
        strict_min: bool = False,
        strict_max: bool = False,
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
        example_columns: Sequence[str] = (),
    ) -> SilverSuite:
        """Non-null values lie in ``[min_value, max_value]`` (either bound may be None)."""
        import great_expectations.expectations as gxe

        if min_value is None and max_value is None:
            raise ValueError("between() needs min_value or max_value")
        if severity is Severity.DROP:
            bounds = []
            if min_value is not None:
                bounds.append(f"{_quoted(column)} {'>' if strict_min else '>='} {_sql_literal(min_value)}")
            if max_value is not None:
                bounds.append(f"{_quoted(column)} {'<' if strict_max else '<='} {_sql_literal(max_value)}")
            condition = f"{_quoted(column)} IS NULL OR ({' AND '.join(bounds)})"
            text = f"{column} lies between {min_value} and {max_value}"
            return self._row_level(
                f"{column}_in_range", condition, severity, text, [column, *example_columns]
            )
        return self.add(
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=min_value,
                max_value=max_value,
                strict_min=strict_min,
                strict_max=strict_max,
                mostly=mostly,
            ),
            severity=severity,
        )

    def row_count_between(self, min_value: int | None = None, max_value: int | None = None) -> SilverSuite:
        import great_expectations.expectations as gxe

        return self.add(gxe.ExpectTableRowCountToBeBetween(min_value=min_value, max_value=max_value))

    def ordered(
        self,
        earlier: str,
        later: str,
        *,
        or_equal: bool = True,
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
        example_columns: Sequence[str] = (),
    ) -> SilverSuite:
        """Where both are set, ``later`` >= ``earlier`` (> if not ``or_equal``): e.g. birth before death."""
        import great_expectations.expectations as gxe

        description = f"{later} is not before {earlier}"
        if severity is Severity.DROP:
            a, b, op = _quoted(earlier), _quoted(later), ">=" if or_equal else ">"
            condition = f"{a} IS NULL OR {b} IS NULL OR {b} {op} {a}"
            return self._row_level(
                f"{later}_not_before_{earlier}",
                condition,
                severity,
                description,
                [*example_columns, earlier, later],
            )
        return self.add(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=later,
                column_B=earlier,
                or_equal=or_equal,
                ignore_row_if="either_value_is_missing",
                mostly=mostly,
                description=description,
            ),
            severity=severity,
        )

    # -- derived checks --------------------------------------------------------------------------

    def derived(
        self,
        name: str,
        build: Callable[[DataFrame, str], DataFrame],
        *,
        description: str,
        example_columns: Sequence[str],
        mostly: float = 1.0,
        meta: Mapping[str, Any] | None = None,
        severity: Severity = Severity.FAIL,
        row_level: bool = False,
    ) -> SilverSuite:
        """A check computed with Spark: ``build(df, flag)`` returns ``df`` plus boolean column ``flag``.

        ``row_level``: the flag depends on the row alone (no join, no aggregate), so ``drop`` may
        filter the table on it.
        """
        import great_expectations.expectations as gxe

        if severity is Severity.DROP and not row_level:
            raise ValueError(f"{self.name}: check {name!r} is not row-level and cannot drop rows")
        flag = _derived_name(name)
        if any(d.column == flag for d in self._derived):
            raise ValueError(f"suite {self.name} already has a check named {name!r}")
        self._derived.append(
            DerivedCheck(
                name,
                flag,
                description,
                lambda df: build(df, flag),
                tuple(example_columns),
                severity,
                row_level,
            )
        )
        return self.add(
            gxe.ExpectColumnValuesToBeInSet(
                column=flag,
                value_set=[True],
                mostly=mostly,
                description=description,
                meta={"derived_check": name, "example_columns": list(example_columns), **(meta or {})},
            ),
            severity=Severity.FAIL if severity is Severity.DROP else severity,
        )._mark_drop(flag, severity)

    def _mark_drop(self, flag: str, severity: Severity) -> SilverSuite:
        if severity is Severity.DROP:
            expectation = self._expectations[-1]
            expectation.meta = {**expectation.meta, "severity": Severity.DROP.value}
        return self

    def rule(
        self,
        name: str,
        condition: str,
        *,
        example_columns: Sequence[str],
        description: str | None = None,
        null_passes: bool = True,
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
    ) -> SilverSuite:
        """A consistency rule as a Spark SQL condition every row must satisfy.

        A row where the condition is NULL (unknown) passes unless ``null_passes`` is False.
        """
        from pyspark.sql import functions as F

        def build(df: DataFrame, flag: str) -> DataFrame:
            return df.withColumn(flag, F.coalesce(F.expr(condition), F.lit(null_passes)))

        return self.derived(
            name,
            build,
            description=description or condition,
            example_columns=example_columns,
            mostly=mostly,
            meta={"condition": condition},
            severity=severity,
            row_level=True,
        )

    def id_checksum(
        self,
        column: str,
        kind: str,
        *,
        example_columns: Sequence[str] = (),
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
    ) -> SilverSuite:
        """Non-null values carry a correct check character (``kind``: ``citizen_id`` or ``uscc``).

        18-character values are checked; a value of another shape fails (combine with
        :meth:`id_format` ``mostly`` if legacy 15-digit IDs are allowed).
        """
        from pyspark.sql import functions as F

        try:
            checksum = CHECKSUMS[kind]
        except KeyError:
            raise ValueError(f"no checksum for {kind!r}; known: {sorted(CHECKSUMS)}") from None

        def build(df: DataFrame, flag: str) -> DataFrame:
            return df.withColumn(flag, F.coalesce(checksum(column), F.lit(True)))

        return self.derived(
            f"{column}_{kind}_checksum",
            build,
            description=f"{column} has a valid {kind} check character",
            example_columns=[column, *example_columns],
            mostly=mostly,
            severity=severity,
            row_level=True,
        )

    def unique_where(
        self,
        columns: str | Sequence[str],
        condition: str,
        *,
        name: str | None = None,
        example_columns: Sequence[str] = (),
        severity: Severity = Severity.FAIL,
    ) -> SilverSuite:
        """Among rows where ``condition`` (Spark SQL) holds, ``columns`` are unique.

        For golden keys in SCD2 history: ``unique_where("person_id", "is_current")`` says one current
        version per person, while the history keeps many rows per key (GX's uniqueness expectations
        apply to the whole batch, so this is a derived check: a count per key over the matching rows).
        """
        from pyspark.sql import functions as F

        cols = _as_list(columns)

        def build(df: DataFrame, flag: str) -> DataFrame:
            counts = (
                df.where(F.expr(condition))
                .groupBy(*cols)
                .count()
                .where(F.col("count") > 1)
                .select(*cols, F.lit(False).alias(flag))
            )
            # rows outside the condition, or with a key seen once, pass (null-safe join on the key)
            joined = df.join(counts, on=cols, how="left")
            unique = F.coalesce(F.col(flag), F.lit(True)) | ~F.coalesce(F.expr(condition), F.lit(False))
            return joined.select(*df.columns, unique.alias(flag))

        return self.derived(
            name or f"unique_{'_'.join(cols)}_where_{condition}",
            build,
            description=f"({', '.join(cols)}) is unique where {condition}",
            example_columns=[*cols, *example_columns],
            severity=severity,
        )

    def foreign_key(
        self,
        columns: str | Sequence[str],
        reference: Reference,
        ref_columns: str | Sequence[str] | None = None,
        *,
        name: str | None = None,
        reference_name: str = "reference",
        example_columns: Sequence[str] = (),
        mostly: float = 1.0,
        severity: Severity = Severity.FAIL,
    ) -> SilverSuite:
        """Every non-null key in ``columns`` exists in ``reference`` (a DataFrame, or ``spark -> DataFrame``
        called at validation time, e.g. a gate's pinned reader of another table)."""
        cols = _as_list(columns)
        refs = _as_list(ref_columns) if ref_columns is not None else cols

        def build(df: DataFrame, flag: str) -> DataFrame:
            return with_foreign_key_flag(df, flag, cols, reference, refs)

        return self.derived(
            name or f"fk_{'_'.join(cols)}",
            build,
            description=f"({', '.join(cols)}) references {reference_name}({', '.join(refs)})",
            example_columns=[*cols, *example_columns],
            mostly=mostly,
            meta={"foreign_key": {"columns": cols, "reference": reference_name, "ref_columns": refs}},
            severity=severity,
        )

    # -- appended file by file ---------------------------------------------------------------------

    def appended_by_file(self, file_column: str, *, key: str, file_of_key: str) -> SilverSuite:
        """Declare the table appended a landed file at a time, ``file_column`` naming the file of
        each row, and ``key`` (a unique column) made of it: ``file_of_key`` (Spark SQL) reads the
        file back from the key, and a rule checks on every row that it is the row's file.

        The gate may then validate only the rows of files appended since the published version
        (:mod:`jobs.quality.appended_slice`): rows of different files cannot share a key.
        """
        self._file_column = file_column
        self._file_keys.add(key)
        return self.rule(
            f"{key}_names_its_file",
            f"{file_of_key} = {_quoted(file_column)}",
            example_columns=[key, file_column],
            description=f"{key} is made of the row's {file_column}",
            null_passes=False,
        )

    @property
    def appended_by(self) -> str | None:
        """The column naming each row's landed file, when the table is appended file by file."""
        return self._file_column

    @property
    def keys_of_file(self) -> frozenset[str]:
        """Unique keys that a row-level rule of the suite ties to :attr:`appended_by`."""
        return frozenset(self._file_keys)

    # -- drops -----------------------------------------------------------------------------------

    def split_drops(self, df: DataFrame) -> tuple[DataFrame, DataFrame]:
        """``(kept, dropped)``: the rows that meet every ``drop`` check, and the others.

        ``dropped`` has the row's columns plus ``expectation`` (the first drop check it broke) and
        ``description``. Without drop checks, ``dropped`` is empty. The caller caches ``df``.
        """
        from pyspark.sql import functions as F

        checks = self.drop_checks
        if not checks:
            empty = df.limit(0).withColumn("expectation", F.lit(None).cast("string"))
            return df, empty.withColumn("description", F.lit(None).cast("string"))
        flagged = df
        for check in checks:
            flagged = check.build(flagged)
        broken = F.coalesce(*[F.when(~F.col(c.column), F.lit(c.name)) for c in checks])
        described = F.coalesce(*[F.when(~F.col(c.column), F.lit(c.description)) for c in checks])
        flagged = flagged.withColumn("expectation", broken).withColumn("description", described)
        flags = [c.column for c in checks]
        kept = flagged.where(F.col("expectation").isNull()).drop(*flags, *DROPPED_COLUMNS)
        dropped = flagged.where(F.col("expectation").isNotNull()).drop(*flags)
        return kept, dropped

    def note_drops(self, counts: Mapping[str, int], where: str) -> SilverSuite:
        """Say on each drop expectation how many rows the build dropped (Data Docs show the note)."""
        self._drop_counts, self._drop_target = dict(counts), where
        return self

    # -- SuiteSpec -------------------------------------------------------------------------------

    def expectation_suite(self) -> Any:  # -> great_expectations.ExpectationSuite
        import great_expectations as gx

        expectations = []
        for e in self._expectations:
            copy = e.copy(deep=True)
            check = (copy.meta or {}).get("derived_check")
            if severity_of(copy.meta) is Severity.DROP:
                copy.notes = (
                    "Severity drop: rows that break this are moved to quarantine.silver_<library> while the"
                    " table is built; the published rows all meet it."
                )
                if self._drop_counts is not None:
                    dropped = self._drop_counts.get(check, 0)
                    copy.notes += f" This version: {dropped} row(s) dropped to {self._drop_target}."
            elif severity_of(copy.meta) is Severity.WARN:
                copy.notes = "Severity warn: published even when broken; the failure is recorded."
            expectations.append(copy)
        return gx.ExpectationSuite(
            name=self._name, expectations=expectations, meta=dict(self._meta), notes=self._notes
        )

    def prepare(self, df: DataFrame) -> DataFrame:
        clash = sorted({d.column for d in self._derived} & set(df.columns))
        if clash:
            raise ValueError(f"table already has columns {clash} that suite {self.name} derives")
        for check in self._derived:
            df = check.build(df)
        return df

    def example_columns(self) -> Mapping[str, Sequence[str]]:
        return {d.column: d.example_columns for d in self._derived}

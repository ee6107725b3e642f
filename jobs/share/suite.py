"""The share gate's suites, generated from each grant's policy: what the policy promises, checked on the
version about to be served.

- exactly the granted columns, no other;
- no value of any column holds an 18-digit citizen ID number (a raw ID must never leave);
- each masked column has its mask's shape (``320102********1234``, ``张**``, ``138****5678``, a
  43-character pseudonym);
- the row filter held: every row lies in a prefecture the recipient may see.

Failed rows are not shown as examples (they may be the very values that must not leak): the
validation records only their count.
"""

from __future__ import annotations

from govlake.lake.catalogue import Catalogue
from govlake.sharing import Grant, Mask
from jobs.quality.silver import SilverSuite
from jobs.share.masks import RAW_ID_PATTERN

MASK_SHAPES = {
    Mask.MASK_ID: r"^(.{6}\*+.{4}|\**)$",
    Mask.MASK_NAME: r"^.\*+$",
    Mask.MASK_PHONE: r"^(.{3}\*+.{4}|\**)$",
    Mask.PSEUDONYM: r"^[A-Za-z0-9_-]{43}$",
}


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def grant_suite_of(grant: Grant) -> SilverSuite:
    """Four checks (few expectations keep the gate cheap): columns, raw IDs, mask shapes, rows."""
    import great_expectations.expectations as gxe

    suite = SilverSuite(
        grant.table_id,
        meta={"zone": "share", "share": grant.share, "recipient": grant.recipient, "source": grant.source},
        notes=f"Generated from registry/shares.yaml: what share {grant.share} promises {grant.recipient}.",
    )
    pattern = _literal(RAW_ID_PATTERN)
    any_raw_id = " OR ".join(
        f"coalesce(cast({_quoted(c.name)} AS string) RLIKE {pattern}, false)" for c in grant.columns
    )
    suite.rule(
        "no_column_holds_a_raw_id_number",
        f"NOT ({any_raw_id})",
        example_columns=list(grant.key),
        description="no value of any shared column is an 18-digit ID number",
    )
    shaped = [
        f"({_quoted(c.name)} IS NULL OR {_quoted(c.name)} RLIKE {_literal(MASK_SHAPES[c.mask])})"
        for c in grant.columns
        if c.mask in MASK_SHAPES
    ]
    if shaped:
        suite.rule(
            "masked_columns_have_their_masks_shape",
            " AND ".join(shaped),
            example_columns=list(grant.key),
            description="every masked column has its mask's shape ("
            + ", ".join(f"{c.name}: {c.mask.value}" for c in grant.columns if c.mask in MASK_SHAPES)
            + ")",
        )
    if grant.prefectures is not None and grant.located_by:
        codes = ", ".join(_literal(p) for p in grant.prefectures)
        suite.rule(
            "rows_in_the_recipients_prefectures",
            f"substring({_quoted(grant.located_by)}, 1, 4) IN ({codes})",
            example_columns=[grant.located_by],
            null_passes=False,
            description=f"every row is located in {', '.join(grant.prefectures)} ({grant.recipient}'s rows)",
        )
    # Exactly the granted columns (plus the derived flags the checks above add before validation).
    flags = [d.column for d in suite.derived_checks]
    suite.add(gxe.ExpectTableColumnsToMatchSet(column_set=[*grant.column_names, *flags], exact_match=True))
    return suite


def grant_suite(catalogue: Catalogue, table_id: str) -> SilverSuite:
    grant = catalogue.shares.by_table_id().get(table_id)
    if grant is None:
        raise LookupError(f"{table_id} is not a grant table of registry/shares.yaml")
    return grant_suite_of(grant)

"""The grant transform: a source frame -> exactly the rows and masked columns one recipient may see.

Built-in Spark SQL functions only. The pseudonym is HMAC-SHA256 (RFC 2104) spelt with ``sha2``
over ``concat`` of binaries: ``H((K ^ opad) || H((K ^ ipad) || m))``. The recipient's key enters
the plan as the two padded-key columns of a one-row local relation (cross-joined, broadcast), not
as literals, so ``EXPLAIN`` and the Spark UI show column names instead of key bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govlake.sharing import Grant, Mask

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_BLOCK = 64  # SHA-256 block size in bytes
_IPAD, _OPAD = "_share_ipad", "_share_opad"
#: An 18-character citizen ID anywhere in a value (Java regex; GB 11643 area, birth date, sequence).
RAW_ID_PATTERN = (
    r"(?<![0-9])[1-9][0-9]{5}(18|19|20)[0-9]{2}"
    r"(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
)


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """``(K' ^ ipad, K' ^ opad)`` for HMAC-SHA256 (keys longer than a block are hashed first)."""
    import hashlib

    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_pseudonym(value: Column) -> Column:
    """HMAC-SHA256 of ``value`` (as UTF-8 text) under the key in the padded-key columns, base64url."""
    from pyspark.sql import functions as F

    message = F.encode(value.cast("string"), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.col(_IPAD), message), 256))
    outer = F.unhex(F.sha2(F.concat(F.col(_OPAD), inner), 256))
    b64 = F.translate(F.base64(outer), "+/", "-_")
    return F.when(value.isNull(), F.lit(None)).otherwise(F.regexp_replace(b64, "=+$", ""))


def mask_id(value: Column) -> Column:
    """Area code and last four kept, the rest starred: ``320102********1234``."""
    from pyspark.sql import functions as F

    text = value.cast("string")
    n = F.length(text)
    kept = F.concat(F.substring(text, 1, 6), F.repeat(F.lit("*"), n - 10), F.substring(text, -4, 4))
    return F.when(text.isNull(), None).when(n >= 10, kept).otherwise(F.repeat(F.lit("*"), n))


def mask_name(value: Column) -> Column:
    """The first character kept, one star per other character: ``张*``, ``王**``."""
    from pyspark.sql import functions as F

    text = value.cast("string")
    n = F.length(text)
    return F.when(text.isNull(), None).otherwise(
        F.concat(F.substring(text, 1, 1), F.repeat(F.lit("*"), F.greatest(n - 1, F.lit(1))))
    )


def mask_phone(value: Column) -> Column:
    """First three and last four digits kept: ``138****5678``; short numbers fully starred."""
    from pyspark.sql import functions as F

    text = value.cast("string")
    n = F.length(text)
    kept = F.concat(F.substring(text, 1, 3), F.repeat(F.lit("*"), n - 7), F.substring(text, -4, 4))
    return F.when(text.isNull(), None).when(n >= 8, kept).otherwise(F.repeat(F.lit("*"), n))


_MASKS = {Mask.MASK_ID: mask_id, Mask.MASK_NAME: mask_name, Mask.MASK_PHONE: mask_phone}


def row_filter(grant: Grant) -> Column | None:
    """The grant's rows: its static ``where`` and, for a prefecture, the prefectures it may see."""
    from pyspark.sql import functions as F

    conditions = []
    if grant.where:
        conditions.append(F.coalesce(F.expr(grant.where), F.lit(False)))
    if grant.prefectures is not None:
        assert grant.located_by is not None
        conditions.append(F.substring(F.col(grant.located_by), 1, 4).isin(*grant.prefectures))
    if not conditions:
        return None
    result = conditions[0]
    for c in conditions[1:]:
        result = result & c
    return result


def apply_grant(df: DataFrame, grant: Grant, pseudonym_key: bytes) -> DataFrame:
    """``df`` (the published source) reduced to the grant: filtered rows, masked columns, nothing else.

    ``pseudonym_key`` is the recipient's own key (:meth:`govlake.sharing.ShareKeys.pseudonym_key_for`).
    """
    from pyspark.sql import functions as F

    missing = sorted({c.source for c in grant.columns} - set(df.columns))
    if grant.located_by and grant.located_by not in df.columns:
        missing.append(grant.located_by)
    if missing:
        raise ValueError(f"{grant.table_id}: source {grant.source} has no column(s) {', '.join(missing)}")
    condition = row_filter(grant)
    rows = df if condition is None else df.where(condition)
    if any(c.mask is Mask.PSEUDONYM for c in grant.columns):
        ipad, opad = padded_keys(pseudonym_key)
        key_row = df.sparkSession.createDataFrame(
            [(bytearray(ipad), bytearray(opad))], f"{_IPAD} binary, {_OPAD} binary"
        )
        rows = rows.crossJoin(F.broadcast(key_row))
    projected = []
    for column in grant.columns:
        source = F.col(column.source)
        if column.mask is Mask.CLEAR:
            expr = source
        elif column.mask is Mask.PSEUDONYM:
            expr = hmac_pseudonym(source)
        else:
            expr = _MASKS[column.mask](source)
        projected.append(expr.alias(column.name))
    return rows.select(*projected)

"""Character folding: full-width forms and look-alike punctuation to ASCII (built-in ``translate``)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# U+FF01..U+FF5E are ASCII U+0021..U+007E shifted by 0xFEE0; U+3000 is the ideographic space.
_FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALFWIDTH = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)) + " "
# Dashes, minus signs and curly quotes that look like their ASCII counterparts in extracts.
_LOOKALIKE = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2018\u2019\u201c\u201d"
_LOOKALIKE_ASCII = "-------''\"\""


def fold_fullwidth(col: Column) -> Column:
    """Full-width ASCII (digits, letters, brackets, punctuation) and the ideographic space to half-width.

    Unicode's Halfwidth and Fullwidth Forms block: U+FF01..U+FF5E -> U+0021..U+007E, U+3000 -> space;
    dash / quote look-alikes (U+2010..U+2015, U+2212, U+2018/9, U+201C/D) -> ASCII ``-`` ``'`` ``"``.
    """
    return F.translate(col, _FULLWIDTH + _LOOKALIKE, _HALFWIDTH + _LOOKALIKE_ASCII)


__all__ = ["fold_fullwidth"]

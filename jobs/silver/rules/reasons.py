"""The ``invalid_reason`` codes every rule reports, in one place (quality reports group on them).

A rule reports the first check that failed, in the order the checks are listed for that rule; a
valid value has ``invalid_reason`` NULL.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # any rule
    MISSING = "MISSING"  # NULL, empty or only whitespace
    # identifiers (citizen ID, USCC, organization code, registration number)
    BAD_LENGTH = "BAD_LENGTH"  # not one of the lengths the standard allows
    BAD_CHARS = "BAD_CHARS"  # a character the standard does not allow at that position
    BAD_REGION = "BAD_REGION"  # citizen ID: the first two digits are no GB/T 2260 province code
    BAD_DATE = "BAD_DATE"  # citizen ID: the birth date is no calendar date, or lies in the future
    BAD_CHECKSUM = "BAD_CHECKSUM"  # the check character does not match
    # industry codes (GB/T 4754-2017)
    BAD_DIVISION = "BAD_DIVISION"  # the two-digit division belongs to no section (00, 98, 99)
    SECTION_MISMATCH = "SECTION_MISMATCH"  # the section letter sent is not the division's section
    # dates
    UNPARSEABLE = "UNPARSEABLE"  # matches none of the date patterns and does not look like a date
    IMPOSSIBLE_DATE = "IMPOSSIBLE_DATE"  # shaped like a date but no calendar date (2023-02-30)
    BEFORE_MIN = "BEFORE_MIN"  # a real date before the plausible minimum (default 1900-01-01)
    AFTER_MAX = "AFTER_MAX"  # a real date after the plausible maximum (default: today)
    # phones
    NOT_MOBILE = "NOT_MOBILE"  # a landline / service number: kept as sent, flagged
    BAD_PHONE = "BAD_PHONE"  # neither a mainland mobile number nor a landline shape
    # coordinates
    BAD_NUMBER = "BAD_NUMBER"  # longitude / latitude is not a number
    OUT_OF_RANGE = "OUT_OF_RANGE"  # longitude outside [-180, 180] or latitude outside [-90, 90]
    UNKNOWN_CRS = "UNKNOWN_CRS"  # the declared CRS is missing or not one the rule converts


__all__ = ["Reason"]

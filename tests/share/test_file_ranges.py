"""The Range header of the server's file endpoint, on its own (RFC 9110 byte ranges)."""

from __future__ import annotations

import pytest

from jobs.share.server import RangeNotSatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-24", (976, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", (990, 999)),  # a last byte past the end: up to the end
        ("Bytes = 5-9", (5, 9)),
        (None, None),
        ("", None),
        ("items=0-9", None),  # another unit: the whole file
        ("bytes=0-9,20-29", None),  # several ranges: the whole file, not multipart
        ("bytes=9-5", None),  # malformed: ignored
        ("bytes=a-b", None),
        ("bytes=5", None),
    ],
)
def test_byte_range(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=-5", 0)])
def test_unsatisfiable_range(header, size):
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)

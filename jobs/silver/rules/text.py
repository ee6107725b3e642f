"""Text rules: full-width folding (shared, from jobs.rules), whitespace, traditional -> simplified, names.

Traditional -> simplified (:func:`to_simplified`) is an ``F.translate`` over a single-character map
taken once, on the driver, from OpenCC's ``t2s`` conversion (its TSCharacters dictionary: 4,577
characters, all one-to-one). Measured on this project's 2-core machine (issue 5):

* coverage: on 100,000 Faker person names written in traditional characters (half zh_TW, half zh_CN
  put through OpenCC ``s2t``; 69,065 of them change under t2s) the map agrees with OpenCC's full,
  phrase-aware ``t2s`` on 99,996. All 4 differences are OpenCC's phrase table turning the surname
  沈 into 沉 (沈靜 -> 沉静), i.e. the map is *more* right for names than the phrase conversion.
* throughput over 1,000,000 names (2 partitions, best of 3, cost above a plain projection):
  ``F.translate`` ~0.8 s (~1.3 M rows/s), a pandas UDF calling ``opencc`` ~7.4 s (~135 k rows/s).

So the rule stays a JVM built-in: about 10x faster, no Python workers, same answer on names. Phrase
context (needed for free text such as addresses) is not something a character map can do; use the
pandas-UDF route only for long free text if it ever matters.
"""

from __future__ import annotations

import functools

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.rules.characters import fold_fullwidth  # shared with bronze; re-exported
from jobs.silver.rules._expr import let

#: Whitespace as a Java regex class: ``\s`` plus what it misses (no-break, ideographic, zero-width,
#: the U+2000 block) ...
WS = r"[\s\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]"
#: ... and the same characters as a string, for deleting them with ``F.translate`` (no regex).
WS_CHARS = " \t\n\x0b\f\r\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200C))) + "\u202f\u205f\u3000\ufeff"
#: Middle-dot look-alikes written inside ethnic-minority and foreign names (GB/T 15834 uses U+00B7).
_DOTS = r"[\u00b7\u0387\u2022\u2024\u2027\u2219\u22c5\u25cf\u30fb\uff65]"
MIDDLE_DOT = "\u00b7"
#: Characters OpenCC simplifies that stay as they are in person names: 於 is its own surname,
#: 乾 (乾隆, 乾坤) is a standard character; the 通用规范汉字表 keeps both.
NAME_KEEP = "於乾"

_CJK_RANGES = (
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # Unified Ideographs
    (0xF900, 0xFAFF),  # Compatibility Ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2EBEF),  # Extensions C-F
    (0x30000, 0x3134F),  # Extension G
)


def clean_spaces(col: Column) -> Column:
    """Trim every kind of whitespace at both ends and collapse inner runs to one ASCII space; '' -> NULL."""
    s = F.regexp_replace(F.regexp_replace(col, f"^{WS}+|{WS}+$", ""), f"{WS}+", " ")
    return F.nullif(s, F.lit(""))


def remove_spaces(col: Column) -> Column:
    """Remove every whitespace character, inner ones included; '' -> NULL."""
    return F.nullif(F.translate(col, WS_CHARS, ""), F.lit(""))


@functools.cache
def t2s_table(keep: str = "") -> tuple[str, str]:
    """(traditional, simplified) strings for ``F.translate``, from OpenCC's t2s on single characters.

    Every CJK ideograph is converted alone, so OpenCC's phrase table cannot apply and the result is its
    TSCharacters mapping (first candidate). Characters in ``keep`` are left out.
    """
    import opencc

    converter = opencc.OpenCC("t2s")
    src: list[str] = []
    dst: list[str] = []
    for first, last in _CJK_RANGES:
        for cp in range(first, last + 1):
            ch = chr(cp)
            simp = converter.convert(ch)
            if simp != ch and len(simp) == 1 and ch not in keep:
                src.append(ch)
                dst.append(simp)
    return "".join(src), "".join(dst)


def to_simplified(col: Column, keep: str = "") -> Column:
    """Traditional -> simplified Chinese, character by character (OpenCC t2s map, see module doc)."""
    src, dst = t2s_table(keep)
    return F.translate(col, src, dst)


def has_han(col: Column) -> Column:
    """True when the text contains at least one Han character."""
    return col.rlike(r"\p{IsHan}")


def normalize_person_name(col: Column) -> Column:
    """A person's name as the population library stores it.

    Full-width -> half-width, traditional -> simplified (keeping :data:`NAME_KEEP`), every middle-dot
    look-alike (and an ASCII ``.`` between two Han characters) -> U+00B7 ``·`` as GB/T 15834 writes the
    separator in ethnic-minority and transliterated names (阿依古丽·买买提). A name with Han characters
    loses every inner space (户籍 names have none: 张 三 -> 张三); a name without (foreigners' Latin
    names) is trimmed and inner runs of spaces collapsed to one. Empty -> NULL.
    """
    s = fold_fullwidth(col)
    s = F.regexp_replace(s, _DOTS, MIDDLE_DOT)
    s = F.regexp_replace(s, rf"(?<=\p{{IsHan}}){WS}*\.{WS}*(?=\p{{IsHan}})", MIDDLE_DOT)
    s = to_simplified(s, keep=NAME_KEEP)
    return let(
        s,
        lambda v: F.when(has_han(v), remove_spaces(v)).otherwise(
            F.regexp_replace(clean_spaces(v), rf" ?{MIDDLE_DOT} ?", MIDDLE_DOT)
        ),
    )


def normalize_enterprise_name(col: Column, simplify: bool = True) -> Column:
    """An enterprise's name as the legal-persons library stores it.

    Full-width -> half-width first (so ``（`` and ``(`` compare equal), optionally traditional ->
    simplified. Names with Han characters: every space removed and round brackets written the official
    way, full-width ``（）``, as the business licence and the National Enterprise Credit Information
    Publicity System print them (企业名称登记管理规定 practice: 阿里巴巴（中国）有限公司). Names without Han
    characters (foreign names) keep ASCII brackets and single inner spaces. Empty -> NULL.
    """
    s = fold_fullwidth(col)
    if simplify:
        s = to_simplified(s)
    return let(
        s,
        lambda v: F.when(has_han(v), F.translate(remove_spaces(v), "()", "（）")).otherwise(clean_spaces(v)),
    )


#: Brackets of every width and kind that enterprise names are written with around a branch or a
#: place name: 某某有限公司（江宁分公司）, 某某有限公司(江宁分公司) and 某某有限公司江宁分公司 are one name.
_NAME_BRACKETS = "()（）[]【】〔〕［］｛｝{}<>《》〈〉"
#: Punctuation that registers write or leave out at will inside a name.
_NAME_PUNCTUATION = "·・.,，、-－—_\"'“”‘’"
#: Legal-form and branch wordings that mean the same thing, longest first (匹配用; the stored name
#: keeps what was registered).
_NAME_EQUIVALENTS = (
    ("有限责任公司", "有限公司"),
    ("股份有限公司", "股份公司"),
    ("分支机构", "分公司"),
)


def enterprise_name_key(col: Column) -> Column:
    """An enterprise name as a matching key, never for display.

    Full-width -> half-width, traditional -> simplified, every space, bracket
    (:data:`_NAME_BRACKETS`, full- and half-width alike) and in-name punctuation removed, Latin
    letters upper-cased, and legal-form / branch wordings folded (:data:`_NAME_EQUIVALENTS`:
    有限责任公司 = 有限公司), so 南京某某有限公司（江宁分公司）, 南京某某有限公司 (江宁分公司) and
    南京某某有限责任公司江宁分公司 give one key. Empty -> NULL.
    """
    s = to_simplified(fold_fullwidth(col))
    s = F.upper(F.translate(s, WS_CHARS + _NAME_BRACKETS + _NAME_PUNCTUATION, ""))
    for wording, canonical in _NAME_EQUIVALENTS:
        s = F.replace(s, F.lit(wording), F.lit(canonical))
    return F.nullif(s, F.lit(""))


__all__ = [
    "MIDDLE_DOT",
    "NAME_KEEP",
    "WS",
    "WS_CHARS",
    "clean_spaces",
    "enterprise_name_key",
    "fold_fullwidth",
    "has_han",
    "normalize_enterprise_name",
    "normalize_person_name",
    "remove_spaces",
    "t2s_table",
    "to_simplified",
]

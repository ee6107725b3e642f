"""GB/T 4754-2017 国民经济行业分类 (Industrial classification for national economic activities): sections.

The standard codes an activity as a section letter (门类, A-T) and up to four digits: division
(大类, 2 digits), group (中类, 3), class (小类, 4), e.g. ``C3670`` 汽车零部件及配件制造. Each
division belongs to exactly one section, by contiguous ranges of division numbers — the table
below, from the standard's section list (GB/T 4754-2017, Table 1 门类, amended by Amendment No. 1
of 2019, which renamed classes but moved no division between sections).

Hand-typed, unlike the other reference data here, because no maintained package ships the list:
PyPI has no GB/T 4754 package (``pip index versions gbt4754`` finds none; the registry's name list
holds nothing else for "4754"), and python-stdnum's ``cn`` module covers only citizen IDs and USCCs.
Only the section -> division ranges are encoded (20 rows, checkable at a glance against the
standard); whether a given group or class number exists inside a division is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A GB/T 4754-2017 section (门类): its letter, its divisions ``first..last``, its name."""

    letter: str
    first_division: int
    last_division: int
    name: str


SECTIONS: tuple[Section, ...] = (
    Section("A", 1, 5, "农、林、牧、渔业"),
    Section("B", 6, 12, "采矿业"),
    Section("C", 13, 43, "制造业"),
    Section("D", 44, 46, "电力、热力、燃气及水生产和供应业"),
    Section("E", 47, 50, "建筑业"),
    Section("F", 51, 52, "批发和零售业"),
    Section("G", 53, 60, "交通运输、仓储和邮政业"),
    Section("H", 61, 62, "住宿和餐饮业"),
    Section("I", 63, 65, "信息传输、软件和信息技术服务业"),
    Section("J", 66, 69, "金融业"),
    Section("K", 70, 70, "房地产业"),
    Section("L", 71, 72, "租赁和商务服务业"),
    Section("M", 73, 75, "科学研究和技术服务业"),
    Section("N", 76, 79, "水利、环境和公共设施管理业"),
    Section("O", 80, 82, "居民服务、修理和其他服务业"),
    Section("P", 83, 83, "教育"),
    Section("Q", 84, 85, "卫生和社会工作"),
    Section("R", 86, 90, "文化、体育和娱乐业"),
    Section("S", 91, 96, "公共管理、社会保障和社会组织"),
    Section("T", 97, 97, "国际组织"),
)


def section_of_division(division: int) -> str | None:
    """The section letter a division number belongs to, or None when no section has it."""
    return next((s.letter for s in SECTIONS if s.first_division <= division <= s.last_division), None)


__all__ = ["SECTIONS", "Section", "section_of_division"]

"""Text rules: full-width folding, spaces, traditional -> simplified, person and enterprise names."""

from __future__ import annotations

from jobs.silver.rules import text


def test_fold_fullwidth(apply):
    got = apply(
        text.fold_fullwidth, ["１２３ＡＢＣｘｙｚ", "（有限）　公司", "０２５－８４５６", "“引号”—", None]
    )
    assert got == ["123ABCxyz", "(有限) 公司", "025-8456", '"引号"-', None]


def test_clean_and_remove_spaces(apply):
    assert apply(text.clean_spaces, ["  a \u3000 b\u00a0 ", "\u3000", "x"]) == ["a b", None, "x"]
    assert apply(text.remove_spaces, [" 张 三 ", "\u3000\t", "李\u00a0四"]) == ["张三", None, "李四"]


def test_t2s_table_is_one_to_one_and_covers_common_characters():
    src, dst = text.t2s_table()
    assert len(src) == len(dst) > 4000
    table = dict(zip(src, dst, strict=True))
    for trad, simp in {
        "劉": "刘",
        "陳": "陈",
        "張": "张",
        "鄭": "郑",
        "龔": "龚",
        "歐": "欧",
        "陽": "阳",
    }.items():
        assert table[trad] == simp
    assert "李" not in table  # already simplified
    keep_src, _ = text.t2s_table(text.NAME_KEEP)
    assert "於" in src and "於" not in keep_src and "乾" not in keep_src


def test_to_simplified(apply):
    got = apply(text.to_simplified, ["劉德華", "歐陽修", "台灣銀行", "张三", None])
    assert got == ["刘德华", "欧阳修", "台湾银行", "张三", None]


def test_normalize_person_name(apply):
    got = apply(
        text.normalize_person_name,
        [
            " 張 三 ",  # traditional, inner and outer spaces
            "阿依古丽・买买提",  # katakana middle dot
            "阿依古丽 • 买买提",  # bullet with spaces
            "阿不都．热合曼",  # full-width full stop
            "阿不都.热合曼",  # ASCII dot between Han characters
            "於乾隆",  # 於 and 乾 kept in names
            "ＪＯＨＮ　　SMITH ",  # full-width Latin, ideographic spaces
            "\u3000",
            None,
        ],
    )
    assert got == [
        "张三",
        "阿依古丽·买买提",
        "阿依古丽·买买提",
        "阿不都·热合曼",
        "阿不都·热合曼",
        "於乾隆",
        "JOHN SMITH",
        None,
        None,
    ]


def test_normalize_enterprise_name(apply):
    got = apply(
        text.normalize_enterprise_name,
        [
            "阿里巴巴(中国)有限公司",
            "阿里巴巴（中国）有限公司",
            " 南京 市 某某 科技 有限公司 ",
            "華為技術有限公司",
            "ＩＢＭ (China)  Co.,  Ltd. ",
            "",
        ],
    )
    assert got == [
        "阿里巴巴（中国）有限公司",
        "阿里巴巴（中国）有限公司",
        "南京市某某科技有限公司",
        "华为技术有限公司",
        "IBM (China) Co., Ltd.",
        None,
    ]

"""The grant transform on tiny frames: masks, the Spark HMAC equals Python's, and no key in the plan."""

from __future__ import annotations

from govlake.registry import Classification
from govlake.sharing import Grant, GrantColumn, Mask, pseudonym


def _grant(**columns: Mask) -> Grant:
    return Grant(
        share="s",
        recipient="r",
        schema="x",
        table="t",
        source="silver.population.persons",
        columns=tuple(
            GrantColumn(n, n.removesuffix("_key"), m, Classification.GENERAL) for n, m in columns.items()
        ),
        prefectures=("3201",),
        located_by="admin_code",
        where="is_current",
        key=(),
        grade=Classification.GENERAL,
    )


def test_masks_filters_and_pseudonyms(spark):
    from jobs.share.masks import apply_grant

    rows = [
        ("320102198001020014", "张三丰", "13812345678", "320102", True),
        ("320102800102001", "李四", "5551234", "320104", True),  # a legacy 15-digit ID, a short number
        ("32010219800102001X", "王", None, "320505", True),  # another prefecture
        ("320102198001020022", "赵六", "13900000000", "320102", False),  # not current
        (None, None, None, "320113", True),
    ]
    df = spark.createDataFrame(
        rows, "id_number string, name string, phone string, admin_code string, is_current boolean"
    )
    grant = _grant(
        id_number=Mask.MASK_ID,
        name=Mask.MASK_NAME,
        phone=Mask.MASK_PHONE,
        id_number_key=Mask.PSEUDONYM,
        admin_code=Mask.CLEAR,
    )
    key = b"k" * 32
    out = apply_grant(df, grant, key)
    got = sorted((r.asDict() for r in out.collect()), key=lambda r: r["admin_code"])
    assert [r["admin_code"] for r in got] == ["320102", "320104", "320113"]  # own prefecture, current rows
    assert got[0] == {
        "id_number": "320102********0014",
        "name": "张**",
        "phone": "138****5678",
        "id_number_key": pseudonym(key, "320102198001020014"),
        "admin_code": "320102",
    }
    assert got[2] == {
        "id_number": None,
        "name": None,
        "phone": None,
        "id_number_key": None,
        "admin_code": "320113",
    }
    assert got[1]["id_number"] == "320102*****2001" and got[1]["name"] == "李*"
    assert got[1]["phone"] == "*******" and got[1]["id_number_key"] == pseudonym(key, "320102800102001")
    plan = out._jdf.queryExecution().toString()
    assert key.hex() not in plan.lower() and "6b6b6b6b" not in plan.lower()  # neither the key nor its pads
    pads = bytes(b ^ 0x36 for b in key.ljust(64, b"\0")).hex()
    assert pads[:16] not in plan.lower()

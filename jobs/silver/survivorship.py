"""Golden records: one value per entity and attribute, chosen by the registry's survivorship rules.

For each attribute, among an entity's linked source records with a non-null value, the value from
the most trusted dataset wins (``trust`` in registry/sources.yaml: lower rank is more trusted; a
dataset that does not rank an attribute comes last), then the most recent record, then the
smallest record key so the choice is deterministic.

An attribute can be **tied** to another: taken from the record the other's value survived from,
when that record has one. A person's birth date and sex are tied to the ID number, which carries
both: otherwise a more trusted dataset's record without an ID, linked by name and a mistyped
birth date, gave a golden record whose birth date contradicts its own ID (2 of 1,000,282 persons
at 1,000,000, and the persons gate refuses such a table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from govlake.registry import Registry

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

UNRANKED = 99


def trust_ranks(registry: Registry, attributes: Sequence[str]) -> dict[str, dict[str, int]]:
    """attribute -> {dataset: rank} for every dataset of the registry."""
    return {
        attr: {name: ds.trust.get(attr, UNRANKED) for name, ds in registry.datasets.items()}
        for attr in attributes
    }


def survive(
    records: DataFrame,
    *,
    key: str,
    attributes: Sequence[str],
    ranks: Mapping[str, Mapping[str, int]],
    dataset_col: str = "dataset",
    recency_col: str = "observed_at",
    tiebreak_col: str = "record_key",
    tied: Mapping[str, str] | None = None,
) -> DataFrame:
    """One row per ``key`` with the surviving value of every attribute, and where it came from.

    Adds ``<attribute>__source`` (the winning record's key) for lineage: a quality officer can
    always ask why the golden record says what it says. ``tied``: attribute -> the attribute it is
    tied to (see the module docstring); both must be among ``attributes``.
    """
    from pyspark.sql import functions as F

    tied = dict(tied or {})
    unknown = {a for pair in tied.items() for a in pair} - set(attributes)
    if unknown:
        raise ValueError(f"tied attributes {sorted(unknown)} are not among the attributes")
    # One aggregation for all attributes (one shuffle): per attribute, the minimum of
    # struct(rank, age, tiebreak, value) over non-null values is the winner, as structs compare
    # field by field. Age is days before a far-future date, so the most recent record is smallest.
    age = F.coalesce(F.datediff(F.lit("9999-12-31"), F.col(recency_col)), F.lit(2**30))
    picks = []
    for attr in attributes:
        rank = F.lit(UNRANKED)
        for dataset, value in sorted(ranks[attr].items()):
            rank = F.when(F.col(dataset_col) == dataset, F.lit(value)).otherwise(rank)
        # the tied attributes ride along: compared after the unique key, they never change the winner
        riders = [F.col(t).alias(f"t_{t}") for t, anchor in sorted(tied.items()) if anchor == attr]
        candidate = F.struct(
            rank.alias("r"), age.alias("a"), F.col(tiebreak_col).alias("k"), F.col(attr).alias("v"), *riders
        )
        picks.append(F.min(F.when(F.col(attr).isNotNull(), candidate)).alias(f"_{attr}"))
    winners = records.groupBy(key).agg(*picks)

    def chosen(attr: str) -> tuple[Column, Column]:
        value, source = F.col(f"_{attr}.v"), F.col(f"_{attr}.k")
        if attr in tied:
            carried = F.col(f"_{tied[attr]}.t_{attr}")
            value = F.coalesce(carried, value)
            source = F.when(carried.isNotNull(), F.col(f"_{tied[attr]}.k")).otherwise(source)
        return value.alias(attr), source.alias(f"{attr}__source")

    return winners.select(key, *[col for attr in attributes for col in chosen(attr)])

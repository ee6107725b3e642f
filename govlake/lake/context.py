"""What a step's job is handed: the lake, its inputs pinned at their published versions, its clock.

Jobs read inputs only through :meth:`StepContext.read` and write only where :meth:`StepContext.path`
says, so a build can neither read an unpublished version nor build a path of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from govlake.config import Settings
from govlake.lake import delta
from govlake.lake.catalogue import bronze_id
from govlake.lake.published import Lake, Pins
from govlake.registry import Registry, load_registry

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class StepContext:
    lake: Lake
    step: str
    #: Every input table id; the published ones pinned (``pins``), the others read as they are.
    inputs: tuple[str, ...]
    pins: Pins
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Applies a table's ``drop`` expectations before it is written; the pipeline runner sets it
    #: (the quality layer implements it). None: nothing is dropped.
    validator: Callable[[StepContext, str, DataFrame], DataFrame] | None = None
    #: What the validator dropped: table id -> expectation -> rows (read by the step's gate).
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        lake: Lake,
        step: str,
        inputs: Iterable[str],
        *,
        pins: dict[str, int | None] | None = None,
        as_of: datetime | None = None,
        run_id: str | None = None,
        validator: Callable[[StepContext, str, DataFrame], DataFrame] | None = None,
    ) -> StepContext:
        """Pin the published inputs now (or take ``pins`` a previous task of the same run made)."""
        inputs = tuple(dict.fromkeys(inputs))
        published = [t for t in inputs if lake.table(t).published]
        if pins is None:
            pinned = lake.pin(published)
        else:
            pinned = Pins({t: pins.get(t) for t in published}, {t: lake.path(t) for t in published})
        return cls(
            lake=lake,
            step=step,
            inputs=inputs,
            pins=pinned,
            run_id=run_id or uuid.uuid4().hex,
            as_of=as_of or datetime.now(UTC),
            validator=validator,
        )

    @property
    def settings(self) -> Settings:
        return self.lake.settings

    @property
    def spark(self) -> SparkSession:
        return self.lake.spark

    @property
    def registry(self) -> Registry:
        return load_registry(self.settings.registry_path)

    def path(self, table_id: str) -> str:
        return self.lake.path(table_id)

    def location(self, location_id: str, **values: str) -> str:
        return self.lake.location(location_id, **values)

    def read(self, table_id: str) -> DataFrame | None:
        """An input: its pinned published version (None if never published), or as it is if unpublished."""
        if table_id not in self.inputs:
            raise KeyError(f"{self.step} does not declare {table_id} as an input (see `govlake graph`)")
        if table_id in self.pins:
            return self.pins.read(self.spark, table_id)
        return delta.read_latest(self.spark, self.path(table_id))

    def read_bronze(self, datasets: Iterable[str] | None = None) -> dict[str, DataFrame]:
        """dataset -> the pinned bronze table, for the bronze inputs (or ``datasets``) ever published."""
        wanted = [t for t in self.inputs if t.startswith("bronze.") and self.lake.table(t).dataset]
        if datasets is not None:
            wanted = [bronze_id(d) for d in datasets]
        tables = {self.lake.table(t).dataset: self.read(t) for t in wanted}
        return {name: df for name, df in tables.items() if df is not None and name is not None}

    def read_current(self, table_id: str) -> DataFrame | None:
        """The current rows (``is_current``) of an SCD2 input, at its pinned version."""
        history = self.read(table_id)
        return history.where("is_current") if history is not None else None

    def drop_invalid(self, table_id: str, df: DataFrame) -> DataFrame:
        """The rows of ``df`` that meet ``table_id``'s drop expectations; the others go to quarantine.

        The validate stage of a table job (extract -> transform -> **validate** -> load). Cache
        ``df`` first: the dropped rows are counted and written in one pass, the kept rows are
        filtered again from it.
        """
        return df if self.validator is None else self.validator(self, table_id, df)

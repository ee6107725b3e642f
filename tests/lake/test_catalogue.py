"""The lake catalogue: every table the pipeline names is in it, with a location nobody else builds."""

from __future__ import annotations

import pytest

from govlake.config import Zone
from govlake.lake.catalogue import CatalogueError, load_catalogue, parse_catalogue
from govlake.registry import Classification, load_registry


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(load_registry())


def test_one_bronze_table_per_dataset_with_the_strictest_source_grade(catalogue):
    registry = load_registry()
    for dataset in registry.datasets:
        table = catalogue.bronze(dataset)
        assert table.zone is Zone.BRONZE and table.published and table.dataset == dataset
        grades = {s.classification for s in registry.sources_for(dataset)}
        if Classification.IMPORTANT in grades:
            assert table.classification in (Classification.IMPORTANT, Classification.CORE)
    assert catalogue.bronze("household_registration").key == ("_file_hash", "_row_number")


def test_locations_follow_the_id(catalogue, settings):
    table = catalogue.table("silver.population.persons")
    assert table.library == "population" and table.asset == "silver.population"
    assert table.location(settings) == f"{settings.zone(Zone.SILVER)}/population/persons"
    assert catalogue.path("quality.scorecard.history", settings).endswith("/quality/scorecard/history")
    assert catalogue.location("landing", settings, source_id="ps_3201_household").endswith(
        "/landing/ps_3201_household"
    )


def test_every_silver_table_has_a_key_owner_and_grade(catalogue):
    for table in catalogue.in_zone(Zone.SILVER):
        assert table.key and table.owner and table.published, table.id
        assert table.library in ("population", "legal_persons", "geography"), table.id


def test_unknown_ids_and_unsafe_values_are_refused(catalogue, settings):
    with pytest.raises(CatalogueError, match=r"no table 'silver\.nope'"):
        catalogue.table("silver.nope")
    with pytest.raises(CatalogueError, match="not a safe path segment"):
        catalogue.location("landing", settings, source_id="../etc")
    with pytest.raises(CatalogueError, match="needs source_id"):
        catalogue.location("raw", settings)
    doc = {"tables": {"Silver.X": {"key": ["a"], "classification": "general", "owner": "o"}}}
    with pytest.raises(CatalogueError, match="does not start with a zone"):
        parse_catalogue(doc, load_registry())
    doc = {"locations": {"x": {"zone": "quality", "path": "../../outside"}}}
    with pytest.raises(CatalogueError, match="inside its zone"):
        parse_catalogue(doc, load_registry())

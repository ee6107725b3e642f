"""The pipeline graph: one declaration, dependency order, one writer per table, DAG ids and assets."""

from __future__ import annotations

import pytest

from govlake.config import Zone
from govlake.registry import load_registry
from jobs.pipeline.graph import GraphError, StepKind, _ordered, pipeline_graph


@pytest.fixture(scope="module")
def graph():
    return pipeline_graph(load_registry())


def test_one_ingest_step_per_source_then_the_libraries_in_dependency_order(graph):
    names = [s.name for s in graph.steps]
    assert {f"ingest.{s}" for s in load_registry().sources} == {
        s.name for s in graph.of_kind(StepKind.INGEST)
    }
    builds = [s.name for s in graph.of_kind(StepKind.BUILD)]
    assert builds == [
        "silver.population",
        "silver.legal_persons",
        "silver.geography",
        "share.publish",
        "gold.marts",
    ]
    assert names.index("silver.population") > max(names.index(s.name) for s in graph.of_kind(StepKind.INGEST))
    # sharing and the marts come after every library; the marts read the scorecard's history; the
    # endpoint's views name the published versions; housekeeping is last (and on its own clock)
    assert names[-5:] == ["quality.scorecard", "share.publish", "gold.marts", "sql.views", "maintenance.lake"]
    assert graph.data_steps == graph.steps[:-1]


def test_the_marts_read_published_silver_and_publish_every_mart_through_the_dbt_gate(graph):
    marts = graph.step("gold.marts")
    assert marts.dag_id == "gold__marts" and marts.gate is not None and marts.gate.suites == "dbt"
    assert set(marts.gate.tables) == set(marts.outputs) == {t.id for t in graph.catalogue.in_zone(Zone.GOLD)}
    silver = [t for t in marts.inputs if t.startswith("silver.")]
    assert silver and all(graph.catalogue.table(t).published for t in silver)
    assert graph.input_assets(marts) == ("silver.population", "silver.legal_persons", "silver.geography")
    assert graph.output_asset(marts) == "gold.marts"


def test_inputs_are_published_versions_of_upstream_outputs(graph):
    legal = graph.step("silver.legal_persons")
    assert "silver.population.persons" in legal.inputs
    assert [s.name for s in graph.upstream(legal)][-1] == "silver.population"
    assert set(graph.input_assets(legal)) == {
        "bronze.enterprise_registration",
        "bronze.taxpayer_registry",
        "bronze.social_insurance_enrollment",
        "silver.population",
    }
    assert graph.output_asset(legal) == "silver.legal_persons"
    assert legal.dag_id == "silver__legal_persons"
    assert graph.step("ingest.ps_3201_household").dag_id == "ingest__ps_3201_household"
    assert graph.input_assets(graph.step("quality.scorecard")) == (
        "silver.population",
        "silver.legal_persons",
        "silver.geography",
    )


def test_every_gated_table_is_a_published_output_and_each_table_has_one_writing_step(graph):
    for step in graph.steps:
        if step.gate:
            assert set(step.gate.tables) <= set(step.outputs)
            assert all(graph.catalogue.table(t).published for t in step.gate.tables)
    for step in graph.of_kind(StepKind.BUILD):
        for table in step.outputs:
            assert [s.name for s in graph.steps if table in s.outputs] == [step.name]


def test_two_writers_or_a_cycle_are_refused(graph):
    population = graph.step("silver.population")
    legal = graph.step("silver.legal_persons")
    from dataclasses import replace

    with pytest.raises(GraphError, match="written by both"):
        _ordered([population, replace(legal, outputs=(*legal.outputs, "silver.population.persons"))])
    looped = replace(population, inputs=(*population.inputs, "silver.legal_persons.legal_persons"))
    with pytest.raises(GraphError, match="cycle"):
        _ordered([looped, legal])


def test_unknown_step_names_say_where_to_look(graph):
    with pytest.raises(GraphError, match="govlake graph"):
        graph.step("silver.nope")

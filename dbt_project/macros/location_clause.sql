{#- Every table a model writes lives where the lake catalogue says (registry/lake.yaml,
    gold.<group>.<model>): jobs/gold/marts.py passes those locations as the var `gold_locations`.
    A table model the catalogue does not know is an error, never a path of dbt's own choosing.
    Overrides dbt-spark's spark__location_clause (the root project's macro wins the dispatch). -#}
{% macro spark__location_clause() %}
  {%- set locations = var('gold_locations', {}) -%}
  {%- set identifier = model['alias'] -%}
  {%- if identifier in locations %}
    location '{{ locations[identifier] }}'
  {%- elif execute and locations %}
    {{ exceptions.raise_compiler_error(
        "model " ~ identifier ~ " writes a table but the lake catalogue has no gold."
        ~ model.config.get('schema', '?') ~ "." ~ identifier ~ " (add it to registry/lake.yaml)") }}
  {%- elif execute %}
    {{ exceptions.raise_compiler_error(
        "no gold_locations var: run the marts through jobs/gold/marts.py (govlake marts)") }}
  {%- endif %}
{%- endmacro %}

{#- A source that may not exist yet (the quality records before the first gate or scorecard run):
    the source when it is there, else no rows with the columns the model declares.
    `columns`: a list of [name, spark type]. -#}
{% macro source_or_empty(source_name, table_name, columns) -%}
  {%- set relation = source(source_name, table_name) -%}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                       identifier=relation.identifier) if execute else relation -%}
  {%- if found is not none -%}
    (select {% for name, type in columns %}cast({{ adapter.quote(name) }} as {{ type }}) as {{ adapter.quote(name) }}{% if not loop.last %}, {% endif %}{% endfor %} from {{ relation }})
  {%- else -%}
    (select {% for name, type in columns %}cast(null as {{ type }}) as {{ adapter.quote(name) }}{% if not loop.last %}, {% endif %}{% endfor %} where false)
  {%- endif -%}
{%- endmacro %}

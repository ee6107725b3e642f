{#- The rows an incremental mart merges, as keys, measures, built_at: on a first or full build
    every row of `new_rows` (a CTE); on an incremental run only the cells that changed (a new key,
    or a measure that differs from the mart's), plus the mart's cells inside `scope` (a condition
    on the mart's rows) whose key is no longer produced, set to zero: a cell never keeps a stale
    figure. `zero_missing=false` for marts that only ever add rows (the quality records).

    Each run recomputes its figures from the published silver in full (an aggregate scan, small
    next to a library build) and writes only the differences: a re-run on the same inputs merges
    nothing, and late or corrected records change exactly the cells they touch.

    A measure the mart does not have yet (a column added to the model, `on_schema_change=
    'append_new_columns'`) counts as changed wherever the new figure is not null: dbt adds the
    column after this query is planned, then the merge fills it. -#}
{% macro merge_changes(new_rows, keys, measures, scope='true', zero_missing=true) -%}
  {%- set on_keys -%}
    {% for k in keys %}n.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
  {%- endset -%}
  {%- if is_incremental() %}
    {%- set present = measures -%}
    {%- if execute and this is not string -%}
      {#- (a unit test's `this` is the name of a CTE of given rows, with every column) -#}
      {%- set mart = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
      {%- if mart is not none -%}
        {%- set present = adapter.get_columns_in_relation(mart) | map(attribute='name') | map('lower') | list -%}
      {%- endif -%}
    {%- endif -%}
select {% for c in keys + measures %}n.{{ c }}, {% endfor %}{{ built_at() }} as built_at
from {{ new_rows }} as n
left join {{ this }} as t on {{ on_keys }}
where t.{{ keys[0] }} is null
   or not ({% for m in measures %}n.{{ m }} <=> {% if m | lower in present %}t.{{ m }}{% else %}null{% endif %}{% if not loop.last %} and {% endif %}{% endfor %})
    {%- if zero_missing %}
union all
select {% for k in keys %}t.{{ k }}, {% endfor %}{% for m in measures %}0 as {{ m }}, {% endfor %}{{ built_at() }} as built_at
from {{ this }} as t
left anti join {{ new_rows }} as n on {{ on_keys }}
where ({{ scope }})
  and not ({% for m in measures %}{% if m | lower in present %}t.{{ m }} = 0{% else %}true{% endif %}{% if not loop.last %} and {% endif %}{% endfor %})
    {%- endif %}
  {%- else %}
select {% for c in keys + measures %}n.{{ c }}, {% endfor %}{{ built_at() }} as built_at
from {{ new_rows }} as n
  {%- endif %}
{%- endmacro %}

{#- When this run computed its figures (the step's clock, passed by jobs/gold/marts.py). -#}
{% macro built_at() -%}
  cast('{{ var("built_at", "1970-01-01 00:00:00") }}' as timestamp)
{%- endmacro %}

{#- <target schema>_<folder schema>: gold_population, gold_staging ... in the session target,
    gold_build_population ... on the shared Thrift endpoint (see profiles.yml). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{#- The city (prefecture, GB/T 2260 code ending 00) an admin code lies in: its first four digits
    followed by 00, or 'unknown' for a missing or malformed code. Whether it is a known city is
    checked against dim_admin_divisions by the marts' relationship tests. -#}
{% macro city_of(code) -%}
  case when {{ code }} rlike '^32[0-9]{4}$' then concat(substr({{ code }}, 1, 4), '00') else 'unknown' end
{%- endmacro %}

{#- The first day of the month a date falls in (marts are per calendar month). -#}
{% macro month_of(day) -%}
  cast(date_trunc('MM', {{ day }}) as date)
{%- endmacro %}

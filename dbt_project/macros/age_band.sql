{#- Five-year age bands of a population pyramid: 00-04, 05-09, ..., 95-99, 100+. -#}
{% macro age_band(age) -%}
  case
    when {{ age }} >= 100 then '100+'
    else concat(lpad(cast(floor({{ age }} / 5) * 5 as string), 2, '0'), '-',
                lpad(cast(floor({{ age }} / 5) * 5 + 4 as string), 2, '0'))
  end
{%- endmacro %}

{#- Every band, in order (for accepted_values tests and for analysts' axes). -#}
{% macro age_bands() -%}
  {%- set bands = [] -%}
  {%- for low in range(0, 100, 5) -%}
    {%- do bands.append('%02d-%02d' % (low, low + 4)) -%}
  {%- endfor -%}
  {%- do bands.append('100+') -%}
  {{ return(bands) }}
{%- endmacro %}

{#- Whole years between two dates (the age reached on `on_day`). -#}
{% macro age_on(birth_date, on_day) -%}
  cast(floor(months_between({{ on_day }}, {{ birth_date }}) / 12) as int)
{%- endmacro %}

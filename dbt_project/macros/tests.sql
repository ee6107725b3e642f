{#- The rows whose `columns` together occur more than once (a compound key must be unique). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- The rows where `column_name` is negative (counts never are). -#}
{% test not_negative(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{#- The rows where `expression` does not hold. -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not coalesce({{ expression }}, false)
{% endtest %}

{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['run_id', 'prefecture', 'department', 'indicator'],
) }}
-- The GB/T 36344 scorecard over time: every scoring run's figure per prefecture x department x
-- indicator (the trend officers follow).
with cells as (
    select run_id, computed_at, prefecture, department, indicator, numerator, denominator, value
    from {{ ref('stg_quality__scorecard_history') }}
)

{{ merge_changes('cells', ['run_id', 'prefecture', 'department', 'indicator'],
                 ['computed_at', 'numerator', 'denominator', 'value'], zero_missing=false) }}

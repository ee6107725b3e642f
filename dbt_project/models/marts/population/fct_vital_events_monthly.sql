{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['month', 'city_code'],
) }}
-- Births and deaths per calendar month and city.
with cells as (
    select
        {{ month_of('event_date') }} as month,
        city_code,
        count_if(event = 'birth') as births,
        count_if(event = 'death') as deaths
    from {{ ref('int_population__vital_events') }}
    group by {{ month_of('event_date') }}, city_code
)

{{ merge_changes('cells', ['month', 'city_code'], ['births', 'deaths']) }}

{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['month', 'city_code'],
) }}
-- Marriage and divorce registrations per calendar month and city.
with cells as (
    select
        {{ month_of('registered_on') }} as month,
        city_code,
        count_if(registration_type = 'marriage') as marriages,
        count_if(registration_type = 'divorce') as divorces
    from {{ ref('int_population__marriage_registrations') }}
    group by {{ month_of('registered_on') }}, city_code
)

{{ merge_changes('cells', ['month', 'city_code'], ['marriages', 'divorces']) }}

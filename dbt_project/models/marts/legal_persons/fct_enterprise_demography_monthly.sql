{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['month', 'city_code', 'industry_section'],
) }}
-- Enterprise demography per calendar month, city and GB/T 4754 section: legal persons registered
-- (established), revoked (吊销), deregistered (注销) and cancelled (撤销).
with cells as (
    select
        {{ month_of('event_date') }} as month,
        city_code,
        industry_section,
        count_if(event = 'registered') as registered,
        count_if(event = 'revoked') as revoked,
        count_if(event = 'deregistered') as deregistered,
        count_if(event = 'cancelled') as cancelled
    from {{ ref('int_legal_persons__demography_events') }}
    group by {{ month_of('event_date') }}, city_code, industry_section
)

{{ merge_changes('cells', ['month', 'city_code', 'industry_section'],
                 ['registered', 'revoked', 'deregistered', 'cancelled']) }}

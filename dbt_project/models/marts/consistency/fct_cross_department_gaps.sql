{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['as_of_date', 'check_name', 'city_code'],
) }}
-- Cross-department consistency on as_of_date, per city: how many entities one department knows
-- and another should but does not (cases), out of how many the check looked at (checked).
--   known_to_health_not_public_security           persons with a birth or death certificate but
--                                                 no household registration
--   known_to_social_insurance_not_public_security persons insured but not in the household register
--   deceased_still_insured                        persons with a death date whose insurance
--                                                 enrollment is still in the latest extract
--   taxpayer_not_registered                       legal persons on the tax roll but not in the
--                                                 enterprise register
with persons as (
    select p.person_id, p.city_code, p.death_date, d.*
    from {{ ref('int_population__persons_located') }} as p
    join {{ ref('int_population__person_departments') }} as d using (person_id)
),

legal_persons as (
    select l.city_code, d.*
    from {{ ref('int_legal_persons__located') }} as l
    join {{ ref('int_legal_persons__departments') }} as d using (legal_person_id)
),

checks as (
    select 'known_to_health_not_public_security' as check_name, city_code,
           count_if(not known_to_public_security) as cases, count(*) as checked
    from persons where known_to_health group by city_code
    union all
    select 'known_to_social_insurance_not_public_security', city_code,
           count_if(not known_to_public_security), count(*)
    from persons where known_to_social_insurance group by city_code
    union all
    select 'deceased_still_insured', city_code, count_if(known_to_social_insurance), count(*)
    from persons where death_date is not null group by city_code
    union all
    select 'taxpayer_not_registered', city_code, count_if(not known_to_market_regulation), count(*)
    from legal_persons where known_to_tax group by city_code
),

cells as (
    select cast('{{ var("as_of_date") }}' as date) as as_of_date, check_name, city_code, cases, checked
    from checks
)

{{ merge_changes('cells', ['as_of_date', 'check_name', 'city_code'], ['cases', 'checked'],
                 scope="t.as_of_date = cast('" ~ var('as_of_date') ~ "' as date)") }}

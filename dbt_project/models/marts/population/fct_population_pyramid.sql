{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['as_of_date', 'city_code', 'district_code', 'age_band', 'sex'],
) }}
-- Residents alive on as_of_date by district, five-year age band and sex (a population pyramid),
-- one snapshot per date the step ran on: the series grows by one snapshot per run.
with alive as (
    select
        district_code,
        city_code,
        sex,
        {{ age_on('birth_date', "cast('" ~ var('as_of_date') ~ "' as date)") }} as age
    from {{ ref('int_population__persons_located') }}
    where birth_date <= cast('{{ var("as_of_date") }}' as date)
      and (death_date is null or death_date > cast('{{ var("as_of_date") }}' as date))
),

cells as (
    select
        cast('{{ var("as_of_date") }}' as date) as as_of_date,
        district_code,
        city_code,
        {{ age_band('age') }} as age_band,
        sex,
        count(*) as persons
    from alive
    group by district_code, city_code, {{ age_band('age') }}, sex
)

{{ merge_changes('cells', ['as_of_date', 'district_code', 'city_code', 'age_band', 'sex'], ['persons'],
                 scope="t.as_of_date = cast('" ~ var('as_of_date') ~ "' as date)") }}

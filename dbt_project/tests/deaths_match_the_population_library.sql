-- Every death of the population library is in fct_vital_events_monthly, in its month: computed here
-- independently from the published golden records.
with mart as (
    select month, sum(deaths) as deaths
    from {{ ref('fct_vital_events_monthly') }}
    group by month
),

library as (
    select cast(date_trunc('MM', death_date) as date) as month, count(*) as deaths
    from {{ source('silver_population', 'persons') }}
    where is_current and death_date is not null
    group by 1
)

select coalesce(m.month, l.month) as month, m.deaths as in_mart, l.deaths as in_library
from mart as m
full outer join library as l on m.month = l.month
where coalesce(m.deaths, 0) <> coalesce(l.deaths, 0)

-- The newest pyramid counts exactly the persons alive on its date, computed here independently
-- from the published golden records (not from the staging or intermediate models).
with pyramid as (
    select sum(persons) as persons
    from {{ ref('fct_population_pyramid') }}
    where as_of_date = cast('{{ var("as_of_date") }}' as date)
),

library as (
    select count(*) as persons
    from {{ source('silver_population', 'persons') }}
    where is_current
      and birth_date <= cast('{{ var("as_of_date") }}' as date)
      and (death_date is null or death_date > cast('{{ var("as_of_date") }}' as date))
)

select pyramid.persons as in_pyramid, library.persons as in_library
from pyramid cross join library
where coalesce(pyramid.persons, 0) <> library.persons

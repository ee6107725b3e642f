-- One row per birth and per death the province registered, dated by the golden record.
-- Births: persons with a birth certificate (health), in the city of the certificate's birthplace
-- (their residence city when the certificate has none). Deaths: persons whose golden record has a
-- death date, in their residence city.
with birth_places as (
    select x.person_id, max({{ city_of('r.admin_code') }}) as birth_city
    from {{ ref('stg_population__person_records') }} as r
    join {{ ref('stg_population__crosswalk') }} as x on x.record_key = r.record_key
    where r.dataset = 'birth_records'
    group by x.person_id
)
select
    p.person_id,
    'birth' as event,
    p.birth_date as event_date,
    case when b.birth_city <> 'unknown' then b.birth_city else p.city_code end as city_code
from birth_places as b
join {{ ref('int_population__persons_located') }} as p on p.person_id = b.person_id
where p.birth_date is not null
union all
select
    person_id,
    'death' as event,
    death_date as event_date,
    city_code
from {{ ref('int_population__persons_located') }}
where death_date is not null

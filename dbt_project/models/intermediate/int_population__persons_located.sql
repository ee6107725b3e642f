-- Current golden persons with their district and city ('unknown' when their admin code is not a
-- district or city of the province).
select
    p.person_id,
    p.sex,
    p.birth_date,
    p.death_date,
    coalesce(a.district_code, 'unknown') as district_code,
    coalesce(a.city_code, 'unknown') as city_code
from {{ ref('stg_population__persons') }} as p
left join {{ ref('int_admin_areas') }} as a on p.admin_code = a.admin_code

-- The province's cities and districts (GB/T 2260), each with its city, as the marts' codes join to.
select
    d.code,
    d.name,
    d.level,
    case when d.level = 'district' then d.parent_code when d.level = 'city' then d.code end as city_code,
    case when d.level = 'district' then c.name when d.level = 'city' then d.name end as city_name
from {{ ref('stg_geography__admin_divisions') }} as d
left join {{ ref('stg_geography__admin_divisions') }} as c on c.code = d.parent_code
where d.level in ('province', 'city', 'district')

-- Every admin code a golden record may carry -> its district and city, with 'unknown' when the code
-- is missing or not a district of the province's published admin-division table.
select
    code as admin_code,
    code as district_code,
    parent_code as city_code
from {{ ref('stg_geography__admin_divisions') }}
where level = 'district'
union all
select
    code as admin_code,
    'unknown' as district_code,
    code as city_code
from {{ ref('stg_geography__admin_divisions') }}
where level = 'city'

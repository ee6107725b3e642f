-- The current divisions only: silver keeps GB/T 2260 history (abolished codes with their years and
-- successors), and every admin code silver standardizes is already its current successor.
select
    code,
    name,
    level,
    parent_code
from {{ source('silver_geography', 'admin_divisions') }}
where is_current

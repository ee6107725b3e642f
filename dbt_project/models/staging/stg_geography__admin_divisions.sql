select
    code,
    name,
    level,
    parent_code
from {{ source('silver_geography', 'admin_divisions') }}
